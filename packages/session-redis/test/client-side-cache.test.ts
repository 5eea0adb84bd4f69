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

/** The names of the store's connections in CLIENT LIST (`swy-session`, `swy-session-invalidations`), sorted. */
async function ourConnections (admin: Redis): Promise<string[]> {
  return (await admin.client('LIST') as string).split('\n')
    .map((line) => /name=(swy-session\S*)/.exec(line)?.[1]).filter((name): name is string => name !== undefined).sort()
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

/** Two stores (two replicas) on one redis-server; `a` has saved session `id` and serves it from its cache. */
async function twoReplicas (t: Test, id: string, session: SessionData): Promise<{ redis: RedisServer, admin: Redis, a: RedisStore, b: RedisStore }> {
  const { redis, admin } = await redisWithAdmin(t)
  const a = await makeStore(t, redis, LONG)
  const b = await makeStore(t, redis, LONG)
  await save(a, id, { cookie: cookie(), ...session })
  await untilCaching(a, id)
  return { redis, admin, a, b }
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
  const { admin, a, b } = await twoReplicas(t, 'x', { user: 'ann', cart: 1 })

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

t.test('a write refills the cache: the next request here needs no read, and later changes are still seen', async (t) => {
  const { redis, admin, a, b } = await twoReplicas(t, 'w', { user: 'wes', cart: 1 })

  const loaded = await get(a, 'w') as SessionData
  const write = await countCommands(t, redis.url, () => save(a, 'w', { ...loaded, cart: 2 }))
  t.equal(write.client, 1, `the write: one round trip (${write.names.join(', ')})`)
  const read = await countCommands(t, redis.url, async () => { t.equal((await get(a, 'w'))?.cart, 2) })
  t.equal(read.client, 0, 'the next read is a hit')

  // Our own write sent us no invalidation (NOLOOP), yet Redis still tracks the key for us: the script ended with a read.
  await changed(a, async () => { await save(b, 'w', { ...await get(b, 'w'), cart: 3 }) })
  t.equal((await get(a, 'w'))?.cart, 3, 'a write on another replica after ours')
  await save(a, 'w', { ...await get(a, 'w'), cart: 4 })
  await changed(a, () => admin.hset('sess:w', 'cart', '5'))
  t.equal((await get(a, 'w'))?.cart, 5, 'a write by hand after ours')

  // A value JSON turns into something else (a Date into a string): the cache holds what a read would return.
  await save(a, 'w', { ...await get(a, 'w'), when: new Date(0) })
  const hits = a.stats.cacheHits
  t.equal((await get(a, 'w'))?.when, '1970-01-01T00:00:00.000Z', 'a hit returns the stored form')
  t.equal(a.stats.cacheHits, hits + 1)
})

t.test('a write refills nothing when the session changed after it was loaded', async (t) => {
  const { redis, admin, a, b } = await twoReplicas(t, 'v', { user: 'vi', n: 1 })

  // A write by hand does not move the version: only the evicted entry tells the store it loaded an older session.
  const loaded = await get(a, 'v') as SessionData
  await changed(a, () => admin.hset('sess:v', 'note', '"by hand"'))
  await save(a, 'v', { ...loaded, n: 2 })
  const read = await countCommands(t, redis.url, async () => {
    const session = await get(a, 'v')
    t.same([session?.note, session?.n], ['by hand', 2], 'both changes')
  })
  t.equal(read.client, 1, 'the read after that write goes to Redis')

  await untilCaching(a, 'v')
  const again = await get(a, 'v') as SessionData
  await changed(a, async () => { await save(b, 'v', { ...await get(b, 'v'), m: 1 }) })
  await save(a, 'v', { ...again, n: 3 })
  const session = await get(a, 'v')
  t.same([session?.m, session?.n], [1, 3], 'a write on another replica in between: both changes')
})

t.test('after a script cache flush, the EVAL retry is tracked like any read, and the cache stays exact', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'f', { cookie: cookie(), user: 'flo', x: 0 })
  await untilCaching(store, 'f')
  await admin.script('FLUSH')
  await changed(store, () => admin.hset('sess:f', 'x', '1'))

  const retried = await countCommands(t, redis.url, async () => { t.equal((await get(store, 'f'))?.x, 1) })
  t.same(retried.names, ['evalsha', 'eval'], 'NOSCRIPT, then EVAL')
  const hit = await countCommands(t, redis.url, async () => { t.equal((await get(store, 'f'))?.x, 1) })
  t.equal(hit.client, 0, 'the retried read filled the cache')
  await changed(store, () => admin.hset('sess:f', 'x', '2'))
  t.equal((await get(store, 'f'))?.x, 2, 'and a change after it is announced')
})

