import t from 'tap'
import { request as httpRequest } from 'node:http'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { startBackends, startGateway } from '@switchyard/test-harness'

async function servedBy (url: string): Promise<string> {
  const res = await request(url)
  await res.body.dump()
  t.equal(res.statusCode, 200)
  return String(res.headers['x-backend'])
}

t.test('round-robin visits every backend in turn', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  const order: string[] = []
  for (let i = 0; i < 30; i++) order.push(await servedBy(`${gateway.url}/r/${i}`))
  // The start is random (a fleet of gateways must not move in lock step); after it, a fixed cycle.
  const cycle = order.slice(0, 3)
  t.same([...cycle].sort(), ['backend-0', 'backend-1', 'backend-2'], 'the first three are the three backends')
  for (let i = 0; i < order.length; i++) t.equal(order[i], cycle[i % 3], `request ${i} follows the cycle`)
})

t.test('weights are respected exactly over each cycle, without bursts', async (t) => {
  const backends = await startBackends(t, 3)
  const [a, b, c] = backends.urls as [string, string, string]
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [{ url: a, weight: 1 }, { url: b, weight: 2 }, { url: c, weight: 3 }]
  }))
  const counts: Record<string, number> = {}
  const order: string[] = []
  for (let i = 0; i < 60; i++) {
    const name = await servedBy(gateway.url)
    order.push(name)
    counts[name] = (counts[name] ?? 0) + 1
  }
  t.same(counts, { 'backend-0': 10, 'backend-1': 20, 'backend-2': 30 })
  for (let cycle = 0; cycle < 10; cycle++) {
    const slice = order.slice(cycle * 6, cycle * 6 + 6)
    t.same(slice.filter((n) => n === 'backend-2').length, 3, `cycle ${cycle} gives the heaviest exactly its share`)
  }
  // Smooth weighted round robin (nginx): the weight-3 backend never gets more than 2 turns in a row.
  const longestRun = order.reduce((acc, name, i) => {
    const run = i > 0 && order[i - 1] === name ? acc.run + 1 : 1
    return { run, max: Math.max(acc.max, run) }
  }, { run: 0, max: 0 }).max
  t.ok(longestRun <= 2, `longest run of one backend is ${longestRun}`)
})

t.test('the Host header names the chosen upstream; X-Forwarded-* name the client', async (t) => {
  const backends = await startBackends(t, 2)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, prefix: '/api' }))
  for (let i = 0; i < 2; i++) {
    // node:http, because undici refuses to send a custom Connection header.
    const echo = await new Promise<{ backend: string, url: string, headers: Record<string, string> }>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/api/items?x=1`, {
        headers: { 'x-forwarded-for': '6.6.6.6', connection: 'keep-alive, x-drop-me', 'x-drop-me': '1', 'x-keep': 'yes' }
      }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => { resolve(JSON.parse(text)) })
      })
      req.on('error', reject)
      req.end()
    })
    const backend = backends.list.find((b) => b.name === echo.backend)!
    t.equal(echo.headers.host, `127.0.0.1:${backend.port}`)
    t.equal(echo.url, '/items?x=1', 'the prefix is stripped, as @fastify/http-proxy does')
    t.equal(echo.headers['x-forwarded-for'], '127.0.0.1', 'a forged X-Forwarded-For is replaced')
    t.equal(echo.headers['x-forwarded-proto'], 'http')
    t.equal(echo.headers['x-forwarded-host'], `127.0.0.1:${gateway.port}`)
    t.equal(echo.headers['x-drop-me'], undefined, 'headers named in Connection do not cross the proxy')
    t.equal(echo.headers['x-keep'], 'yes')
  }
})

t.test('trustProxy appends to the incoming X-Forwarded-For chain', async (t) => {
  const backends = await startBackends(t, 1)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, trustProxy: true }))
  const res = await request(gateway.url, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } })
  const echo = await res.body.json() as { headers: Record<string, string> }
  t.equal(echo.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  t.equal(echo.headers['x-forwarded-proto'], 'https')
})
