import t from 'tap'
import {
  DEFAULT_DECAY_TIME, DEFAULT_FAILURE_LATENCY, DEFAULT_LATENCY, PeakEwmaPicker, type Upstream, latencyEstimate, observeFailure,
  observeLatency
} from '@switchyard/balancer/pickers'
import { type UpstreamSpec, build, context, sequence, simulate, upstreams } from './helpers.js'

function fresh (): Upstream {
  return upstreams(1)[0]!
}

t.test('observeLatency follows Finagle: peaks replace, lower samples decay in with exp(−Δt/τ)', async (t) => {
  const e = Math.exp(-1)
  const cases: Array<{ name: string, before?: [number, number], rtt: number, now: number, tau: number, expected: number }> = [
    { name: 'first sample is taken as is', rtt: 12, now: 5, tau: 10_000, expected: 12 },
    { name: 'a peak replaces the average at once', before: [10, 0], rtt: 80, now: 1, tau: 10_000, expected: 80 },
    { name: 'a lower sample one τ later weighs 1 − e⁻¹', before: [100, 0], rtt: 10, now: 10_000, tau: 10_000, expected: 100 * e + 10 * (1 - e) },
    { name: 'same instant: no weight for the new sample', before: [100, 50], rtt: 10, now: 50, tau: 10_000, expected: 100 },
    { name: 'much later: the new sample takes over', before: [100, 0], rtt: 10, now: 1_000_000, tau: 10_000, expected: 10 },
    { name: 'short window', before: [40, 0], rtt: 20, now: 100, tau: 100, expected: 40 * e + 20 * (1 - e) },
    { name: 'a 0 ms sample counts as 1 µs, so 0 keeps meaning "never answered"', rtt: 0, now: 0, tau: 10_000, expected: 0.001 }
  ]
  for (const c of cases) {
    const u = fresh()
    if (c.before !== undefined) { u.latencyEwma = c.before[0]; u.latencyStamp = c.before[1] }
    observeLatency(u, c.rtt, c.now, c.tau)
    t.ok(Math.abs(u.latencyEwma - c.expected) < 1e-9, `${c.name}: ${u.latencyEwma} ≈ ${c.expected}`)
    t.equal(u.latencyStamp, c.now)
  }
  const u = fresh()
  observeLatency(u, 50, 0, 1000)
  t.ok(Math.abs(latencyEstimate(u, 1000, 1000) - 50 * Math.exp(-1)) < 1e-9, 'estimate decays toward 0 between samples')
  t.equal(latencyEstimate(u, -5, 1000), 50, 'no decay backwards in time')
})

t.test('observeFailure: a fast failure counts as a slow answer, a slow one as itself', async (t) => {
  const u = fresh()
  observeLatency(u, 2, 0, 1000)
  observeFailure(u, 0.3, 1, 1000)
  t.equal(u.latencyEwma, DEFAULT_FAILURE_LATENCY, 'refused in 0.3 ms: recorded as 1 s')
  const v = fresh()
  observeFailure(v, 5000, 1, 1000, 100)
  t.equal(v.latencyEwma, 5000, 'a timeout after 5 s: recorded as 5 s')
})

t.test('cost = decayed latency × (inFlight + 1) / weight, with the probe rule', async (t) => {
  const picker = new PeakEwmaPicker({ random: { next: () => 0 }, clock: { now: () => 0, setTimeout: () => ({ cancel () {} }) } },
    { decayTime: 1000, defaultLatency: 3, excludeEventLoopDelay: true })
  const cases: Array<{ name: string, spec: UpstreamSpec, now: number, expected: number }> = [
    { name: 'known, fresh', spec: { latency: 10, stamp: 0, inFlight: 4 }, now: 0, expected: 50 },
    { name: 'known, decayed one τ', spec: { latency: 10, stamp: 0, inFlight: 0 }, now: 1000, expected: 10 * Math.exp(-1) },
    { name: 'weighted', spec: { latency: 10, stamp: 0, inFlight: 1, weight: 4 }, now: 0, expected: 5 },
    { name: 'never answered, idle: default latency', spec: { inFlight: 0 }, now: 0, expected: 3 },
    { name: 'never answered, probe in flight: prohibitive', spec: { inFlight: 1 }, now: 0, expected: 1e15 + 1 },
    { name: 'stale (older than τ), idle: decayed old latency', spec: { latency: 100, stamp: 0, inFlight: 0 }, now: 2000, expected: 100 * Math.exp(-2) },
    { name: 'stale, probe in flight: prohibitive', spec: { latency: 100, stamp: 0, inFlight: 2 }, now: 2000, expected: 1e15 + 2 }
  ]
  for (const c of cases) {
    const u = upstreams([c.spec])[0]!
    t.ok(Math.abs(picker.cost(u, c.now) - c.expected) < 1e-9, `${c.name}: ${picker.cost(u, c.now)}`)
  }
})

