import { EventEmitter } from 'node:events'
import t from 'tap'
import { silentLogger } from '../src/clock.js'
import { handleSignals, type SignalTarget } from '../src/shutdown.js'
import { FakeClock, flush } from './fixtures/fake-clock.js'

function setup ({ exitWhenClosed = true, forceExitAfter = 15_000 } = {}): {
  target: EventEmitter & SignalTarget
  clock: FakeClock
  exits: number[]
  drains: string[]
  finishDrain: (err?: Error) => void
  remove: () => void
} {
  const target = new EventEmitter() as EventEmitter & SignalTarget
  const clock = new FakeClock()
  const exits: number[] = []
  const drains: string[] = []
  let finish: (err?: Error) => void = () => {}
  const remove = handleSignals({
    signals: ['SIGTERM', 'SIGINT'],
    drain: async (reason) => {
      drains.push(reason)
      await new Promise<void>((resolve, reject) => { finish = (err) => { if (err === undefined) resolve(); else reject(err) } })
    },
    exitWhenClosed,
    forceExitAfter,
    clock,
    log: silentLogger,
    exit: (code) => { exits.push(code) },
    target
  })
  return { target, clock, exits, drains, finishDrain: (err) => { finish(err) }, remove }
}

t.test('first signal drains; exit 0 once closed', async (t) => {
  const { target, exits, drains, finishDrain, clock } = setup()
  target.emit('SIGTERM', 'SIGTERM')
  t.same(drains, ['SIGTERM'])
  t.same(exits, [], 'no exit while draining')
  finishDrain()
  await flush()
  t.same(exits, [0])
  t.equal(clock.pending, 0, 'the forced-exit timer was cleared')
})

t.test('a second signal forces exit 1 at once', async (t) => {
  const { target, exits, drains } = setup()
  target.emit('SIGTERM', 'SIGTERM')
  target.emit('SIGINT', 'SIGINT')
  t.same(drains, ['SIGTERM'], 'no second drain')
  t.same(exits, [1])
})

t.test('a close that outlasts its budget exits 1; a failed close exits 1', async (t) => {
  const slow = setup({ forceExitAfter: 15_000 })
  slow.target.emit('SIGTERM', 'SIGTERM')
  await slow.clock.advance(14_999)
  t.same(slow.exits, [])
  await slow.clock.advance(1)
  t.same(slow.exits, [1])

  const broken = setup()
  broken.target.emit('SIGINT', 'SIGINT')
  broken.finishDrain(new Error('close failed'))
  await flush()
  t.same(broken.exits, [1])
})

t.test('exit: false leaves the process alone after the close', async (t) => {
  const { target, exits, finishDrain } = setup({ exitWhenClosed: false })
  target.emit('SIGTERM', 'SIGTERM')
  finishDrain()
  await flush()
  t.same(exits, [])
})

t.test('the returned function removes every listener it added', async (t) => {
  const { target, remove } = setup()
  t.equal(target.listenerCount('SIGTERM'), 1)
  t.equal(target.listenerCount('SIGINT'), 1)
  remove()
  t.equal(target.listenerCount('SIGTERM'), 0)
  t.equal(target.listenerCount('SIGINT'), 0)
})
