import { Cluster, Redis } from 'ioredis'
import { startRedis, waitFor } from '@switchyard/test-harness'
import t, { type Test } from 'tap'
import { RegistryAnnouncer, type RegistryAnnouncerOptions, resolveAnnouncerOptions } from '../../src/discovery/announcer.js'
import type { Member, MembershipChange } from '../../src/discovery/diff.js'
import { registryKeys, type RegistryRedisClient, type RegistrySubscriber } from '../../src/discovery/registry-keys.js'
import { parseSnapshot, RegistryWatcher, resolveRegistryDiscoveryOptions } from '../../src/discovery/redis-registry.js'
import { ManualClock } from '../../src/util/clock.js'

function client (t: Test, port: number): Redis {
  const redis = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  return redis
}

interface Watched {
  watcher: RegistryWatcher
  changes: MembershipChange[]
  warnings: string[]
  urls: () => string[]
}

function watch (t: Test, redis: RegistryRedisClient, options: { service?: string, interval?: number } = {}): Watched {
  const changes: MembershipChange[] = []
  const warnings: string[] = []
  const watcher = new RegistryWatcher(resolveRegistryDiscoveryOptions({ redis, service: options.service ?? 'orders', interval: options.interval ?? 1000 }), {
    onChange: (change) => { changes.push(change) },
    log: { info () {}, warn (_obj, msg) { warnings.push(msg) } }
  })
  t.teardown(async () => { await watcher.close() })
  return { watcher, changes, warnings, urls: () => watcher.members.map((m) => m.url) }
}

function announcer (t: Test, redis: Redis | Cluster, url: string, options: Partial<RegistryAnnouncerOptions> = {}, clock?: ManualClock): RegistryAnnouncer {
  const a = new RegistryAnnouncer({ redis, service: 'orders', url, interval: 200, ...options }, clock === undefined ? {} : { clock })
  t.teardown(async () => { await a.close() })
  return a
}

t.test('options are validated with the option path in each message', async (t) => {
  const redis = new Redis({ lazyConnect: true })
  const watcher = resolveRegistryDiscoveryOptions({ redis, service: 'orders' })
  t.equal(watcher.interval, 1000)
  t.equal(watcher.prefix, 'switchyard')
  const bad: Array<[unknown, RegExp]> = [
    [null, /upstreams must be an object/],
    [{ redis, service: 'orders', nope: 1 }, /upstreams\.nope is not a registry discovery option/],
    [{ redis: {}, service: 'orders' }, /upstreams\.redis must be an ioredis client/],
    [{ redis, service: 'a{b}' }, /upstreams\.service must be a non-empty name without braces/],
    [{ redis, service: '' }, /upstreams\.service/],
    [{ redis, service: 'x', interval: 1 }, /upstreams\.interval must be a number of milliseconds, at least 10/],
    [{ redis, service: 'x', prefix: 'a b' }, /upstreams\.prefix/]
  ]
  for (const [raw, message] of bad) t.throws(() => resolveRegistryDiscoveryOptions(raw), { code: 'SWY_BALANCER_INVALID_OPTION', message })

  const announce = resolveAnnouncerOptions({ redis, service: 'orders', url: 'http://10.0.0.7:3000/', interval: 500 })
  t.match(announce, { url: 'http://10.0.0.7:3000', weight: 1, name: 'http://10.0.0.7:3000', interval: 500, ttl: 1500, prefix: 'switchyard' })
  const badAnnounce: Array<[unknown, RegExp]> = [
    [5, /announce must be an object/],
    [{ redis, service: 'orders', url: 'http://h:1', x: 1 }, /announce\.x is not an announce option/],
    [{ redis: null, service: 'orders', url: 'http://h:1' }, /announce\.redis must be an ioredis client/],
    [{ redis, service: 'or ders', url: 'http://h:1' }, /announce\.service/],
    [{ redis, service: 'orders', url: 'http://h:1/api' }, /announce\.url must be an http\(s\) origin/],
    [{ redis, service: 'orders', url: 'h:1' }, /announce\.url/],
    [{ redis, service: 'orders', url: 'http://h:1', weight: 0 }, /announce\.weight must be an integer from 1/],
    [{ redis, service: 'orders', url: 'http://h:1', name: '' }, /announce\.name/],
    [{ redis, service: 'orders', url: 'http://h:1', interval: 0 }, /announce\.interval/],
    [{ redis, service: 'orders', url: 'http://h:1', interval: 100, ttl: 100 }, /announce\.ttl must be a number of milliseconds greater than announce\.interval/],
    [{ redis, service: 'orders', url: 'http://h:1', prefix: '{x}' }, /announce\.prefix/],
    [{ redis, service: 'orders', url: 'http://h:1', isReady: true }, /announce\.isReady must be a function/]
  ]
  for (const [raw, message] of badAnnounce) t.throws(() => resolveAnnouncerOptions(raw), { code: 'SWY_BALANCER_INVALID_OPTION', message })
  t.throws(() => new RegistryAnnouncer({ redis, service: 'orders', url: 'nope' }), /announce\.url/)
  redis.disconnect()
})

