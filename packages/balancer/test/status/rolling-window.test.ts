import t from 'tap'
import { binValue, LATENCY_BINS, latencyBin, quantileOfBins, RollingWindow } from '../../src/status/rolling-window.js'
import { ManualClock } from '../../src/util/clock.js'

t.test('latency bins: 4 per octave from 0.1 ms, the reported value within ±10 %', async (t) => {
  t.equal(latencyBin(0), 0)
  t.equal(latencyBin(0.05), 0)
  t.equal(latencyBin(Number.NaN), 0)
  t.equal(latencyBin(0.1), 1)
  t.equal(latencyBin(0.2), 5, 'one octave up is 4 bins up')
  t.equal(latencyBin(1e9), LATENCY_BINS - 1, 'the last bin takes everything above')
  for (const ms of [0.13, 0.9, 1, 2.5, 7, 42, 99.9, 1234, 30_000]) {
    const reported = binValue(latencyBin(ms))
    t.ok(Math.abs(reported - ms) / ms < 0.1, `${ms} ms is reported as ${reported.toFixed(3)}`)
  }
  t.equal(quantileOfBins([0, 0, 0], 0, 0.5), null, 'no samples, no percentile')
  t.equal(quantileOfBins([1, 0, 3], 4, 0.5), binValue(2), 'nearest rank')
  t.equal(quantileOfBins([1, 0, 3], 4, 0.25), binValue(0))
})

t.test('recent(): the current bucket plus the completed one before it', async (t) => {
  const clock = new ManualClock(0)
  const w = new RollingWindow(clock, { bucketMs: 1000, buckets: 5 })
  t.same(w.recent(), { span: 1, requests: 0, failures: 0, rps: 0, errorRate: 0, p50: null, p99: null }, 'empty')
  // 98 answers at 2 ms, one at 50 ms, one at 400 ms, and two connect failures without a latency.
  for (let i = 0; i < 98; i++) w.record(2, false)
  w.record(50, false)
  w.record(400, true)
  w.record(-1, true)
  w.record(-1, true)
  clock.advance(500)
  const r = w.recent()
  t.equal(r.requests, 102)
  t.equal(r.failures, 3)
  t.equal(r.span, 500, 'half a bucket has passed')
  t.equal(r.rps, 204)
  t.equal(r.errorRate, 3 / 102)
  t.ok(Math.abs(r.p50! - 2) < 0.2, `p50 ≈ 2 ms (${r.p50})`)
  t.ok(Math.abs(r.p99! - 50) < 5, `p99 ≈ 50 ms (${r.p99}): the 99th of 100 samples`)
  clock.advance(1000) // now 1500: the first bucket is the completed one
  t.equal(w.recent().requests, 102)
  t.equal(w.recent().span, 1500)
  t.equal(w.recent(0).requests, 0, 'the current bucket alone is empty')
  clock.advance(1000) // now 2500: the first bucket is two buckets back
  t.equal(w.recent().requests, 0)
  t.equal(w.totalRequests, 102, 'totals are kept')
  t.equal(w.totalFailures, 3)
})

t.test('history(): one point per completed bucket, oldest first; old buckets fall out', async (t) => {
  const clock = new ManualClock(10_000)
  const w = new RollingWindow(clock, { bucketMs: 1000, buckets: 4 })
  // Three completed buckets: 1, 2 and 4 requests per second, the last with a failure and slower answers.
  w.record(1, false)
  clock.advance(1000)
  w.record(1, false)
  w.record(1, false)
  clock.advance(1000)
  for (let i = 0; i < 3; i++) w.record(10, false)
  w.record(-1, true)
  clock.advance(1000)
  w.record(5, false) // the current bucket: not in history
  const h = w.history()
  t.equal(h.bucketMs, 1000)
  t.equal(h.start, 10_000, 'starts at the oldest completed bucket')
  t.same(h.rps, [1, 2, 4])
  t.same(h.errorRate, [0, 0, 0.25])
  t.equal(h.p99[0], binValue(latencyBin(1)))
  t.equal(h.p99[2], binValue(latencyBin(10)))
  // Two buckets later the first two have left the window; an idle bucket reads 0 req/s, no error rate, no p99.
  clock.advance(2000)
  const later = w.history()
  t.equal(later.start, 12_000)
  t.same(later.rps, [4, 1, 0])
  t.same(later.errorRate, [0.25, 0, null])
  t.same(later.p99[2], null)
  // Silence longer than the window clears it all.
  clock.advance(60_000)
  t.same(w.history().rps, [0, 0, 0])
  t.equal(w.recent().requests, 0)
})

t.test('counts only (no latency arrays) for per-balancer counters', async (t) => {
  const clock = new ManualClock()
  const w = new RollingWindow(clock, { bucketMs: 1000, buckets: 3, latency: false })
  w.record(12, true)
  w.record(-1, true)
  clock.advance(1000)
  const r = w.recent()
  t.equal(r.requests, 2)
  t.equal(r.p99, null)
  t.same(w.history().p99, [null, null])
  t.same(w.history().rps, [null, 2], 'before the window existed: no data (null), not 0')
  t.throws(() => new RollingWindow(clock, { bucketMs: 0, buckets: 3 }), RangeError)
  t.throws(() => new RollingWindow(clock, { bucketMs: 1000, buckets: 1 }), RangeError)
})