t.test('the app\'s own commands on the client: never tracked, and a second store on it has a cache of its own', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url, { enableAutoPipelining: true })
  t.teardown(() => { client.disconnect() })
  const first = await makeStore(t, redis, LONG, client)
  const second = await makeStore(t, redis, { prefix: 'two:', ...LONG }, client)
  await save(first, 'p', { cookie: cookie(), user: 'pia' })
  await untilCaching(first, 'p')
  await save(second, 'q', { cookie: cookie(), user: 'quin' })
  await untilCaching(second, 'q')

  // The store talks to Redis on connections of its own: the app's reads on its client are not tracked, and a
  // change the app makes through its client is announced like any other.
  await client.set('app:k', '1')
  await client.get('app:k')
  const before = first.stats.invalidations
  await changed(first, async () => {
    await admin.set('app:k', '2')
    await client.hset('sess:p', 'user', '"pam"')
  })
  t.equal((await get(first, 'p'))?.user, 'pam', 'a change made through the app\'s client')
  t.equal(first.stats.invalidations, before + 1, 'and nothing for the app\'s own key')
  t.equal((await get(second, 'q'))?.user, 'quin')
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

t.test('a rolling read slides a stale TTL in its round trip, and that read is cached all the same', async (t) => {
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
  // NOLOOP: the slide, our own write, sends us no invalidation, and the script's final read keeps the key tracked.
  const next = await countCommands(t, redis.url, () => get(store, 's'))
  t.equal(next.client, 0, 'the read after the slide is a hit')
  await changed(store, () => admin.hset('sess:s', 'user', '"sid"'))
  t.equal((await get(store, 's'))?.user, 'sid', 'and a change after the slide is still announced')
})

t.test('a due entry is still served at once, while one read in the background slides the TTL and refills it', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  // Due 200 ms after its TTL was slid; served while its refresh travels for up to `timeout` (generous here).
  const store = await makeStore(t, redis, { clientSideCache: { ttl: 200 }, timeout: 20_000 })
  await save(store, 'd', { cookie: cookie(), user: 'dan' })
  await untilCaching(store, 'd')
  await waitFor(async () => await admin.pttl('sess:d') < 59_000, { timeout: 5000, message: 'the TTL to age by 1 s' })

  const hits = store.stats.cacheHits
  const counted = await countCommands(t, redis.url, async () => {
    for (let i = 0; i < 5; i++) {
      let answered: SessionData | null | undefined
      store.get('d', (err, session) => { t.error(err); answered = session })
      t.equal(answered?.user, 'dan', `request ${i + 1} is answered from memory, with no wait`)
    }
    await waitFor(async () => await admin.pttl('sess:d') > 59_500, { timeout: 5000, message: 'the refresh to slide the TTL' })
  })
  t.equal(store.stats.cacheHits, hits + 5)
  t.equal(counted.names.filter((name) => name.startsWith('eval')).length, 1, `one read for the five (${counted.names.join(', ')})`)
  await changed(store, () => admin.hset('sess:d', 'user', '"dee"'))
  t.equal((await get(store, 'd'))?.user, 'dee', 'the refilled entry is tracked: a later change is still announced')
})

t.test('requests for a session that miss together wait for one read, and are served from what it leaves', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'j', { cookie: cookie(), user: 'jo' })
  await untilCaching(store, 'j')
  await changed(store, () => admin.hset('sess:j', 'user', '"jay"')) // the entry is gone

  const hits = store.stats.cacheHits
  const counted = await countCommands(t, redis.url, async () => {
    const users = await Promise.all(Array.from({ length: 5 }, async () => (await get(store, 'j'))?.user))
    t.same(users, ['jay', 'jay', 'jay', 'jay', 'jay'])
  })
  t.equal(counted.client, 1, `one read for the five (${counted.names.join(', ')})`)
  t.equal(store.stats.cacheHits, hits + 4, 'the four that waited were served from its fill')
})

t.test('a request that misses while our write of its session travels waits for the write\'s refill, with no read', async (t) => {
  const { redis } = await redisWithAdmin(t)
  const store = await makeStore(t, redis, LONG)
  await save(store, 'k', { cookie: cookie(), user: 'kim', n: 1 })
  await untilCaching(store, 'k')

  const counted = await countCommands(t, redis.url, async () => {
    const writing = save(store, 'k', { ...await get(store, 'k'), n: 2 })
    // The write took the entry away as it was sent: this read would have gone to Redis, queued behind the write.
    const [, read] = await Promise.all([writing, get(store, 'k')])
    t.equal(read?.n, 2, 'it sees the write')
  })
  t.equal(counted.client, 1, `the write alone (${counted.names.join(', ')})`)
})

