import t from 'tap'
import { Registry } from 'prom-client'
import { request } from 'undici'
import balancer, { type Balancer } from '@switchyard/balancer'
import { freePort, startBackends, startGateway, waitFor } from '@switchyard/test-harness'

type Samples = Map<string, number>

/** Parses Prometheus text exposition into `name{a="x",b="y"}` → value (labels as printed). */
function parse (text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not an exposition line: ${line}`)
    samples.set(match[1]! + (match[2] ?? ''), Number(match[3]))
  }
  return samples
}

function key (name: string, labels: Record<string, string | number>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`
}

async function scrape (url: string): Promise<{ text: string, samples: Samples, type: string }> {
  const res = await request(url)
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}: ${text}`)
  return { text, samples: parse(text), type: String(res.headers['content-type']) }
}

t.test('a scripted sequence of requests and failures, as Prometheus sees it', async (t) => {
  // Three primaries that each fail differently, and a backup that answers: with 4 tries every GET tries all
  // three primaries (in the picker's order) and ends on the backup, so the counts do not depend on the order.
  const backends = await startBackends(t, 3, {
    names: ['flaky', 'slow', 'ok'],
    behaviour: (i) => [{ status: 503 }, { hang: true }, {}][i]!
  })
  const dead = `http://127.0.0.1:${await freePort()}`
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [
      { url: backends.url(0), name: 'flaky' },
      { url: dead, name: 'dead' },
      { url: backends.url(1), name: 'slow' },
      { url: backends.url(2), name: 'ok', backup: true }
    ],
    retry: { tries: 4 },
    timeout: 150,
    outlierDetection: false,
    decorator: 'edge',
    metrics: true
  }))
  const edge = (gateway.app as unknown as { edge: Balancer }).edge
  for (let i = 0; i < 3; i++) {
    const res = await request(`${gateway.url}/items/${i}`)
    t.equal(res.statusCode, 200)
    await res.body.dump()
  }
  await backends.setBehaviour(2, { status: 404 })
  const notFound = await request(`${gateway.url}/missing`)
  t.equal(notFound.statusCode, 404, 'a 404 is the upstream\'s answer, passed on')
  await notFound.body.dump()

  const { samples, text, type } = await scrape(`${gateway.url}/metrics`)
  t.equal(type, 'text/plain; version=0.0.4; charset=utf-8')
  const v = (name: string, labels: Record<string, string | number>): number | undefined => samples.get(key(`switchyard_${name}`, labels))
  const u = (upstream: string, extra: Record<string, string | number> = {}) => ({ balancer: 'edge', upstream, ...extra })
  // Requests by status class: every attempt once, `none` for those without a response.
  const classes = ['none', '1xx', '2xx', '3xx', '4xx', '5xx']
  const expected: Record<string, Record<string, number>> = {
    flaky: { '5xx': 4 }, dead: { none: 4 }, slow: { none: 4 }, ok: { '2xx': 3, '4xx': 1 }
  }
  for (const [name, counts] of Object.entries(expected)) {
    for (const code of classes) {
      t.equal(v('upstream_requests_total', u(name, { code })), counts[code] ?? 0, `requests ${name} ${code}`)
    }
  }
  // Failures by reason.
  const failures: Record<string, Record<string, number>> = { flaky: { '5xx': 4 }, dead: { connect: 4 }, slow: { timeout: 4 }, ok: {} }
  for (const [name, counts] of Object.entries(failures)) {
    for (const reason of ['connect', 'reset', 'timeout', '5xx']) {
      t.equal(v('upstream_failures_total', u(name, { reason })), counts[reason] ?? 0, `failures ${name} ${reason}`)
    }
  }
  for (const [name, retries] of [['flaky', 4], ['dead', 4], ['slow', 4], ['ok', 0]] as const) {
    t.equal(v('upstream_retries_total', u(name)), retries, `retries ${name}`)
  }
  // Response-time histogram: attempts with a response (flaky's 503s and ok's answers), in seconds.
  t.equal(v('upstream_response_time_seconds_count', u('flaky')), 4)
  t.equal(v('upstream_response_time_seconds_count', u('ok')), 4)
  t.equal(v('upstream_response_time_seconds_count', u('slow')), 0, 'timeouts have no response time')
  t.equal(v('upstream_response_time_seconds_bucket', u('ok', { le: '+Inf' })), 4)
  t.equal(v('upstream_response_time_seconds_bucket', u('ok', { le: 30 })), 4, 'every answer within 30 s')
  const sum = v('upstream_response_time_seconds_sum', u('ok'))!
  t.ok(sum > 0 && sum < 4 * 0.15, `sum in seconds (${sum})`)
  const les = [...samples.keys()].filter((k) => k.startsWith('switchyard_upstream_response_time_seconds_bucket{balancer="edge",upstream="ok"'))
  t.same(les.map((k) => /le="([^"]+)"/.exec(k)![1]), ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf'])
  let previous = 0
  for (const k of les) {
    t.ok(samples.get(k)! >= previous, 'buckets are cumulative')
    previous = samples.get(k)!
  }
  // Gauges read from the engine at scrape time.
  for (const name of ['flaky', 'dead', 'slow', 'ok']) {
    t.equal(v('upstream_in_flight', u(name)), 0, `${name} in flight`)
    t.equal(v('upstream_up', u(name)), 1, `${name} has no flag`)
    t.equal(v('upstream_effective_weight', u(name)), 1)
  }
  const state = (name: string): string | undefined =>
    ['up', 'down', 'ejected', 'draining', 'pending', 'slow-start', 'backup'].find((s) => v('upstream_state', u(name, { state: s })) === 1)
  t.same(['flaky', 'dead', 'slow', 'ok'].map(state), ['up', 'down', 'up', 'backup'],
    'dead is down (its last connection was refused, nothing answered since); the backup stands by')
  t.equal(v('balancer_no_upstream_total', { balancer: 'edge' }), 0)
  t.equal(v('balancer_retry_budget_exhausted_total', { balancer: 'edge' }), 0)
  t.equal(v('balancer_panic', { balancer: 'edge' }), 0)
  t.equal(v('balancer_eligible_upstreams', { balancer: 'edge' }), 3)
  // The engine's own counters agree.
  for (const s of edge.stats()) {
    const total = classes.reduce((n, code) => n + (v('upstream_requests_total', u(s.name, { code })) ?? 0), 0)
    t.equal(total, s.requests, `${s.name}: requests match the engine`)
  }
  t.match(text, /# TYPE switchyard_upstream_response_time_seconds histogram/)
  t.match(text, /# TYPE switchyard_upstream_requests_total counter/)

  // Draining everything: a request finds no upstream at all.
  for (const name of ['flaky', 'dead', 'slow', 'ok']) await edge.drain(name)
  const none = await request(`${gateway.url}/x`)
  t.equal(none.statusCode, 503)
  await none.body.dump()
  // The retry budget is the dispatcher's to report; the observer has the method for it.
  const observer = edge.observer as unknown as { retryBudgetExhausted: (from: unknown, kind: string) => void }
  observer.retryBudgetExhausted(edge.upstreams[0], 'connect')
  const after = (await scrape(`${gateway.url}/metrics`)).samples
  t.equal(after.get(key('switchyard_balancer_no_upstream_total', { balancer: 'edge' })), 1)
  t.equal(after.get(key('switchyard_balancer_retry_budget_exhausted_total', { balancer: 'edge' })), 1)
  t.equal(after.get(key('switchyard_balancer_eligible_upstreams', { balancer: 'edge' })), 0)
  t.equal(after.get(key('switchyard_upstream_state', u('ok', { state: 'draining' }))), 1)
  t.equal(after.get(key('switchyard_upstream_up', u('ok'))), 0)
})

