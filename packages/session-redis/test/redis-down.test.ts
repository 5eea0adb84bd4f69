/**
 * Redis trouble is bounded and explicit: with redis-server SIGKILLed mid-traffic, requests needing the session get
 * a 503 with a clear code within the store's timeout, the app never crashes, and it recovers by itself after the
 * restart. Writes that could not complete are never applied later: not queued while disconnected, and refused by
 * their deadline when Redis runs them late (frozen server, or ioredis re-sending after a reconnect).
 */
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { runLoad, startGateway, startRedis, waitFor, type RedisServer } from '@switchyard/test-harness'
import { call, idOf, registerSessionApp, type SessionApp, type SessionAppOptions } from './fixtures/app.js'

const TIMEOUT = 500
// Event-loop and scheduling slack on a shared 2-core machine: the bound is timeout + this.
const SLACK = 400

async function app (t: Test, redis: RedisServer, options: Omit<SessionAppOptions, 'redisUrl'> = {}): Promise<{ url: string } & SessionApp> {
  let made: SessionApp | undefined
  const gateway = await startGateway(t, async (app) => {
    made = await registerSessionApp(app, { redisUrl: redis.url, store: { timeout: TIMEOUT }, ...options })
  })
  return { url: gateway.url, ...(made as SessionApp) }
}

function latch (): { reached: Promise<void>, hold: () => Promise<void>, release: () => void } {
  let arrive!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => { arrive = resolve })
  const wait = new Promise<void>((resolve) => { release = resolve })
  return { reached, hold: async () => { arrive(); await wait }, release }
}

t.test('Redis SIGKILLed mid-traffic: bounded 503s, no crash, automatic recovery', async (t) => {
  // appendfsync always: the login written before the crash must survive it (documented: sessions survive a Redis
  // crash only with persistence).
  const redis = await startRedis(t, { persistence: true, args: ['--appendfsync', 'always'] })
  const admin = new Redis(redis.url, { retryStrategy: () => 100 })
  admin.on('error', () => {})
  t.teardown(() => { admin.disconnect() })
  const { url } = await app(t, redis)
  const login = await call(url, 'POST', '/login?user=hal')
  const cookie = login.cookie as string

  const load = runLoad({ url, path: '/me', headers: { cookie }, connections: 8, durationMs: 3500, recordSamples: true, timeout: 5000 })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await redis.kill('SIGKILL')

  const down = await call(url, 'GET', '/me', cookie)
  t.equal(down.status, 503, 'a request needing the session while Redis is down is a 503')
  // Which of the two depends on whether ioredis has noticed the dead connection yet; both are the bounded 503.
  t.match(down.body.code, /^SWY_SESSION_REDIS_(UNAVAILABLE|TIMEOUT)$/)
  t.ok(down.ms < TIMEOUT + SLACK, `answered in ${Math.round(down.ms)} ms`)

  const write = await call(url, 'POST', '/set?k=written-while-down&v=1', cookie)
  t.equal(write.status, 503)
  const fresh = await call(url, 'GET', '/me')
  t.equal(fresh.status, 503, 'a new session cannot be saved either: 503, not a cookie for a session that does not exist')

  await new Promise((resolve) => setTimeout(resolve, 700))
  await redis.restart()
  const result = await load

  t.equal(result.errorCount, 0, 'no transport errors: the app never crashed or hung up')
  t.same(Object.keys(result.statuses).sort(), ['200', '503'], 'only 200s and 503s')
  t.ok(result.c5xx > 0, `${result.c5xx} requests got a 503 during the outage`)
  const slow503 = result.samples.filter((s) => s.status === 503 && s.latency > TIMEOUT + SLACK)
  t.same(slow503.map((s) => Math.round(s.latency)), [], `every 503 within ${TIMEOUT + SLACK} ms (max ${Math.round(result.latency.max)} ms)`)
  const lastStart = Math.max(...result.samples.map((s) => s.start))
  const tail = result.samples.filter((s) => s.start > lastStart - 300)
  t.ok(tail.length > 0 && tail.every((s) => s.status === 200), 'recovered by itself before the load ended')

  const me = await waitFor(async () => {
    const reply = await call(url, 'GET', '/me', cookie)
    return reply.status === 200 ? reply : undefined
  }, { timeout: 5000, message: 'a 200 after the restart' })
  t.equal(me.body.user, 'hal', 'the session written before the crash survived it (AOF)')
  t.equal((me.body.data as Record<string, unknown>)['written-while-down'], undefined,
    'the write refused during the outage was not replayed after the reconnect')
})

t.test('a frozen Redis: 503 after the timeout, and the stuck write is refused when it finally runs', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  t.teardown(() => { redis.thaw(); admin.disconnect() })
  const gate = latch()
  const { url, store } = await app(t, redis, { hold: gate.hold })
  const login = await call(url, 'POST', '/login?user=ida')
  const cookie = login.cookie as string
  const key = `sess:${idOf(cookie)}`

  const stuck = call(url, 'POST', '/set?k=late&v=1&hold=1', cookie) // session loaded, handler parked
  await gate.reached
  redis.freeze()
  gate.release() // its write is now sent to a server that does not answer
  const reply = await stuck
  t.equal(reply.status, 503)
  t.equal(reply.body.code, 'SWY_SESSION_REDIS_TIMEOUT')
  t.ok(reply.ms < TIMEOUT + SLACK + 100, `answered in ${Math.round(reply.ms)} ms`)

  const read = await call(url, 'GET', '/me', cookie)
  t.equal(read.status, 503, 'reads time out too')

  redis.thaw() // Redis now runs the write it received long ago
  await waitFor(() => store.stats.lateWrites >= 1, { timeout: 5000, message: 'the late write refused' })
  t.equal(await admin.hget(key, 'late'), null, 'the stale write did not land')
  const me = await call(url, 'GET', '/me', cookie)
  t.equal(me.status, 200)
  t.equal(me.body.user, 'ida')
})

t.test('a write ioredis re-sends after a reconnect is refused by its deadline', async (t) => {
  const redis = await startRedis(t, { persistence: true, args: ['--appendfsync', 'always'] })
  const admin = new Redis(redis.url, { retryStrategy: () => 100 })
  admin.on('error', () => {})
  t.teardown(() => { admin.disconnect() })
  const gate = latch()
  const { url, store, client } = await app(t, redis, { hold: gate.hold })
  const login = await call(url, 'POST', '/login?user=jo')
  const cookie = login.cookie as string
  const key = `sess:${idOf(cookie)}`

  const stuck = call(url, 'POST', '/set?k=replayed&v=1&hold=1', cookie)
  await gate.reached
  redis.freeze()
  gate.release()
  t.equal((await stuck).status, 503)
  await redis.kill('SIGKILL') // the unanswered write is still in ioredis' command queue: it will be re-sent
  await redis.restart()
  await waitFor(() => client.status === 'ready', { timeout: 5000, message: 'client reconnected' })
  await waitFor(() => store.stats.lateWrites >= 1, { timeout: 5000, message: 'the re-sent write refused' })
  t.equal(await admin.hget(key, 'replayed'), null, 'the re-sent write did not land')
  t.equal(await admin.hget(key, 'user'), '"jo"')
})
