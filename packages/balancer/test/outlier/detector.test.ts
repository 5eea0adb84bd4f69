import t from 'tap'
import type { TransitionReason } from '../../src/events.js'
import { type OutlierDetectionOptions, OutlierDetector, parseRetryAfter } from '../../src/outlier/detector.js'
import { Upstream, UpstreamFlag } from '../../src/upstream/upstream.js'
import { ManualClock } from '../../src/util/clock.js'
import { type Random, SeededRandom } from '../../src/util/random.js'

const upstream = (port: number): Upstream => new Upstream({ url: `http://127.0.0.1:${port}`, weight: 1, backup: false, name: `u${port}` })

interface Transition { name: string, ejected: boolean, reason: TransitionReason, at: number, detail: Readonly<Record<string, unknown>> | undefined }

function setup (over: Partial<OutlierDetectionOptions> = {}, n = 4, random: Random = { next: () => 0 }) {
  const clock = new ManualClock()
  const transitions: Transition[] = []
  const detector = new OutlierDetector({
    consecutiveFailures: 5,
    consecutive5xx: false,
    baseEjectionTime: 30_000,
    maxEjectionTime: 300_000,
    maxEjectionPercent: 50,
    jitter: 0,
    unejectOnHealthCheck: true,
    ...over
  }, {
    clock,
    random,
    onTransition: (u, ejected, reason, detail) => { transitions.push({ name: u.name, ejected, reason, at: clock.now(), detail }) }
  })
  const ups = Array.from({ length: n }, (_, i) => upstream(3000 + i))
  for (const u of ups) detector.add(u)
  return { clock, detector, transitions, ups }
}

const fail = (d: OutlierDetector, u: Upstream, times: number, outcome: 'connect-failure' | 'reset' | 'timeout' = 'connect-failure'): void => {
  for (let i = 0; i < times; i++) d.record(u, outcome)
}

t.test('ejects after consecutiveFailures connect errors, resets and timeouts', async (t) => {
  const { detector, ups, transitions } = setup()
  const u = ups[0]!
  detector.record(u, 'connect-failure')
  detector.record(u, 'reset')
  detector.record(u, 'timeout')
  detector.record(u, 'connect-failure')
  t.notOk(u.has(UpstreamFlag.FAILED_OUTLIER), '4 of 5')
  t.equal(detector.stats(u)!.consecutive, 4)
  detector.record(u, 'timeout')
  t.ok(u.has(UpstreamFlag.FAILED_OUTLIER))
  t.notOk(u.available)
  t.equal(detector.ejected, 1)
  t.same(transitions.map((x) => [x.name, x.ejected, x.reason]), [['u3000', true, 'consecutive-failures']])
  t.same(transitions[0]!.detail, { failure: 'timeout', ejections: 1, ejectionTime: 30_000 })
  fail(detector, u, 20)
  t.equal(transitions.length, 1, 'failures while ejected neither re-eject nor extend')
})

t.test('a success resets the count', async (t) => {
  const { detector, ups } = setup()
  const u = ups[0]!
  for (let round = 0; round < 10; round++) {
    fail(detector, u, 4)
    detector.record(u, round % 2 === 0 ? 'success' : 200)
  }
  t.notOk(u.has(UpstreamFlag.FAILED_OUTLIER))
  fail(detector, u, 4)
  detector.record(u, { status: 404 })
  t.equal(detector.stats(u)!.consecutive, 0, 'any non-5xx answer is a success')
})

t.test('5xx: ignored (but proof of reachability) unless consecutive5xx is on', async (t) => {
  const off = setup()
  const u = off.ups[0]!
  fail(off.detector, u, 4)
  for (let i = 0; i < 10; i++) off.detector.record(u, 500)
  t.notOk(u.has(UpstreamFlag.FAILED_OUTLIER))
  t.equal(off.detector.stats(u)!.consecutive, 0)

  const on = setup({ consecutive5xx: true })
  const v = on.ups[0]!
  for (let i = 0; i < 4; i++) on.detector.record(v, 500 + i)
  t.notOk(v.has(UpstreamFlag.FAILED_OUTLIER))
  on.detector.record(v, 'reset') // mixed failures count together
  t.ok(v.has(UpstreamFlag.FAILED_OUTLIER))
  t.equal(on.transitions[0]!.detail?.failure, 'reset')
  const w = on.ups[1]!
  for (let i = 0; i < 5; i++) on.detector.record(w, { status: 500 })
  t.ok(w.has(UpstreamFlag.FAILED_OUTLIER), '5xx on its own ejects too (2 of 4 is within 50 %)')
})

