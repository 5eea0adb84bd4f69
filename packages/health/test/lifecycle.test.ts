import t from 'tap'
import { Lifecycle, type DrainInfo, type LifecycleState } from '../src/lifecycle.js'
import { FakeClock, flush } from './fixtures/fake-clock.js'

function lifecycle ({ drainDelay = 5000, hookTimeout = 5000 } = {}): { lc: Lifecycle, clock: FakeClock, closes: () => number, states: LifecycleState[] } {
  const clock = new FakeClock()
  let closes = 0
  // What the plugin wires: close() runs Fastify's preClose (markClosing) … onClose (markClosed).
  const lc: Lifecycle = new Lifecycle({
    clock,
    drainDelay,
    hookTimeout,
    close: async () => { closes++; lc.markClosing(); await flush(); lc.markClosed() }
  })
  const states: LifecycleState[] = []
  lc.on('state', (state) => { states.push(state) })
  return { lc, clock, closes: () => closes, states }
}

t.test('drain: draining at once, close exactly after drainDelay, then closed', async (t) => {
  const { lc, clock, closes, states } = lifecycle({ drainDelay: 5000 })
  lc.markServing()
  t.equal(lc.draining, false)
  let resolved = false
  const done = lc.drain().then(() => { resolved = true })
  t.equal(lc.state, 'draining', 'draining synchronously')
  t.equal(lc.draining, true)
  await clock.advance(4999)
  t.equal(closes(), 0, 'not closed before the drain delay')
  t.equal(resolved, false)
  await clock.advance(1)
  await done
  t.equal(closes(), 1, 'closed at the drain delay')
  t.same(states, ['serving', 'draining', 'closing', 'closed'])
  t.equal(clock.pending, 0)
})

t.test('drain is idempotent and accepts a per-call delay and reason', async (t) => {
  const { lc, clock, closes } = lifecycle({ drainDelay: 5000 })
  const first = lc.drain({ delay: 100, reason: 'SIGTERM' })
  const second = lc.drain({ delay: 9999 })
  t.match(lc.drainInfo, { reason: 'SIGTERM', delay: 100, startedAt: clock.now() })
  await clock.advance(100)
  await Promise.all([first, second])
  t.equal(closes(), 1, 'one close for two calls')
})

t.test('onDrain hooks start with the drain, run alongside the delay, and are awaited up to hookTimeout', async (t) => {
  const { lc, clock, closes } = lifecycle({ drainDelay: 1000, hookTimeout: 3000 })
  const seen: DrainInfo[] = []
  let finishHook: () => void = () => {}
  lc.onDrain((info) => { seen.push(info) })
  lc.onDrain(async () => { await new Promise<void>((resolve) => { finishHook = resolve }) })
  lc.onDrain(async () => { throw new Error('hook failure is logged, not fatal') })
  const done = lc.drain()
  await flush()
  t.equal(seen.length, 1, 'hook ran at drain start')
  t.equal(seen[0]?.reason, 'drain()')
  await clock.advance(1000)
  t.equal(closes(), 0, 'delay over but a hook is still running: wait for it')
  await clock.advance(500)
  finishHook()
  await done
  t.equal(closes(), 1, 'closed once the hook finished (1500 ms)')
})

t.test('a hook that never settles delays the close by hookTimeout at most', async (t) => {
  const { lc, clock, closes } = lifecycle({ drainDelay: 1000, hookTimeout: 3000 })
  lc.onDrain(async () => { await new Promise(() => {}) })
  const done = lc.drain()
  await clock.advance(2999)
  t.equal(closes(), 0)
  await clock.advance(1)
  await done
  t.equal(closes(), 1)
  t.equal(clock.pending, 0)
})

t.test('fastify.close() called directly during a drain: the drain resolves, close is not called twice, no timer left', async (t) => {
  const { lc, clock, closes } = lifecycle({ drainDelay: 5000 })
  const done = lc.drain()
  await clock.advance(10)
  lc.markClosing()
  lc.markClosed()
  await done
  t.equal(closes(), 0, 'our close() was not called: the server was already closing')
  t.equal(clock.pending, 0, 'the drain timer was cleared by markClosed()')
})

t.test('drain() after a close began resolves when closed', async (t) => {
  const { lc } = lifecycle()
  lc.markClosing()
  t.equal(lc.draining, true, 'closing counts as draining: readiness fails')
  let resolved = false
  const done = lc.drain().then(() => { resolved = true })
  await flush()
  t.equal(resolved, false)
  lc.markClosed()
  await done
  t.equal(lc.state, 'closed')
})

t.test('a failing close rejects the drain', async (t) => {
  const clock = new FakeClock()
  const lc = new Lifecycle({ clock, drainDelay: 0, hookTimeout: 0, close: async () => { throw new Error('close failed') } })
  await t.rejects(lc.drain(), { message: 'close failed' })
})

t.test('state listeners: off() removes; a throwing listener does not break the transition', async (t) => {
  const { lc } = lifecycle()
  const seen: string[] = []
  const listener = (state: LifecycleState, previous: LifecycleState): void => { seen.push(`${previous}>${state}`) }
  lc.on('state', () => { throw new Error('listener bug') })
  lc.on('state', listener)
  lc.markServing()
  lc.off('state', listener)
  lc.markClosing()
  t.same(seen, ['starting>serving'])
  t.equal(lc.state, 'closing')
})
