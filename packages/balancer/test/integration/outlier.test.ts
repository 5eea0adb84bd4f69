import t from 'tap'
import { request } from 'undici'
import balancer, { UpstreamFlag } from '@switchyard/balancer'
import { runLoad, startBackends, startGateway, waitFor } from '@switchyard/test-harness'

t.test('a backend frozen with SIGSTOP under load costs zero failed GETs and is ejected', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls,
    timeout: 500 // per attempt: a frozen upstream costs this much, then the request goes elsewhere
  }))
  const engine = gateway.app.balancer
  const ejected: Array<{ url: string, reason: string }> = []
  engine.events.on('ejected', (e) => { ejected.push({ url: e.upstream.url, reason: e.reason }) })
  const load = runLoad({ url: gateway.url, path: '/items', connections: 24, durationMs: 4000, recordSamples: true })
  await waitFor(() => engine.stats().reduce((sum, u) => sum + u.requests, 0) > 500, { message: 'load under way' })
  backends.freeze(1)
  t.teardown(() => { if (backends.at(1).running) backends.thaw(1) })
  const frozen = engine.upstreams[1]!
  await waitFor(() => frozen.has(UpstreamFlag.FAILED_OUTLIER), { timeout: 5000, interval: 10, message: 'frozen backend ejected' })
  const result = await load
  backends.thaw(1)
  t.ok(result.total > 1000, `${result.total} requests`)
  t.equal(result.failed, 0, `no failed GET (statuses ${JSON.stringify(result.statuses)}, errors ${JSON.stringify(result.errors)})`)
  t.same(ejected, [{ url: backends.url(1), reason: 'consecutive-failures' }])
  t.ok(result.latency.max < 1500, `the worst request waited one attempt timeout, not more (max ${Math.round(result.latency.max)} ms)`)
  t.comment(`${result.total} requests, 0 failed, p99 ${result.latency.p99.toFixed(1)} ms, max ${result.latency.max.toFixed(0)} ms, backends ${JSON.stringify(result.backends)}`)
})

t.test('a backend answering 500s is ejected (consecutive5xx), and gets no traffic while ejected', async (t) => {
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls,
    outlierDetection: { consecutive5xx: true, consecutiveFailures: 3, baseEjectionTime: 60_000 }
  }))
  const engine = gateway.app.balancer
  await backends.setBehaviour(2, { status: 500 })
  const statuses: number[] = []
  for (let i = 0; i < 20; i++) {
    const res = await request(`${gateway.url}/x/${i}`)
    await res.body.dump()
    statuses.push(res.statusCode)
  }
  t.ok(engine.upstreams[2]!.has(UpstreamFlag.FAILED_OUTLIER), 'ejected')
  t.equal(statuses.filter((s) => s === 500).length, 3, 'three 500s (500 is not retried by default), then no more')
  const result = await runLoad({ url: gateway.url, connections: 4, requests: 200 })
  t.equal(result.failed, 0)
  t.equal(result.backends['backend-2'] ?? 0, 0, 'the ejected backend got nothing')
})

t.test('a 503 with Retry-After holds that upstream out for that long, with no failed request', async (t) => {
  const backends = await startBackends(t, 2)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  const engine = gateway.app.balancer
  const events: string[] = []
  engine.events.on('ejected', (e) => { events.push(`ejected ${e.reason}`) })
  engine.events.on('restored', (e) => { events.push(`restored ${e.reason}`) })
  await backends.setBehaviour(0, { failEvery: 1, retryAfter: 1 })
  const result = await runLoad({ url: gateway.url, connections: 2, requests: 50 })
  t.equal(result.failed, 0, 'the 503s were retried on the other backend')
  const held = engine.upstreams[0]!
  t.ok(held.has(UpstreamFlag.RETRY_AFTER))
  t.ok((await backends.served(0)) <= 2, 'held out after its first 503s')
  const heldAt = Date.now()
  await backends.setBehaviour(0, {})
  await waitFor(() => !held.has(UpstreamFlag.RETRY_AFTER), { timeout: 5000, interval: 10 })
  const heldFor = Date.now() - heldAt
  t.ok(heldFor > 500 && heldFor < 2500, `released about a second later (${heldFor} ms)`)
  t.same(events, ['ejected retry-after', 'restored ejection-expired'])
})
