import t from 'tap'
import { validateOptions } from '../src/options.js'
import { CheckRunner, type Snapshot } from '../src/runner.js'
import type { CheckDefinition, HealthCheckFunction } from '../src/types.js'
import { FakeClock, flush } from './fixtures/fake-clock.js'

function runner (
  checks: Record<string, HealthCheckFunction | CheckDefinition>,
  { cacheTtl = 1000, refreshInterval = 0 } = {}
): { runner: CheckRunner, clock: FakeClock } {
  const clock = new FakeClock()
  const options = validateOptions({ checks })
  return { runner: new CheckRunner({ checks: options.checks, cacheTtl, refreshInterval, clock }), clock }
}

/** A check that never settles, recording the abort reason it receives. */
function hanging (): HealthCheckFunction & { reason: unknown } {
  const check = Object.assign(async ({ signal }: { signal: AbortSignal }) => {
    signal.addEventListener('abort', () => { check.reason = signal.reason })
    await new Promise(() => {})
  }, { reason: undefined as unknown })
  return check
}

t.test('a check that never resolves reports fail "timed out after N ms" at its own timeout', async (t) => {
  const stuck = hanging()
  const { runner: r, clock } = runner({ 'slow:ping': { check: stuck, timeout: 500 }, 'fast:ping': () => {} })
  let snapshot: Snapshot | undefined
  r.run().then((s) => { snapshot = s })
  await clock.advance(499)
  t.equal(snapshot, undefined, 'still waiting at 499 ms')
  await clock.advance(1)
  t.ok(snapshot, 'settled at 500 ms')
  const [slow, fast] = snapshot?.results ?? []
  t.match(slow, { name: 'slow:ping', status: 'fail', output: 'timed out after 500 ms', durationMs: 500 })
  t.match(fast, { name: 'fast:ping', status: 'pass' })
  t.equal(snapshot?.status, 'fail', 'a critical timeout fails the service')
  t.match(stuck.reason, { code: 'SWY_HEALTH_CHECK_TIMEOUT' }, 'the check was aborted through its signal')
  t.equal(clock.pending, 0, 'no timer left behind')
})

t.test('throwing, rejecting and false-returning checks fail with their message; the runner never throws', async (t) => {
  const { runner: r } = runner({
    'sync:throw': () => { throw new Error('sync boom') },
    'async:reject': async () => { throw new Error('async boom') },
    'odd:reject': async () => { throw 'a string' }, // eslint-disable-line no-throw-literal
    'code:only': async () => { throw Object.assign(new Error(''), { code: 'ECONNREFUSED' }) },
    'false:value': () => false,
    'bad:status': () => ({ status: 'broken' as never }),
    'pong:value': () => 'PONG',
    'true:value': () => true
  })
  const snapshot = await r.run()
  const byName = Object.fromEntries(snapshot.results.map((x) => [x.name, x]))
  t.match(byName['sync:throw'], { status: 'fail', output: 'sync boom' })
  t.match(byName['async:reject'], { status: 'fail', output: 'async boom' })
  t.match(byName['odd:reject'], { status: 'fail', output: 'a string' })
  t.match(byName['code:only'], { status: 'fail', output: 'ECONNREFUSED' })
  t.match(byName['false:value'], { status: 'fail', output: 'check returned false' })
  t.match(byName['bad:status'], { status: 'fail', output: /unknown status "broken"/ })
  t.match(byName['pong:value'], { status: 'pass' })
  t.match(byName['true:value'], { status: 'pass' })
})

t.test('an outcome object is reported as given; definition fields win over the outcome', async (t) => {
  const { runner: r, clock } = runner({
    'redis:ping': { check: () => ({ status: 'warn', observedValue: 12, observedUnit: 'ms', output: 'slow', componentType: 'datastore' }), componentId: 'r1' },
    'disk:usage': { check: () => ({ componentType: 'system' }), componentType: 'custom' }
  })
  const snapshot = await r.run()
  t.match(snapshot.results[0], { status: 'warn', observedValue: 12, observedUnit: 'ms', output: 'slow', componentType: 'datastore', componentId: 'r1', time: new Date(clock.now()).toISOString() })
  t.match(snapshot.results[1], { status: 'pass', componentType: 'custom' })
})

t.test('checks run concurrently: total time is the slowest, not the sum', async (t) => {
  const { runner: r, clock } = runner({
    'a:x': { check: async () => { await new Promise(() => {}) }, timeout: 300 },
    'b:x': { check: async () => { await new Promise(() => {}) }, timeout: 300 }
  })
  let done = false
  r.run().then(() => { done = true })
  await clock.advance(300)
  t.ok(done, 'both timed out together at 300 ms')
})

