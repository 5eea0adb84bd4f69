import { freePort, startGateway, waitFor } from '@switchyard/test-harness'
import t from 'tap'
import { Agent } from 'undici'
import { systemClock } from '../src/clock.js'
import {
  eventLoopDelayCheck, eventLoopUtilizationCheck, heapCheck, httpCheck, redisCheck, rssCheck,
  type CheckOutcome, type HealthCheckFunction
} from '../src/index.js'
import { validateOptions } from '../src/options.js'
import { CheckRunner } from '../src/runner.js'

const signal = new AbortController().signal
async function run (check: HealthCheckFunction): Promise<CheckOutcome> {
  return await (check({ name: 'x:y', signal }) as Promise<CheckOutcome>)
}

function block (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* keep the event loop busy on purpose */ }
}

t.test('heap and RSS: observed in bytes, judged against warnAbove / failAbove', async (t) => {
  t.match(await run(heapCheck()), { status: 'pass', observedUnit: 'bytes', componentType: 'system', observedValue: Number })
  t.match(await run(heapCheck({ failAbove: 1 })), { status: 'fail', output: /bytes is above 1 bytes/ })
  t.match(await run(heapCheck({ warnAbove: 1, failAbove: 1e15 })), { status: 'warn' })
  const rss = await run(rssCheck({ failAbove: 1e15 }))
  t.match(rss, { status: 'pass', observedUnit: 'bytes' })
  t.ok((rss.observedValue as number) > 1e6, 'RSS of a Node process is more than 1 MB')
  t.match(await run(rssCheck({ failAbove: 1 })), { status: 'fail' })
})

t.test('event-loop delay: a blocked loop shows up as p99 delay in ms; start/stop own the monitor', async (t) => {
  const check = eventLoopDelayCheck({ warnAbove: 40, failAbove: 80 })
  t.match(await run(check), { status: 'warn', output: /not started/ }, 'before start(): no monitor')
  check.start?.()
  t.teardown(() => { check.stop?.() })
  t.match(await run(check), { status: 'pass', observedUnit: 'ms', componentType: 'system' }, 'idle loop')
  // The monitor records a delay when its timer fires after a block, and its very first tick only sets a
  // baseline: block, then poll until a reading shows it (blocking again if the first one was not recorded).
  const reading = await waitFor(async () => {
    const outcome = await run(check)
    if ((outcome.observedValue as number) >= 100) return outcome
    block(150)
    return false
  }, { timeout: 5000, message: 'a 150 ms block to show in the histogram' })
  t.match(reading, { status: 'fail', observedUnit: 'ms', output: /ms is above 80 ms/ })
  t.match(await run(check), { status: 'fail' }, 'reading does not erase the stall: the next probe still sees it')
  // Reference counted: shared by two apps, the monitor lives until the last stop().
  check.start?.()
  check.stop?.()
  t.match(await run(check), { status: 'fail', observedUnit: 'ms' }, 'still monitoring after one of two stops')
  check.stop?.()
  t.match(await run(check), { status: 'warn', output: /not started/ }, 'monitor disabled after the last stop')
})

t.test('event-loop delay: a stall ages out after one to two windows', async (t) => {
  const check = eventLoopDelayCheck({ failAbove: 80, window: 400 })
  check.start?.()
  t.teardown(() => { check.stop?.() })
  await waitFor(async () => {
    if ((await run(check)).status === 'fail') return true
    block(150)
    return false
  }, { timeout: 5000, message: 'a stall to be reported' })
  const recovered = await waitFor(async () => {
    const outcome = await run(check)
    return outcome.status === 'pass' ? outcome : false
  }, { timeout: 5000, message: 'the stall to leave the window' })
  t.ok((recovered.observedValue as number) < 80, `back to ${String(recovered.observedValue)} ms`)
})

