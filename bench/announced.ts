/**
 * Processes for the rolling-restart benchmark, started by the harness (`startBackends({ script })`); ROLE picks:
 * - `backend`: a replica as a user writes one: Fastify + @switchyard/health with `announce` (registers while
 *   ready, deregisters first thing on SIGTERM, then serves for DRAIN_DELAY and exits). Answers with `x-backend`.
 * - `gateway`: @switchyard/balancer fed by the registry (`upstreams: { redis, service }`), with active health checks.
 * - `http-proxy`: the peer: bare @fastify/http-proxy, round robin over a fixed list (GATEWAY_UPSTREAMS), no membership.
 * Each reports `{ type: 'listening', port }` over IPC, like the harness backends.
 */
import httpProxy from '@fastify/http-proxy'
import balancer from '@switchyard/balancer'
import health from '@switchyard/health'
import Fastify from 'fastify'
import { Redis } from 'ioredis'

const role = process.env.ROLE
const service = process.env.SERVICE ?? 'bench'
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { retryStrategy: () => 50 })
redis.on('error', () => {})
const app = Fastify({ logger: false })

if (role === 'backend') {
  const name = process.env.BACKEND_NAME ?? `backend-${process.pid}`
  await app.register(health, {
    announce: { redis, service, interval: Number(process.env.INTERVAL ?? 500), name },
    shutdown: { drainDelay: Number(process.env.DRAIN_DELAY ?? 1000), signals: true }
  })
  app.get('/', async (_request, reply) => {
    reply.header('x-backend', name)
    return { backend: name }
  })
} else if (role === 'gateway') {
  await app.register(balancer, {
    upstreams: { redis, service, interval: 1000 },
    healthCheck: { interval: 1000, path: '/health/ready' }
  })
} else {
  const upstreams = JSON.parse(process.env.GATEWAY_UPSTREAMS ?? '[]') as string[]
  let next = 0
  await app.register(httpProxy, { upstream: '', replyOptions: { getUpstream: () => upstreams[next++ % upstreams.length]! } })
}
app.addHook('onClose', async () => { redis.disconnect() })
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.send?.({ type: 'listening', port: (app.server.address() as { port: number }).port })
process.on('disconnect', () => { process.exit(0) })