t.test('ejection time: base × ejections, capped, with backoff; un-ejection resets counters', async (t) => {
  const { clock, detector, ups, transitions } = setup({ baseEjectionTime: 1000, maxEjectionTime: 3500 })
  const u = ups[0]!
  const durations: number[] = []
  for (let i = 0; i < 5; i++) {
    fail(detector, u, 5)
    const start = clock.now()
    while (u.has(UpstreamFlag.FAILED_OUTLIER)) clock.advance(10)
    durations.push(clock.now() - start)
    t.equal(detector.stats(u)!.consecutive, 0)
    fail(detector, u, 4)
    t.notOk(u.has(UpstreamFlag.FAILED_OUTLIER), 'not re-ejected on a few new errors')
    detector.record(u, 'success')
  }
  t.same(durations, [1000, 2000, 3000, 3500, 3500])
  t.equal(detector.stats(u)!.totalEjections, 5)
  t.same(transitions.filter((x) => !x.ejected).map((x) => x.reason), Array(5).fill('ejection-expired'))
})

t.test('ejection count decays: one step per baseEjectionTime spent healthy', async (t) => {
  const { clock, detector, ups } = setup({ baseEjectionTime: 1000, maxEjectionTime: 100_000 })
  const u = ups[0]!
  const ejectAndWait = (): number => {
    fail(detector, u, 5)
    const start = clock.now()
    while (u.has(UpstreamFlag.FAILED_OUTLIER)) clock.advance(10)
    return clock.now() - start
  }
  t.equal(ejectAndWait(), 1000)
  t.equal(ejectAndWait(), 2000)
  t.equal(ejectAndWait(), 3000)
  t.equal(detector.stats(u)!.ejections, 3)
  clock.advance(1999) // one whole base period healthy: 3 → 2, then this ejection makes 3
  t.equal(ejectAndWait(), 3000)
  clock.advance(2000) // two periods: 3 → 1, then 2
  t.equal(ejectAndWait(), 2000)
  clock.advance(60_000) // long healthy: back to a first offence
  t.equal(ejectAndWait(), 1000)
})

t.test('maxEjectionPercent: never above it, but one can always be ejected', async (t) => {
  const four = setup({}, 4)
  for (const u of four.ups) fail(four.detector, u, 5)
  t.equal(four.detector.ejected, 2, '50 % of 4')
  t.equal(four.detector.refused, 2)
  t.same(four.ups.map((u) => u.has(UpstreamFlag.FAILED_OUTLIER)), [true, true, false, false])

  const three = setup({}, 3)
  for (const u of three.ups) fail(three.detector, u, 5)
  t.equal(three.detector.ejected, 1, '2 of 3 would be 67 %')

  const two = setup({ maxEjectionPercent: 10 }, 2)
  for (const u of two.ups) fail(two.detector, u, 5)
  t.equal(two.detector.ejected, 1, 'one is always ejectable, even at 10 % of 2')

  const zero = setup({ maxEjectionPercent: 0 }, 1)
  fail(zero.detector, zero.ups[0]!, 5)
  t.equal(zero.detector.ejected, 1, 'a single upstream can be ejected (panic/last resort still reach it)')

  const all = setup({ maxEjectionPercent: 100 }, 3)
  for (const u of all.ups) fail(all.detector, u, 5)
  t.equal(all.detector.ejected, 3)

  // A refused ejection needs a fresh bout of failures; once a slot frees up, the next bout ejects.
  const { clock, detector, ups } = setup({ baseEjectionTime: 1000 }, 2)
  fail(detector, ups[0]!, 5)
  fail(detector, ups[1]!, 5)
  t.notOk(ups[1]!.has(UpstreamFlag.FAILED_OUTLIER))
  t.equal(detector.stats(ups[1]!)!.consecutive, 0)
  clock.advance(1000)
  t.notOk(ups[0]!.has(UpstreamFlag.FAILED_OUTLIER))
  fail(detector, ups[1]!, 5)
  t.ok(ups[1]!.has(UpstreamFlag.FAILED_OUTLIER))
})

t.test('un-ejection is jittered: up to `jitter` % later, different per upstream', async (t) => {
  const { clock, detector, ups } = setup({ baseEjectionTime: 10_000, jitter: 20, maxEjectionPercent: 100 }, 4, new SeededRandom(42))
  for (const u of ups) fail(detector, u, 5)
  const back = new Map<Upstream, number>()
  while (back.size < ups.length) {
    clock.advance(1)
    for (const u of ups) if (!back.has(u) && !u.has(UpstreamFlag.FAILED_OUTLIER)) back.set(u, clock.now())
  }
  const times = [...back.values()]
  for (const at of times) t.ok(at >= 10_000 && at <= 12_000, `back at ${at} within [10 s, 12 s]`)
  t.equal(new Set(times).size, 4, 'not all at once')
})

