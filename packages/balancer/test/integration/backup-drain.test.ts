import t from 'tap'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { freePort, runLoad, startBackends, startGateway, waitFor } from '@switchyard/test-harness'

async function get (url: string): Promise<{ status: number, backend: string, headers: Record<string, unknown> }> {
  const res = await request(url)
  await res.body.dump()
  return { status: res.statusCode, backend: String(res.headers['x-backend']), headers: res.headers }
}

t.test('backups take over when every primary dies, and hand back when one returns', async (t) => {
  const backends = await startBackends(t, 3, { names: ['primary-0', 'primary-1', 'backup'] })
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [backends.url(0), backends.url(1), { url: backends.url(2), backup: true }],
    // Every primary dies at once: until the health check marks the second one down (ejection takes at most 50 %),
    // each request needs a retry, beyond the default budget (20 %); retries onto the backup go through anyway.
    healthCheck: { interval: 100, timeout: 300, unhealthyThreshold: 2, healthyThreshold: 2 }
  }))
  const engine = gateway.app.balancer
  await waitFor(() => engine.set.state === 'normal', { timeout: 5000 })
  const before = await runLoad({ url: gateway.url, connections: 4, requests: 100 })
  t.same(Object.keys(before.backends).sort(), ['primary-0', 'primary-1'], 'the backup idles while primaries are up')

  const load = runLoad({ url: gateway.url, connections: 4, durationMs: 6000, recordSamples: true })
  await new Promise((resolve) => setTimeout(resolve, 500))
  await Promise.all([backends.kill(0), backends.kill(1)])
  await waitFor(() => engine.set.state === 'backup', { timeout: 5000, message: 'backup state' })
  const during = await runLoad({ url: gateway.url, connections: 2, requests: 40 })
  t.same(during.backends, { backup: 40 }, 'every request on the backup')
  await backends.restart(0)
  await waitFor(() => engine.set.state === 'normal', { timeout: 5000, message: 'handed back' })
  const after = await runLoad({ url: gateway.url, connections: 2, requests: 40 })
  t.same(after.backends, { 'primary-0': 40 }, 'the returning primary takes it all back')
  const result = await load
  t.equal(result.failed, 0, `no failed request across the switch-over and back (${JSON.stringify(result.statuses)} ${JSON.stringify(result.errors)})`)
})

t.test('a spent retry budget still lets retries onto a backup, and only there', async (t) => {
  const backends = await startBackends(t, 2, { names: ['primary', 'backup'] })
  const dead = `http://127.0.0.1:${await freePort()}`
  // No budget at all: every retry is beyond it. Primary 0 refuses connections; outlier detection off, so it stays
  // eligible and every other request tries it first.
  const budget = { percent: 0, minPerSecond: 0 }
  const withBackup = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [dead, backends.url(0), { url: backends.url(1), backup: true }],
    algorithm: 'round-robin',
    outlierDetection: false,
    retry: { budget }
  }))
  const served = await runLoad({ url: withBackup.url, connections: 2, requests: 40 })
  t.equal(served.failed, 0, `every refused attempt retried on the backup (${JSON.stringify(served.statuses)})`)
  t.ok((served.backends.backup ?? 0) >= 15, `the retries went to the backup: ${JSON.stringify(served.backends)}`)
  t.ok((served.backends.primary ?? 0) >= 15, 'first attempts still spread over the primaries')
  // Without a backup the same budget refuses those retries: the refused attempts fail.
  const noBackup = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [dead, backends.url(0)],
    algorithm: 'round-robin',
    outlierDetection: false,
    retry: { budget }
  }))
  const refused = await runLoad({ url: noBackup.url, connections: 2, requests: 40 })
  t.ok(refused.c5xx >= 15, `${refused.c5xx} of 40 failed: the budget refused their retry onto the live primary`)
})

