import t from 'tap'
import { RetryBudget } from '../../src/retry/retry-budget.js'

t.test('allows retries up to percent % of requests in the window', async (t) => {
  const budget = new RetryBudget({ percent: 20, minPerSecond: 0, window: 10_000 })
  let now = 0
  for (let i = 0; i < 100; i++) budget.recordRequest(now)
  let allowed = 0
  while (budget.tryRetry(now)) allowed++
  t.equal(allowed, 20, '20 % of 100')
  t.notOk(budget.canRetry(now))
  for (let i = 0; i < 5; i++) budget.recordRequest(now)
  t.ok(budget.canRetry(now), 'five more requests earn one more retry')
  budget.recordRetry(now)
  t.notOk(budget.canRetry(now))
  t.same(budget.window, { requests: 105, retries: 21 })
  now += 10_000
  t.notOk(budget.canRetry(now), 'an empty window with no floor allows nothing')
  t.same(budget.window, { requests: 0, retries: 0 })
})

t.test('floor: minPerSecond × window seconds even without traffic', async (t) => {
  const budget = new RetryBudget({ percent: 20, minPerSecond: 3, window: 10_000 })
  let allowed = 0
  while (budget.tryRetry(0)) allowed++
  t.equal(allowed, 30, '3/s over 10 s')
  const small = new RetryBudget({ percent: 20, minPerSecond: 3, window: 1000 })
  allowed = 0
  for (let i = 0; i < 10; i++) small.recordRequest(0)
  while (small.tryRetry(0)) allowed++
  t.equal(allowed, 3, 'floor wins over 20 % of 10 requests')
  for (let i = 0; i < 100; i++) small.recordRequest(0)
  while (small.tryRetry(0)) allowed++
  t.equal(allowed, 22, 'share wins over the floor at 110 requests')
})

t.test('the window slides: old buckets leave, memory stays constant', async (t) => {
  const budget = new RetryBudget({ percent: 20, minPerSecond: 0, window: 1000 })
  // steady traffic: 10 requests per 100 ms bucket, and a retry whenever allowed
  let retries = 0
  let requests = 0
  let above = 0
  for (let now = 0; now < 60_000; now += 10) {
    budget.recordRequest(now)
    requests++
    if (budget.tryRetry(now)) retries++
    const w = budget.window
    if (w.retries > w.requests * 0.2 + 1e-9) above++
  }
  t.equal(above, 0, 'never above the share of the window')
  t.ok(retries / requests <= 0.2, `long-run share ${retries / requests}`)
  t.ok(retries / requests > 0.18, 'and the budget is actually usable')
  // a burst that saturates the budget is forgotten one window later
  const b2 = new RetryBudget({ percent: 20, minPerSecond: 0, window: 1000 })
  for (let i = 0; i < 50; i++) b2.recordRequest(0)
  while (b2.tryRetry(0));
  t.equal(b2.window.retries, 10)
  t.notOk(b2.canRetry(950), 'retries at t=0 still count at t=950')
  for (let i = 0; i < 50; i++) b2.recordRequest(1000)
  t.same(b2.window, { requests: 50, retries: 0 }, 'the t=0 bucket left the window at t=1000')
  t.ok(b2.canRetry(1000))
  b2.recordRetry(1000)
  t.same(b2.window, { requests: 50, retries: 1 })
  const b3 = new RetryBudget({ percent: 20, minPerSecond: 1 })
  for (let i = 0; i < 10; i++) b3.tryRetry(0)
  t.notOk(b3.canRetry(5000), 'default 10 s window: floor of 10 used up')
  t.ok(b3.canRetry(1_000_000), 'a long gap resets everything at once')
  t.same(b3.window, { requests: 0, retries: 0 })
})

t.test('a fleet-wide failure: attempts per request stay ≤ 1 + percent (plus the floor)', async (t) => {
  const budget = new RetryBudget({ percent: 20, minPerSecond: 3, window: 10_000 })
  // 1000 requests per second for 30 s, every attempt fails, up to 2 retries each
  let attempts = 0
  let requests = 0
  for (let ms = 0; ms < 30_000; ms++) {
    budget.recordRequest(ms)
    requests++
    attempts++
    for (let r = 0; r < 2 && budget.tryRetry(ms); r++) attempts++
  }
  const amplification = attempts / requests
  t.ok(amplification <= 1.21, `amplification ${amplification.toFixed(3)}`)
})
