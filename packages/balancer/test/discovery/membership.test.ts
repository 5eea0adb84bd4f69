/**
 * Dynamic membership end to end: real gateways (Fastify + the balancer) fed by the Redis registry or by DNS, real
 * backend processes that announce themselves, a real redis-server and a DNS server on loopback.
 */
import { fileURLToPath } from 'node:url'
import dns2 from 'dns2'
import { Redis } from 'ioredis'
import { type Backends, runLoad, startBackends, startGateway, startRedis, waitFor, type RedisServer, type Gateway } from '@switchyard/test-harness'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { balancer, type BalancerPluginOptions } from '../../src/index.js'
import type { Balancer } from '../../src/balancer.js'
import { validateOptions } from '../../src/options.js'
import { UpstreamFlag } from '../../src/upstream/upstream.js'

const script = fileURLToPath(new URL('../fixtures/announced-backend.ts', import.meta.url))
const execArgv = ['--import', 'tsx', '--conditions=@switchyard/source']

function redisClient (t: Test, server: RedisServer): Redis {
  const client = new Redis({ port: server.port, host: '127.0.0.1', retryStrategy: () => 50 })
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

async function announced (t: Test, redis: RedisServer, n: number, env: Record<string, string> = {}): Promise<Backends> {
  return await startBackends(t, n, { script, execArgv, env: { REDIS_URL: redis.url, SERVICE: 'orders', INTERVAL: '200', ...env } })
}

async function gateway (t: Test, options: Partial<BalancerPluginOptions>): Promise<Gateway & { engine: Balancer }> {
  const g = await startGateway(t, async (app) => { await app.register(balancer, options as BalancerPluginOptions) })
  return { ...g, engine: (g.app as unknown as { balancer: Balancer }).balancer }
}

const names = (engine: Balancer): string[] => engine.upstreams.map((u) => u.name).sort()

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, backend: string | undefined }> {
  const res = await request(url, { headers })
  await res.body.dump()
  const backend = res.headers['x-backend']
  return { status: res.statusCode, backend: typeof backend === 'string' ? backend : undefined }
}