t.test('a passing active health check un-ejects early (unless turned off)', async (t) => {
  const { clock, detector, ups, transitions } = setup()
  const u = ups[0]!
  fail(detector, u, 5)
  clock.advance(1000)
  detector.onHealthCheckPassed(ups[1]!) // not ejected: nothing happens
  detector.onHealthCheckPassed(u)
  t.notOk(u.has(UpstreamFlag.FAILED_OUTLIER))
  t.equal(detector.ejected, 0)
  t.equal(transitions[1]!.reason, 'health-check-uneject')
  clock.advance(60_000)
  t.equal(transitions.length, 2, 'the cancelled timer does not fire')

  const off = setup({ unejectOnHealthCheck: false })
  fail(off.detector, off.ups[0]!, 5)
  off.detector.onHealthCheckPassed(off.ups[0]!)
  t.ok(off.ups[0]!.has(UpstreamFlag.FAILED_OUTLIER))
})

t.test('503 + Retry-After holds the upstream out until then (capped), extends, then releases', async (t) => {
  const { clock, detector, ups, transitions } = setup({ maxEjectionTime: 60_000 })
  const u = ups[0]!
  detector.record(u, { status: 503, retryAfterMs: 5000 })
  t.ok(u.has(UpstreamFlag.RETRY_AFTER))
  t.notOk(u.available)
  t.equal(detector.ejected, 0, 'a hold is not an ejection')
  t.same(transitions.map((x) => [x.ejected, x.reason]), [[true, 'retry-after']])
  clock.advance(2000)
  detector.recordStatus(u, 503, 1000) // shorter than what is left: ignored
  clock.advance(2999)
  t.ok(u.has(UpstreamFlag.RETRY_AFTER))
  detector.recordStatus(u, 503, 4000) // longer: extends to 4999 + 4000
  clock.advance(1)
  t.ok(u.has(UpstreamFlag.RETRY_AFTER), 'extended past the first deadline')
  clock.advance(3998)
  t.ok(u.has(UpstreamFlag.RETRY_AFTER))
  clock.advance(1)
  t.notOk(u.has(UpstreamFlag.RETRY_AFTER))
  t.same(transitions.map((x) => [x.ejected, x.reason, x.at]), [[true, 'retry-after', 0], [false, 'ejection-expired', 8999]])
  detector.record(u, 503) // no Retry-After: no hold
  detector.recordStatus(u, 500, 5000) // Retry-After on a 500: no hold
  t.notOk(u.has(UpstreamFlag.RETRY_AFTER))
  detector.recordStatus(u, 503, 3_600_000)
  t.equal(detector.stats(u)!.holdUntil, clock.now() + 60_000, 'capped by maxEjectionTime')
  // Holds of every upstream are allowed: the set's panic mode and last resort still reach them.
  for (const v of ups) detector.recordStatus(v, 503, 1000)
  t.ok(ups.every((v) => v.has(UpstreamFlag.RETRY_AFTER)))
  detector.onHealthCheckPassed(ups[1]!)
  t.ok(ups[1]!.has(UpstreamFlag.RETRY_AFTER), 'a health check does not override what the upstream asked for')
})

t.test('remove and stop: timers cancelled, flags cleared on remove', async (t) => {
  const { clock, detector, ups, transitions } = setup()
  fail(detector, ups[0]!, 5)
  detector.recordStatus(ups[1]!, 503, 1000)
  detector.remove(ups[0]!)
  detector.remove(ups[0]!)
  t.equal(detector.size, 3)
  t.equal(detector.ejected, 0)
  t.equal(ups[0]!.flags, 0)
  detector.record(ups[0]!, 'reset') // unknown upstream: ignored
  detector.record(ups[0]!, 'success')
  detector.recordStatus(ups[0]!, 503, 100)
  t.equal(detector.stats(ups[0]!), undefined)
  detector.stop()
  clock.advance(1_000_000)
  t.equal(transitions.length, 2, 'nothing fires after stop')
  t.equal(clock.pending, 0)
})

t.test('parseRetryAfter: delay-seconds or HTTP-date (RFC 9110 §10.2.3)', async (t) => {
  const now = Date.parse('2025-01-01T00:00:00Z')
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter(['3'], now), 3000)
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter(undefined, now), 0)
  t.equal(parseRetryAfter('', now), 0)
  t.equal(parseRetryAfter('1x', now), 0)
  t.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000)
  t.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:30 GMT', now), 0, 'in the past')
  t.equal(parseRetryAfter('soon', now), 0)
})