t.test('every key of a service shares one hash tag (one Redis Cluster slot)', async (t) => {
  const keys = registryKeys('orders')
  t.same(keys, {
    members: '{switchyard:orders}:members',
    meta: '{switchyard:orders}:meta',
    left: '{switchyard:orders}:left',
    epoch: '{switchyard:orders}:epoch',
    channel: '{switchyard:orders}:events'
  })
  t.equal(registryKeys('orders', 'staging').members, '{staging:orders}:members')
  t.throws(() => parseSnapshot([1, 2]), /unexpected registry read reply/)
  t.throws(() => parseSnapshot(['x', '', [], []]), /unexpected registry read reply/)
})

t.test('a join is seen within 1 s, a graceful leave at once, and the Redis layout is as documented', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const w = watch(t, redis)
  await w.watcher.start()
  t.same(w.urls(), [], 'nothing registered yet')

  const a = announcer(t, redis, 'http://127.0.0.1:4001', { weight: 3, name: 'orders-1', interval: 1000 })
  const joinedAt = performance.now()
  a.start()
  await waitFor(() => w.urls().length === 1, { timeout: 1000, message: 'join seen within 1 s' })
  t.ok(performance.now() - joinedAt < 1000, `join seen after ${Math.round(performance.now() - joinedAt)} ms`)
  t.same(w.watcher.members, [{ url: 'http://127.0.0.1:4001', weight: 3, backup: false, name: 'orders-1' }])
  t.equal(a.registered, true)

  const score = Number(await redis.zscore('{switchyard:orders}:members', 'http://127.0.0.1:4001'))
  const [seconds, micros] = await redis.time()
  const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
  t.ok(score > serverNow && score <= serverNow + 3000, 'expiry in Redis server time, one TTL (3 intervals) ahead')
  t.match(JSON.parse((await redis.hget('{switchyard:orders}:meta', 'http://127.0.0.1:4001'))!), { id: a.id, weight: 3, name: 'orders-1', ttl: 3000 })
  t.ok(await redis.get('{switchyard:orders}:epoch'), 'an epoch token')
  t.ok(await redis.pttl('{switchyard:orders}:members') > 0, 'keys of an abandoned service expire')

  const leftAt = performance.now()
  await a.deregister()
  await waitFor(() => w.urls().length === 0, { timeout: 1000, message: 'leave seen' })
  t.ok(performance.now() - leftAt < 500, 'a graceful leave is seen at once, not at the next reconcile')
  t.equal(a.registered, false)
  t.equal(await redis.zscore('{switchyard:orders}:members', 'http://127.0.0.1:4001'), null)
  t.ok(await redis.zscore('{switchyard:orders}:left', 'http://127.0.0.1:4001'), 'a tombstone')
  t.same(w.changes.map((c) => [c.added.length, c.removed.length]), [[1, 0], [0, 1]])
  await a.deregister()
  a.start()
  t.equal(await a.refresh(), false, 'deregistered for good: start() and refresh() do nothing')
})

t.test('a replica that stops renewing (a crash) disappears when its TTL lapses', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const w = watch(t, redis, { interval: 1000 })
  await w.watcher.start()
  const frozen = new ManualClock() // never advanced: registers once, then never renews, like a SIGKILLed process
  const crashed = announcer(t, redis, 'http://127.0.0.1:4002', { interval: 200, ttl: 600 }, frozen)
  const alive = announcer(t, redis, 'http://127.0.0.1:4003', { interval: 200, ttl: 600 })
  crashed.start()
  alive.start()
  await waitFor(() => w.urls().length === 2, { timeout: 1000, message: 'both joined' })
  const lastRenewal = performance.now()
  await waitFor(() => w.urls().length === 1, { timeout: 2000, message: 'the crashed one leaves' })
  const gone = performance.now() - lastRenewal
  t.ok(gone >= 550 && gone < 900, `gone ${Math.round(gone)} ms after its last renewal: at its 600 ms TTL, not at the 1 s reconcile`)
  t.same(w.urls(), ['http://127.0.0.1:4003'], 'the one that renews stays')
})

