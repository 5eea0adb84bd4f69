/**
 * The Redis check against a real redis-server: stopped → readiness fails, restarted → it passes again;
 * frozen (SIGSTOP) → the check times out and the endpoint still answers in time. Liveness never moves.
 */
import { startGateway, startRedis, waitFor } from '@switchyard/test-harness'
import { Redis } from 'ioredis'
import t from 'tap'
import { request } from 'undici'
import health, { redisCheck } from '../src/index.js'

interface Probe { status: number, body: { status: string, checks?: Record<string, Array<Record<string, unknown>>> } }

async function probe (url: string): Promise<Probe> {
  const res = await request(url)
  return { status: res.statusCode, body: await res.body.json() as Probe['body'] }
}

t.test('redis:ping flips fail → pass when a real redis-server is stopped and restarted', async (t) => {
  const redis = await startRedis(t)
  // Reconnect quickly so the test does not wait out ioredis' backoff.
  const client = new Redis(redis.port, '127.0.0.1', { retryStrategy: () => 50, maxRetriesPerRequest: 1 })
  t.teardown(() => { client.disconnect() })
  await client.ping()

  const gateway = await startGateway(t, async (app) => {
    await app.register(health, {
      cacheTtl: 0,
      exposeDetails: true,
      checks: { 'redis:ping': { check: redisCheck(client), critical: true, timeout: 500 } }
    })
  })
  const ready = `${gateway.url}/health/ready`

  const up = await probe(ready)
  t.equal(up.status, 200)
  t.match(up.body.checks?.['redis:ping']?.[0], { status: 'pass', componentType: 'datastore', observedUnit: 'ms', observedValue: Number })

  await redis.stop()
  const down = await waitFor(async () => { const p = await probe(ready); return p.status === 503 ? p : false }, { message: 'readiness 503 with Redis stopped' })
  t.match(down.body, { status: 'fail', checks: { 'redis:ping': [{ status: 'fail', output: /redis connection is|ECONNREFUSED|Connection is closed/ }] } })
  t.equal((await request(`${gateway.url}/health/live`)).statusCode, 200, 'liveness stays 200 while Redis is down')

  await redis.restart()
  const back = await waitFor(async () => { const p = await probe(ready); return p.status === 200 ? p : false }, { message: 'readiness 200 after the restart' })
  t.match(back.body, { status: 'pass', checks: { 'redis:ping': [{ status: 'pass' }] } })

  await gateway.app.close()
  t.equal(client.status, 'ready', 'the user\'s client is not closed by the plugin')
  t.equal(await client.ping(), 'PONG')
})

t.test('a frozen redis-server (SIGSTOP): the check times out and the endpoint answers within the timeout', async (t) => {
  const redis = await startRedis(t)
  const client = new Redis(redis.port, '127.0.0.1', { retryStrategy: () => 50 })
  t.teardown(() => { client.disconnect() })
  await client.ping()
  const gateway = await startGateway(t, async (app) => {
    await app.register(health, { cacheTtl: 0, exposeDetails: true, checks: { 'redis:ping': { check: redisCheck(client), timeout: 300 } } })
  })
  redis.freeze()
  t.teardown(() => { redis.thaw() })
  const started = performance.now()
  const frozen = await probe(`${gateway.url}/health/ready`)
  const elapsed = performance.now() - started
  t.equal(frozen.status, 503)
  t.match(frozen.body.checks?.['redis:ping']?.[0], { status: 'fail', output: 'timed out after 300 ms' })
  t.ok(elapsed < 1000, `answered in ${elapsed.toFixed(0)} ms`)
  redis.thaw()
  await waitFor(async () => (await probe(`${gateway.url}/health/ready`)).status === 200, { message: 'pass after thaw' })
})
