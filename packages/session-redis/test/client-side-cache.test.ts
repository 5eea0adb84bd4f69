/**
 * The client-side cache against a real redis-server: repeated reads cost no round trip, and every change made
 * elsewhere (another store, a hand-made write, a destroy, FLUSHALL, a Redis restart) is seen by the next read.
 * Invalidations are asynchronous, so tests wait for the `invalidations` counter, never for a fixed time.
 */
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { Redis, Cluster } from 'ioredis'
import { startRedis, waitFor, type RedisServer } from '@switchyard/test-harness'
import { RedisStore, type RedisStoreOptions, type SessionData } from '../src/index.js'
import { countCommands } from './fixtures/monitor.js'

async function get (store: RedisStore, id: string): Promise<SessionData | null> {
  return await promisify(store.get.bind(store))(id)
}

async function save (store: RedisStore, id: string, session: SessionData): Promise<void> {
  await promisify(store.set.bind(store))(id, session)
}

async function destroy (store: RedisStore, id: string): Promise<void> {
  await promisify(store.destroy.bind(store))(id)
}

const cookie = (): Record<string, unknown> => ({
  originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/', httpOnly: true
})

/** A redis-server and an admin client on it, both gone when the test ends. */
async function redisWithAdmin (t: Test): Promise<{ redis: RedisServer, admin: Redis }> {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  return { redis, admin }
}

/** Whether the store's invalidation connection shows in CLIENT LIST. */
async function invalidationConnectionListed (admin: Redis): Promise<boolean> {
  return (await admin.client('LIST') as string).includes('name=swy-session-invalidations')
}

/** A store on its own client, closed (with the client) when the test ends. */
async function makeStore (t: Test, redis: RedisServer, options: Omit<Partial<RedisStoreOptions>, 'client'> = {}, client?: Redis): Promise<RedisStore> {
  const own = client ?? new Redis(redis.url, { retryStrategy: (times) => Math.min(times * 50, 300) })
  own.on('error', () => {})
  const store = new RedisStore({ client: own, closeClient: client === undefined, ...options })
  t.teardown(() => store.close())
  return store
}

/**
 * A cache window far longer than any test step: an entry can only disappear because of an invalidation, so a test
 * that sees a change would fail without the invalidation.
 */
const LONG = { clientSideCache: { ttl: 60_000 } }

/** Waits until tracking is on: a read, then a second read of the same id answered from memory. */
async function untilCaching (store: RedisStore, id: string): Promise<void> {
  await waitFor(async () => {
    const hits = store.stats.cacheHits
    await get(store, id)
    await get(store, id)
    return store.stats.cacheHits > hits
  }, { timeout: 5000, message: 'the client-side cache to become active' })
}

/** Saves a new session, waits until reads of it are cached, and asserts that one more read is a hit. */
async function assertCaching (t: Test, store: RedisStore, id: string, message: string): Promise<void> {
  await save(store, id, { cookie: cookie(), user: id })
  await untilCaching(store, id)
  const hits = store.stats.cacheHits
  t.equal((await get(store, id))?.user, id)
  t.equal(store.stats.cacheHits, hits + 1, message)
}

/** Runs `change`, then waits for `store` to receive its invalidation. */
async function changed (store: RedisStore, change: () => Promise<unknown>): Promise<void> {
  const before = store.stats.invalidations
  await change()
  await waitFor(() => store.stats.invalidations > before, { timeout: 5000, message: 'the invalidation message' })
}

t.test('repeated reads are answered from memory, with no Redis command', async (t) => {
  const redis = await startRedis(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'r', { cookie: cookie(), user: 'ann' })
  await untilCaching(store, 'r')

  const hits = store.stats.cacheHits
  const counted = await countCommands(t, redis.url, async () => {
    for (let i = 0; i < 5; i++) t.equal((await get(store, 'r'))?.user, 'ann')
  })
  t.equal(counted.client, 0, `five reads, no command (${counted.names.join(', ')})`)
  t.equal(store.stats.cacheHits, hits + 5)

  // As @fastify/session does: the request's session is a copy of the loaded object.
  await save(store, 'r', { ...await get(store, 'r'), user: 'bob' })
  t.equal((await get(store, 'r'))?.user, 'bob', 'a write of our own is never hidden by the cache')
})

