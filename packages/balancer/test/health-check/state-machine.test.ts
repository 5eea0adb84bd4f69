import t from 'tap'
import {
  DEFAULT_EXPECTED_STATUSES, HealthState, HealthTransition, type HealthStateOptions, type ProbeResult, Verdict, type VerdictValue, verdictOf
} from '../../src/health-check/state-machine.js'
import { Upstream, UpstreamFlag } from '../../src/upstream/upstream.js'

const upstream = (port = 3001): Upstream => new Upstream({ url: `http://127.0.0.1:${port}`, weight: 1, backup: false, name: `u${port}` })
const options = (over: Partial<HealthStateOptions> = {}): HealthStateOptions => ({
  healthyThreshold: 2, unhealthyThreshold: 3, initialState: 'unhealthy', expectedStatuses: DEFAULT_EXPECTED_STATUSES, ...over
})
const PASS: ProbeResult = { status: 200 }
const FAIL: ProbeResult = { status: 503 }
const { Unchanged, Changed, ChangePending } = HealthTransition

t.test('verdictOf: expected statuses and application/health+json', async (t) => {
  const table: Array<[ProbeResult, VerdictValue]> = [
    [{ status: 200 }, Verdict.Pass],
    [{ status: 204 }, Verdict.Pass],
    [{ status: 399 }, Verdict.Pass],
    [{ status: 400 }, Verdict.Fail],
    [{ status: 500 }, Verdict.Fail],
    [{ status: 199 }, Verdict.Fail],
    [{ status: 0, error: new Error('ECONNREFUSED') }, Verdict.Fail],
    [{ status: 200, error: new Error('body') }, Verdict.Fail],
    [{ status: 200, healthJsonStatus: 'pass' }, Verdict.Pass],
    [{ status: 200, healthJsonStatus: 'warn' }, Verdict.Warn],
    [{ status: 200, healthJsonStatus: 'fail' }, Verdict.Fail],
    [{ status: 200, healthJsonStatus: 'down' }, Verdict.Fail],
    [{ status: 200, healthJsonStatus: 'up' }, Verdict.Pass],
    [{ status: 503, healthJsonStatus: 'warn' }, Verdict.Fail]
  ]
  for (const [result, verdict] of table) t.equal(verdictOf(result, DEFAULT_EXPECTED_STATUSES), verdict, JSON.stringify(result))
  t.equal(verdictOf({ status: 404 }, [[200, 299], [404, 404]]), Verdict.Pass, 'custom ranges')
  t.equal(verdictOf({ status: 302 }, [[200, 299], [404, 404]]), Verdict.Fail)
})

t.test('starts unhealthy: needs healthyThreshold passes in a row (HAProxy rise)', async (t) => {
  const u = upstream()
  const s = new HealthState(u, options())
  t.ok(u.has(UpstreamFlag.FAILED_ACTIVE_HC))
  t.notOk(u.has(UpstreamFlag.PENDING_ACTIVE_HC))
  t.notOk(u.available)
  t.equal(s.record(PASS), ChangePending)
  t.equal(s.record(FAIL), Unchanged, 'a failure resets the rise count')
  t.equal(s.record(PASS), ChangePending)
  t.equal(s.record(PASS), Changed)
  t.ok(s.healthy)
  t.ok(u.available)
  t.equal(s.record(PASS), Unchanged)
  t.equal(s.checks, 5)
  t.same(s.last, PASS)
})

t.test('healthy: goes down after unhealthyThreshold failures in a row (HAProxy fall)', async (t) => {
  const u = upstream()
  const s = new HealthState(u, options({ healthyThreshold: 1 }))
  t.equal(s.record(PASS), Changed)
  t.equal(s.record(FAIL), ChangePending)
  t.equal(s.record(FAIL), ChangePending)
  t.equal(s.record(PASS), Unchanged, 'a pass resets the fall count')
  t.equal(s.record(FAIL), ChangePending)
  t.equal(s.record(FAIL), ChangePending)
  t.ok(u.available, 'still up after 2 of 3')
  t.equal(s.record(FAIL), Changed)
  t.ok(u.has(UpstreamFlag.FAILED_ACTIVE_HC))
  t.notOk(u.available)
  t.equal(s.record(FAIL), Unchanged)
})

t.test('pending start: the first verdict decides at once, either way (Envoy first check)', async (t) => {
  const up = upstream()
  const s = new HealthState(up, options({ initialState: 'pending' }))
  t.ok(up.has(UpstreamFlag.PENDING_ACTIVE_HC))
  t.notOk(up.has(UpstreamFlag.FAILED_ACTIVE_HC))
  t.ok(s.pending)
  t.notOk(s.healthy)
  t.notOk(up.available, 'pending is not eligible (but is in doubt)')
  t.equal(s.record(PASS), Changed)
  t.notOk(s.pending)
  t.ok(s.healthy)
  t.ok(up.available)

  const down = upstream(3002)
  const d = new HealthState(down, options({ initialState: 'pending' }))
  t.equal(d.record(FAIL), Changed)
  t.notOk(d.pending)
  t.ok(down.has(UpstreamFlag.FAILED_ACTIVE_HC))
  t.equal(d.record(PASS), ChangePending, 'then the usual rise applies')
  t.equal(d.record(PASS), Changed)
  t.ok(down.available)
})

t.test('health+json warn: healthy but DEGRADED, still eligible; pass clears it', async (t) => {
  const u = upstream()
  const s = new HealthState(u, options({ initialState: 'pending' }))
  const WARN: ProbeResult = { status: 200, healthJsonStatus: 'warn' }
  t.equal(s.record(WARN), Changed)
  t.ok(u.has(UpstreamFlag.DEGRADED))
  t.ok(u.available, 'DEGRADED does not exclude')
  t.equal(s.record(WARN), Unchanged)
  t.equal(s.record({ status: 200, healthJsonStatus: 'pass' }), Changed, 'degraded cleared: pickers must refresh')
  t.notOk(u.has(UpstreamFlag.DEGRADED))
  t.equal(s.record(WARN), Changed)
  // fail counts as a failure even with HTTP 200
  const FJ: ProbeResult = { status: 200, healthJsonStatus: 'fail' }
  t.equal(s.record(FJ), ChangePending)
  t.equal(s.record(FJ), ChangePending)
  t.equal(s.record(FJ), Changed)
  t.ok(u.has(UpstreamFlag.FAILED_ACTIVE_HC))
  t.notOk(u.has(UpstreamFlag.DEGRADED), 'an unhealthy upstream is not also degraded')
  t.equal(s.record(WARN), ChangePending)
  t.notOk(u.has(UpstreamFlag.DEGRADED), 'not degraded while still down')
  t.equal(s.record(WARN), Changed)
  t.ok(u.has(UpstreamFlag.DEGRADED))
  t.ok(u.available)
})

t.test('clear() drops every flag the checker owns', async (t) => {
  const u = upstream()
  const s = new HealthState(u, options())
  u.setFlag(UpstreamFlag.DRAINING, true)
  s.clear()
  t.equal(u.flags, UpstreamFlag.DRAINING, 'only foreign flags remain')
  t.equal(s.successes, 0)
  t.equal(s.failures, 0)
})
