import t from 'tap'
import { request } from 'undici'
import balancer, { type StatusReport, validateOptions } from '@switchyard/balancer'
import { startBackends, startGateway } from '@switchyard/test-harness'

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  const res = await request(url, { headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

t.test('status.json matches the engine\'s state, live', async (t) => {
  const backends = await startBackends(t, 3, { names: ['alpha', 'beta', 'gamma'] })
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.list.map((b) => ({ url: b.url, name: b.name, weight: b.index + 1 })),
    outlierDetection: false,
    statusPage: true
  }))
  for (let i = 0; i < 12; i++) {
    const res = await request(`${gateway.url}/items`)
    await res.body.dump()
  }
  await backends.kill(2)
  for (let i = 0; i < 6; i++) {
    const res = await request(`${gateway.url}/items`)
    t.equal(res.statusCode, 200, 'failover hides the dead backend')
    await res.body.dump()
  }
  await gateway.app.balancer.drain('alpha')

  const res = await get(`${gateway.url}/_switchyard/status.json`)
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  const report = JSON.parse(res.body) as StatusReport
  const engine = gateway.app.balancer
  const stats = engine.stats()
  t.equal(report.balancer, 'balancer')
  t.equal(report.state, engine.set.state)
  t.equal(report.eligible, engine.set.eligible.length)
  t.equal(report.total, stats.length)
  t.same(report.upstreams.map((u) => [u.name, u.url, u.weight, u.effectiveWeight, u.inFlight, u.requests, u.failures, u.backup]),
    stats.map((s) => [s.name, s.url, s.weight, s.effectiveWeight, s.inFlight, s.requests, s.failures, s.backup]),
    'names, weights, in-flight and counters are the engine\'s')
  t.same(report.upstreams.map((u) => u.state), ['draining', 'up', 'down'])
  t.same(report.upstreams[0]!.flags, ['DRAINING'])
  t.match(report.upstreams[2]!.detail, /^connection failed \d+ s ago, nothing answered since \(passive\)$/)
  t.ok(report.upstreams[2]!.lastConnectFailure !== null)
  t.ok(report.upstreams[2]!.retries > 0, 'attempts on the dead backend were retried')
  t.ok(report.upstreams[2]!.errorRate > 0)
  t.equal(report.upstreams[1]!.errorRate, 0)
  t.ok(report.upstreams[1]!.rps > 0)
  t.ok(report.upstreams[1]!.p50Ms! > 0 && report.upstreams[1]!.p99Ms! >= report.upstreams[1]!.p50Ms!)
  t.equal(report.upstreams[1]!.healthCheck, null, 'no active checks configured')
  t.equal(report.totals.requests, stats.reduce((n, s) => n + s.requests, 0))
  t.equal(report.window.points, 60, '5 minutes of 5 s buckets')
  t.equal(report.upstreams[1]!.history.rps.length, 60)
  t.ok(Math.abs(Date.parse(report.generatedAt) - Date.now()) < 5000)
  t.equal(report.retryBudget?.percent, 20)
})

