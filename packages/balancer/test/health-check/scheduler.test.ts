import t from 'tap'
import { HealthCheckScheduler, ProbeTimeoutError, type SchedulerOptions } from '../../src/health-check/scheduler.js'
import type { ProbeResult } from '../../src/health-check/state-machine.js'
import { Upstream } from '../../src/upstream/upstream.js'
import { ManualClock } from '../../src/util/clock.js'
import { SeededRandom, type Random } from '../../src/util/random.js'

const upstream = (port: number): Upstream => new Upstream({ url: `http://127.0.0.1:${port}`, weight: 1, backup: false, name: `u${port}` })
const flush = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

/** A fake probe: records start times, answers when the test says so. */
class FakeProbe {
  starts: Array<{ upstream: Upstream, at: number, signal: AbortSignal, resolve: (r: ProbeResult) => void }> = []
  active = 0
  maxActive = 0
  auto: ProbeResult | undefined
  constructor (private readonly clock: ManualClock) {}
  readonly probe = async (u: Upstream, signal: AbortSignal): Promise<ProbeResult> => {
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    return await new Promise<ProbeResult>((resolve) => {
      const done = (r: ProbeResult): void => { this.active--; resolve(r) }
      this.starts.push({ upstream: u, at: this.clock.now(), signal, resolve: done })
      if (this.auto !== undefined) done(this.auto)
    })
  }
}

function setup (options: Partial<SchedulerOptions> = {}, random: Random = new SeededRandom(7)) {
  const clock = new ManualClock()
  const fake = new FakeProbe(clock)
  const results: Array<{ upstream: Upstream, result: ProbeResult, at: number }> = []
  const scheduler = new HealthCheckScheduler(
    { interval: 1000, jitter: 10, timeout: 300, ...options },
    { clock, random, probe: fake.probe, onResult: (u, result) => { results.push({ upstream: u, result, at: clock.now() }) } }
  )
  return { clock, fake, results, scheduler }
}

/** Advances the clock in small steps, letting probe promises settle in between. */
async function run (clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let i = 0; i < ms; i += step) {
    clock.advance(step)
    await flush()
  }
}

t.test('probes every interval ± jitter, first probe within the initial jitter', async (t) => {
  const { clock, fake, results, scheduler } = setup()
  fake.auto = { status: 200 }
  const a = upstream(1)
  scheduler.add(a)
  t.equal(fake.starts.length, 0, 'nothing before start()')
  scheduler.start()
  await run(clock, 10_000, 1)
  t.ok(fake.starts[0]!.at <= 100, `first probe at ${fake.starts[0]!.at} ≤ 10 % of the interval`)
  const gaps = fake.starts.slice(1).map((s, i) => s.at - fake.starts[i]!.at)
  t.ok(gaps.length >= 8, `${gaps.length} gaps`)
  for (const gap of gaps) t.ok(gap >= 900 - 1 && gap <= 1100 + 1, `gap ${gap} within 1000 ± 10 %`)
  t.ok(new Set(gaps).size > 1, 'jittered: not all gaps equal')
  t.equal(results.length, fake.starts.length)
  t.equal(scheduler.probeCount(a), fake.starts.length)
  scheduler.stop()
})

t.test('no jitter: exact intervals; nextDelay stays within bounds for any random', async (t) => {
  const { clock, fake, scheduler } = setup({ jitter: 0 })
  fake.auto = { status: 200 }
  scheduler.add(upstream(1))
  scheduler.start()
  await run(clock, 3500, 1)
  // The fake answers in a microtask, after the 1 ms step that started the probe: hence the 1 ms drift.
  t.same(fake.starts.map((s) => s.at), [0, 1001, 2001, 3001])
  scheduler.stop()
  const low = setup({}, { next: () => 0 }).scheduler
  const high = setup({}, { next: () => 0.999999 }).scheduler
  t.equal(low.nextDelay(), 900)
  t.ok(Math.abs(high.nextDelay() - 1100) < 0.01)
})

t.test('the next probe waits for the previous one: no overlap for one upstream', async (t) => {
  const { clock, fake, results, scheduler } = setup({ timeout: 5000, jitter: 0 })
  const a = upstream(1)
  scheduler.add(a)
  scheduler.start()
  await run(clock, 10)
  t.equal(fake.starts.length, 1)
  await run(clock, 3000)
  t.equal(fake.starts.length, 1, 'no second probe while the first is in flight')
  t.ok(scheduler.inFlight(a))
  fake.starts[0]!.resolve({ status: 200 })
  await flush()
  t.notOk(scheduler.inFlight(a))
  t.equal(results.length, 1)
  await run(clock, 1000)
  t.equal(fake.starts.length, 2, 'next one an interval after the answer')
  t.equal(fake.starts[1]!.at, 3010 + 1000)
  t.equal(fake.maxActive, 1)
  scheduler.stop()
})