t.test('registry: an announced replica gets traffic within 1 s, a stopped one leaves with no failed request, a killed one within its TTL', async (t) => {
  const redis = await startRedis(t)
  const g = await gateway(t, { upstreams: { redis: redisClient(t, redis), service: 'orders', interval: 500 } })
  t.same(g.engine.upstreams, [], 'no replica yet')
  t.equal((await get(g.url)).status, 503, 'no upstream: 503, not a hang')

  const backends = await announced(t, redis, 3)
  const listening = performance.now()
  await waitFor(() => g.engine.upstreams.length === 3, { timeout: 1000, message: 'all three joined within 1 s' })
  const seen = new Set<string>()
  await waitFor(async () => { seen.add((await get(g.url)).backend ?? ''); return seen.size >= 3 }, { timeout: 1000, message: 'traffic on all three' })
  t.ok(performance.now() - listening < 1500, `joined and served ${Math.round(performance.now() - listening)} ms after listening`)

  // Graceful stop under load: deregister → the gateway drains it → it closes after its drain delay.
  const load = runLoad({ url: g.url, connections: 20, durationMs: 2000 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await backends.stop(0)
  const graceful = await load
  t.equal(graceful.failed, 0, `graceful stop: ${graceful.total} requests, none failed`)
  t.same(names(g.engine), ['backend-1', 'backend-2'])

  // Crash: nothing deregisters; failover covers the GETs until the registration lapses (TTL 600 ms).
  const crashLoad = runLoad({ url: g.url, connections: 20, durationMs: 2000 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await backends.kill(1)
  const killedAt = performance.now()
  await waitFor(() => g.engine.upstreams.length === 1, { timeout: 2000, message: 'the killed replica leaves' })
  const leftAfter = performance.now() - killedAt
  const crash = await crashLoad
  t.ok(leftAfter < 600 + 300, `gone ${Math.round(leftAfter)} ms after SIGKILL (TTL 600 ms)`)
  t.equal(crash.failed, 0, `SIGKILL under GET load: ${crash.total} requests, none failed (failover)`)
})

t.test('registry: a Redis restart does not empty the pool, and two gateways converge', async (t) => {
  const redis = await startRedis(t)
  const g1 = await gateway(t, { upstreams: { redis: redisClient(t, redis), service: 'orders', interval: 200 } })
  const g2 = await gateway(t, { upstreams: { redis: redisClient(t, redis), service: 'orders', interval: 200 } })
  const backends = await announced(t, redis, 3)
  await waitFor(() => g1.engine.upstreams.length === 3 && g2.engine.upstreams.length === 3, { timeout: 1000, message: 'both see 3' })

  const load = runLoad({ url: g1.url, connections: 10, durationMs: 2500 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await redis.kill('SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, 800)) // longer than the replicas' 600 ms TTL
  t.equal(g1.engine.upstreams.length, 3, 'Redis down: the pool is kept')
  await redis.restart()
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(g1.engine.upstreams.length, 3, 'Redis back, empty: still 3 (replicas re-register within an interval)')
  const during = await load
  t.equal(during.failed, 0, `no failed request across the restart (${during.total})`)

  // Converge: one leaves gracefully, one crashes, one joins.
  await backends.stop(0)
  await backends.kill(1)
  await backends.restart(1)
  await waitFor(() => JSON.stringify(names(g1.engine)) === JSON.stringify(['backend-1', 'backend-2']) &&
    JSON.stringify(names(g2.engine)) === JSON.stringify(names(g1.engine)), { timeout: 2000, message: 'converged' })
  t.same(names(g2.engine), ['backend-1', 'backend-2'])
  t.same(g1.engine.upstreams.map((u) => u.url).sort(), g2.engine.upstreams.map((u) => u.url).sort())
})

interface AddressRecord { address: string, ttl: number }
interface SrvAnswer { priority: number, weight: number, port: number, target: string, ttl: number }

t.test('DNS: the pool follows SRV records; a failing resolver keeps it', async (t) => {
  const backends = await startBackends(t, 3)
  const { Packet } = dns2
  const zone = { srv: [] as SrvAnswer[], a: [{ address: '127.0.0.1', ttl: 1 }] as AddressRecord[], fail: false }
  const server = dns2.createServer({
    udp: true,
    handle (req, send) {
      const res = Packet.createResponseFromRequest(req)
      const q = req.questions[0]!
      if (zone.fail) res.header.rcode = 2
      else if (q.type === Packet.TYPE.SRV) for (const r of zone.srv) res.answers.push({ name: q.name, type: Packet.TYPE.SRV, class: Packet.CLASS.IN, ...r } as never)
      else if (q.type === Packet.TYPE.A) for (const r of zone.a) res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ...r } as never)
      send(res).catch(() => {})
    }
  })
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } })
  t.teardown(async () => { await server.close() })
  const port = (i: number): number => Number(new URL(backends.url(i)).port)
  zone.srv = [0, 1].map((i) => ({ priority: 10, weight: 1, port: port(i), target: 'b.api.test', ttl: 1 }))
  zone.srv.push({ priority: 20, weight: 1, port: port(2), target: 'b.api.test', ttl: 1 })

  const g = await gateway(t, { upstreams: { dns: '_http._tcp.api.test', servers: [`127.0.0.1:${addresses.udp!.port}`], refresh: { min: 100, max: 1000 } } })
  const tiers = (): string[] => g.engine.upstreams.map((u) => `${u.url} ${u.backup ? 'backup' : 'primary'}`).sort()
  t.same(tiers(), [`${backends.url(0)} primary`, `${backends.url(1)} primary`, `${backends.url(2)} backup`].sort(),
    'resolved before the server listens; priority 20 is a backup')
  const served = new Set<string>()
  for (let i = 0; i < 10; i++) served.add((await get(g.url)).backend ?? '')
  t.same([...served].sort(), ['backend-0', 'backend-1'], 'the backup idles while the primaries are up')

  zone.srv = [{ priority: 10, weight: 1, port: port(1), target: 'b.api.test', ttl: 1 }]
  await waitFor(() => g.engine.upstreams.length === 1, { timeout: 2500, message: 'records shrank' })
  t.equal(g.engine.upstreams[0]!.url, backends.url(1))

  zone.fail = true
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(g.engine.upstreams.length, 1, 'SERVFAIL: the last good set stays')
  t.equal((await get(g.url)).backend, 'backend-1')
})

t.test('admin API: 401 without a token; with one: list, add, drain, undrain, weight, remove', async (t) => {
  const backends = await startBackends(t, 3)
  const logs: Array<Record<string, unknown>> = []
  const token = 'secret-token-0123456789'
  const g = await startGateway(t, async (app) => {
    await app.register(balancer, { upstreams: [backends.url(0), backends.url(1)], admin: { token } })
  }, {
    logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } }
  })
  const engine = (g.app as unknown as { balancer: Balancer }).balancer
  const admin = `${g.url}/_switchyard/admin/upstreams`
  const auth = { authorization: `Bearer ${token}` }
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = auth): Promise<{ status: number, body: any, headers: Record<string, unknown> }> => {
    const res = await request(url, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const text = await res.body.text()
    return { status: res.statusCode, body: text === '' ? undefined : JSON.parse(text), headers: res.headers }
  }

  const anonymous = await call('GET', admin, undefined, {})
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers, { 'www-authenticate': /Bearer/ })
  t.equal((await call('GET', admin, undefined, { authorization: 'Bearer wrong-token-000000000' })).status, 401)
  t.equal((await call('DELETE', `${admin}/backend-0`, undefined, {})).status, 401, 'no change without a token')
  t.equal(engine.upstreams.length, 2)

  const list = await call('GET', admin)
  t.equal(list.status, 200)
  t.match(list.body, { state: 'normal', upstreams: [{ url: backends.url(0), state: 'up', weight: 1, flags: [] }, { url: backends.url(1) }] })

  const added = await call('POST', admin, { url: backends.url(2), name: 'third', weight: 2 })
  t.equal(added.status, 201)
  t.match(added.body, { name: 'third', weight: 2, state: 'up' })
  t.equal((await call('POST', admin, { url: backends.url(2) })).status, 409, 'twice: conflict')
  t.equal((await call('POST', admin, { url: 'ftp://x' })).status, 400)

  const drained = await call('POST', `${admin}/third/drain`)
  t.match(drained.body, { state: 'draining', flags: ['DRAINING'] })
  for (let i = 0; i < 6; i++) t.not((await get(g.url)).backend, 'backend-2', 'a drained upstream takes no new request')
  t.match((await call('POST', `${admin}/${encodeURIComponent(backends.url(2))}/undrain`)).body, { state: 'up' }, 'by url, URL-encoded')

  t.match((await call('PUT', `${admin}/third/weight`, { weight: 5 })).body, { weight: 5 })
  t.equal((await call('PUT', `${admin}/third/weight`, { weight: 0 })).status, 400)
  t.equal((await call('GET', `${admin}/nope`)).status, 404)

  const removed = await call('DELETE', `${admin}/${encodeURIComponent(backends.url(0))}`)
  t.same(removed.body, { removed: backends.url(0), name: backends.url(0) })
  t.same(engine.upstreams.map((u) => u.name), [backends.url(1), 'third'])

  const audit = logs.filter((l) => l.admin === true && l.action !== undefined)
  t.same(audit.map((l) => [l.action, l.who, l.upstream]), [
    ['add', 'token', 'third'], ['drain', 'token', 'third'], ['undrain', 'token', 'third'], ['set-weight', 'token', 'third'],
    ['remove', 'token', backends.url(0)]
  ], 'every change is logged with who and what')
  t.ok(logs.some((l) => l.admin === true && l.reason === 'no token'), 'refusals are logged too')
})

