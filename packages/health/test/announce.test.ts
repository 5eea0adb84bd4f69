/**
 * `announce` end to end: replicas (real processes with this plugin) announce themselves in Redis; a real gateway
 * (@switchyard/balancer with `upstreams: { redis, service }`) routes to them.
 */
import { fileURLToPath } from 'node:url'
import balancer from '@switchyard/balancer'
import { runLoad, startBackends, startGateway, startRedis, waitFor, type RedisServer } from '@switchyard/test-harness'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { request } from 'undici'
import health from '../src/index.js'

const script = fileURLToPath(new URL('./fixtures/announce-app.ts', import.meta.url))
const execArgv = ['--import', 'tsx', '--conditions=@switchyard/source']

function client (t: Test, server: RedisServer): Redis {
  const redis = new Redis({ port: server.port, host: '127.0.0.1', retryStrategy: () => 50 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  return redis
}

interface Engine { upstreams: ReadonlyArray<{ name: string, url: string }> }

async function gateway (t: Test, redis: RedisServer): Promise<{ url: string, engine: Engine }> {
  const g = await startGateway(t, async (app) => {
    await app.register(balancer, { upstreams: { redis: client(t, redis), service: 'orders', interval: 500 } })
  })
  return { url: g.url, engine: (g.app as unknown as { balancer: Engine }).balancer }
}

const names = (engine: Engine): string[] => engine.upstreams.map((u) => u.name).sort()

t.test('announce: traffic within 1 s of listening; graceful stop leaves with zero failed requests; SIGKILL leaves within the TTL', async (t) => {
  const redis = await startRedis(t)
  const g = await gateway(t, redis)
  const started = performance.now()
  const backends = await startBackends(t, 3, { script, execArgv, env: { REDIS_URL: redis.url, INTERVAL: '200', DRAIN_DELAY: '500' } })
  const listening = performance.now()
  const seen = new Set<string>()
  await waitFor(async () => {
    const res = await request(g.url)
    await res.body.dump()
    seen.add(String(res.headers['x-backend']))
    return seen.size === 3
  }, { timeout: 1000, message: 'traffic on every replica within 1 s of listening' })
  t.equal(seen.size, 3, `all three served ${Math.round(performance.now() - listening)} ms after listening (${Math.round(listening - started)} ms to start)`)

  // SIGTERM under load: readiness fails, the onDrain hook deregisters, the gateway drains it, it closes 500 ms later.
  const load = runLoad({ url: g.url, connections: 20, durationMs: 2000 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await backends.stop(0)
  const graceful = await load
  t.equal(graceful.failed, 0, `graceful stop under load: ${graceful.total} requests, 0 failed`)
  t.same(names(g.engine), ['backend-1', 'backend-2'])
  t.equal(backends.at(0).process.exitCode, 0, 'the replica exited 0 after its drain')

  // SIGKILL: nobody deregisters; the TTL (3 × 200 ms) lapses and the gateway drops it.
  await backends.kill(1)
  const killedAt = performance.now()
  await waitFor(() => g.engine.upstreams.length === 1, { timeout: 2000, message: 'the killed replica leaves' })
  t.ok(performance.now() - killedAt < 600 + 300, `gone ${Math.round(performance.now() - killedAt)} ms after SIGKILL (TTL 600 ms)`)

  // A replica whose readiness fails leaves; it comes back when it passes again.
  await request(`${backends.url(2)}/__backend/ready/fail`, { method: 'POST' }).then(async (r) => { await r.body.dump() })
  await waitFor(() => g.engine.upstreams.length === 0, { timeout: 1000, message: 'not ready: deregistered' })
  await request(`${backends.url(2)}/__backend/ready/pass`, { method: 'POST' }).then(async (r) => { await r.body.dump() })
  await waitFor(() => g.engine.upstreams.length === 1, { timeout: 1000, message: 'ready again: registered' })
})

t.test('announce in-process: registered on listen, deregistered at the start of a drain, url from the listening address', async (t) => {
  const redis = await startRedis(t)
  const redisClient = client(t, redis)
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(health, { announce: { redis: redisClient, service: 'orders', interval: 5000 }, shutdown: { drainDelay: 300 } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  await waitFor(async () => (await redisClient.zscore('{switchyard:orders}:members', url)) !== null, { timeout: 1000, message: 'registered' })
  t.match(JSON.parse((await redisClient.hget('{switchyard:orders}:meta', url))!), { name: url, weight: 1, ttl: 15_000 })

  const drained = app.health.drain()
  await waitFor(async () => (await redisClient.zscore('{switchyard:orders}:members', url)) === null, { timeout: 200, message: 'deregistered at once' })
  const during = await request(`${url}/health/live`)
  await during.body.dump()
  t.equal(during.statusCode, 200, 'still serving during the drain delay')
  await drained
  t.ok(await redisClient.zscore('{switchyard:orders}:left', url), 'a tombstone tells the gateways')
})

t.test('announce options are checked at registration, with the option path', async (t) => {
  const redis = new Redis({ lazyConnect: true })
  for (const [announce, message] of [
    [{ redis, service: 'a b' }, /announce\.service must be a non-empty name/],
    [{ redis, service: 'orders', interval: 0 }, /announce\.interval/],
    [{ redis, service: 'orders', url: 'http://h/path' }, /announce\.url must be an http\(s\) origin/],
    [{ redis, service: 'orders', nope: 1 }, /announce\.nope is not an announce option/],
    [{ service: 'orders' }, /announce\.redis must be an ioredis client/],
    ['x', /announce must be an object/]
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(health, { announce } as never).ready() }, { code: 'SWY_HEALTH_INVALID_OPTION', message }, String(message))
    await app.close()
  }
  redis.disconnect()
})