t.test('a request that waited on a write which filled nothing sends a read of its own', async (t) => {
  const { redis } = await redisWithAdmin(t)
  const a = await makeStore(t, redis, LONG)
  const b = await makeStore(t, redis, LONG)
  await save(b, 'taken', { cookie: cookie(), user: 'bea' })
  await assertCaching(t, a, 'warm', 'a caches') // a is tracking, and has never read 'taken'

  const counted = await countCommands(t, redis.url, async () => {
    // A new session object saved under a taken id: a create, whose token a read of that id waits on.
    const creating = save(a, 'taken', { cookie: cookie(), user: 'ann' }).then(() => null, (err: unknown) => err)
    const [err, read] = await Promise.all([creating, get(a, 'taken')])
    t.match(err, { code: 'SWY_SESSION_ID_CONFLICT' }, 'the create is refused and fills nothing')
    t.equal(read?.user, 'bea', 'the waiting read then asked Redis, and sees the session that holds the id')
  })
  t.equal(counted.client, 2, `the create, then the read (${counted.names.join(', ')})`)
})

t.test('requests that waited on a read that timed out get its 503 at once, not after a read of their own', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const store = await makeStore(t, redis, { ...LONG, timeout: 300 })
  await save(store, 'z', { cookie: cookie(), user: 'zed' })
  await untilCaching(store, 'z')
  await changed(store, () => admin.hset('sess:z', 'user', '"zoe"'))
  redis.freeze()
  t.teardown(() => { redis.thaw() })

  const codes: string[] = []
  let answeredWithFirst = 0
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 5; i++) {
      store.get('z', (err) => {
        codes.push((err as { code?: string } | undefined)?.code ?? 'none')
        if (codes.length === 1) setImmediate(() => { answeredWithFirst = codes.length })
        if (codes.length === 5) resolve()
      })
    }
  })
  await new Promise((resolve) => setImmediate(resolve))
  redis.thaw()
  t.same(codes, Array(5).fill('SWY_SESSION_REDIS_TIMEOUT'))
  t.equal(answeredWithFirst, 5, 'the four that waited were answered together with the read they waited on')
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

t.test('off: clientSideCache false, a Cluster client', async (t) => {
  const redis = await startRedis(t)
  const off = await makeStore(t, redis, { clientSideCache: false })
  await save(off, 'o', { cookie: cookie(), user: 'oz' })
  const counted = await countCommands(t, redis.url, async () => {
    for (let i = 0; i < 3; i++) await get(off, 'o')
  })
  t.equal(counted.client, 3, 'every read is a round trip')
  t.equal(off.stats.cacheHits, 0)

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

t.test('a lazyConnect client: no connection of ours until the store is first used', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url, { lazyConnect: true })
  const store = await makeStore(t, redis, LONG, client)
  t.teardown(() => { client.disconnect() })
  const listed = async (): Promise<boolean> => (await ourConnections(admin)).includes('swy-session-invalidations')
  await admin.ping() // a round trip after the store was built: a connection it had opened would be listed by now
  t.equal(await listed(), false, 'nothing opened before the store is used')
  t.equal(client.status, 'wait', 'nor the app\'s client')
  await assertCaching(t, store, 'l', 'the first use connects, and the cache works from there')
  t.ok(await listed(), 'the invalidation connection is open')
})

t.test('close() closes the store\'s two connections, and leaves the app\'s client open', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url)
  t.teardown(() => { client.disconnect() })
  const store = await makeStore(t, redis, {}, client)
  await save(store, 'c', { cookie: cookie(), user: 'cat' })
  await untilCaching(store, 'c')
  t.same(await ourConnections(admin), ['swy-session', 'swy-session-invalidations'], 'commands and invalidations, while running')
  await store.close()
  await waitFor(async () => (await ourConnections(admin)).length === 0, { timeout: 5000, message: 'our connections closing' })
  t.equal(client.status, 'ready', 'the app\'s client is the app\'s to close')
})

t.test('the app closing its client closes our connections too', async (t) => {
  const { redis, admin } = await redisWithAdmin(t)
  const client = new Redis(redis.url)
  const store = await makeStore(t, redis, {}, client)
  await save(store, 'e', { cookie: cookie(), user: 'eve' })
  await untilCaching(store, 'e')
  await client.quit()
  await waitFor(async () => (await ourConnections(admin)).length === 0, {
    timeout: 5000, message: 'our connections closing after the client'
  })
  await t.rejects(get(store, 'e'), { statusCode: 503, message: /^Session store/ }, 'and the store answers 503 from then on')
})
