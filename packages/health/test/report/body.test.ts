import t from 'tap'
import { buildReport, checkEntry, PUBLIC_BODY } from '../../src/report/body.js'
import type { CheckResult } from '../../src/report/types.js'

function result (overrides: Partial<CheckResult>): CheckResult {
  return {
    name: 'redis:ping',
    critical: true,
    status: 'pass',
    componentType: 'datastore',
    componentId: undefined,
    observedValue: 1.25,
    observedUnit: 'ms',
    output: undefined,
    affectedEndpoints: undefined,
    links: undefined,
    time: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
    ...overrides
  }
}

t.test('a check entry follows draft-inadarei-api-health-check: keys, values as one-element arrays', async (t) => {
  const report = buildReport({
    status: 'warn',
    meta: { version: '1', releaseId: '1.2.3', serviceId: 'orders', description: 'orders api', notes: ['n'], links: { about: 'http://x' } },
    results: [
      result({}),
      result({ name: 'orders-api:responseTime', critical: false, status: 'fail', componentType: 'component', observedValue: undefined, observedUnit: undefined, output: 'ECONNREFUSED', affectedEndpoints: ['/orders'], componentId: 'o-1' })
    ]
  })
  t.same(report, {
    status: 'warn',
    version: '1',
    releaseId: '1.2.3',
    notes: ['n'],
    serviceId: 'orders',
    description: 'orders api',
    checks: {
      'redis:ping': [{ componentType: 'datastore', observedValue: 1.25, observedUnit: 'ms', status: 'pass', time: '2026-01-01T00:00:00.000Z' }],
      'orders-api:responseTime': [{ componentId: 'o-1', componentType: 'component', status: 'fail', affectedEndpoints: ['/orders'], time: '2026-01-01T00:00:00.000Z', output: 'ECONNREFUSED' }]
    },
    links: { about: 'http://x' }
  })
  t.equal(Object.keys(report)[0], 'status', 'status comes first')
})

t.test('output and affectedEndpoints are omitted on pass (draft §3.8, §4.6)', async (t) => {
  const entry = checkEntry(result({ status: 'pass', output: 'fine', affectedEndpoints: ['/x'] }))
  t.notOk('output' in entry)
  t.notOk('affectedEndpoints' in entry)
  const failing = checkEntry(result({ status: 'fail', output: 'boom', affectedEndpoints: ['/x'] }))
  t.equal(failing.output, 'boom')
  t.same(failing.affectedEndpoints, ['/x'])
})

t.test('no results → no checks member; a top-level output is kept', async (t) => {
  t.same(buildReport({ status: 'pass', meta: {} }), { status: 'pass' })
  t.same(buildReport({ status: 'fail', meta: {}, results: [], output: 'draining' }), { status: 'fail', output: 'draining', checks: {} })
})

t.test('public bodies carry the status alone', async (t) => {
  t.same(JSON.parse(PUBLIC_BODY.pass), { status: 'pass' })
  t.same(JSON.parse(PUBLIC_BODY.warn), { status: 'warn' })
  t.same(JSON.parse(PUBLIC_BODY.fail), { status: 'fail' })
})
