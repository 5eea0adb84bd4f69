import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { DEFAULT_STICKY_COOKIE } from '@switchyard/balancer/pickers'
import { runLoad, startBackends, startGateway } from '@switchyard/test-harness'

const SECRET = 'a-sticky-secret-of-at-least-32-characters'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ backend: string, setCookie: string | undefined }> {
  const res = await request(url, { headers })
  await res.body.dump()
  const setCookie = res.headers['set-cookie']
  return { backend: String(res.headers['x-backend']), setCookie: Array.isArray(setCookie) ? setCookie[0] : setCookie }
}

t.test('consistent-hash on a header: one key, one backend; keys spread over all', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls, algorithm: 'consistent-hash', consistentHash: { hashKey: { header: 'x-user-id' } }
  }))
  const owners = new Map<string, string>()
  for (let user = 0; user < 30; user++) {
    const first = await get(gateway.url, { 'x-user-id': `user-${user}` })
    owners.set(`user-${user}`, first.backend)
    for (let again = 0; again < 3; again++) {
      t.equal((await get(gateway.url, { 'x-user-id': `user-${user}` })).backend, first.backend, `user-${user} stays on ${first.backend}`)
    }
  }
  t.equal(new Set(owners.values()).size, 3, 'keys are spread over the three backends')
  const echo = await request(gateway.url, { headers: { 'x-user-id': 'user-1' } })
  const body = await echo.body.json() as { headers: Record<string, string> }
  t.equal(body.headers['x-switchyard-hash'], undefined, 'the internal hash header never reaches the upstream')
})

t.test('sticky: a signed cookie binds the client; tampering or a dead upstream re-binds', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls, algorithm: 'sticky', sticky: { secret: SECRET }
  }))
  const first = await get(gateway.url)
  t.ok(first.setCookie, 'the first response sets the affinity cookie')
  t.match(first.setCookie, new RegExp(`^${DEFAULT_STICKY_COOKIE}=`))
  t.match(first.setCookie, /HttpOnly/i)
  t.notMatch(first.setCookie, /127\.0\.0\.1|%3A|:\d{4,5}/, 'the cookie never names an address')
  const cookie = first.setCookie!.split(';')[0]!
  for (let i = 0; i < 10; i++) {
    const next = await get(gateway.url, { cookie })
    t.equal(next.backend, first.backend, 'the same backend every time')
    t.equal(next.setCookie, undefined, 'a valid cookie is not set again')
  }
  const [name, value] = cookie.split('=') as [string, string]
  const tampered = `${name}=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`
  const rebound = await get(gateway.url, { cookie: tampered })
  t.ok(rebound.setCookie, 'a tampered cookie falls back to the base algorithm and is replaced')

  const index = backends.names.indexOf(first.backend)
  await backends.kill(index)
  const moved = await get(gateway.url, { cookie })
  t.not(moved.backend, first.backend, 'the bound upstream died: another one answers')
  t.ok(moved.setCookie, 'and the client is bound to it')
})

t.test('p2c, least-connections and peak-ewma send little to a slow backend; round robin sends a third', async (t) => {
  const backends = await startBackends(t, 3, { behaviour: (i) => (i === 2 ? { delay: 100 } : {}) })
  const shares: Record<string, number> = {}
  for (const algorithm of ['round-robin', 'p2c', 'least-connections', 'peak-ewma'] as const) {
    const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, algorithm }))
    const result = await runLoad({ url: gateway.url, connections: 12, requests: 600 })
    t.equal(result.failed, 0, `${algorithm}: no failures`)
    shares[algorithm] = (result.backends['backend-2'] ?? 0) / result.total
  }
  t.ok(shares['round-robin']! > 0.3, `round-robin: ${(shares['round-robin']! * 100).toFixed(1)} % to the slow backend`)
  for (const algorithm of ['p2c', 'least-connections', 'peak-ewma']) {
    t.ok(shares[algorithm]! < 0.15, `${algorithm}: ${(shares[algorithm]! * 100).toFixed(1)} % to the slow backend`)
  }
})

t.test('peak-ewma leaves a stall of the gateway\'s event loop out of the upstream\'s latency', async (t) => {
  // A backend in the gateway's own process: it answers 20 ms after the request arrives, but blocks the whole event
  // loop for 300 ms first, so the gateway reads that answer about 300 ms after sending the request.
  const backend = createServer((_req, res) => {
    setTimeout(() => { res.end('ok') }, 20)
    const until = performance.now() + 300
    while (performance.now() < until) { /* the gateway's loop is blocked */ }
  })
  await new Promise<void>((resolve) => { backend.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { backend.close() })
  const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`
  const measured: Record<string, number> = {}
  for (const exclude of [true, false]) {
    const gateway = await startGateway(t, (app) => app.register(balancer, {
      upstreams: [url], algorithm: 'peak-ewma', peakEwma: { excludeEventLoopDelay: exclude }
    }))
    const res = await request(gateway.url)
    t.equal(await res.body.text(), 'ok')
    measured[String(exclude)] = gateway.app.balancer.upstreams[0]!.latencyEwma
  }
  t.ok(measured.false! >= 300, `counted as the upstream's: ${measured.false!.toFixed(1)} ms`)
  t.ok(measured.true! < 150, `left out (the default): ${measured.true!.toFixed(1)} ms`)
})

t.test('least-connections keeps in-flight counts balanced under concurrent load', async (t) => {
  const backends = await startBackends(t, 3, { behaviour: { delay: 20 } })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, algorithm: 'least-connections' }))
  const result = await runLoad({ url: gateway.url, connections: 9, requests: 450 })
  const counts = Object.values(result.backends)
  t.equal(counts.length, 3)
  t.ok(Math.max(...counts) - Math.min(...counts) < 60, `even spread: ${JSON.stringify(result.backends)}`)
})

t.test('algorithm options are validated with the option named', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ algorithm: 'sticky' }, /sticky\.secret/],
    [{ algorithm: 'sticky', sticky: { secret: 'short' } }, /sticky\.secret/],
    [{ algorithm: 'p2c', consistentHash: { hashKey: 'ip' } }, /consistentHash is set but algorithm is "p2c"/],
    [{ algorithm: 'peak-ewma', peakEwma: { decayTime: -1 } }, /peakEwma\.decayTime/],
    [{ algorithm: 'consistent-hash', consistentHash: { hashKey: 42 } }, /consistentHash\.hashKey/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => {
      await app.register(balancer, { upstreams: ['http://127.0.0.1:1'], ...options } as never)
      await app.ready()
    }, { code: 'SWY_BALANCER_INVALID_OPTION', message }, JSON.stringify(options))
    await app.close()
  }
})
