/** TTL math (pure): connect-redis' rules, sliding windows and restored expiries, with fixed clocks. */
import t from 'tap'
import { expiresAtOf, maxAgeOf, planExpiry, restoredExpiresAt } from '../src/ttl.js'

const NOW = 1_700_000_000_000

t.test('expiresAtOf / maxAgeOf accept the Cookie and its JSON form', async (t) => {
  t.equal(expiresAtOf({ expires: new Date(NOW) }), NOW)
  t.equal(expiresAtOf({ expires: new Date(NOW).toISOString() }), NOW)
  t.equal(expiresAtOf({ expires: NOW }), NOW)
  t.equal(expiresAtOf({ expires: 'not a date' }), 0)
  t.equal(expiresAtOf({ expires: null }), 0)
  t.equal(expiresAtOf(undefined), 0)
  t.equal(maxAgeOf({ originalMaxAge: 5000 }), 5000)
  t.equal(maxAgeOf({ originalMaxAge: null }), 0)
  t.equal(maxAgeOf({ originalMaxAge: -1 }), 0)
  t.equal(maxAgeOf(null), 0)
})

t.test('planExpiry', async (t) => {
  const table: Array<[string, Record<string, unknown>, number | ((s: Record<string, unknown>) => number), ReturnType<typeof planExpiry>]> = [
    ['maxAge cookie: TTL to the cookie expiry, slides by maxAge',
      { cookie: { expires: new Date(NOW + 60_000), originalMaxAge: 60_000 } }, 86_400,
      { ttlMs: 60_000, slideMs: 60_000, maxAgeMs: 60_000, expiresAt: NOW + 60_000 }],
    ['fixed expires without maxAge: does not slide',
      { cookie: { expires: new Date(NOW + 5000), originalMaxAge: null } }, 86_400,
      { ttlMs: 5000, slideMs: 0, maxAgeMs: 0, expiresAt: NOW + 5000 }],
    ['browser-session cookie: the ttl option, sliding',
      { cookie: { expires: null, originalMaxAge: null } }, 120,
      { ttlMs: 120_000, slideMs: 120_000, maxAgeMs: 0, expiresAt: 0 }],
    ['no cookie at all: the ttl option', {}, 86_400,
      { ttlMs: 86_400_000, slideMs: 86_400_000, maxAgeMs: 0, expiresAt: 0 }],
    ['a ttl function wins, verbatim (seconds)',
      { cookie: { expires: new Date(NOW + 60_000), originalMaxAge: 60_000 } }, () => 42,
      { ttlMs: 42_000, slideMs: 42_000, maxAgeMs: 60_000, expiresAt: NOW + 60_000 }],
    ['expiry in the past: expired', { cookie: { expires: new Date(NOW - 1) } }, 86_400, null],
    ['expiry now: expired', { cookie: { expires: new Date(NOW) } }, 86_400, null],
    ['ttl function returning 0: expired', { cookie: {} }, () => 0, null],
    ['ttl function returning NaN: expired', { cookie: {} }, () => Number.NaN, null],
    ['fractional ms are floored', { cookie: { expires: NOW + 1500.7 } }, 86_400,
      { ttlMs: 1500, slideMs: 0, maxAgeMs: 0, expiresAt: NOW + 1500 }],
    ['fractional maxAge is floored', { cookie: { expires: NOW + 2000, originalMaxAge: 2000.5 } }, 86_400,
      { ttlMs: 2000, slideMs: 2000, maxAgeMs: 2000, expiresAt: NOW + 2000 }]
  ]
  for (const [name, session, ttl, expected] of table) t.same(planExpiry(session, ttl, NOW), expected, name)
  t.same(planExpiry({ user: 'x' }, (s) => (s.user === 'x' ? 7 : 1), NOW)?.ttlMs, 7000, 'the function sees the session')
})

t.test('restoredExpiresAt', async (t) => {
  t.equal(restoredExpiresAt({ maxAgeMs: 60_000, expiresAt: NOW - 5000 }, true, NOW), NOW + 60_000,
    'rolling: a maxAge session read now expires now + maxAge')
  t.equal(restoredExpiresAt({ maxAgeMs: 60_000, expiresAt: NOW - 5000 }, false, NOW), NOW - 5000,
    'not rolling: the stored expiry stands')
  t.equal(restoredExpiresAt({ maxAgeMs: 0, expiresAt: NOW + 10 }, true, NOW), NOW + 10, 'a fixed expiry never moves')
  t.equal(restoredExpiresAt({ maxAgeMs: 0, expiresAt: 0 }, true, NOW), 0)
})