t.test('token: Bearer header or ?token=, 401 without; authorize hook; either one lets in', async (t) => {
  const backends = await startBackends(t, 1)
  const seen: unknown[] = []
  const gateway = await startGateway(t, async (app) => {
    await app.register(balancer, { upstreams: backends.urls, statusPage: { route: '/ops/lb', token: 'tok-123' } })
    await app.register(balancer, {
      upstreams: backends.urls,
      prefix: '/other',
      decorator: 'other',
      statusPage: {
        route: '/ops/other',
        token: 'tok-456',
        authorize: (request) => {
          seen.push(request.headers['x-user'])
          if (request.headers['x-user'] === 'boom') throw new Error('session store down')
          return request.headers['x-user'] === 'admin'
        }
      }
    })
  })
  for (const path of ['/ops/lb', '/ops/lb/status.json']) {
    const denied = await get(gateway.url + path)
    t.equal(denied.status, 401, `${path} without a token`)
    t.equal(denied.headers['www-authenticate'], 'Bearer realm="switchyard"')
    t.match(JSON.parse(denied.body), { statusCode: 401, code: 'SWY_BALANCER_STATUS_UNAUTHORIZED' })
    t.equal((await get(gateway.url + path, { authorization: 'Bearer wrong' })).status, 401, 'wrong token')
    t.equal((await get(gateway.url + path + '?token=tok-12')).status, 401, 'a prefix of the token')
    t.equal((await get(gateway.url + path, { authorization: 'Basic dG9rLTEyMw==' })).status, 401, 'not a bearer token')
    t.equal((await get(gateway.url + path, { authorization: 'Bearer tok-123' })).status, 200, 'bearer token')
    t.equal((await get(gateway.url + path, { authorization: 'bearer  tok-123' })).status, 200, 'scheme is case-insensitive')
    t.equal((await get(gateway.url + path + '?token=tok-123')).status, 200, 'query token')
  }
  t.equal((await get(gateway.url + '/ops/other/status.json', { authorization: 'Bearer tok-123' })).status, 401, 'each balancer has its token')
  t.equal((await get(gateway.url + '/ops/other/status.json', { 'x-user': 'admin' })).status, 200, 'authorize says yes')
  t.equal((await get(gateway.url + '/ops/other/status.json', { 'x-user': 'guest' })).status, 401, 'authorize says no')
  t.equal((await get(gateway.url + '/ops/other/status.json', { 'x-user': 'boom' })).status, 401, 'authorize throws: no, not a 500')
  t.equal((await get(gateway.url + '/ops/other/status.json?token=tok-456', { 'x-user': 'guest' })).status, 200, 'the token lets in without authorize')
  t.same(seen, [undefined, 'admin', 'guest', 'boom'], 'authorize decides when the token does not match, and is not asked when it does')
  const other = JSON.parse((await get(gateway.url + '/ops/other/status.json', { 'x-user': 'admin' })).body) as StatusReport
  t.equal(other.balancer, 'other')
})

t.test('the page: self-contained HTML under a strict CSP', async (t) => {
  const backends = await startBackends(t, 1)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, statusPage: true }))
  const page = await get(`${gateway.url}/_switchyard`)
  t.equal(page.status, 200)
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/)
  t.match(csp, /connect-src 'self'/)
  t.equal(page.headers['referrer-policy'], 'no-referrer', 'a ?token= never leaks through Referer')
  t.match(page.body, /^<!doctype html>/)
  t.notMatch(page.body, /<script[^>]+src=|<link|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'nothing loaded from elsewhere')
  t.notOk(gateway.app.hasRoute({ method: 'GET', url: '/metrics' }), 'metrics stay off')
})

t.test('statusPage options are validated at registration', async (t) => {
  const upstreams = ['http://127.0.0.1:3000']
  t.equal(validateOptions({ upstreams }).statusPage, null, 'off by default')
  t.same(validateOptions({ upstreams, statusPage: true }).statusPage, { route: '/_switchyard', token: null, authorize: null, label: 'balancer' })
  t.equal(validateOptions({ upstreams, decorator: 'lb', metrics: { label: 'edge' }, statusPage: true }).statusPage?.label, 'edge', 'named as in the metrics')
  const bad: Array<[unknown, RegExp]> = [
    [{ route: '/' }, /statusPage.route must be a path/],
    [{ route: '/a/:id' }, /statusPage.route must be a path/],
    [{ token: '' }, /statusPage.token/],
    [{ token: 'a b' }, /statusPage.token/],
    [{ authorize: true }, /statusPage.authorize must be a function/],
    [{ title: 'x' }, /statusPage.title is not an option/],
    [1, /statusPage must be an object, true or false/]
  ]
  for (const [statusPage, message] of bad) t.throws(() => validateOptions({ upstreams, statusPage }), { code: 'SWY_BALANCER_INVALID_OPTION', message })
})
