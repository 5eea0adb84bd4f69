import t from 'tap'
import { Balancer, type BalancerOptions, UpstreamFlag, validateOptions } from '@switchyard/balancer'
import type { ProbeResult } from '../../src/health-check/state-machine.js'
import type { HealthProbe } from '../../src/resilience.js'
import { buildStatusReport } from '../../src/status/report.js'
import { StatusTracker } from '../../src/status/tracker.js'
import { upstreamState } from '../../src/status/upstream-state.js'
import type { Upstream } from '../../src/upstream/upstream.js'
import { ManualClock } from '../../src/util/clock.js'
import { SeededRandom } from '../../src/util/random.js'

const UPSTREAMS = [
  { url: 'http://127.0.0.1:3001', name: 'a' },
  { url: 'http://127.0.0.1:3002', name: 'b', weight: 2 },
  { url: 'http://127.0.0.1:3003', name: 'c' },
  { url: 'http://127.0.0.1:3004', name: 'spare', backup: true }
]
const WALL = Date.parse('2030-01-01T00:00:00.000Z')
const flush = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

class FakeProbe implements HealthProbe {
  result = new Map<string, ProbeResult>()
  readonly probe = async (u: Upstream): Promise<ProbeResult> => this.result.get(u.name) ?? { status: 200, healthJsonStatus: 'pass' }
  setTarget (): void {}
}

function setup (options: Partial<BalancerOptions> = {}, probe?: FakeProbe) {
  const clock = new ManualClock(1_000_000)
  const engine = new Balancer(validateOptions({ upstreams: UPSTREAMS, ...options }), {
    clock, random: new SeededRandom(1), ...(probe === undefined ? {} : { probe })
  })
  const tracker = new StatusTracker(engine, { bucketMs: 1000, historyMs: 10_000 })
  engine.observer = tracker
  const at = (name: string): Upstream => engine.upstreams.find((u) => u.name === name)!
  /** One attempt on `name`, as the dispatcher reports it. */
  const attempt = (name: string, outcome: 'success' | 'connect' | 'reset' | 'timeout' | 'status', latency: number, status: number): void => {
    engine.attemptStarted(at(name))
    engine.attemptFinished(at(name), outcome, latency, status)
  }
  const report = () => buildStatusReport(engine, tracker, 'edge', WALL + (clock.now() - 1_000_000))
  return { clock, engine, tracker, at, attempt, report }
}

t.test('the status document matches the engine: counters, rates, percentiles, history', async (t) => {
  const { clock, engine, tracker, at, attempt, report } = setup({ outlierDetection: false })
  // Second 1: a answers 10× in 2 ms; b answers 8× in 20 ms and twice 503; c refuses a connection.
  for (let i = 0; i < 10; i++) attempt('a', 'success', 2, 200)
  for (let i = 0; i < 8; i++) attempt('b', 'success', 20, 200)
  attempt('b', 'status', 5, 503)
  attempt('b', 'success', 5, 503)
  attempt('c', 'connect', 0.3, 0)
  engine.retried(at('c'), 'connect')
  engine.attemptStarted(at('a')) // one still in flight
  clock.advance(1000)
  // Second 2: a answers 20× in 4 ms.
  for (let i = 0; i < 20; i++) attempt('a', 'success', 4, 200)
  clock.advance(500)

  const r = report()
  t.equal(r.version, 1)
  t.equal(r.balancer, 'edge')
  t.equal(r.generatedAt, '2030-01-01T00:00:01.500Z')
  t.equal(r.algorithm, 'round-robin')
  t.equal(r.state, engine.set.state)
  t.equal(r.panic, false)
  t.equal(r.eligible, engine.set.eligible.length)
  t.equal(r.total, 4)
  t.same(r.window, { bucketSeconds: 1, historyStart: '2029-12-31T23:59:51.000Z', points: 10, recentSeconds: 1.5 },
    'ten completed buckets, ending where the current one starts')

  const stats = engine.stats()
  t.same(r.upstreams.map((u) => u.name), stats.map((s) => s.name), 'every upstream, in order')
  for (const [i, u] of r.upstreams.entries()) {
    const s = stats[i]!
    t.equal(u.url, s.url)
    t.equal(u.weight, s.weight)
    t.equal(u.effectiveWeight, s.effectiveWeight)
    t.equal(u.inFlight, s.inFlight, `${u.name} in flight`)
    t.equal(u.requests, s.requests, `${u.name} requests`)
    t.equal(u.failures, s.failures, `${u.name} failures`)
    t.equal(u.backup, s.backup)
    t.equal(u.state, upstreamState(engine.upstreams[i]!, engine.set.state, tracker.trackOf(engine.upstreams[i]!).connectFailed))
  }
  const [a, b, c, spare] = r.upstreams as [typeof r.upstreams[0], typeof r.upstreams[0], typeof r.upstreams[0], typeof r.upstreams[0]]
  t.equal(a.inFlight, 1)
  t.equal(a.rps, 20, '30 answers over 1.5 s')
  t.equal(a.errorRate, 0)
  t.ok(Math.abs(a.p50Ms! - 4) < 0.4, `p50 ≈ 4 ms (${a.p50Ms})`)
  t.same(a.history.rps.slice(-1), [10], 'the completed bucket')
  t.equal(a.history.rps.length, 10)
  t.equal(b.errorRate, 0.2, 'two 5xx of ten, retried or not')
  t.ok(Math.abs(b.p99Ms! - 20) < 2, `p99 ≈ 20 ms (${b.p99Ms})`)
  t.same(b.history.errorRate.slice(-1), [0.2])
  t.equal(b.weight, 2)
  t.equal(c.state, 'down', 'a refused connection with no answer since: down (passive)')
  t.match(c.detail, /connection failed 2 s ago/)
  t.equal(c.lastConnectFailure, '2030-01-01T00:00:00.000Z')
  t.equal(c.retries, 1)
  t.equal(c.p50Ms, null, 'no answer, no latency')
  t.equal(spare.state, 'backup', 'a backup stands by while the primaries serve')
  t.equal(r.totals.requests, stats.reduce((n, s) => n + s.requests, 0))
  t.equal(r.totals.failures, stats.reduce((n, s) => n + s.failures, 0))
  t.equal(r.totals.inFlight, 1)
  t.equal(r.totals.errorRate, Number((3 / 41).toFixed(4)))
  t.same(r.noUpstream, { total: 0, recent: 0 })
  t.same(r.retryBudget, {
    percent: 20, minPerSecond: 3, windowSeconds: 10, requests: 0, retries: 0, allowed: 30, exhausted: false, denied: { total: 0, recent: 0 }
  }, 'the engine\'s budget (the dispatcher counts its requests)')

  // An answer clears the passive signal.
  attempt('c', 'success', 1, 200)
  t.equal(report().upstreams[2]!.state, 'up')
})

