/**
 * RedisStore under @fastify/session 11 over HTTP, against a real redis-server: the rolling × saveUninitialized
 * matrix, one round trip per read-only request, TTLs, expiry, regenerate, large sessions, corrupted values.
 */
import t, { type Test } from 'tap'
import type { SessionStore } from '@fastify/session'
import { Signer } from '@fastify/cookie'
import { Redis } from 'ioredis'
import { startGateway, startRedis, waitFor, type RedisServer } from '@switchyard/test-harness'
import { RedisStore } from '../src/index.js'
import { SECRET, call, idOf, registerSessionApp, type SessionAppOptions, type SessionApp } from './fixtures/app.js'
import { countCommands } from './fixtures/monitor.js'

// Type-level: the store is a `SessionStore` as @fastify/session declares it, with no cast.
export const typeCheck = (client: Redis): SessionStore => new RedisStore({ client })

async function app (
  t: Test, redis: RedisServer, options: Omit<SessionAppOptions, 'redisUrl'> = {}
): Promise<{ url: string } & SessionApp> {
  let made: SessionApp | undefined
  const gateway = await startGateway(t, async (app) => {
    made = await registerSessionApp(app, { redisUrl: redis.url, ...options })
  })
  return { url: gateway.url, ...(made as SessionApp) }
}

t.test('contract under @fastify/session: rolling × saveUninitialized', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })

  for (const rolling of [true, false]) {
    for (const saveUninitialized of [true, false]) {
      await t.test(`rolling ${rolling}, saveUninitialized ${saveUninitialized}`, async (t) => {
        await admin.flushall()
        const { url } = await app(t, redis, { session: { rolling, saveUninitialized }, store: { rolling } })

        const anonymous = await call(url, 'GET', '/me')
        t.equal(anonymous.status, 200)
        t.equal(anonymous.cookie !== undefined, saveUninitialized, 'a cookieless request gets a cookie only with saveUninitialized')
        t.equal(await admin.dbsize(), saveUninitialized ? 1 : 0, 'and a stored session only then')

        const login = await call(url, 'POST', '/login?user=ann', anonymous.cookie)
        t.equal(login.status, 200)
        t.ok(login.cookie, 'a modified session is always saved')
        const cookie = login.cookie as string
        const key = `sess:${idOf(cookie)}`
        t.equal(await admin.hget(key, 'user'), '"ann"')

        const pttl = await admin.pttl(key)
        t.ok(pttl > 86_400_000 - 1000 && pttl <= 86_400_000, `TTL ${pttl} ms is within [maxAge − 1 s, maxAge]`)

        const meta = await admin.hget(key, '#')
        const counted = await countCommands(t, redis.url, async () => {
          const me = await call(url, 'GET', '/me', cookie)
          t.equal(me.body.user, 'ann')
          t.equal(me.cookie !== undefined, rolling, 'Set-Cookie on a read-only request only with rolling')
        })
        // 0 when the login's write already refilled the client-side cache (once its tracking is on), else 1.
        t.ok(counted.client <= 1, `a read-only request is at most one round trip (${counted.names.join(', ')})`)

        t.equal(await admin.hget(key, '#'), meta, 'a read-only request writes nothing (the read slid the TTL)')
        const missing = await call(url, 'GET', '/me', 'sessionId=' + encodeURIComponent('not-a-signed-id'))
        t.equal(missing.status, 200)
        t.equal(missing.body.user, null)
      })
    }
  }
})

t.test('TTL follows maxAge and a rolling read slides it', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const { url } = await app(t, redis, { session: { cookie: { secure: 'auto', maxAge: 60_000 } } })
  const login = await call(url, 'POST', '/login')
  const key = `sess:${idOf(login.cookie as string)}`
  const pttl = await admin.pttl(key)
  t.ok(pttl >= 59_000 && pttl <= 60_000, `TTL ${pttl} ms in [59 s, 60 s]`)

  // Pretend 50 s passed: the next read (rolling) must slide the TTL back to the full window, in the same round trip.
  await admin.pexpire(key, 10_000)
  const me = await call(url, 'GET', '/me', login.cookie)
  t.equal(me.body.user, 'alice')
  const slid = await admin.pttl(key)
  t.ok(slid >= 59_000 && slid <= 60_000, `TTL slid back to ${slid} ms`)

  // No cookie maxAge: the `ttl` option (seconds) decides.
  const noMaxAge = await app(t, redis, { session: { cookie: { secure: 'auto' } }, store: { ttl: 120 } })
  const anon = await call(noMaxAge.url, 'POST', '/set?k=a&v=1')
  const ttl = await admin.pttl(`sess:${idOf(anon.cookie as string)}`)
  t.ok(ttl > 119_000 && ttl <= 120_000, `ttl option: ${ttl} ms`)
})

t.test('an expired session is gone: a new one starts', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const { url } = await app(t, redis, { session: { cookie: { secure: 'auto', maxAge: 600 } } })
  const login = await call(url, 'POST', '/login')
  const key = `sess:${idOf(login.cookie as string)}`
  t.equal(await admin.exists(key), 1)
  await waitFor(async () => (await admin.exists(key)) === 0, { timeout: 5000, message: 'Redis expiring the session' })
  const me = await call(url, 'GET', '/me', login.cookie)
  t.equal(me.status, 200)
  t.equal(me.body.user, null, 'logged out after expiry')
  t.not(me.body.id, idOf(login.cookie as string), 'with a new id')
})

