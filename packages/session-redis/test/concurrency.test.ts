/**
 * No lost updates across replicas: two Fastify apps (each with its own ioredis client and store) share one
 * redis-server and one session cookie. Concurrent writers of different keys both win; a read-only request
 * cannot clobber a concurrent write even with `rolling: true`; the same key is last-writer-wins and counted; a
 * logout cannot be undone by a request that was in flight.
 * What Redis holds is read with an admin client: a replica's client-side cache shows another replica's write only
 * once the invalidation message arrived, which on a loaded machine can be after the write's reply (that window is
 * the cache's, tested in client-side-cache.test.ts; these tests are about what is stored).
 */
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startGateway, startRedis, type RedisServer } from '@switchyard/test-harness'
import { call, idOf, registerSessionApp, type SessionApp } from './fixtures/app.js'

interface Replica extends SessionApp { url: string }

/** The session as stored in Redis: its top-level keys, parsed (metadata fields left out). */
async function stored (t: Test, redis: RedisServer, cookie: string): Promise<Record<string, unknown>> {
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const hash = await admin.hgetall(`sess:${idOf(cookie)}`)
  const out: Record<string, unknown> = {}
  for (const [field, raw] of Object.entries(hash)) if (!field.startsWith('#')) out[field] = JSON.parse(raw)
  return out
}

/** A latch the test opens: `reached` resolves when a request is parked, `release()` lets it go on. */
function latch (): { reached: Promise<void>, arrive: () => void, release: () => void, wait: Promise<void> } {
  let arrive!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => { arrive = resolve })
  const wait = new Promise<void>((resolve) => { release = resolve })
  return { reached, arrive, release, wait }
}

async function replicas (t: Test, redis: RedisServer, hold?: (name: string) => Promise<void>): Promise<[Replica, Replica]> {
  const make = async (name: string): Promise<Replica> => {
    let made: SessionApp | undefined
    const gateway = await startGateway(t, async (app) => {
      made = await registerSessionApp(app, { redisUrl: redis.url, name, ...(hold === undefined ? {} : { hold }) })
    })
    return { url: gateway.url, ...(made as SessionApp) }
  }
  return [await make('replica-a'), await make('replica-b')]
}

t.test('two replicas, one cookie, 200 concurrent requests each setting a distinct key: all 200 kept', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await replicas(t, redis)
  const login = await call(a.url, 'POST', '/login?user=dana')
  const cookie = login.cookie as string

  const replies = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
    await call(i % 2 === 0 ? a.url : b.url, 'POST', `/set?k=key${i}&v=${i}`, cookie)))
  t.same(replies.filter((r) => r.status !== 200).map((r) => r.status), [], 'every request succeeded')
  t.same(new Set(replies.map((r) => r.backend)), new Set(['replica-a', 'replica-b']), 'both replicas served')

  const data = await stored(t, redis, cookie)
  const missing = Array.from({ length: 200 }, (_, i) => `key${i}`).filter((k) => data[k] === undefined)
  t.same(missing, [], 'all 200 keys present')
  t.equal(data.user, 'dana', 'and the login too')
  t.equal(a.store.stats.conflicts + b.store.stats.conflicts, 0, 'distinct keys never conflict')
})

t.test('a read-only request (rolling: true) does not clobber a concurrent write', async (t) => {
  const redis = await startRedis(t)
  const gate = latch()
  const [a, b] = await replicas(t, redis, async () => { gate.arrive(); await gate.wait })
  const anonymous = await call(a.url, 'POST', '/set?k=theme&v=dark')
  const cookie = anonymous.cookie as string

  const slowRead = call(a.url, 'GET', '/me?hold=read', cookie) // loaded the session, now parked
  await gate.reached
  const write = await call(b.url, 'POST', '/set?k=user&v=erin', cookie) // logs in meanwhile on the other replica
  t.equal(write.status, 200)
  gate.release()
  const read = await slowRead
  t.equal(read.status, 200)
  t.equal(read.body.user, null, 'the slow read saw the session as it was')

  const after = await stored(t, redis, cookie)
  t.equal(after.user, 'erin', 'the write survived the stale read-only save')
  t.equal(after.theme, 'dark')
})

t.test('the same key written concurrently: last writer wins, and it is counted', async (t) => {
  const redis = await startRedis(t)
  const gate = latch()
  const [a, b] = await replicas(t, redis, async () => { gate.arrive(); await gate.wait })
  const login = await call(a.url, 'POST', '/login?user=fay')
  const cookie = login.cookie as string

  const first = call(a.url, 'POST', '/set?k=cart&v=from-a&hold=a', cookie)
  await gate.reached
  t.equal((await call(b.url, 'POST', '/set?k=cart&v=from-b', cookie)).status, 200)
  gate.release()
  t.equal((await first).status, 200)

  t.equal((await stored(t, redis, cookie)).cart, 'from-a', 'the last writer wins')
  t.equal(a.store.stats.conflicts, 1, 'the overwrite of a concurrent change is counted')
  t.equal(b.store.stats.conflicts, 0)
})

t.test('a logout cannot be undone by a request that was in flight', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { admin.disconnect() })
  const gate = latch()
  const [a, b] = await replicas(t, redis, async () => { gate.arrive(); await gate.wait })
  const login = await call(a.url, 'POST', '/login?user=gus')
  const cookie = login.cookie as string
  const key = `sess:${idOf(cookie)}`

  const inFlight = call(a.url, 'POST', '/set?k=cart&v=stale&hold=x', cookie)
  await gate.reached
  t.equal((await call(b.url, 'POST', '/logout', cookie)).status, 200)
  gate.release()
  t.equal((await inFlight).status, 200, 'the in-flight request itself completes')

  t.same(await admin.hgetall(key), { '#d': '1' }, 'only the tombstone: the stale write was refused')
  t.equal(a.store.stats.droppedWrites, 1)
  const me = await call(a.url, 'GET', '/me', cookie)
  t.equal(me.body.user, null, 'still logged out')
  t.not(me.body.id, idOf(cookie))
})