t.test('states from the engine\'s flags: draining, ejected, Retry-After, slow start, panic; JSON round trip', async (t) => {
  const { engine, at, tracker, report } = setup({ outlierDetection: { consecutiveFailures: 2 } })
  t.equal(report().upstreams[0]!.healthCheck, null, 'no active checks: null')
  // Outlier detection ejects a after two resets; the page names the reason.
  for (let i = 0; i < 2; i++) {
    engine.attemptStarted(at('a'))
    engine.attemptFinished(at('a'), 'reset', 1)
  }
  let r = report()
  t.equal(r.upstreams[0]!.state, 'ejected')
  t.equal(r.upstreams[0]!.detail, 'ejected: consecutive-failures')
  t.same(r.upstreams[0]!.flags, ['FAILED_OUTLIER'])
  t.equal(r.upstreams[0]!.lastEjection?.reason, 'consecutive-failures')
  await engine.drain('b')
  t.equal(report().upstreams[1]!.state, 'draining')
  at('c').setFlag(UpstreamFlag.RETRY_AFTER, true)
  engine.set.changed()
  r = report()
  t.equal(r.upstreams[2]!.detail, 'held out: answered 503 with Retry-After')
  t.equal(r.state, 'backup', 'no primary left: the backup serves')
  t.equal(r.upstreams[3]!.state, 'up', 'a serving backup is up')
  at('spare').setFlag(UpstreamFlag.FAILED_OUTLIER, true)
  engine.set.changed()
  t.equal(report().state, 'panic', 'no primary available, no backup: panic balances over the primaries that are not draining')
  t.equal(report().panic, true)
  engine.noUpstream()
  t.same(report().noUpstream, { total: 1, recent: 1 })
  tracker.retryBudgetExhausted(at('a'), 'connect')
  t.same(report().retryBudget?.denied, { total: 1, recent: 1 })
  engine.undrain('b')
  at('b').effectiveWeight = 0.8
  r = report()
  t.equal(r.upstreams[1]!.state, 'slow-start')
  t.equal(r.upstreams[1]!.weightPercent, 40)
  t.equal(r.upstreams[1]!.detail, 'ramping: 40 % of weight')
  t.same(JSON.parse(JSON.stringify(r)), r, 'plain JSON')
})

t.test('the last health-check result and its time; panic', async (t) => {
  const probe = new FakeProbe()
  const { clock, engine, report } = setup({ healthCheck: { interval: 1000, jitter: 0, timeout: 100, unhealthyThreshold: 1 }, outlierDetection: false }, probe)
  let r = report()
  t.same(r.upstreams[0]!.healthCheck, { checks: 0, successes: 0, failures: 0, last: null })
  t.equal(r.upstreams[0]!.state, 'pending')
  t.equal(r.state, 'panic', 'no verdict yet: balance over all')
  t.equal(r.panic, true)
  engine.start()
  clock.advance(1)
  await flush()
  r = report()
  t.same(r.upstreams[0]!.healthCheck, {
    checks: 1, successes: 1, failures: 0, last: { result: 'pass', status: 200, healthStatus: 'pass', error: null, at: '2030-01-01T00:00:00.001Z' }
  })
  t.equal(r.state, 'normal')
  probe.result.set('a', { status: 0, error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })
  probe.result.set('b', { status: 200, healthJsonStatus: 'warn' })
  probe.result.set('c', { status: 503, healthJsonStatus: 'fail' })
  clock.advance(1000)
  await flush()
  r = report()
  t.equal(r.upstreams[0]!.state, 'down')
  t.equal(r.upstreams[0]!.detail, 'health check failed: ECONNREFUSED')
  t.same(r.upstreams[0]!.healthCheck?.last, { result: 'fail', status: 0, healthStatus: null, error: 'ECONNREFUSED', at: '2030-01-01T00:00:01.001Z' })
  t.equal(r.upstreams[1]!.state, 'up')
  t.equal(r.upstreams[1]!.detail, 'degraded: health check says warn')
  t.equal(r.upstreams[1]!.healthCheck?.last?.result, 'warn')
  t.equal(r.upstreams[2]!.detail, 'health check failed: HTTP 503 fail')
  t.equal(r.state, 'backup', 'one of three primaries is below the 50 % panic threshold, and a backup is up')
  t.equal(r.upstreams[3]!.state, 'up')
  t.equal(r.eligible, 2, 'the degraded primary and the backup')
  engine.close()
})
