import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { freePort, runLoad, startBackends, startGateway, waitFor } from '@switchyard/test-harness'

interface Echo { backend: string, bodyLength: number, bodySha256: string }

t.test('SIGKILL of one of three backends under load costs zero failed GETs', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  const load = runLoad({ url: gateway.url, path: '/items', connections: 24, requests: 3000 })
  // Kill once the load is well under way: about a third of the requests are done.
  await waitFor(() => gateway.app.balancer.stats().reduce((sum, u) => sum + u.requests, 0) > 1000, { message: 'load under way' })
  await backends.kill(1, 'SIGKILL')
  const result = await load
  t.equal(result.total, 3000)
  t.equal(result.failed, 0, `no failed request (statuses ${JSON.stringify(result.statuses)}, errors ${JSON.stringify(result.errors)})`)
  t.ok((result.backends['backend-1'] ?? 0) > 0, 'the killed backend served requests before it died')
  t.ok((result.backends['backend-1'] ?? 0) < 1500, 'and none after')
  const killed = gateway.app.balancer.stats().find((u) => u.url === backends.url(1))!
  t.ok(killed.failures > 0, `attempts on the dead backend failed (${killed.failures}) and were retried elsewhere`)
})

t.test('a POST to a refused upstream lands on another with its exact body', async (t) => {
  const backends = await startBackends(t, 1)
  const dead = `http://127.0.0.1:${await freePort()}`
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: [dead, backends.url(0)] }))
  for (let i = 0; i < 6; i++) {
    const body = randomBytes(50_000 + i)
    const res = await request(`${gateway.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
    t.equal(res.statusCode, 200)
    const echo = await res.body.json() as Echo
    t.equal(echo.backend, 'backend-0')
    t.equal(echo.bodyLength, body.length)
    t.equal(echo.bodySha256, createHash('sha256').update(body).digest('hex'), 'byte-exact replay')
  }
  const deadStats = gateway.app.balancer.stats().find((u) => u.url === dead)!
  t.equal(deadStats.failures, 3, 'half of the first attempts went to the dead upstream and were replayed (retries do not move the round-robin cursor)')
  // JSON bodies are forwarded as the client sent them, not re-encoded.
  const json = '{"b":2,  "a":1}'
  const res = await request(`${gateway.url}/json`, { method: 'POST', body: json, headers: { 'content-type': 'application/json' } })
  const echo = await res.body.json() as Echo & { body: string }
  t.equal(echo.body, json)
})

t.test('a POST is not repeated once it may have reached an upstream', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: (i) => (i === 0 ? { hang: true } : {}) })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, timeout: 300 }))
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    const res = await request(gateway.url, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
    await res.body.dump()
    statuses.push(res.statusCode)
  }
  t.same(statuses.filter((s) => s === 504).length, 2, 'the two POSTs sent to the hanging backend time out (504), unretried')
  t.same(statuses.filter((s) => s === 200).length, 2)
})

t.test('a hanging upstream is retried elsewhere after the per-attempt timeout', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: (i) => (i === 0 ? { hang: true } : {}) })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, timeout: 300 }))
  const started = Date.now()
  const results = await Promise.all([0, 1, 2, 3].map(async () => {
    const res = await request(`${gateway.url}/slow`)
    return { status: res.statusCode, echo: await res.body.json() as Echo }
  }))
  t.same(results.map((r) => r.status), [200, 200, 200, 200])
  t.same(results.map((r) => r.echo.backend), ['backend-1', 'backend-1', 'backend-1', 'backend-1'])
  t.ok(Date.now() - started >= 300, 'the hung attempts waited for the timeout before moving on')
})

t.test('every upstream down: 502 JSON that names the failure and hides addresses', async (t) => {
  const deadA = `http://127.0.0.1:${await freePort()}`
  const deadB = `http://127.0.0.1:${await freePort()}`
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: [deadA, deadB] }))
  for (const method of ['GET', 'POST'] as const) {
    const res = await request(`${gateway.url}/x`, { method, body: method === 'POST' ? 'data' : null })
    t.equal(res.statusCode, 502, method)
    t.match(res.headers['content-type'], /application\/json/)
    const body = await res.body.json() as { code: string, message: string, statusCode: number }
    t.equal(body.code, 'SWY_BALANCER_BAD_GATEWAY')
    t.match(body.message, /2 attempts failed, the last: connection failed/)
    t.notMatch(JSON.stringify(body), /127\.0\.0\.1|ECONNREFUSED|stack/, 'no internal address or error code by default')
  }
  const gateway2 = await startGateway(t, (app) => app.register(balancer, { upstreams: [deadA], exposeErrorDetails: true }))
  const res = await request(gateway2.url)
  const body = await res.body.json() as { message: string }
  t.match(body.message, /ECONNREFUSED; tried http:\/\/127\.0\.0\.1/, 'details only when the user opts in')
})

t.test('every upstream hanging: 504 after the attempts time out', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: { hang: true } })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, timeout: 200 }))
  const res = await request(gateway.url)
  t.equal(res.statusCode, 504)
  t.equal((await res.body.json() as { code: string }).code, 'SWY_BALANCER_UPSTREAM_TIMEOUT')
})

t.test('a 503 from an upstream is retried on another; the last one is passed through', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: (i) => (i === 0 ? { status: 503 } : {}) })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  for (let i = 0; i < 4; i++) {
    const res = await request(gateway.url)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-backend'], 'backend-1')
    await res.body.dump()
  }
  await backends.setBehaviour(1, { status: 503 })
  const res = await request(gateway.url)
  t.equal(res.statusCode, 503, 'with nowhere left to go, the upstream answer is the answer (as nginx)')
  t.ok(['backend-0', 'backend-1'].includes(String(res.headers['x-backend'])))
  await res.body.dump()
})

t.test('retry.tries bounds the attempts, retry: false disables failover', async (t) => {
  const backends = await startBackends(t, 1)
  const dead = await Promise.all([freePort(), freePort(), freePort()])
  const upstreams = [...dead.map((p) => `http://127.0.0.1:${p}`), backends.url(0)]
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams, retry: { tries: 4 } }))
  for (let i = 0; i < 4; i++) {
    const res = await request(gateway.url)
    await res.body.dump()
    t.equal(res.statusCode, 200, 'four tries always reach the one live upstream')
  }
  const noRetry = await startGateway(t, (app) => app.register(balancer, { upstreams: [upstreams[0]!, backends.url(0)], retry: false }))
  const statuses = []
  for (let i = 0; i < 4; i++) {
    const res = await request(noRetry.url)
    await res.body.dump()
    statuses.push(res.statusCode)
  }
  t.same(statuses.sort(), [200, 200, 502, 502])
})
