/**
 * The demo gateway: the user's own Fastify app with @switchyard/balancer in front of the replicas — p2c, active
 * health checks through @switchyard/health's /health/ready, outlier ejection, a backup replica, failover, the
 * live status page and Prometheus metrics.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import balancer from '@switchyard/balancer'

export interface DemoUpstream { url: string, name: string, backup?: boolean }

export async function buildGateway (upstreams: DemoUpstream[]): Promise<FastifyInstance> {
  const pretty = process.stdout.isTTY && process.env.LOG_PRETTY !== '0'
  const app = Fastify({
    logger: {
      level: process.env.LOG_LEVEL ?? 'info',
      // Readable logs in the demo only; a real gateway logs JSON.
      ...(pretty ? { transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname,reqId', translateTime: 'HH:MM:ss' } } } : {})
    },
    disableRequestLogging: true
  })
  await app.register(balancer, {
    prefix: '/api',
    rewritePrefix: '/api',
    upstreams,
    algorithm: 'p2c',
    retry: { tries: 3, timeout: 10_000 },
    timeout: 5_000,
    healthCheck: { path: '/health/ready', interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 2 },
    outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 5_000 },
    statusPage: { route: '/_switchyard' },
    metrics: { route: '/metrics' }
  })
  app.get('/', async (_request, reply) => await reply.type('text/plain').send(
    'Switchyard demo gateway\n\n' +
    '  /api/*          proxied to the replicas (p2c, failover, health checks)\n' +
    '  /_switchyard    live status page\n' +
    '  /metrics        Prometheus metrics\n'
  ))
  return app
}