t.test('event-loop utilization: percent of the window since the previous run', async (t) => {
  const check = eventLoopUtilizationCheck({ failAbove: 50 })
  check.start?.()
  t.teardown(() => { check.stop?.() })
  block(200)
  const busy = await run(check)
  t.match(busy, { status: 'fail', observedUnit: 'percent', componentType: 'system' })
  t.ok((busy.observedValue as number) > 50 && (busy.observedValue as number) <= 100, `busy loop: ${String(busy.observedValue)}%`)
})

t.test('httpCheck: expected status, response time, failures, and abort on timeout', async (t) => {
  let aborted = 0
  const dependency = await startGateway(t, (app) => {
    app.get('/ok', async () => 'ok')
    app.get('/down', async (_req, reply) => await reply.code(503).send('down'))
    app.get('/hang', (request) => {
      request.raw.on('close', () => { aborted++ })
      // never replies: the check must abort the request at its timeout
    })
  })
  const dispatcher = new Agent()
  t.teardown(async () => { await dispatcher.close() })

  const ok = await run(httpCheck(`${dependency.url}/ok`, { dispatcher }))
  t.match(ok, { status: 'pass', observedUnit: 'ms', componentType: 'component' })
  t.ok(typeof ok.observedValue === 'number' && ok.observedValue >= 0, 'response time in ms')
  t.match(await run(httpCheck(`${dependency.url}/down`, { dispatcher })), { status: 'fail', output: 'unexpected status 503 (expected 2xx)', observedUnit: 'ms' })
  t.match(await run(httpCheck(`${dependency.url}/down`, { dispatcher, expectedStatus: [200, 503] })), { status: 'pass' })
  t.match(await run(httpCheck(`${dependency.url}/ok`, { dispatcher, expectedStatus: 204 })), { status: 'fail', output: 'unexpected status 200 (expected 204)' })

  // Through the runner: a refused connection and a hanging dependency.
  const refusedUrl = `http://127.0.0.1:${await freePort()}/health`
  const options = validateOptions({
    checks: {
      'refused:responseTime': httpCheck(refusedUrl, { dispatcher }),
      'hang:responseTime': { check: httpCheck(`${dependency.url}/hang`, { dispatcher }), timeout: 200 }
    }
  })
  const runner = new CheckRunner({ checks: options.checks, cacheTtl: 0, refreshInterval: 0, clock: systemClock })
  const snapshot = await runner.run()
  t.match(snapshot.results[0], { status: 'fail', output: /ECONNREFUSED/ })
  t.match(snapshot.results[1], { status: 'fail', output: 'timed out after 200 ms' })
  await waitFor(() => aborted === 1, { message: 'the dependency to see the request aborted' })
  t.equal(aborted, 1, 'the timed-out request was aborted, not left hanging')
})

t.test('factory arguments are validated when the check is built', async (t) => {
  const invalid = { code: 'SWY_HEALTH_INVALID_OPTION' }
  t.throws(() => httpCheck('not a url'), { ...invalid, message: /is not an absolute URL/ })
  t.throws(() => httpCheck('ftp://example.com/'), { ...invalid, message: /must be an http: or https: URL/ })
  t.throws(() => httpCheck('http://x/', { expectedStatus: [] }), { ...invalid, message: /expectedStatus/ })
  t.throws(() => heapCheck({ warnAbove: 10, failAbove: 5 }), { ...invalid, message: 'heapCheck({ warnAbove }) must not be greater than failAbove' })
  t.throws(() => rssCheck({ failAbove: -1 }), { ...invalid, message: 'rssCheck({ failAbove }) must be a positive number of bytes' })
  t.throws(() => eventLoopDelayCheck({ percentile: 101 }), { ...invalid, message: /percentile/ })
  t.throws(() => eventLoopUtilizationCheck({ failAbove: 150 }), { ...invalid, message: /at most 100/ })
  t.throws(() => redisCheck(null as never), { ...invalid, message: /ioredis client/ })
})