t.test('a stored expiry in the past (key still there) regenerates and destroys the old id', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  // Non-rolling: the stored expiry is authoritative (nothing slides it on read).
  const { url } = await app(t, redis, { session: { rolling: false }, store: { rolling: false } })
  const login = await call(url, 'POST', '/login')
  const key = `sess:${idOf(login.cookie as string)}`
  // "<version>:<slide>:<maxAge>:<expiresAt>": move the stored expiry into the past (clock skew, or TTL disabled by hand)
  const meta = (await admin.hget(key, '#') as string).split(':')
  meta[3] = String(Date.now() - 1000)
  await admin.hset(key, '#', meta.join(':'))
  const me = await call(url, 'GET', '/me', login.cookie)
  t.equal(me.status, 200)
  t.equal(me.body.user, null)
  t.not(me.body.id, idOf(login.cookie as string))
  t.equal(await admin.hget(key, '#d'), '1', 'the expired id is a tombstone now')
})

t.test('regenerate() leaves no valid old id behind', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const { url } = await app(t, redis)
  const before = await call(url, 'POST', '/set?k=theme&v=dark')
  const oldId = idOf(before.cookie as string)
  const login = await call(url, 'POST', '/login?user=bob', before.cookie)
  const newId = idOf(login.cookie as string)
  t.not(newId, oldId, 'login issues a new id (session fixation)')
  t.same(await admin.hgetall(`sess:${oldId}`), { '#d': '1' }, 'the old id only holds a tombstone')
  const stale = await call(url, 'GET', '/me', before.cookie)
  t.equal(stale.body.user, null, 'the pre-login cookie is not logged in')
  t.not(stale.body.id, oldId)
  const fresh = await call(url, 'GET', '/me', login.cookie)
  t.equal(fresh.body.user, 'bob')
})

t.test('a 100 KB session round-trips; over maxSize is a clear error', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const { url } = await app(t, redis)
  const login = await call(url, 'POST', '/login')
  const big = await call(url, 'POST', '/big?size=100000', login.cookie)
  t.equal(big.status, 200)
  const me = await call(url, 'GET', '/me', login.cookie)
  t.equal(((me.body.data as Record<string, unknown>).blob as string).length, 100_000)
  t.equal(me.body.user, 'alice')

  const small = await app(t, redis, { store: { maxSize: 64 * 1024 } })
  const login2 = await call(small.url, 'POST', '/login')
  const tooBig = await call(small.url, 'POST', '/big?size=100000', login2.cookie)
  t.equal(tooBig.status, 500)
  t.equal(tooBig.body.code, 'SWY_SESSION_TOO_LARGE')
  t.match(tooBig.body.message, /more than maxSize \(65536 bytes\)/)
  t.equal(await admin.hexists(`sess:${idOf(login2.cookie as string)}`, 'blob'), 0, 'nothing was written')
  const still = await call(small.url, 'GET', '/me', login2.cookie)
  t.equal(still.body.user, 'alice', 'the session is intact')
})

t.test('a corrupted stored value is no session (logged), never a 500', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const warnings: Array<Record<string, unknown>> = []
  const logger = { warn: (obj: Record<string, unknown>) => { warnings.push(obj) } }
  const { url, store } = await app(t, redis, { store: { logger } })

  const login = await call(url, 'POST', '/login')
  const key = `sess:${idOf(login.cookie as string)}`
  await admin.hset(key, 'user', '{not json')
  for (let i = 0; i < 3; i++) {
    const me = await call(url, 'GET', '/me', login.cookie)
    t.equal(me.status, 200, 'not a 500')
    t.equal(me.body.user, null)
  }
  t.equal(warnings.length, 1, 'logged once: the corrupted key is deleted')
  t.equal(warnings[0]?.sessionKey, key)
  t.equal(await admin.hget(key, '#d'), '1')

  const login2 = await call(url, 'POST', '/login')
  const key2 = `sess:${idOf(login2.cookie as string)}`
  await admin.set(key2, 'garbage of the wrong type')
  const me2 = await call(url, 'GET', '/me', login2.cookie)
  t.equal(me2.status, 200)
  t.equal(me2.body.user, null)
  t.equal(store.stats.corrupted, 2)
})

t.test('a cache hit hands @fastify/session the id it signed before: no HMAC per request, the same cookie', async (t) => {
  const redis = await startRedis(t)
  for (const reuseSignedId of [true, false]) {
    await t.test(`reuseSignedId ${reuseSignedId}`, async (t) => {
      // A signer that counts: @fastify/session accepts { sign, unsign } as its secret.
      const real = new Signer(SECRET)
      let signs = 0
      const secret = {
        sign: (value: string) => { signs++; return real.sign(value) },
        unsign: (value: string) => real.unsign(value)
      }
      const { url, store } = await app(t, redis, { session: { secret }, store: { reuseSignedId } })
      const login = await call(url, 'POST', '/login?user=ann')
      const cookie = login.cookie as string
      // Until the cache holds the session and a save has shown its signed id (a hit, then that request's save).
      const hits = store.stats.cacheHits
      await waitFor(async () => {
        t.equal((await call(url, 'GET', '/me', cookie)).body.user, 'ann')
        return store.stats.cacheHits > hits + 1
      }, { message: 'cache hits' })

      const before = signs
      const hitsBefore = store.stats.cacheHits
      for (let i = 0; i < 5; i++) {
        const me = await call(url, 'GET', '/me', cookie)
        t.equal(me.body.user, 'ann', 'still logged in')
        t.equal(me.cookie, cookie, 'the rolling Set-Cookie carries the same signed id')
      }
      const hitsDuring = store.stats.cacheHits - hitsBefore
      t.ok(hitsDuring >= 4, `served from the cache (${hitsDuring} hits of 5)`)
      if (reuseSignedId) t.ok(signs - before <= 5 - hitsDuring, `no signing on a hit (${signs - before} signs)`)
      else t.ok(signs - before >= 5, `signed on every request when off (${signs - before} signs)`)
    })
  }
})
