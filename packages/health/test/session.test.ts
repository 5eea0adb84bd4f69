/**
 * Next to @fastify/session: probes must never create sessions or reach Redis through the session store.
 * @fastify/session is a fastify-plugin, so its hooks run on every route of the context it is registered in,
 * health routes included, and with `saveUninitialized: true` (its default) each cookieless probe writes a
 * session. The README's two remedies are tested here against a real redis-server.
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { startGateway, startRedis } from '@switchyard/test-harness'
import type { FastifyInstance, Session } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { request } from 'undici'
import health from '../src/index.js'

const SECRET = 'a-secret-with-at-least-32-characters!!'

declare module 'fastify' {
  interface Session { seen?: boolean }
}

/** A minimal Redis store (JSON values, TTL from the cookie) with a count of every store call. */
function redisStore (client: Redis): fastifySession.SessionStore & { calls: number } {
  const store = {
    calls: 0,
    set (id: string, session: unknown, cb: (err?: unknown) => void) {
      store.calls++
      client.set(`sess:${id}`, JSON.stringify(session), 'EX', 3600).then(() => { cb() }, cb)
    },
    get (id: string, cb: (err: unknown, session?: Session | null) => void) {
      store.calls++
      client.get(`sess:${id}`).then((value) => { cb(null, value === null ? null : JSON.parse(value) as Session) }, cb)
    },
    destroy (id: string, cb: (err?: unknown) => void) {
      store.calls++
      client.del(`sess:${id}`).then(() => { cb() }, cb)
    }
  }
  return store
}

async function setup (t: Test, layout: (app: FastifyInstance, store: fastifySession.SessionStore) => Promise<void>): Promise<{ url: string, store: { calls: number }, sessions: () => Promise<number> }> {
  const redis = await startRedis(t)
  const client = new Redis(redis.port, '127.0.0.1')
  t.teardown(() => { client.disconnect() })
  const store = redisStore(client)
  const gateway = await startGateway(t, async (app) => { await layout(app, store) })
  return { url: gateway.url, store, sessions: async () => await client.dbsize() }
}

async function probeAll (url: string): Promise<Array<string | string[] | undefined>> {
  const cookies: Array<string | string[] | undefined> = []
  for (const path of ['/health/live', '/health/ready', '/health/startup', '/health']) {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await request(url + path, { method })
      await res.body.dump()
      if (res.statusCode !== 200) throw new Error(`${method} ${path} answered ${res.statusCode}`)
      cookies.push(res.headers['set-cookie'])
    }
  }
  return cookies
}

const apiRoute = (app: FastifyInstance): void => {
  app.get('/api/me', async (req) => { req.session.set('seen', true); return { ok: true } })
}

t.test('remedy 1: sessions registered in an encapsulated context (the API), health at the root', async (t) => {
  const { url, store, sessions } = await setup(t, async (app, store) => {
    await app.register(health)
    await app.register(async (api) => {
      await api.register(fastifyCookie)
      await api.register(fastifySession, { secret: SECRET, store, cookie: { secure: false } })
      apiRoute(api)
    })
  })
  const cookies = await probeAll(url)
  t.same(cookies.filter((c) => c !== undefined), [], 'no probe got a Set-Cookie')
  t.equal(store.calls, 0, 'no probe reached the session store')
  t.equal(await sessions(), 0, 'Redis holds no session')
  // The control: the API does create sessions, so the assertions above are not vacuous.
  const res = await request(url + '/api/me')
  await res.body.dump()
  t.ok(res.headers['set-cookie'], 'the API sets a session cookie')
  t.equal(await sessions(), 1, 'and stores its session in Redis')
})

t.test('remedy 2: sessions at the root with cookie.path limited to the API', async (t) => {
  const { url, store, sessions } = await setup(t, async (app, store) => {
    await app.register(fastifyCookie)
    await app.register(fastifySession, { secret: SECRET, store, cookie: { secure: false, path: '/api' } })
    await app.register(health)
    apiRoute(app)
  })
  const cookies = await probeAll(url)
  t.same(cookies.filter((c) => c !== undefined), [])
  t.equal(store.calls, 0)
  t.equal(await sessions(), 0)
  const res = await request(url + '/api/me')
  await res.body.dump()
  t.ok(res.headers['set-cookie'])
  t.equal(await sessions(), 1)
})

t.test('the hazard the README warns about: session plugin at the root with defaults → every probe writes a session', async (t) => {
  const { url, store, sessions } = await setup(t, async (app, store) => {
    // Health registered first does not help: the session hooks still apply to its routes.
    await app.register(health)
    await app.register(fastifyCookie)
    await app.register(fastifySession, { secret: SECRET, store, cookie: { secure: false } })
  })
  const cookies = await probeAll(url)
  t.equal(cookies.filter((c) => c !== undefined).length, 8, 'each of the 8 probes got a session cookie')
  t.equal(await sessions(), 8, 'and wrote a session to Redis')
  t.ok(store.calls >= 8)
})
