/**
 * A demo backend replica: an ordinary Fastify service with
 * - @switchyard/health: /health/live, /health/ready (Redis must answer), graceful drain on SIGTERM;
 * - @fastify/session with @switchyard/session-redis: a login survives this replica dying, because the
 *   session lives in Redis and any replica can read it.
 * Every response names the replica (`x-backend`). Started by run.ts (BACKEND_NAME, PORT, REDIS_URL); it
 * reports readiness over IPC like the test harness's backends.
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import health, { redisCheck } from '@switchyard/health'
import { RedisStore } from '@switchyard/session-redis'

const name = process.env.BACKEND_NAME ?? 'replica'
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  // Reconnect quickly after a Redis restart; the store fails fast (503) meanwhile instead of queueing.
  retryStrategy: (times) => Math.min(times * 100, 1000)
})
redis.on('error', () => {}) // reported through the health check and the store's 503s

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })

await app.register(health, {
  checks: { 'redis:ping': { check: redisCheck(redis), critical: true, timeout: 500 } },
  cacheTtl: 500,
  serviceId: name,
  // Readiness fails at once on SIGTERM; the gateway's health checks (1 s × 2) notice within the drain delay.
  shutdown: { drainDelay: 3000, signals: true }
})

await app.register(fastifyCookie)
await app.register(fastifySession, {
  secret: process.env.SESSION_SECRET ?? 'switchyard-demo-secret-of-at-least-32-chars',
  cookie: { secure: 'auto', maxAge: 86_400_000 },
  saveUninitialized: false, // anonymous requests create no session
  store: new RedisStore({ client: redis, prefix: 'demo:sess:' })
})

app.addHook('onSend', async (_request, reply) => { reply.header('x-backend', name) })

app.get('/', async () => ({ replica: name, pid: process.pid, message: `hello from ${name}` }))
app.get('/api/whoami', async () => ({ replica: name, pid: process.pid }))

app.post('/api/login', async (request) => {
  const body = (request.body ?? {}) as { user?: unknown }
  const query = request.query as { user?: unknown }
  const user = typeof body.user === 'string' ? body.user : typeof query.user === 'string' ? query.user : 'guest'
  request.session.set('user', user)
  request.session.set('loggedInOn', name)
  return { user, loggedInOn: name, servedBy: name }
})

app.get('/api/me', async (request, reply) => {
  const user = request.session.get('user')
  if (user === undefined) return await reply.code(401).send({ error: 'not logged in', servedBy: name })
  const visits = (request.session.get('visits') ?? 0) + 1
  request.session.set('visits', visits)
  return { user, loggedInOn: request.session.get('loggedInOn'), visits, servedBy: name }
})

app.post('/api/logout', async (request) => {
  await request.session.destroy()
  return { loggedOut: true, servedBy: name }
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 })
process.on('disconnect', () => process.exit(0))

declare module 'fastify' {
  interface Session {
    user?: string
    loggedInOn?: string
    visits?: number
  }
}