t.test('ejections and panic mode', async (t) => {
  const backends = await startBackends(t, 1, { names: ['ok'] })
  const deadA = `http://127.0.0.1:${await freePort()}`
  const deadB = `http://127.0.0.1:${await freePort()}`
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [{ url: deadA, name: 'dead-a' }, { url: deadB, name: 'dead-b' }, { url: backends.url(0), name: 'ok' }],
    outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 100 },
    metrics: { route: '/stats/prometheus' }
  }))
  await waitFor(async () => {
    const res = await request(gateway.url)
    t.equal(res.statusCode, 200, 'every request still answered')
    await res.body.dump()
    return gateway.app.balancer.set.state === 'panic'
  }, { message: 'both dead upstreams ejected: panic' })
  const { samples } = await scrape(`${gateway.url}/stats/prometheus`)
  t.equal(samples.get(key('switchyard_upstream_ejections_total', { balancer: 'balancer', upstream: 'dead-a' })), 1)
  t.equal(samples.get(key('switchyard_upstream_ejections_total', { balancer: 'balancer', upstream: 'dead-b' })), 1)
  t.equal(samples.get(key('switchyard_upstream_ejections_total', { balancer: 'balancer', upstream: 'ok' })), 0)
  t.equal(samples.get(key('switchyard_upstream_up', { balancer: 'balancer', upstream: 'dead-a' })), 0)
  t.equal(samples.get(key('switchyard_balancer_panic', { balancer: 'balancer' })), 1)
  t.equal(samples.get(key('switchyard_balancer_eligible_upstreams', { balancer: 'balancer' })), 3, 'panic balances over all primaries')
})

