import t from 'tap'
import { BalancerEvents, type UpstreamEvent } from '../src/events.js'
import { Upstream } from '../src/upstream/upstream.js'

const u = new Upstream({ url: 'http://127.0.0.1:3000', weight: 1, backup: false, name: 'u' })

t.test('typed listeners, has/listenerCount, off, removeAll', async (t) => {
  const events = new BalancerEvents()
  t.notOk(events.active)
  t.notOk(events.has('down'))
  const seen: UpstreamEvent[] = []
  const listener = (e: UpstreamEvent): void => { seen.push(e) }
  events.on('down', listener)
  t.ok(events.has('down'))
  t.ok(events.active)
  t.equal(events.listenerCount('down'), 1)
  t.notOk(events.has('up'))
  events.upstream('down', u, 'health-check-failed', { failures: 3 })
  events.upstream('up', u, 'health-check-passed') // nobody listens
  events.upstream('down', u, 'health-check-failed')
  t.same(seen, [{ upstream: u, reason: 'health-check-failed', detail: { failures: 3 } }, { upstream: u, reason: 'health-check-failed' }])
  events.off('down', listener)
  events.off('down', listener)
  t.notOk(events.has('down'))
  t.notOk(events.active)
  const panics: boolean[] = []
  events.on('panic', (e) => { panics.push(e.active) })
  events.emit('panic', { active: true, previous: 'normal', state: 'panic', available: 1, total: 4 })
  t.same(panics, [true])
  events.removeAll()
  t.notOk(events.active)
  t.notOk(events.has('panic'))
})

t.test('a throwing listener does not stop the others; off during emit is safe', async (t) => {
  const events = new BalancerEvents()
  const errors: unknown[] = []
  events.onListenerError = (err) => { errors.push(err) }
  const order: string[] = []
  const second = (): void => { order.push('second') }
  events.on('ejected', () => { order.push('first'); events.off('ejected', second); throw new Error('x') })
  events.on('ejected', second)
  events.upstream('ejected', u, 'consecutive-failures')
  t.same(order, ['first', 'second'], 'the emit in progress still reaches the listener removed meanwhile')
  t.equal(errors.length, 1)
  events.upstream('ejected', u, 'consecutive-failures')
  t.same(order, ['first', 'second', 'first'])
  const silent = new BalancerEvents()
  silent.on('up', () => { throw new Error('swallowed') })
  t.doesNotThrow(() => { silent.upstream('up', u, 'added') }, 'the default swallows listener errors')
})

t.test('zero cost when nobody listens: no payload is built', async (t) => {
  const events = new BalancerEvents()
  let built = 0
  const detail = (): Record<string, unknown> => { built++; return {} }
  for (let i = 0; i < 1000; i++) if (events.has('restored')) events.upstream('restored', u, 'ejection-expired', detail())
  t.equal(built, 0)
})
