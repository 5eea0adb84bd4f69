/**
 * Types of the public surface, checked by tsc (the suite's typecheck step): the `declare module 'fastify'`
 * augmentation, option types, and the errors tsc must report (`@ts-expect-error` fails the build if the
 * error disappears). The runtime part proves the typed calls do what their types say.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import t from 'tap'
import health, { redisCheck, type CheckStatus, type HealthApi, type HealthReport, type LifecycleState } from '../src/index.js'

/** Never called: each line must fail to type-check. */
export function typeErrors (app: FastifyInstance): void {
  // @ts-expect-error drain() takes an options object, not a number
  app.health.drain(5)
  // @ts-expect-error state is read-only
  app.health.state = 'closed'
  // @ts-expect-error unknown plugin option (typo)
  app.register(health, { cachettl: 1 })
  // @ts-expect-error a check is a function or { check }, not a string
  app.register(health, { checks: { 'redis:ping': 'PING' } })
  // @ts-expect-error timeout is a number of milliseconds
  app.register(health, { checks: { 'redis:ping': { check: () => true, timeout: '1s' } } })
  // @ts-expect-error redisCheck needs a client with ping()
  redisCheck({})
}

t.test('app.health is typed through the fastify augmentation', async (t) => {
  const app = Fastify({ logger: false })
  // A lazy ioredis client never connects: the check fails fast without touching the network.
  const client = new Redis({ lazyConnect: true })
  t.teardown(() => { client.disconnect() })
  let authorizedWith: FastifyRequest | undefined
  await app.register(health, {
    exposeDetails: false,
    // `request` is a FastifyRequest
    authorize: (request) => { authorizedWith = request; return request.headers['x-ops'] === '1' },
    checks: { 'redis:ping': { check: redisCheck(client), critical: false, timeout: 200 } },
    shutdown: { drainDelay: 0, signals: ['SIGTERM'] }
  })
  await app.ready()

  const api: HealthApi = app.health
  const state: LifecycleState = app.health.state
  const report: HealthReport = await app.health.check()
  const status: CheckStatus = report.status
  const res = await app.inject({ url: '/health', headers: { 'x-ops': '1' } })
  app.health.on('readiness', (next: CheckStatus, previous: CheckStatus | undefined) => { t.not(next, previous) })
  const drained: Promise<void> = app.health.drain({ delay: 0, reason: 'test' })
  await drained

  t.equal(api, app.health)
  t.equal(state, 'serving')
  t.equal(status, 'warn', 'a non-critical Redis check that cannot connect degrades to warn')
  t.match(report.checks?.['redis:ping']?.[0], { status: 'fail', output: 'redis connection is wait' })
  t.ok(authorizedWith, 'authorize received the request')
  t.match(res.json(), { status: 'warn', checks: { 'redis:ping': [{ status: 'fail' }] } })
  t.equal(app.health.state, 'closed')
})