t.test('two balancers in one registry, labelled apart; route off; prefix, buckets; unregistered on close', async (t) => {
  const backends = await startBackends(t, 2)
  const registry = new Registry()
  // Something else already reports into this registry (fastify-metrics, an app's own metrics).
  const prom = await import('prom-client')
  const own = new prom.Counter({ name: 'app_requests_total', help: 'the app\'s own', registers: [registry] })
  own.inc(7)
  const gateway = await startGateway(t, async (app) => {
    await app.register(balancer, { upstreams: [backends.url(0)], prefix: '/a', decorator: 'edge', metrics: { registry, route: false } })
    await app.register(balancer, { upstreams: [backends.url(1)], prefix: '/b', decorator: false, metrics: { registry, route: false } })
    app.get('/app-metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  })
  t.notOk(gateway.app.hasRoute({ method: 'GET', url: '/metrics' }), 'route: false adds no route')
  for (const path of ['/a/x', '/b/x', '/b/y']) {
    const res = await request(gateway.url + path)
    t.equal(res.statusCode, 200)
    await res.body.dump()
  }
  const { samples, text } = await scrape(`${gateway.url}/app-metrics`)
  t.equal(samples.get('app_requests_total'), 7, 'the registry\'s other metrics are untouched')
  t.equal(samples.get(key('switchyard_upstream_requests_total', { balancer: 'edge', upstream: backends.url(0), code: '2xx' })), 1)
  t.equal(samples.get(key('switchyard_upstream_requests_total', { balancer: '/b', upstream: backends.url(1), code: '2xx' })), 2,
    'without a decorator the proxy prefix names the balancer')
  t.equal(text.match(/# TYPE switchyard_upstream_requests_total /g)?.length, 1, 'each metric registered once')

  // A third balancer with the same label would make its series ambiguous: refused at registration.
  await t.rejects(startGateway(t, (app) => app.register(balancer, {
    upstreams: [backends.url(0)], decorator: 'edge', metrics: { registry, route: false }
  })), { code: 'SWY_BALANCER_INVALID_OPTION', message: /labelled "edge" already reports into this registry/ })

  // Another prefix and buckets make separate metrics in the same registry.
  const other = await startGateway(t, (app) => app.register(balancer, {
    upstreams: [backends.url(0)], decorator: 'other', metrics: { registry, route: false, prefix: 'edge_', buckets: [0.5, 5] }
  }))
  const res = await request(other.url)
  await res.body.dump()
  const again = parse(await registry.metrics())
  t.same([...again.keys()].filter((k) => k.startsWith('edge_upstream_response_time_seconds_bucket')),
    [`edge_upstream_response_time_seconds_bucket{balancer="other",upstream="${backends.url(0)}",le="0.5"}`,
      `edge_upstream_response_time_seconds_bucket{balancer="other",upstream="${backends.url(0)}",le="5"}`,
      `edge_upstream_response_time_seconds_bucket{balancer="other",upstream="${backends.url(0)}",le="+Inf"}`])

  await gateway.app.close()
  await other.app.close()
  t.equal(registry.getSingleMetric('switchyard_upstream_requests_total'), undefined, 'the last balancer to close unregisters the metrics')
  t.equal(registry.getSingleMetric('edge_upstream_requests_total'), undefined)
  t.ok(registry.getSingleMetric('app_requests_total'), 'and leaves the rest')
})

t.test('metrics options are validated at registration', async (t) => {
  const { validateOptions } = await import('@switchyard/balancer')
  const upstreams = ['http://127.0.0.1:3000']
  t.equal(validateOptions({ upstreams }).metrics, null, 'off by default')
  t.same(validateOptions({ upstreams, metrics: true }).metrics, {
    route: '/metrics',
    registry: null,
    prefix: 'switchyard_',
    label: 'balancer',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
  })
  const bad: Array<[unknown, RegExp]> = [
    [{ route: 'metrics' }, /metrics.route must be a path/],
    [{ route: '/a/' }, /metrics.route must be a path/],
    [{ route: false }, /metrics would go nowhere/],
    [{ registry: {} }, /metrics.registry must be a prom-client Registry/],
    [{ prefix: '1x' }, /metrics.prefix/],
    [{ buckets: [1, 0.5] }, /metrics.buckets must be a non-empty array of ascending/],
    [{ buckets: [] }, /metrics.buckets/],
    [{ label: '' }, /metrics.label/],
    [{ nope: 1 }, /metrics.nope is not an option/],
    ['yes', /metrics must be an object, true or false/]
  ]
  for (const [metrics, message] of bad) t.throws(() => validateOptions({ upstreams, metrics }), { code: 'SWY_BALANCER_INVALID_OPTION', message })
})