t.test('a hit is a fresh session object: editing one request\'s session leaves the cached copy alone', async (t) => {
  const redis = await startRedis(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'e', { cookie: cookie(), user: { name: 'ann' }, n: 1 })
  await untilCaching(store, 'e')
  const first = await get(store, 'e') as SessionData
  ;(first.user as { name: string }).name = 'mutated'
  first.n = 2
  const second = await get(store, 'e') as SessionData
  t.same(second.user, { name: 'ann' })
  t.equal(second.n, 1)
})

t.test('saving a session read from the cache: nothing sent when unchanged, an in-place change is written', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'm', { cookie: cookie(), user: { name: 'ann', roles: ['reader'] }, csrf: 'token' })
  await untilCaching(store, 'm')

  const unchanged = await countCommands(t, redis.url, async () => {
    const hits = store.stats.cacheHits
    await save(store, 'm', { ...await get(store, 'm') })
    t.equal(store.stats.cacheHits, hits + 1, 'the read was a hit')
  })
  t.equal(unchanged.client, 0, 'an unchanged session read from the cache is saved with no command')

  // As a handler does: the request's session is a shallow copy, nested objects are changed in place.
  const session = { ...await get(store, 'm') } as SessionData
  ;(session.user as { roles: string[] }).roles.push('writer')
  await save(store, 'm', session)
  t.equal(await admin.hget('sess:m', 'user'), '{"name":"ann","roles":["reader","writer"]}', 'the nested change is written')
  t.equal(await admin.hget('sess:m', 'csrf'), '"token"')
})

t.test('changes made elsewhere are seen by the next read', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const a = await makeStore(t, redis, LONG)
  const b = await makeStore(t, redis, LONG)
  await save(a, 'x', { cookie: cookie(), user: 'ann', cart: 1 })
  await untilCaching(a, 'x')

  await changed(a, async () => {
    await save(b, 'x', { ...await get(b, 'x'), cart: 2 })
  })
  t.equal((await get(a, 'x'))?.cart, 2, 'a write on another replica')

  await untilCaching(a, 'x')
  await changed(a, () => admin.hset('sess:x', 'cart', '3'))
  t.equal((await get(a, 'x'))?.cart, 3, 'a write by hand')

  await untilCaching(a, 'x')
  await changed(a, () => destroy(b, 'x'))
  t.equal(await get(a, 'x'), null, 'a logout on another replica: no session here either')

  await save(a, 'y', { cookie: cookie(), user: 'cy' })
  await untilCaching(a, 'y')
  await changed(a, () => admin.flushall())
  t.equal(await get(a, 'y'), null, 'FLUSHALL empties the cache')
})

t.test('the session prefix and ioredis keyPrefix: only our keys, found under their full names', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url, { keyPrefix: 'app:' })
  t.teardown(() => { client.disconnect() })
  const store = await makeStore(t, redis, { prefix: 's:', ...LONG }, client)
  await save(store, 'k', { cookie: cookie(), user: 'kim' })
  t.equal(await admin.hget('app:s:k', 'user'), '"kim"')
  await untilCaching(store, 'k')
  await changed(store, () => admin.hset('app:s:k', 'user', '"kai"'))
  t.equal((await get(store, 'k'))?.user, 'kai')

  const before = store.stats.invalidations
  await admin.set('app:other', '1')
  await admin.hset('app:s:k', 'user', '"kit"') // a marker after the unrelated write
  await waitFor(() => store.stats.invalidations > before, { timeout: 5000, message: 'the marker invalidation' })
  t.equal(store.stats.invalidations, before + 1, 'a key outside the prefix sends nothing')
})

t.test('a rolling read slides a stale TTL in its round trip, and that read is not cached', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis)
  await save(store, 's', { cookie: cookie(), user: 'sam' })
  await untilCaching(store, 's')
  // Pretend the TTL was last slid 10 s ago (the change also evicts the entry).
  await changed(store, () => admin.pexpire('sess:s', 50_000))

  const slid = await countCommands(t, redis.url, () => get(store, 's'))
  t.equal(slid.client, 1, 'one round trip')
  const pttl = await admin.pttl('sess:s')
  t.ok(pttl > 59_000 && pttl <= 60_000, `TTL slid back to ${pttl} ms`)
  // The slide is a change Redis reports to us too: the read that made it is not cached, the next one is.
  const next = await countCommands(t, redis.url, () => get(store, 's'))
  t.equal(next.client, 1, 'the read after the slide goes to Redis')
  await untilCaching(store, 's')
})