t.test('admin API with authorize(request): the identity it returns is logged; a refusal is 401', async (t) => {
  const backends = await startBackends(t, 1)
  const logs: Array<Record<string, unknown>> = []
  const g = await startGateway(t, async (app) => {
    await app.register(balancer, {
      upstreams: [backends.url(0)],
      admin: { prefix: '/ops', authorize: (request) => request.headers['x-user'] === 'alice' ? 'alice' : false }
    })
  }, { logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } } })
  t.equal((await request(`${g.url}/ops/upstreams`)).statusCode, 401)
  const res = await request(`${g.url}/ops/upstreams/${encodeURIComponent(backends.url(0))}/weight`, {
    method: 'PUT', headers: { 'x-user': 'alice', 'content-type': 'application/json' }, body: '{"weight":3}'
  })
  t.equal(res.statusCode, 200)
  await res.body.dump()
  t.match(logs.find((l) => l.action === 'set-weight'), { who: 'alice', weight: 3, previous: 1 })
  t.throws(() => validateOptions({ upstreams: ['http://a'], admin: {} }), { message: /admin needs a token or an authorize\(request\) function/ })
  t.throws(() => validateOptions({ upstreams: ['http://a'], admin: { token: 'short' } }), { message: /admin\.token must be a string of at least 16 characters/ })
})