t.test('exact pick sequence (seeded RNG): the cheaper of two random upstreams', async (t) => {
  // Costs 10, 6, 5: c wins whenever drawn, b beats a.
  const list = upstreams([{ latency: 5, inFlight: 1 }, { latency: 2, inFlight: 2 }, { latency: 1, inFlight: 4 }])
  t.equal(sequence(build('peak-ewma', list, undefined, 1).picker, 16), 'cbbcbccccbccbbcc')
})

/** Closed loop where each upstream answers after its latency (1 step = 1 ms); observe on each answer. */
function run (latencies: Record<string, number>, steps: number, concurrency: number, decayTime = DEFAULT_DECAY_TIME, seed = 1): Record<string, number> {
  const list = upstreams(Object.keys(latencies).length)
  const { picker } = build('peak-ewma', list, { decayTime }, seed)
  return simulate(picker, steps, concurrency, {
    hold: (u) => latencies[u.name]!,
    onFinish: (u, step) => { observeLatency(u, latencies[u.name]!, step, decayTime) }
  })
}

t.test('one slow upstream (100 ms vs 2 ms): it gets almost nothing, from the first request on', async (t) => {
  const counts = run({ a: 2, b: 2, c: 100 }, 20_000, 50)
  const total = counts.a! + counts.b! + (counts.c ?? 0)
  const share = (counts.c ?? 0) / total
  t.ok(share < 0.001, `slow share ${(share * 100).toFixed(3)}% of ${total} (needs < 0.1% for p99.9)`)
  t.ok((counts.c ?? 0) >= 1, 'but it was probed')
})

t.test('a slow upstream is probed again as its cost decays, and wins traffic back when fast again', async (t) => {
  const list = upstreams(3)
  const tau = 1000
  const { picker } = build('peak-ewma', list, { decayTime: tau }, 3)
  const latency: Record<string, number> = { a: 2, b: 2, c: 100 }
  const seen: number[] = []
  simulate(picker, 40_000, 20, {
    hold: (u) => latency[u.name]!,
    onFinish: (u, step) => {
      observeLatency(u, latency[u.name]!, step, tau)
      if (u.name === 'c') seen.push(step)
      if (step === 20_000) latency.c = 2
    }
  })
  const early = seen.filter((s) => s < 20_000).length
  const late = seen.filter((s) => s >= 25_000).length
  t.ok(early >= 3 && early < 60, `slow phase: ${early} probes in 20 s (τ = 1 s)`)
  t.ok(late > 3000, `recovered: ${late} requests in the last 15 s`)
})

t.test('a new upstream is not flooded: one request at a time until it answers', async (t) => {
  const list = upstreams([{ latency: 5, stamp: 0, inFlight: 10 }, { latency: 5, stamp: 0, inFlight: 10 }])
  const { picker } = build('peak-ewma', list, undefined, 1)
  const newcomer = upstreams([{ url: 'http://10.9.9.9:8080' }])[0]!
  const all = [...list, newcomer]
  picker.refresh(all)
  let maxInFlight = 0
  const ctx = context({ now: 1 })
  for (let i = 0; i < 200; i++) {
    const u = picker.pick(ctx)!
    u.inFlight++
    maxInFlight = Math.max(maxInFlight, newcomer.inFlight)
  }
  t.equal(newcomer.inFlight, 1, 'exactly one probe sent')
  t.equal(maxInFlight, 1)
  // Its answer sets its cost; it then takes its share.
  observeLatency(newcomer, 5, 2, DEFAULT_DECAY_TIME)
  newcomer.inFlight--
  let got = 0
  for (let i = 0; i < 300; i++) {
    const u = picker.pick(context({ now: 2 }))!
    u.inFlight++
    if (u === newcomer) got++
  }
  t.ok(got > 50, `after answering it takes traffic (${got} of 300)`)
  t.equal(DEFAULT_LATENCY, 1)
})

t.test('ctx.tried is skipped; all tried → undefined', async (t) => {
  const list = upstreams([{ latency: 1 }, { latency: 5 }, { latency: 9 }])
  const { picker } = build('peak-ewma', list)
  t.notMatch(sequence(picker, 50, context({ tried: [list[0]!] })), /a/)
  t.equal(sequence(picker, 10, context({ tried: [list[0]!, list[1]!] })), 'cccccccccc')
  t.equal(picker.pick(context({ tried: list })), undefined)
  const one = upstreams(1)
  t.equal(build('peak-ewma', one).picker.pick(context())?.name, 'a')
  t.equal(build('peak-ewma', one).picker.pick(context({ tried: one })), undefined)
  t.equal(build('peak-ewma', []).picker.pick(context()), undefined)
})
