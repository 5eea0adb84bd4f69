/**
 * app.health.drain() on a real listening server: readiness fails at once, liveness and real traffic keep being
 * served for the drain delay, onDrain hooks run, then fastify.close() lets in-flight requests finish and
 * completes promptly even when those requests came over keep-alive connections.
 */
import { startGateway, waitFor } from '@switchyard/test-harness'
import t from 'tap'
import { Agent, request } from 'undici'
import health, { type DrainInfo, type LifecycleState } from '../src/index.js'

t.test('drain(): 503 readiness at once, 200 traffic during the delay, hooks, in-flight completes, server closes', async (t) => {
  let releaseSlow: () => void = () => {}
  let slowStarted = false
  const gateway = await startGateway(t, async (app) => {
    await app.register(health, { checks: { 'self:ok': () => {} }, exposeDetails: true, shutdown: { drainDelay: 400 } })
    app.get('/', async () => 'ok')
    app.get('/slow', async () => {
      slowStarted = true
      await new Promise<void>((resolve) => { releaseSlow = resolve })
      return 'slow done'
    })
  })
  const { app, url } = gateway
  // One keep-alive connection pool for everything, as a load balancer would have.
  const dispatcher = new Agent({ connections: 4 })
  t.teardown(async () => { await dispatcher.destroy() })
  const get = async (path: string): Promise<{ status: number, connection: string | string[] | undefined, text: string }> => {
    const res = await request(url + path, { dispatcher })
    return { status: res.statusCode, connection: res.headers.connection, text: await res.body.text() }
  }

  const states: LifecycleState[] = []
  app.health.on('state', (state) => { states.push(state) })
  const hookCalls: DrainInfo[] = []
  app.health.onDrain((info) => { hookCalls.push(info) })

  t.equal((await get('/health/ready')).status, 200)
  t.equal((await get('/')).connection, 'keep-alive', 'keep-alive before the drain')
  const slow = get('/slow')
  await waitFor(() => slowStarted, { message: 'the slow request to be in flight' })

  const drained = app.health.drain()
  t.equal(app.health.draining, true, 'draining synchronously')
  t.equal(app.health.readiness, 'fail')
  t.same(hookCalls.map((i) => [i.reason, i.delay]), [['drain()', 400]], 'onDrain hook ran at once')

  const ready = await get('/health/ready')
  t.equal(ready.status, 503, 'readiness 503 on the first probe after drain()')
  t.match(JSON.parse(ready.text), { status: 'fail', output: /^draining/, checks: { 'self:ok': [{ status: 'pass' }] } }, 'details say why')
  const report = await get('/health')
  t.equal(report.status, 503, 'the full report fails too')
  t.match(JSON.parse(report.text), { status: 'fail', output: /^draining/, checks: { 'self:ok': [{ status: 'pass' }] } })
  t.equal((await get('/health/startup')).status, 200, 'startup is not affected by the drain')
  const live = await get('/health/live')
  t.equal(live.status, 200, 'liveness stays 200')
  const traffic = await get('/')
  t.equal(traffic.status, 200, 'real traffic is still served')
  t.equal(traffic.connection, 'close', 'with Connection: close, so clients reconnect elsewhere')

  await waitFor(() => app.health.state === 'closing', { message: 'the close to begin after the drain delay' })
  releaseSlow()
  const slowResult = await slow
  t.same([slowResult.status, slowResult.text], [200, 'slow done'], 'the in-flight request completed during the close')
  const closedAt = performance.now()
  await drained
  t.ok(performance.now() - closedAt < 1000, 'the close finished promptly, not after keepAliveTimeout')
  t.same(states, ['draining', 'closing', 'closed'])
  await t.rejects(request(url + '/', { dispatcher: new Agent() }), { code: 'ECONNREFUSED' }, 'the server no longer listens')
})

t.test('drain() twice returns the same drain; drain({ delay: 0 }) closes straight away', async (t) => {
  const gateway = await startGateway(t, async (app) => { await app.register(health, { shutdown: { drainDelay: 60_000 } }) })
  const first = gateway.app.health.drain({ delay: 0 })
  const second = gateway.app.health.drain()
  await Promise.all([first, second])
  t.equal(gateway.app.health.state, 'closed')
})