t.test('shared health: a failure one gateway sees is avoided by the other within 1 s', async (t) => {
  const redis = await startRedis(t)
  const backends = await startBackends(t, 3)
  const options = (): Partial<BalancerPluginOptions> => ({
    upstreams: backends.urls,
    sharedHealth: { redis: redisClient(t, redis) },
    outlierDetection: { consecutiveFailures: 3, consecutive5xx: true, baseEjectionTime: 5000 }
  })
  const a = await gateway(t, options())
  const b = await gateway(t, options())
  await backends.setBehaviour(1, { status: 502 })
  // Only gateway A sends traffic: its outlier detector ejects backend-1 after 3 failures (each retried elsewhere).
  const sentAt = performance.now()
  for (let i = 0; i < 12; i++) t.equal((await get(a.url)).status, 200)
  const remote = b.engine.upstreams[1]!
  await waitFor(() => remote.has(UpstreamFlag.REMOTE_FAILED), { timeout: 1000, message: 'B hears A' })
  t.ok(performance.now() - sentAt < 1000, 'within one second')
  t.notOk(remote.available, 'B avoids it')
  t.notOk(b.engine.upstreams[0]!.has(UpstreamFlag.REMOTE_FAILED), 'only the failing one')
  for (let i = 0; i < 9; i++) t.not((await get(b.url)).backend, 'backend-1', 'B sends nothing there')
  t.equal(b.engine.upstreams[1]!.failures, 0, 'B never had to fail on it itself')
})

t.test('onClose leaves no socket or timer of discovery, shared health or the admin API; the user\'s client stays open', async (t) => {
  const redis = await startRedis(t)
  const backends = await announced(t, redis, 1)
  const userClient = redisClient(t, redis)
  await userClient.ping()
  const handles = (): Record<string, number> => {
    const counts: Record<string, number> = {}
    for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
    return counts
  }
  const before = handles()
  const { default: Fastify } = await import('fastify')
  const app = Fastify()
  await app.register(balancer, {
    upstreams: { redis: userClient, service: 'orders', interval: 100 },
    sharedHealth: { redis: userClient },
    admin: { token: 'secret-token-0123456789' }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await waitFor(() => (app as unknown as { balancer: Balancer }).balancer.upstreams.length === 1, { timeout: 1000 })
  t.equal(backends.list.length, 1)
  t.ok((handles().TCPSocketWrap ?? 0) >= (before.TCPSocketWrap ?? 0) + 2, 'two subscriber connections (registry, shared health)')
  await app.close()
  await waitFor(() => ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].every((k) => (handles()[k] ?? 0) <= (before[k] ?? 0)),
    { timeout: 5000, message: 'handles back to the baseline' })
  t.equal(await userClient.ping(), 'PONG', 'the client passed in is not closed')
})
