import { Writable } from 'node:stream'
import { startGateway } from '@switchyard/test-harness'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { request } from 'undici'
import health, { type CheckStatus, type FastifyHealthOptions, type HealthCheckFunction } from '../src/index.js'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, text: string, json: Record<string, unknown> | undefined }

async function get (url: string, options: { method?: 'GET' | 'HEAD', headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await request(url, { method: options.method ?? 'GET', ...(options.headers === undefined ? {} : { headers: options.headers }) })
  const text = await res.body.text()
  let json: Record<string, unknown> | undefined
  try { json = JSON.parse(text) as Record<string, unknown> } catch { json = undefined }
  return { status: res.statusCode, headers: res.headers, text, json }
}

async function app (t: Test, options: FastifyHealthOptions, setup?: (app: FastifyInstance) => void): Promise<{ url: string, app: FastifyInstance }> {
  const gateway = await startGateway(t, async (app) => {
    await app.register(health, options)
    app.get('/', async () => 'ok')
    setup?.(app)
  })
  return { url: gateway.url, app: gateway.app }
}

/** A check whose status the test sets. */
function switchable (initial: CheckStatus = 'pass'): HealthCheckFunction & { status: CheckStatus, calls: number } {
  const check = Object.assign(() => {
    check.calls++
    return check.status === 'fail' ? Promise.reject(new Error('secret: connection to 10.0.0.7:6379 refused')) : { status: check.status, observedValue: 1, observedUnit: 'ms' }
  }, { status: initial, calls: 0 })
  return check
}

t.test('the four routes answer application/health+json with Cache-Control: no-store; query strings are ignored', async (t) => {
  const { url } = await app(t, { checks: { 'db:ping': switchable() } })
  for (const path of ['/health/live', '/health/ready', '/health/startup', '/health', '/health/ready?verbose=1&x']) {
    const res = await get(url + path)
    t.equal(res.status, 200, path)
    t.match(res.headers['content-type'], /^application\/health\+json/, `${path} content-type`)
    t.equal(res.headers['cache-control'], 'no-store', `${path} cache-control`)
    t.same(res.json, { status: 'pass' }, `${path} body`)
  }
})

t.test('status mapping over HTTP: critical fail → 503, non-critical fail → warn 200, warn → 200', async (t) => {
  const critical = switchable()
  const optional = switchable()
  const { url } = await app(t, { cacheTtl: 0, checks: { 'db:ping': critical, 'orders:responseTime': { check: optional, critical: false } } })
  const cases: Array<[CheckStatus, CheckStatus, number, CheckStatus]> = [
    ['pass', 'pass', 200, 'pass'],
    ['pass', 'fail', 200, 'warn'],
    ['warn', 'pass', 200, 'warn'],
    ['fail', 'pass', 503, 'fail'],
    ['fail', 'fail', 503, 'fail']
  ]
  for (const [c, o, code, status] of cases) {
    critical.status = c
    optional.status = o
    for (const path of ['/health/ready', '/health']) {
      const res = await get(url + path)
      t.equal(res.status, code, `${path}: critical ${c}, non-critical ${o} → ${code}`)
      t.same(res.json, { status }, `${path}: → ${status}`)
    }
  }
})

t.test('details: hidden by default (no names, no error text), shown with exposeDetails', async (t) => {
  const hidden = await app(t, { cacheTtl: 0, version: '1.2.3', serviceId: 'orders', checks: { 'db:ping': switchable('fail') } })
  const res = await get(hidden.url + '/health')
  t.equal(res.status, 503)
  t.equal(res.text, '{"status":"fail"}', 'status alone')
  t.notMatch(res.text, /secret|db:ping|1\.2\.3/, 'nothing leaks')

  const shown = await app(t, { cacheTtl: 0, exposeDetails: true, version: '1.2.3', releaseId: 'r9', serviceId: 'orders', checks: { 'db:ping': switchable('fail'), 'cache:ping': { check: switchable(), critical: false, componentType: 'datastore' } } })
  const full = await get(shown.url + '/health/ready')
  t.equal(full.status, 503)
  t.match(full.json, {
    status: 'fail',
    version: '1.2.3',
    releaseId: 'r9',
    serviceId: 'orders',
    checks: {
      'db:ping': [{ status: 'fail', componentType: 'component', output: 'secret: connection to 10.0.0.7:6379 refused', time: String }],
      'cache:ping': [{ status: 'pass', componentType: 'datastore', observedValue: 1, observedUnit: 'ms', time: String }]
    }
  })
  t.notOk('output' in ((full.json?.checks as Record<string, Array<Record<string, unknown>>>)['cache:ping']?.[0] ?? {}), 'no output on pass')
  const live = await get(shown.url + '/health/live')
  t.same(live.json, { status: 'pass', version: '1.2.3', releaseId: 'r9', serviceId: 'orders' }, 'liveness details: service fields, no checks')
})

t.test('details: authorize(request) decides per request; a throwing authorize means no details', async (t) => {
  let throwing = false
  const { url } = await app(t, {
    cacheTtl: 0,
    checks: { 'db:ping': switchable('fail') },
    authorize: async (request) => {
      if (throwing) throw new Error('auth backend down')
      return request.headers.authorization === 'Bearer ops'
    }
  })
  const anonymous = await get(url + '/health')
  t.equal(anonymous.text, '{"status":"fail"}')
  const wrong = await get(url + '/health', { headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.text, '{"status":"fail"}')
  const ops = await get(url + '/health', { headers: { authorization: 'Bearer ops' } })
  t.equal(ops.status, 503)
  t.match(ops.json, { status: 'fail', checks: { 'db:ping': [{ status: 'fail', output: /secret/ }] } })
  throwing = true
  const broken = await get(url + '/health', { headers: { authorization: 'Bearer ops' } })
  t.equal(broken.status, 503, 'the probe still answers')
  t.equal(broken.text, '{"status":"fail"}', 'and leaks nothing')
})

t.test('HEAD: same status and headers as GET, empty body', async (t) => {
  const check = switchable()
  const { url } = await app(t, { cacheTtl: 0, exposeDetails: true, checks: { 'db:ping': check } }, undefined)
  for (const [status, code] of [['pass', 200], ['fail', 503]] as const) {
    check.status = status
    for (const path of ['/health/live', '/health/ready', '/health']) {
      const g = await get(url + path)
      const h = await get(url + path, { method: 'HEAD' })
      t.equal(h.status, g.status, `${path} HEAD status`)
      if (path !== '/health/live') t.equal(h.status, code)
      t.equal(h.text, '', `${path} HEAD has no body`)
      t.equal(h.headers['content-type'], g.headers['content-type'], `${path} HEAD content-type`)
      t.equal(h.headers['cache-control'], 'no-store', `${path} HEAD cache-control`)
      t.equal(h.headers['content-length'], String(Buffer.byteLength(g.text)), `${path} HEAD content-length is the GET body's`)
    }
  }
})

t.test('HEAD is served even when the server disables exposeHeadRoutes', async (t) => {
  const gateway = await startGateway(t, async (app) => { await app.register(health) }, { exposeHeadRoutes: false })
  const h = await get(gateway.url + '/health/ready', { method: 'HEAD' })
  t.equal(h.status, 200)
})

t.test('a hanging check: the endpoint still answers in time, with fail "timed out"', async (t) => {
  const { url } = await app(t, { cacheTtl: 0, exposeDetails: true, checks: { 'stuck:ping': { check: async () => { await new Promise(() => {}) }, timeout: 200 }, 'db:ping': switchable() } })
  const started = performance.now()
  const res = await get(url + '/health/ready')
  const elapsed = performance.now() - started
  t.equal(res.status, 503)
  t.match(res.json, { status: 'fail', checks: { 'stuck:ping': [{ status: 'fail', output: 'timed out after 200 ms' }], 'db:ping': [{ status: 'pass' }] } })
  t.ok(elapsed >= 190 && elapsed < 1000, `answered after the 200 ms timeout, well inside a 1 s probe timeout (${elapsed.toFixed(0)} ms)`)
})

t.test('liveness never runs the checks and stays pass while a critical check fails', async (t) => {
  const check = switchable('fail')
  const { url } = await app(t, { cacheTtl: 0, checks: { 'db:ping': check } })
  for (let i = 0; i < 20; i++) t.equal((await get(url + '/health/live')).status, 200)
  t.equal(check.calls, 0, 'no check ran for liveness probes')
  t.equal((await get(url + '/health/ready')).status, 503)
  t.equal(check.calls, 1)
})

t.test('startup: fail until the checks first pass, then pass for good', async (t) => {
  const check = switchable('fail')
  const { url } = await app(t, { cacheTtl: 0, checks: { 'db:ping': check } })
  t.equal((await get(url + '/health/startup')).status, 503)
  check.status = 'warn'
  t.equal((await get(url + '/health/startup')).status, 200, 'warn counts as started')
  check.status = 'fail'
  const calls = check.calls
  t.equal((await get(url + '/health/startup')).status, 200, 'stays pass after the first success')
  t.equal(check.calls, calls, 'and no longer runs the checks')
  t.equal((await get(url + '/health/ready')).status, 503, 'while readiness follows the checks')
})

t.test('prefix, paths, cacheControl and logLevel are configurable', async (t) => {
  const { url } = await app(t, { prefix: '/_', paths: { live: '/livez', ready: '/readyz', startup: false }, cacheControl: 'max-age=5', logLevel: 'warn' })
  t.equal((await get(url + '/_/livez')).status, 200)
  const ready = await get(url + '/_/readyz')
  t.equal(ready.status, 200)
  t.equal(ready.headers['cache-control'], 'max-age=5')
  t.equal((await get(url + '/_')).status, 200, 'report at the prefix itself')
  t.equal((await get(url + '/_/startup')).status, 404, 'disabled route')
  t.equal((await get(url + '/health/ready')).status, 404, 'default paths are not registered')
  const bare = await app(t, { cacheControl: false })
  t.equal((await get(bare.url + '/health/ready')).headers['cache-control'], undefined)
})

t.test('fastify.health: check() returns the full report; readiness events; state', async (t) => {
  const check = switchable()
  const { app: instance } = await app(t, { cacheTtl: 0, checks: { 'db:ping': check } })
  const events: Array<[CheckStatus, CheckStatus | undefined]> = []
  instance.health.on('readiness', (status, previous) => { events.push([status, previous]) })
  t.equal(instance.health.state, 'serving')
  t.match(await instance.health.check(), { status: 'pass', checks: { 'db:ping': [{ status: 'pass' }] } })
  check.status = 'fail'
  t.match(await instance.health.check(), { status: 'fail', checks: { 'db:ping': [{ status: 'fail', output: /secret/ }] } })
  t.equal(instance.health.readiness, 'fail')
  t.same(events, [['pass', undefined], ['fail', 'pass']])
})

t.test('onClose releases what the plugin created: check stop hooks, signal handlers', async (t) => {
  let started = 0
  let stopped = 0
  const check: HealthCheckFunction = () => {}
  check.start = () => { started++ }
  check.stop = () => { stopped++ }
  const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') }
  const { app: instance } = await app(t, { checks: { 'x:y': check }, shutdown: { signals: true } })
  t.equal(started, 1, 'started at onReady')
  t.equal(process.listenerCount('SIGTERM'), before.term + 1, 'SIGTERM handler installed')
  t.equal(process.listenerCount('SIGINT'), before.int + 1, 'SIGINT handler installed')
  await instance.close()
  t.equal(stopped, 1, 'stopped at onClose')
  t.equal(process.listenerCount('SIGTERM'), before.term, 'SIGTERM handler removed')
  t.equal(process.listenerCount('SIGINT'), before.int, 'SIGINT handler removed')
  t.equal(instance.health.state, 'closed')
})

t.test('a user\'s fastify.close() (no drain) makes readiness fail from preClose on', async (t) => {
  const { app: instance } = await app(t, {})
  const states: string[] = []
  instance.health.on('state', (state) => { states.push(state) })
  await instance.close()
  t.same(states, ['closing', 'closed'])
  t.equal(instance.health.draining, true)
})

/** A pino destination collecting parsed log lines. */
function logSink (): { stream: Writable, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    }
  })
  return { stream, lines }
}