t.test('timeout: reported as a failure, the probe aborted, the late answer ignored', async (t) => {
  const { clock, fake, results, scheduler } = setup({ timeout: 300, jitter: 0 })
  const a = upstream(1)
  scheduler.add(a)
  scheduler.start()
  await run(clock, 10)
  const first = fake.starts[0]!
  await run(clock, 280)
  t.equal(results.length, 0)
  t.notOk(first.signal.aborted)
  await run(clock, 10)
  t.equal(results.length, 1, 'reported at the timeout')
  t.equal(results[0]!.result.status, 0)
  t.type(results[0]!.result.error, ProbeTimeoutError)
  t.equal(results[0]!.at, 300, 'timeout counted from the probe start')
  t.ok(first.signal.aborted, 'the probe was told to stop')
  // The probe ignores the abort and is still pending when the next tick comes: the tick is skipped.
  await run(clock, 1000)
  t.equal(fake.starts.length, 1, 'no overlap even with a probe that ignores its abort')
  first.resolve({ status: 200 })
  await flush()
  t.equal(results.length, 1, 'the late answer is not reported')
  await run(clock, 1000)
  t.equal(fake.starts.length, 2, 'probing resumes once it settled')
  t.equal(fake.maxActive, 1)
  scheduler.stop()
})

t.test('a probe that throws or rejects counts as a failed probe', async (t) => {
  const clock = new ManualClock()
  const results: ProbeResult[] = []
  let n = 0
  const scheduler = new HealthCheckScheduler({ interval: 100, jitter: 0, timeout: 50 }, {
    clock,
    random: new SeededRandom(1),
    probe: async () => {
      if (n++ === 0) throw new Error('boom')
      return await Promise.reject(new Error('nope'))
    },
    onResult: (_u, r) => { results.push(r) }
  })
  scheduler.add(upstream(1))
  scheduler.start()
  await run(clock, 150)
  t.equal(results.length, 2)
  t.equal(results[0]!.error?.message, 'boom')
  t.equal(results[1]!.error?.message, 'nope')
  scheduler.stop()

  // A throwing onResult goes to onError and does not stop probing.
  const errors: unknown[] = []
  const c2 = new ManualClock()
  const s2 = new HealthCheckScheduler({ interval: 100, jitter: 0, timeout: 50 }, {
    clock: c2,
    random: new SeededRandom(1),
    probe: async () => ({ status: 200 }),
    onResult: () => { throw new Error('listener') },
    onError: (err) => { errors.push(err) }
  })
  s2.add(upstream(1))
  s2.start()
  await run(c2, 250)
  t.equal(errors.length, 3)
  s2.stop()
})

t.test('several upstreams are probed independently; add after start; remove; stop cancels all', async (t) => {
  const { clock, fake, scheduler } = setup({ jitter: 0, timeout: 300 })
  fake.auto = { status: 200 }
  const a = upstream(1)
  const b = upstream(2)
  scheduler.add(a)
  scheduler.add(a) // no-op
  scheduler.start()
  scheduler.start() // no-op
  t.ok(scheduler.started)
  await run(clock, 500)
  scheduler.add(b)
  await run(clock, 2000)
  t.equal(fake.starts.filter((s) => s.upstream === a).length, 3)
  t.equal(fake.starts.filter((s) => s.upstream === b).length, 2, 'b probed at once, then every interval')
  t.ok(scheduler.remove(b))
  t.notOk(scheduler.remove(b))
  await run(clock, 2000)
  t.equal(fake.starts.filter((s) => s.upstream === b).length, 2, 'b no longer probed')
  fake.auto = undefined
  const count = fake.starts.length
  while (fake.starts.length === count) await run(clock, 10)
  const pending = fake.starts[fake.starts.length - 1]!
  t.notOk(pending.signal.aborted)
  scheduler.stop()
  t.ok(pending.signal.aborted, 'stop aborts probes in flight')
  t.equal(clock.pending, 0, 'stop cancels every timer')
  const before = fake.starts.length
  await run(clock, 5000)
  t.equal(fake.starts.length, before)
  t.equal(scheduler.probeCount(upstream(9)), 0)
  t.notOk(scheduler.inFlight(upstream(9)))
})

t.test('removing an upstream mid-probe aborts it and ignores its answer', async (t) => {
  const { clock, fake, results, scheduler } = setup({ jitter: 0 })
  const a = upstream(1)
  scheduler.add(a)
  scheduler.start()
  await run(clock, 10)
  scheduler.remove(a)
  t.ok(fake.starts[0]!.signal.aborted)
  fake.starts[0]!.resolve({ status: 200 })
  await flush()
  t.equal(results.length, 0)
  t.equal(clock.pending, 0)
})