t.test('a Redis restart: no cached answer while it is down, caching again after', async (t) => {
  const redis = await startRedis(t)
  const store = await makeStore(t, redis, { timeout: 300, ...LONG })
  await save(store, 'd', { cookie: cookie(), user: 'dee' })
  await untilCaching(store, 'd')

  await redis.kill('SIGKILL')
  await waitFor(() => store.client.status !== 'ready', { timeout: 5000, message: 'the client noticing' })
  await t.rejects(get(store, 'd'), { statusCode: 503, message: /^Session store/ }, 'a read while Redis is down is a 503, not a cached session')

  await redis.restart()
  await waitFor(() => store.client.status === 'ready', { timeout: 5000, message: 'the reconnect' })
  // No persistence: the session is gone with the crash, and the cache must not remember it.
  t.equal(await get(store, 'd'), null, 'after the restart, what Redis has')
  await assertCaching(t, store, 'd2', 'the cache turned itself back on')
})

t.test('off: clientSideCache false, a Cluster client, a second store on the same client', async (t) => {
  const redis = await startRedis(t)
  const off = await makeStore(t, redis, { clientSideCache: false })
  await save(off, 'o', { cookie: cookie(), user: 'oz' })
  const counted = await countCommands(t, redis.url, async () => {
    for (let i = 0; i < 3; i++) await get(off, 'o')
  })
  t.equal(counted.client, 3, 'every read is a round trip')
  t.equal(off.stats.cacheHits, 0)

  const client = new Redis(redis.url)
  t.teardown(() => { client.disconnect() })
  const first = await makeStore(t, redis, {}, client)
  const second = await makeStore(t, redis, { prefix: 'two:' }, client)
  await save(first, 'f', { cookie: cookie(), user: 'fi' })
  await untilCaching(first, 'f')
  await save(second, 's', { cookie: cookie(), user: 'si' })
  await get(second, 's')
  await get(second, 's')
  t.equal(second.stats.cacheHits, 0, 'the second store on a client runs without a cache (one redirect per connection)')

  const cluster = new Cluster([{ host: '127.0.0.1', port: redis.port }], { lazyConnect: true })
  t.teardown(() => { cluster.disconnect() })
  t.doesNotThrow(() => new RedisStore({ client: cluster }), 'a Cluster client: off by default')
  t.throws(() => new RedisStore({ client: cluster, clientSideCache: true }), {
    code: 'SWY_SESSION_INVALID_OPTION', message: /clientSideCache is not supported with a Redis Cluster/
  })
})

t.test('invalid clientSideCache options name the option', async (t) => {
  const client = new Redis({ lazyConnect: true })
  t.teardown(() => { client.disconnect() })
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /clientSideCache must be a boolean or \{ ttl, maxEntries \}/],
    [{ ttl: 0 }, /clientSideCache\.ttl must be a positive number of milliseconds/],
    [{ ttl: Number.NaN }, /clientSideCache\.ttl/],
    [{ maxEntries: 1.5 }, /clientSideCache\.maxEntries must be a positive integer/]
  ]
  for (const [value, message] of cases) {
    t.throws(() => new RedisStore({ client, clientSideCache: value as never }), { code: 'SWY_SESSION_INVALID_OPTION', message })
  }
})

t.test('a lazyConnect client: no connection of ours until the client connects', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url, { lazyConnect: true })
  const store = await makeStore(t, redis, LONG, client)
  t.teardown(() => { client.disconnect() })
  const listed = async (): Promise<boolean> => await invalidationConnectionListed(admin)
  await admin.ping() // a round trip after the store was built: a connection it had opened would be listed by now
  t.equal(await listed(), false, 'nothing opened while the client has not connected')
  await client.connect()
  await waitFor(listed, { timeout: 5000, message: 'the invalidation connection after the client connected' })
  await assertCaching(t, store, 'l', 'and the cache works from there')
})

t.test('close() closes the invalidation connection', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis)
  await save(store, 'c', { cookie: cookie(), user: 'cat' })
  await untilCaching(store, 'c')
  const listed = async (): Promise<boolean> => await invalidationConnectionListed(admin)
  t.equal(await listed(), true, 'one connection of ours while running')
  await store.close()
  await waitFor(async () => !(await listed()), { timeout: 5000, message: 'the invalidation connection closing' })
  t.equal(await listed(), false, 'gone after close()')
})