t.test('logLevel keeps probes out of the request log; other routes still log', async (t) => {
  const { stream, lines } = logSink()
  const gateway = await startGateway(t, async (app) => {
    await app.register(health, { logLevel: 'warn' })
    app.get('/', async () => 'ok')
  }, { logger: { level: 'info', stream } })
  await get(gateway.url + '/health/ready')
  await get(gateway.url + '/health/live')
  t.same(lines.filter((l) => typeof l.req === 'object' || typeof l.res === 'object'), [], 'no request log lines for probes')
  await get(gateway.url + '/')
  t.ok(lines.some((l) => l.msg === 'incoming request'), 'the app route is logged as usual')
})

t.test('a check changing status is logged once per transition, with its name and output', async (t) => {
  const { stream, lines } = logSink()
  const check = switchable()
  const gateway = await startGateway(t, async (app) => {
    await app.register(health, { cacheTtl: 0, logLevel: 'warn', checks: { 'db:ping': check } })
  }, { logger: { level: 'info', stream } })
  const transitions = (): Array<Record<string, unknown>> => lines.filter((l) => l.check === 'db:ping')
  await get(gateway.url + '/health/ready')
  t.same(transitions(), [], 'nothing logged while passing')
  check.status = 'fail'
  await get(gateway.url + '/health/ready')
  await get(gateway.url + '/health/ready')
  t.match(transitions(), [{ level: 40, status: 'fail', previous: 'pass', critical: true, output: /secret/, msg: 'health check db:ping is fail' }], 'one warning for the failure')
  check.status = 'pass'
  await get(gateway.url + '/health/ready')
  t.match(transitions(), [{ status: 'fail' }, { level: 30, status: 'pass', previous: 'fail', msg: 'health check db:ping recovered' }])
})
