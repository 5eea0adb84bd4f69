/**
 * The demo gateway: the user's own Fastify app, with @switchyard/balancer in front of the replicas.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import balancer from '@switchyard/balancer'

export async function buildGateway (upstreams: Array<{ url: string, name: string }>): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } })
  await app.register(balancer, {
    upstreams,
    algorithm: 'round-robin',
    retry: { tries: 3, timeout: 10_000 },
    timeout: 5_000
  })
  app.get('/_gateway/upstreams', async () => app.balancer.stats())
  return app
}
