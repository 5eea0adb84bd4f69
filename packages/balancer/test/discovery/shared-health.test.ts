import t from 'tap'
import { BalancerEvents } from '../../src/events.js'
import { resolveSharedHealthOptions, SharedHealth, type SharedHealthRedis } from '../../src/discovery/shared-health.js'
import type { RegistrySubscriber } from '../../src/discovery/registry-keys.js'
import { Upstream, UpstreamFlag } from '../../src/upstream/upstream.js'
import { ManualClock } from '../../src/util/clock.js'

function setup (hold = 10_000): { shared: SharedHealth, events: BalancerEvents, a: Upstream, b: Upstream, clock: ManualClock, published: string[], changes: () => number } {
  const published: string[] = []
  const subscriber: RegistrySubscriber = { subscribe: async () => 1, on: () => subscriber, removeAllListeners: () => subscriber, disconnect () {} }
  const redis: SharedHealthRedis = { publish: async (_channel, message) => { published.push(message); return 1 }, duplicate: () => subscriber }
  const events = new BalancerEvents()
  const a = new Upstream({ url: 'http://127.0.0.1:1', weight: 1, backup: false, name: 'a' })
  const b = new Upstream({ url: 'http://127.0.0.1:2', weight: 1, backup: false, name: 'b' })
  const clock = new ManualClock()
  let changed = 0
  const shared = new SharedHealth(resolveSharedHealthOptions({ redis, hold }), {
    events,
    find: (url) => [a, b].find((u) => u.url === url),
    changed: () => { changed++ }
  }, { clock })
  return { shared, events, a, b, clock, published, changes: () => changed }
}

const notice = (state: 'fail' | 'ok', extra: object = {}): string => JSON.stringify({ from: 'peer', url: 'http://127.0.0.1:1', state, ...extra })

t.test('a remote failure sets a short-lived flag; a remote "up" clears only that flag', async (t) => {
  const { shared, a, clock, changes } = setup()
  await shared.start()
  shared.receive(notice('fail', { for: 3000 }))
  t.ok(a.has(UpstreamFlag.REMOTE_FAILED))
  t.notOk(a.available)
  t.equal(changes(), 1, 'the set is rebuilt')
  clock.advance(2999)
  t.ok(a.has(UpstreamFlag.REMOTE_FAILED))
  clock.advance(1)
  t.notOk(a.has(UpstreamFlag.REMOTE_FAILED), 'lapses after the peer\'s ejection time')
  t.equal(changes(), 2)

  // Our own ejection is not ours to lift on a peer's word.
  a.setFlag(UpstreamFlag.FAILED_OUTLIER, true)
  shared.receive(notice('fail'))
  shared.receive(notice('ok'))
  t.notOk(a.has(UpstreamFlag.REMOTE_FAILED), 'the remote flag is cleared')
  t.ok(a.has(UpstreamFlag.FAILED_OUTLIER), 'the local ejection stays')
  shared.receive(notice('ok'))
  t.ok(a.has(UpstreamFlag.FAILED_OUTLIER), 'a remote "up" without a remote "fail" changes nothing')
  await shared.close()
})

t.test('the hold is capped; own notices, unknown upstreams and garbage are ignored', async (t) => {
  const { shared, a, b, clock } = setup(1000)
  await shared.start()
  shared.receive(notice('fail', { for: 60_000 }))
  clock.advance(1000)
  t.notOk(a.has(UpstreamFlag.REMOTE_FAILED), 'capped by hold')
  shared.receive(JSON.stringify({ from: shared.id, url: a.url, state: 'fail' }))
  shared.receive(JSON.stringify({ from: 'peer', url: 'http://127.0.0.1:9', state: 'fail' }))
  shared.receive('not json')
  shared.receive('null')
  t.notOk(a.has(UpstreamFlag.REMOTE_FAILED))
  t.notOk(b.has(UpstreamFlag.REMOTE_FAILED))
  t.equal(shared.received, 1)
  await shared.close()
  shared.receive(notice('fail'))
  t.notOk(a.has(UpstreamFlag.REMOTE_FAILED), 'closed: nothing applied')
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('local ejections and downs are published as fail (with their duration), restores and ups as ok', async (t) => {
  const { shared, events, a, published } = setup()
  await shared.start()
  events.upstream('ejected', a, 'consecutive-failures', { ejectionTime: 30_000 })
  events.upstream('down', a, 'health-check-failed')
  events.upstream('restored', a, 'ejection-expired')
  events.upstream('up', a, 'health-check-passed')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(published.map((m) => JSON.parse(m)), [
    { from: shared.id, url: a.url, state: 'fail', for: 30_000, reason: 'ejected:consecutive-failures' },
    { state: 'fail', reason: 'down:health-check-failed' },
    { state: 'ok', reason: 'restored:ejection-expired' },
    { state: 'ok', reason: 'up:health-check-passed' }
  ])
  t.notOk('for' in JSON.parse(published[1]!), 'no duration when the sender has none')
  await shared.close()
  t.equal(events.active, false, 'close() removes its listeners')
})

t.test('options', async (t) => {
  const redis = { publish: async () => 1, duplicate: () => ({}) }
  t.match(resolveSharedHealthOptions({ redis }), { channel: 'switchyard:health', hold: 10_000 })
  t.throws(() => resolveSharedHealthOptions({ redis: {} }), /sharedHealth\.redis must be an ioredis client/)
  t.throws(() => resolveSharedHealthOptions({ redis, hold: 0 }), /sharedHealth\.hold must be a positive number/)
  t.throws(() => resolveSharedHealthOptions({ redis, channel: '' }), /sharedHealth\.channel/)
  t.throws(() => resolveSharedHealthOptions({ redis, x: 1 }), /sharedHealth\.x is not a sharedHealth option/)
  t.throws(() => resolveSharedHealthOptions([]), /sharedHealth must be an object/)
})
