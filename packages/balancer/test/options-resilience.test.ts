import t from 'tap'
import {
  DEFAULT_BASE_EJECTION_TIME, DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_HEALTH_CHECK_PATH,
  DEFAULT_MAX_EJECTION_PERCENT, DEFAULT_RETRY_BUDGET_PERCENT, validateOptions
} from '@switchyard/balancer'

const U = ['http://127.0.0.1:1']
const cases: Array<[string, Record<string, unknown>, RegExp]> = [
  ['healthCheck not an object', { healthCheck: 'yes' }, /healthCheck must be an object, true or false \(got "yes"\)/],
  ['healthCheck unknown key', { healthCheck: { intreval: 5 } }, /healthCheck\.intreval is not an option of healthCheck/],
  ['healthCheck.interval', { healthCheck: { interval: 0 } }, /healthCheck\.interval must be a positive number of milliseconds/],
  ['healthCheck.timeout', { healthCheck: { timeout: '1s' } }, /healthCheck\.timeout must be a positive number of milliseconds \(got "1s"\)/],
  ['healthCheck.jitter', { healthCheck: { jitter: 120 } }, /healthCheck\.jitter must be a percentage/],
  ['healthCheck.path', { healthCheck: { path: 'health' } }, /healthCheck\.path must be a path starting with \//],
  ['healthCheck.healthyThreshold', { healthCheck: { healthyThreshold: 0 } }, /healthCheck\.healthyThreshold must be a positive integer/],
  ['healthCheck.unhealthyThreshold', { healthCheck: { unhealthyThreshold: 1.5 } }, /healthCheck\.unhealthyThreshold must be a positive integer/],
  ['healthCheck.initialState', { healthCheck: { initialState: 'up' } }, /healthCheck\.initialState must be "pending" or "unhealthy"/],
  ['healthCheck.headers', { healthCheck: { headers: { a: 1 } } }, /healthCheck\.headers must be an object of string values/],
  ['healthCheck.expectedStatuses', { healthCheck: { expectedStatuses: [[300, 200]] } }, /healthCheck\.expectedStatuses must be a non-empty array/],
  ['upstream healthCheck.url', { upstreams: [{ url: U[0], healthCheck: { url: 'ftp://x' } }] }, /upstreams\[0\]\.healthCheck\.url must be an http\(s\) URL or a path/],
  ['upstream healthCheck key', { upstreams: [{ url: U[0], healthCheck: { path: '/x' } }] }, /upstreams\[0\]\.healthCheck\.path is not an option of upstreams\[0\]\.healthCheck/],
  ['outlierDetection type', { outlierDetection: 5 }, /outlierDetection must be an object, true or false/],
  ['outlierDetection unknown key', { outlierDetection: { interval: 5 } }, /outlierDetection\.interval is not an option of outlierDetection/],
  ['outlierDetection.consecutiveFailures', { outlierDetection: { consecutiveFailures: 0 } }, /outlierDetection\.consecutiveFailures must be a positive integer/],
  ['outlierDetection.maxEjectionPercent', { outlierDetection: { maxEjectionPercent: -1 } }, /outlierDetection\.maxEjectionPercent must be a percentage/],
  ['outlierDetection max < base', { outlierDetection: { baseEjectionTime: 10_000, maxEjectionTime: 5000 } }, /outlierDetection\.maxEjectionTime \(5000\) must not be smaller than outlierDetection\.baseEjectionTime \(10000\)/],
  ['outlierDetection.consecutive5xx', { outlierDetection: { consecutive5xx: 'yes' } }, /outlierDetection\.consecutive5xx must be true or false/],
  ['slowStart type', { slowStart: 30_000 }, /slowStart must be an object like \{ window: 30000 \}/],
  ['slowStart.window', { slowStart: { window: -1 } }, /slowStart\.window must be a non-negative number of milliseconds/],
  ['slowStart.minWeightPercent', { slowStart: { window: 1, minWeightPercent: 0 } }, /slowStart\.minWeightPercent must be above 0/],
  ['slowStart.aggression', { slowStart: { window: 1, aggression: 0 } }, /slowStart\.aggression must be a positive number/],
  ['retry.budget type', { retry: { budget: 20 } }, /retry\.budget must be an object or false/],
  ['retry.budget.percent', { retry: { budget: { percent: 200 } } }, /retry\.budget\.percent must be a percentage/],
  ['retry.budget.minPerSecond', { retry: { budget: { minPerSecond: -1 } } }, /retry\.budget\.minPerSecond must be a non-negative number/],
  ['retry.budget unknown key', { retry: { budget: { ratio: 1 } } }, /retry\.budget\.ratio is not an option of retry\.budget/],
  ['maxInFlightPerUpstream', { maxInFlightPerUpstream: 2.5 }, /maxInFlightPerUpstream must be a positive integer/]
]

t.test('resilience options: every invalid value names its option path', async (t) => {
  for (const [name, options, message] of cases) {
    t.throws(() => validateOptions({ upstreams: U, ...options }), { code: 'SWY_BALANCER_INVALID_OPTION', message }, name)
  }
})

t.test('defaults: health checks off, outlier detection and the retry budget on, slow start and circuit breaking off', async (t) => {
  const o = validateOptions({ upstreams: U })
  t.equal(o.healthCheck, null)
  t.equal(o.outlierDetection?.consecutiveFailures, DEFAULT_CONSECUTIVE_FAILURES)
  t.equal(o.outlierDetection?.baseEjectionTime, DEFAULT_BASE_EJECTION_TIME)
  t.equal(o.outlierDetection?.maxEjectionPercent, DEFAULT_MAX_EJECTION_PERCENT)
  t.equal(o.outlierDetection?.consecutive5xx, false)
  t.same(o.retry.budget, { percent: DEFAULT_RETRY_BUDGET_PERCENT, minPerSecond: 3, window: 10_000 })
  t.same(o.slowStart, { window: 0, minWeightPercent: 10, aggression: 1 })
  t.equal(o.maxInFlightPerUpstream, 0)
  const hc = validateOptions({ upstreams: U, healthCheck: true }).healthCheck!
  t.same({ ...hc }, {
    path: DEFAULT_HEALTH_CHECK_PATH,
    interval: DEFAULT_HEALTH_CHECK_INTERVAL,
    jitter: 10,
    timeout: 1000,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    expectedStatuses: [[200, 399]],
    headers: {},
    initialState: 'pending'
  })
  t.ok(Object.isFrozen(hc))
  const custom = validateOptions({
    upstreams: [{ url: U[0]!, healthCheck: { url: 'http://127.0.0.1:9/admin/health' } }],
    healthCheck: { expectedStatuses: [200, [300, 302]], headers: { authorization: 'x' } },
    outlierDetection: false,
    retry: { budget: false },
    slowStart: { window: 5000 },
    maxInFlightPerUpstream: 100
  })
  t.same(custom.healthCheck!.expectedStatuses, [[200, 200], [300, 302]])
  t.same(custom.upstreams[0]!.healthCheck, { url: 'http://127.0.0.1:9/admin/health' })
  t.equal(custom.outlierDetection, null)
  t.equal(custom.retry.budget, null)
  t.equal(custom.slowStart.window, 5000)
  t.equal(custom.maxInFlightPerUpstream, 100)
  t.equal(validateOptions({ upstreams: U, outlierDetection: { baseEjectionTime: 600_000 } }).outlierDetection!.maxEjectionTime, 600_000,
    'the default cap follows a larger base')
  t.equal(validateOptions({ upstreams: U, retry: false }).retry.budget?.percent, 20)
})