t.test('readiness: registered while ready, deregistered when not, back when ready again', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const w = watch(t, redis)
  await w.watcher.start()
  let ready = false
  const a = announcer(t, redis, 'http://127.0.0.1:4004', { isReady: () => ready, interval: 5000 })
  a.start()
  t.equal(await a.refresh(), false, 'not ready: not registered')
  ready = true
  t.equal(await a.refresh(), true, 'refresh() registers at once when readiness turns pass')
  await waitFor(() => w.urls().length === 1, { timeout: 1000 })
  ready = false
  t.equal(await a.refresh(), false)
  await waitFor(() => w.urls().length === 0, { timeout: 1000 })
  const failing = announcer(t, redis, 'http://127.0.0.1:4005', { isReady: () => { throw new Error('nope') } })
  t.equal(await failing.refresh(), false, 'a throwing isReady() counts as not ready')
})

t.test('a Redis restart does not empty the pool; replicas re-register; the gateway never drops them', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const gatewayRedis = client(t, server.port)
  const w = watch(t, gatewayRedis, { interval: 100 })
  await w.watcher.start()
  const a1 = announcer(t, redis, 'http://127.0.0.1:4011', { interval: 100, ttl: 300 })
  const a2 = announcer(t, redis, 'http://127.0.0.1:4012', { interval: 100, ttl: 300 })
  a1.start()
  a2.start()
  await waitFor(() => w.urls().length === 2, { timeout: 1000 })
  const readsBefore = w.watcher.reads

  // Down for a while (longer than the TTL), then back empty: no persistence, so every key is gone.
  await server.kill('SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.same(w.urls(), ['http://127.0.0.1:4011', 'http://127.0.0.1:4012'], 'kept while Redis is down')
  await server.restart()
  await waitFor(async () => (await redis.zcard('{switchyard:orders}:members')) === 2, { timeout: 3000, message: 'both re-registered' })
  await waitFor(() => w.watcher.reads > readsBefore + 5, { timeout: 3000, message: 'the gateway reads again' })
  t.same(w.urls(), ['http://127.0.0.1:4011', 'http://127.0.0.1:4012'], 'still both')
  t.notOk(w.changes.some((c) => c.removed.length > 0), 'no removal at any time')
  t.match(w.warnings, [/Redis read failed, keeping the last known members/], 'the outage is logged once')

  // A quick restart that the gateway does not even see failing (ioredis queues its reads): the epoch token tells.
  await server.restart()
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(w.urls(), ['http://127.0.0.1:4011', 'http://127.0.0.1:4012'])
  t.notOk(w.changes.some((c) => c.removed.length > 0), 'no removal after the second restart either')

  // After all that, a crash is still noticed: stop a2's renewals without a goodbye.
  const frozen = new ManualClock()
  const a3 = announcer(t, redis, 'http://127.0.0.1:4013', { interval: 100, ttl: 300 }, frozen)
  a3.start()
  await waitFor(() => w.urls().length === 3, { timeout: 1000 })
  await waitFor(() => w.urls().length === 2, { timeout: 1500, message: 'the silent one lapses' })
})

t.test('a lost notice is fixed by the next periodic read', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  // A subscriber that never delivers anything: every notice is lost.
  const deaf: RegistrySubscriber = { subscribe: async () => 1, on: () => deaf, removeAllListeners: () => deaf, disconnect () {} }
  const deafClient: RegistryRedisClient = {
    evalsha: redis.evalsha.bind(redis) as RegistryRedisClient['evalsha'],
    eval: redis.eval.bind(redis) as RegistryRedisClient['eval'],
    duplicate: () => deaf
  }
  const w = watch(t, deafClient, { interval: 300 })
  await w.watcher.start()
  const a = announcer(t, redis, 'http://127.0.0.1:4021', { interval: 1000 })
  const joinedAt = performance.now()
  a.start()
  await waitFor(() => w.urls().length === 1, { timeout: 1000 })
  t.ok(performance.now() - joinedAt < 300 + 100, 'seen within one reconcile interval')
  await a.deregister()
  const leftAt = performance.now()
  await waitFor(() => w.urls().length === 0, { timeout: 1000 })
  t.ok(performance.now() - leftAt < 300 + 100, 'the tombstone is read within one reconcile interval')
})

