import t from 'tap'
import { aggregateStatus, contribution, httpStatusFor } from '../../src/report/status.js'
import type { CheckStatus } from '../../src/report/types.js'

const STATUSES: CheckStatus[] = ['pass', 'warn', 'fail']

t.test('one check: every status × critical/non-critical', async (t) => {
  const expected: Record<string, CheckStatus> = {
    'critical pass': 'pass',
    'critical warn': 'warn',
    'critical fail': 'fail',
    'non-critical pass': 'pass',
    'non-critical warn': 'warn',
    // A non-critical dependency down degrades the service, it never takes it out of the pool.
    'non-critical fail': 'warn'
  }
  for (const critical of [true, false]) {
    for (const status of STATUSES) {
      const key = `${critical ? 'critical' : 'non-critical'} ${status}`
      t.equal(aggregateStatus([{ critical, status }]), expected[key], key)
      t.equal(contribution(critical, status), expected[key], `contribution: ${key}`)
    }
  }
})

t.test('two checks (one critical, one not): all 9 combinations, and HTTP status', async (t) => {
  // [critical status, non-critical status] → service status
  const table: Array<[CheckStatus, CheckStatus, CheckStatus, number]> = [
    ['pass', 'pass', 'pass', 200],
    ['pass', 'warn', 'warn', 200],
    ['pass', 'fail', 'warn', 200],
    ['warn', 'pass', 'warn', 200],
    ['warn', 'warn', 'warn', 200],
    ['warn', 'fail', 'warn', 200],
    ['fail', 'pass', 'fail', 503],
    ['fail', 'warn', 'fail', 503],
    ['fail', 'fail', 'fail', 503]
  ]
  for (const [crit, nonCrit, expected, code] of table) {
    const results = [{ critical: true, status: crit }, { critical: false, status: nonCrit }]
    const status = aggregateStatus(results)
    t.equal(status, expected, `critical ${crit} + non-critical ${nonCrit} → ${expected}`)
    t.equal(httpStatusFor(status), code, `${expected} → ${code}`)
    // Order of checks does not matter.
    t.equal(aggregateStatus([...results].reverse()), expected, 'reversed order')
  }
})

t.test('two critical checks: the worst wins', async (t) => {
  for (const a of STATUSES) {
    for (const b of STATUSES) {
      const expected = a === 'fail' || b === 'fail' ? 'fail' : a === 'warn' || b === 'warn' ? 'warn' : 'pass'
      t.equal(aggregateStatus([{ critical: true, status: a }, { critical: true, status: b }]), expected, `${a} + ${b}`)
    }
  }
})

t.test('no checks is pass; draining is fail whatever the checks say', async (t) => {
  t.equal(aggregateStatus([]), 'pass')
  t.equal(aggregateStatus([], true), 'fail')
  for (const status of STATUSES) {
    t.equal(aggregateStatus([{ critical: true, status }], true), 'fail', `draining + ${status}`)
  }
})