t.test('cache: a snapshot is reused for cacheTtl, then the checks run again', async (t) => {
  let calls = 0
  const { runner: r, clock } = runner({ 'count:x': () => { calls++ } }, { cacheTtl: 1000 })
  const first = await r.get()
  t.equal(calls, 1)
  await clock.advance(999)
  t.equal(r.get(), first, 'fresh at 999 ms: same snapshot, synchronously')
  t.equal(calls, 1)
  await clock.advance(1)
  t.equal(r.fresh(), undefined, 'stale at 1000 ms')
  const second = await r.get()
  t.not(second, first)
  t.equal(calls, 2)
  t.equal(second.run, 2)
})

t.test('single flight: concurrent callers during a run share it, even with cacheTtl 0', async (t) => {
  let calls = 0
  let release: () => void = () => {}
  const { runner: r } = runner({
    'gate:x': async () => { calls++; await new Promise<void>((resolve) => { release = resolve }) }
  }, { cacheTtl: 0 })
  const waiting = Array.from({ length: 1000 }, async () => await r.get())
  await flush()
  t.equal(calls, 1, 'one run started for 1000 callers')
  t.ok(r.running)
  release()
  const snapshots = await Promise.all(waiting)
  t.ok(snapshots.every((s) => s === snapshots[0]), 'all got the same snapshot')
  t.equal(r.runs, 1)
  const next = r.get()
  release()
  await next
  t.equal(calls, 2, 'with cacheTtl 0 the next probe runs the checks again')
})

t.test('background refresh: runs every refreshInterval; probes never wait; stop() clears everything', async (t) => {
  let calls = 0
  let started = 0
  let stopped = 0
  const check: HealthCheckFunction = () => { calls++ }
  check.start = () => { started++ }
  check.stop = () => { stopped++ }
  const { runner: r, clock } = runner({ 'count:x': check }, { cacheTtl: 100, refreshInterval: 1000 })
  r.start()
  t.equal(started, 1, 'start() called the check\'s start hook')
  await clock.advance(0)
  t.equal(calls, 1, 'first run at start')
  await clock.advance(1000)
  t.equal(calls, 2)
  await clock.advance(1000)
  t.equal(calls, 3)
  const latest = r.latest
  await clock.advance(500)
  t.equal(r.get(), latest, 'older than cacheTtl but refresh keeps it current: served without a run')
  t.equal(calls, 3)
  r.stop()
  t.equal(stopped, 1, 'stop() called the check\'s stop hook')
  t.equal(clock.pending, 0, 'no timer left after stop()')
  await clock.advance(5000)
  t.equal(calls, 3, 'no run after stop()')
})

t.test('stop() settles checks still running as aborted and clears their timers', async (t) => {
  const stuck = hanging()
  const { runner: r, clock } = runner({ 'slow:x': { check: stuck, timeout: 10_000 } })
  r.start()
  const pending = r.run()
  await flush()
  t.equal(clock.pending, 1, 'a timeout timer is armed')
  r.stop()
  const snapshot = await pending
  t.match(snapshot.results[0], { status: 'fail', output: /aborted/ })
  t.match(stuck.reason, { code: 'SWY_HEALTH_CHECK_ABORTED' })
  t.equal(clock.pending, 0)
})

t.test('a check settling after its timeout does not change the result or raise', async (t) => {
  let settle: (v: undefined) => void = () => {}
  let fail: (e: Error) => void = () => {}
  const { runner: r, clock } = runner({
    'late:ok': { check: async () => { await new Promise<undefined>((resolve) => { settle = resolve }) }, timeout: 100 },
    'late:err': { check: async () => await new Promise((_resolve, reject) => { fail = reject }), timeout: 100 }
  })
  const pending = r.run()
  await clock.advance(100)
  const snapshot = await pending
  settle(undefined)
  fail(new Error('too late'))
  await flush()
  t.match(snapshot.results[0], { status: 'fail', output: 'timed out after 100 ms' })
  t.match(snapshot.results[1], { status: 'fail', output: 'timed out after 100 ms' })
})

t.test('onSnapshot sees each new snapshot with the previous one', async (t) => {
  const seen: Array<[number, number | undefined]> = []
  const clock = new FakeClock()
  const options = validateOptions({ checks: { 'a:b': () => {} } })
  const r = new CheckRunner({ checks: options.checks, cacheTtl: 0, refreshInterval: 0, clock, onSnapshot: (s, p) => { seen.push([s.run, p?.run]) } })
  await r.run()
  await r.run()
  t.same(seen, [[1, undefined], [2, 1]])
})