t.test('two gateways converge on the same members through joins, leaves, crashes and weight changes', async (t) => {
  const server = await startRedis(t)
  const replicas = client(t, server.port)
  const g1 = watch(t, client(t, server.port), { interval: 200 })
  const g2 = watch(t, client(t, server.port), { interval: 200 })
  await Promise.all([g1.watcher.start(), g2.watcher.start()])
  const announcers = [1, 2, 3, 4].map((i) => announcer(t, replicas, `http://127.0.0.1:403${i}`, { interval: 100, ttl: 300 }))
  for (const a of announcers) a.start()
  const same = (): boolean => JSON.stringify(g1.watcher.members) === JSON.stringify(g2.watcher.members)
  await waitFor(() => g1.urls().length === 4 && same(), { timeout: 1000, message: '4 members on both' })

  await announcers[0]!.deregister()
  const frozen = new ManualClock()
  await announcers[1]!.deregister()
  const crashed = announcer(t, replicas, 'http://127.0.0.1:4032', { interval: 100, ttl: 300 }, frozen)
  crashed.start()
  const heavier = announcer(t, replicas, 'http://127.0.0.1:4033', { interval: 100, ttl: 300, weight: 5 })
  await announcers[2]!.deregister()
  heavier.start()
  const expected: Member[] = [
    { url: 'http://127.0.0.1:4033', weight: 5, backup: false, name: 'http://127.0.0.1:4033' },
    { url: 'http://127.0.0.1:4034', weight: 1, backup: false, name: 'http://127.0.0.1:4034' }
  ]
  // 4032 crashed (registered once, never renewed): it lapses after its 300 ms TTL; 4033 came back heavier.
  const started = performance.now()
  await waitFor(() => JSON.stringify(g1.watcher.members) === JSON.stringify(expected) && same(), { timeout: 2000, message: 'converged' })
  t.ok(performance.now() - started < 1000, 'converged within the TTL plus one interval')
  t.same(g1.watcher.members, expected)
  t.same(g2.watcher.members, expected)
})

t.test('a restarted replica on the same url is not removed by its predecessor\'s late goodbye', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const w = watch(t, redis)
  await w.watcher.start()
  const old = announcer(t, redis, 'http://127.0.0.1:4041', { interval: 5000 })
  await old.refresh()
  const successor = announcer(t, redis, 'http://127.0.0.1:4041', { interval: 5000 })
  await successor.refresh()
  await old.deregister()
  w.watcher.reconcile()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(w.urls(), ['http://127.0.0.1:4041'])
  t.ok(await redis.zscore('{switchyard:orders}:members', 'http://127.0.0.1:4041'), 'still registered')
})

t.test('scripts are re-sent after Redis forgot them (SCRIPT FLUSH, failover)', async (t) => {
  const server = await startRedis(t)
  const redis = client(t, server.port)
  const a = announcer(t, redis, 'http://127.0.0.1:4051', { interval: 5000 })
  t.equal(await a.refresh(), true)
  await redis.script('FLUSH')
  t.equal(await a.refresh(), true)
  const w = watch(t, redis)
  await redis.script('FLUSH')
  await w.watcher.start()
  t.same(w.urls(), ['http://127.0.0.1:4051'])
})

t.test('Redis down at start: no members, no hang, and they arrive once it answers', async (t) => {
  const server = await startRedis(t)
  await server.kill('SIGKILL')
  const redis = new Redis({ port: server.port, host: '127.0.0.1', retryStrategy: () => 50, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  const w = watch(t, redis, { interval: 100 })
  const started = performance.now()
  await w.watcher.start()
  t.ok(performance.now() - started < 1000, 'start() is bounded')
  t.same(w.urls(), [])
  await server.restart()
  const a = announcer(t, redis, 'http://127.0.0.1:4061', { interval: 100 })
  a.start()
  await waitFor(() => w.urls().length === 1, { timeout: 3000 })
})

t.test('works with Redis Cluster (one node owning every slot), through an ioredis Cluster client', async (t) => {
  const server = await startRedis(t, { args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'] })
  const admin = client(t, server.port)
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
  await waitFor(async () => String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'), { timeout: 5000, message: 'cluster ok' })
  const cluster = new Cluster([{ host: '127.0.0.1', port: server.port }], { clusterRetryStrategy: () => 50 })
  cluster.on('error', () => {})
  t.teardown(() => { cluster.disconnect() })
  const w = watch(t, cluster, { interval: 1000 })
  await w.watcher.start()
  const a = announcer(t, cluster, 'http://127.0.0.1:4071', { interval: 200 })
  a.start()
  await waitFor(() => w.urls().length === 1, { timeout: 1000, message: 'join through pub/sub on a cluster' })
  await a.deregister()
  await waitFor(() => w.urls().length === 0, { timeout: 1000, message: 'leave on a cluster' })
})