t.test('drain: in-flight requests complete, no new ones are sent, resolves when idle; undrain; remove', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: { delay: 400 } })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  const engine = gateway.app.balancer
  const drained = engine.upstreams[0]!
  const inFlight = Array.from({ length: 6 }, async (_, i) => await get(`${gateway.url}/slow/${i}`))
  await waitFor(() => drained.inFlight > 0, { message: 'requests in flight on backend-0' })
  const inFlightOnDrained = drained.inFlight
  let drainedAt = 0
  const drain = engine.drain(backends.url(0)).then(() => { drainedAt = Date.now() })
  const servedAtDrain = await backends.served(0)
  const during = await Promise.all(Array.from({ length: 4 }, async (_, i) => await get(`${gateway.url}/new/${i}`)))
  t.same(during.map((r) => r.backend), ['backend-1', 'backend-1', 'backend-1', 'backend-1'], 'new requests avoid it')
  const first = await Promise.all(inFlight)
  const finishedAt = Date.now()
  await drain
  t.same(first.map((r) => r.status), [200, 200, 200, 200, 200, 200], 'the in-flight ones completed')
  t.equal(first.filter((r) => r.backend === 'backend-0').length, inFlightOnDrained, 'on the draining upstream')
  t.ok(drainedAt > 0 && drainedAt <= finishedAt + 50, 'drain resolved once they were done')
  t.equal(drained.inFlight, 0)
  t.equal(await backends.served(0), servedAtDrain, 'no new request reached it')
  t.ok(engine.undrain(backends.url(0)))
  await backends.setBehaviour(0, {})
  await backends.setBehaviour(1, {})
  const back = await runLoad({ url: gateway.url, connections: 2, requests: 20 })
  t.ok((back.backends['backend-0'] ?? 0) > 0, 'undrained: traffic returns')

  const added = engine.addUpstream({ url: `http://127.0.0.1:${backends.at(0).port}`.replace('127.0.0.1', 'localhost'), name: 'again' })
  t.equal(engine.upstreams.length, 3)
  t.equal(await engine.removeUpstream(added.url), true)
  t.equal(await engine.removeUpstream(backends.url(0)), true, 'remove = drain then drop')
  const rest = await runLoad({ url: gateway.url, connections: 2, requests: 20 })
  t.same(rest.backends, { 'backend-1': 20 })
})

t.test('circuit breaking: at maxInFlightPerUpstream on every upstream, 503 with Retry-After', async (t) => {
  const backends = await startBackends(t, 2, { behaviour: { delay: 300 } })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, maxInFlightPerUpstream: 1 }))
  const results = await Promise.all(Array.from({ length: 4 }, async () => await get(gateway.url)))
  const ok = results.filter((r) => r.status === 200)
  const saturated = results.filter((r) => r.status === 503)
  t.equal(ok.length, 2, 'one per upstream')
  t.same(ok.map((r) => r.backend).sort(), ['backend-0', 'backend-1'], 'a capped upstream is skipped, not queued on')
  t.equal(saturated.length, 2)
  for (const r of saturated) t.equal(r.headers['retry-after'], '1')
})

t.test('retry budget: with every backend failing half its requests, attempts stay ≤ 1.2 × requests', async (t) => {
  const backends = await startBackends(t, 3, { behaviour: { failEvery: 2 } })
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls,
    retry: { budget: { percent: 20, minPerSecond: 0 } }
  }))
  const result = await runLoad({ url: gateway.url, connections: 8, requests: 1000 })
  const served = (await Promise.all([0, 1, 2].map(async (i) => await backends.served(i)))).reduce((a, b) => a + b, 0)
  const amplification = served / result.total
  t.ok(amplification <= 1.2 + 0.01, `amplification ${amplification.toFixed(3)}`)
  t.ok(amplification > 1.1, 'and the budget is used')
  t.ok(result.ok2xx > 500, `${result.ok2xx} of 1000 succeeded thanks to the retries within budget`)
  t.comment(`amplification ${amplification.toFixed(3)}, ${result.ok2xx} ok, statuses ${JSON.stringify(result.statuses)}`)
})
