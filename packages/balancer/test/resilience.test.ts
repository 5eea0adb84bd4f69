import t from 'tap'
import { Balancer, type BalancerOptions, UpstreamFlag, validateOptions } from '@switchyard/balancer'
import type { ProbeResult } from '../src/health-check/state-machine.js'
import type { HealthProbe } from '../src/resilience.js'
import type { Upstream } from '../src/upstream/upstream.js'
import { ManualClock } from '../src/util/clock.js'
import { SeededRandom } from '../src/util/random.js'

const URLS = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002', 'http://127.0.0.1:3003']
const flush = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

class FakeProbe implements HealthProbe {
  /** Status per upstream URL (default 200). */
  status = new Map<string, number>()
  targets = new Map<string, string | undefined>()
  readonly probe = async (u: Upstream): Promise<ProbeResult> => ({ status: this.status.get(u.url) ?? 200 })
  setTarget (u: Upstream, url: string | undefined): void { this.targets.set(u.url, url) }
}

function engine (options: Partial<BalancerOptions> = {}, probe?: FakeProbe) {
  const clock = new ManualClock()
  const logs: Array<{ level: string, msg: string, obj: Record<string, unknown> }> = []
  const log = {
    info: (obj: object, msg: string) => { logs.push({ level: 'info', msg, obj: obj as Record<string, unknown> }) },
    warn: (obj: object, msg: string) => { logs.push({ level: 'warn', msg, obj: obj as Record<string, unknown> }) }
  }
  const b = new Balancer(validateOptions({ upstreams: URLS, ...options }), {
    clock, random: new SeededRandom(3), log, ...(probe === undefined ? {} : { probe })
  })
  const events: string[] = []
  for (const name of ['up', 'down', 'ejected', 'restored', 'draining'] as const) {
    b.events.on(name, (e) => { events.push(`${name} ${e.upstream.url.slice(-4)} ${e.reason}`) })
  }
  b.events.on('panic', (e) => { events.push(`panic ${e.active ? 'on' : 'off'}`) })
  return { b, clock, logs, events, at: (i: number) => b.upstreams[i]! }
}

async function run (clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let i = 0; i < ms; i += step) {
    clock.advance(step)
    await flush()
  }
}
const names = (list: readonly Upstream[]): string[] => list.map((u) => u.url.slice(-4))

t.test('active health checks: pending at start, down after fall, up after rise, with slow start', async (t) => {
  const probe = new FakeProbe()
  const { b, clock, events, logs, at } = engine({
    healthCheck: { interval: 100, jitter: 0, timeout: 50 }, slowStart: { window: 1000 }
  }, probe)
  t.ok(at(0).has(UpstreamFlag.PENDING_ACTIVE_HC), 'pending until the first probe')
  t.equal(b.set.state, 'panic', 'nothing has a verdict yet: balance over all')
  t.ok(logs.some((l) => l.level === 'info' && /first health check/.test(l.msg)), 'a start-up wait, not logged as a panic')
  t.notOk(logs.some((l) => l.level === 'warn'))
  t.notOk(events.includes('panic on'), 'nor emitted as one')
  t.ok(b.pick([]), 'requests flow meanwhile')
  b.start()
  await run(clock, 20)
  t.equal(b.set.state, 'normal')
  t.same(names(b.set.eligible), ['3001', '3002', '3003'])
  t.equal(at(0).effectiveWeight, 1, 'a first verdict does not ramp')
  probe.status.set(URLS[1]!, 503)
  await run(clock, 250)
  t.notOk(at(1).has(UpstreamFlag.FAILED_ACTIVE_HC), 'two failures: not yet')
  await run(clock, 110)
  t.ok(at(1).has(UpstreamFlag.FAILED_ACTIVE_HC), 'down after three')
  t.same(names(b.set.eligible), ['3001', '3003'])
  probe.status.delete(URLS[1]!)
  await run(clock, 210)
  t.notOk(at(1).has(UpstreamFlag.FAILED_ACTIVE_HC), 'up after two passes')
  t.ok(at(1).effectiveWeight < 0.2, `slow start from ~10 % (${at(1).effectiveWeight})`)
  await run(clock, 1000)
  t.equal(at(1).effectiveWeight, 1, 'full weight after the window')
  t.same(events.filter((e) => !e.startsWith('panic')), [
    'up 3001 health-check-passed', 'up 3002 health-check-passed', 'up 3003 health-check-passed', // first verdicts
    'down 3002 health-check-failed', 'up 3002 health-check-passed'
  ])
  t.ok(logs.some((l) => l.level === 'warn' && l.obj.upstream === URLS[1] && l.obj.reason === 'health-check-failed'), 'logged with upstream and reason')
  b.close()
  t.equal(clock.pending, 0, 'close cancels every timer')
})

t.test('initialState unhealthy, per-upstream probe URL, a passing check un-ejects', async (t) => {
  const probe = new FakeProbe()
  const { b, clock, at, events } = engine({
    upstreams: [URLS[0]!, { url: URLS[1]!, healthCheck: { url: '/livez' } }],
    healthCheck: { interval: 100, jitter: 0, timeout: 50, initialState: 'unhealthy' }
  }, probe)
  t.same(Object.fromEntries(probe.targets), { [URLS[1]!]: '/livez' })
  t.ok(at(0).has(UpstreamFlag.FAILED_ACTIVE_HC))
  b.start()
  await run(clock, 20)
  t.ok(at(0).has(UpstreamFlag.FAILED_ACTIVE_HC), 'one pass is not enough')
  await run(clock, 100)
  t.ok(at(0).available)
  for (let i = 0; i < 5; i++) { b.attemptStarted(at(0)); b.attemptFinished(at(0), 'connect', 1) }
  t.ok(at(0).has(UpstreamFlag.FAILED_OUTLIER))
  await run(clock, 100)
  t.notOk(at(0).has(UpstreamFlag.FAILED_OUTLIER), 'the next passing probe un-ejects')
  t.ok(events.includes('restored 3001 health-check-uneject'))
  b.close()
})

t.test('outlier detection through attempt outcomes; Retry-After hold; off when disabled', async (t) => {
  const { b, clock, at, events, logs } = engine({ outlierDetection: { baseEjectionTime: 1000, jitter: 0 } })
  const fail = (u: Upstream, outcome: 'connect' | 'reset' | 'timeout'): void => { b.attemptStarted(u); b.attemptFinished(u, outcome, 1) }
  for (let i = 0; i < 4; i++) fail(at(0), 'timeout')
  b.attemptStarted(at(0)); b.attemptFinished(at(0), 'success', 1, 200)
  for (let i = 0; i < 4; i++) fail(at(0), 'reset')
  t.ok(at(0).available, 'a success in between resets the count')
  fail(at(0), 'connect')
  t.notOk(at(0).available)
  t.same(names(b.set.eligible), ['3002', '3003'])
  t.ok(logs.some((l) => l.level === 'warn' && l.obj.event === 'ejected'))
  await run(clock, 1000, 100)
  t.ok(at(0).available)
  t.same(events, ['ejected 3001 consecutive-failures', 'restored 3001 ejection-expired'])
  b.attemptStarted(at(2)); b.attemptFinished(at(2), 'status', 1, 503, 2000)
  t.ok(at(2).has(UpstreamFlag.RETRY_AFTER))
  await run(clock, 2000, 100)
  t.notOk(at(2).has(UpstreamFlag.RETRY_AFTER))
  const off = engine({ outlierDetection: false })
  for (let i = 0; i < 20; i++) { off.b.attemptStarted(off.at(0)); off.b.attemptFinished(off.at(0), 'connect', 1) }
  t.ok(off.at(0).available)
  t.equal(off.b.resilience.detector, null)
  b.close()
})

t.test('panic: emitted and logged once per transition; backups take over and hand back', async (t) => {
  const { b, at, events, logs } = engine({
    upstreams: [URLS[0]!, URLS[1]!, { url: URLS[2]!, backup: true }], outlierDetection: { baseEjectionTime: 60_000, maxEjectionPercent: 100 }
  })
  const eject = (u: Upstream): void => { for (let i = 0; i < 5; i++) { b.attemptStarted(u); b.attemptFinished(u, 'connect', 1) } }
  eject(at(0))
  t.equal(b.set.state, 'normal')
  eject(at(1))
  t.equal(b.set.state, 'backup')
  t.same(names(b.set.eligible), ['3003'])
  t.ok(logs.some((l) => /backups take the traffic/.test(l.msg)))
  at(2).setFlag(UpstreamFlag.FAILED_ACTIVE_HC, true)
  b.set.changed()
  t.equal(b.set.state, 'panic')
  b.set.changed()
  at(2).setFlag(UpstreamFlag.FAILED_ACTIVE_HC, false)
  b.set.changed()
  t.equal(b.set.state, 'backup')
  t.same(events.filter((e) => e.startsWith('panic')), ['panic on', 'panic off'], 'once per transition')
  t.same(logs.filter((l) => /^panic/.test(l.msg)).map((l) => [l.level, l.msg.split(':')[0]]), [['warn', 'panic'], ['info', 'panic over']])
  b.close()
})

t.test('drain: no new picks, resolves when in-flight attempts end; undrain; remove; add', async (t) => {
  const { b, at, events } = engine()
  const a = at(0)
  b.attemptStarted(a)
  b.attemptStarted(a)
  let drained = false
  const done = b.drain(URLS[0]!).then(() => { drained = true })
  for (let i = 0; i < 30; i++) t.not(b.pick([]), a, 'never picked while draining') // cheap loop
  t.same(b.set.inDoubt().filter((u) => u === a), [], 'not even as a last resort')
  b.attemptFinished(a, 'success', 1, 200)
  await flush()
  t.notOk(drained, 'one still in flight')
  b.attemptFinished(a, 'success', 1, 200)
  await done
  t.ok(drained)
  await b.drain(URLS[0]!) // idle: resolves at once
  t.ok(b.undrain(URLS[0]!))
  t.notOk(b.undrain(URLS[0]!))
  t.ok(b.set.eligible.includes(a))
  t.same(events, ['draining 3001 drain', 'draining 3001 undrain'])
  await t.rejects(b.drain('nope'), /no upstream "nope"/)

  const removed: string[] = []
  b.onUpstreamRemoved((u) => { removed.push(u.url) })
  b.attemptStarted(at(1))
  const removing = b.removeUpstream(URLS[1]!)
  await flush()
  t.equal(b.upstreams.length, 3, 'still there while a request is in flight')
  b.attemptFinished(at(1), 'success', 1, 200)
  t.equal(await removing, true)
  t.same(names(b.upstreams), ['3001', '3003'])
  t.same(removed, [URLS[1]])
  t.equal(await b.removeUpstream(URLS[1]!), false)

  const added = b.addUpstream({ url: 'http://127.0.0.1:3009', weight: 2, name: 'new' })
  t.equal(added.name, 'new')
  t.ok(b.set.eligible.includes(added))
  t.throws(() => b.addUpstream('http://127.0.0.1:3009'), /already an upstream/)
  t.throws(() => b.addUpstream('ftp://x'), { code: 'SWY_BALANCER_INVALID_OPTION', message: /addUpstream\(\) must use http/ })
  b.close()
})

t.test('addUpstream with health checks starts pending and ramps with slow start', async (t) => {
  const probe = new FakeProbe()
  const { b, clock } = engine({ healthCheck: { interval: 100, jitter: 0, timeout: 50 }, slowStart: { window: 1000 } }, probe)
  b.start()
  await run(clock, 20)
  const added = b.addUpstream('http://127.0.0.1:3010')
  t.ok(added.has(UpstreamFlag.PENDING_ACTIVE_HC))
  t.notOk(b.set.eligible.includes(added))
  await run(clock, 20)
  t.ok(b.set.eligible.includes(added), 'first probe passed')
  t.ok(added.effectiveWeight < 0.2, 'and it ramps')
  await b.removeUpstream('http://127.0.0.1:3010')
  t.equal(added.flags, UpstreamFlag.DRAINING, 'checker flags cleared on removal; it stays drained')
  b.close()
})

t.test('circuit breaking: upstreams at maxInFlightPerUpstream are skipped; all at cap = saturated', async (t) => {
  const { b, at } = engine({ maxInFlightPerUpstream: 2 })
  const picks: string[] = []
  for (let i = 0; i < 6; i++) {
    const u = b.pick([])
    t.ok(u, `pick ${i}`)
    b.attemptStarted(u!)
    picks.push(u!.url.slice(-4))
  }
  t.same(picks.sort(), ['3001', '3001', '3002', '3002', '3003', '3003'])
  t.equal(b.pick([]), undefined, 'everyone at the cap')
  t.ok(b.saturated([]))
  b.attemptFinished(at(1), 'success', 1, 200)
  t.equal(b.pick([]), at(1), 'a free slot is used')
  t.notOk(b.saturated([]))
  t.equal(b.pick([at(1)]), undefined, 'tried and capped ones are both excluded')
  const free = engine()
  t.notOk(free.b.saturated([]), 'off by default')
  b.close()
})

t.test('retry budget: floor, then a share of requests; off with budget: false', async (t) => {
  const { b, clock } = engine({ retry: { budget: { percent: 20, minPerSecond: 1, window: 1000 } } })
  let allowed = 0
  while (b.retryAllowed()) { b.retrySent(); allowed++ }
  t.equal(allowed, 1, 'floor: 1 per second over a 1 s window')
  for (let i = 0; i < 50; i++) b.requestStarted()
  allowed = 0
  while (b.retryAllowed()) { b.retrySent(); allowed++ }
  t.equal(allowed, 9, '20 % of 50, minus the one already sent')
  clock.advance(1000)
  t.ok(b.retryAllowed(), 'the window moved on')
  const off = engine({ retry: { budget: false } })
  for (let i = 0; i < 100; i++) off.b.retrySent()
  t.ok(off.b.retryAllowed())
  t.equal(off.b.resilience.budget, null)
})

t.test('standby: a backup for a retry the budget refused; never a primary, a tried one or one at its cap', async (t) => {
  const { b, at } = engine({
    upstreams: [URLS[0]!, URLS[1]!, { url: URLS[2]!, backup: true }, { url: 'http://backup-2.invalid', backup: true }],
    maxInFlightPerUpstream: 2
  })
  t.equal(b.standby([at(0)]), at(2), 'the first backup')
  b.attemptStarted(at(2))
  t.equal(b.standby([at(0)]), at(3), 'the less loaded backup')
  t.equal(b.standby([at(0), at(3)]), at(2), 'not one already tried')
  b.attemptStarted(at(2))
  t.equal(b.standby([at(0), at(3)]), undefined, 'not one at maxInFlightPerUpstream')
  const primaries = engine({ upstreams: [URLS[0]!, URLS[1]!] })
  t.equal(primaries.b.standby([]), undefined, 'no backup configured: nothing')
  b.close()
  primaries.b.close()
})

t.test('last resort prefers an idle backup over upstreams in doubt (DESIGN.md principle 5)', async (t) => {
  const { b, at } = engine({ upstreams: [URLS[0]!, URLS[1]!, { url: URLS[2]!, backup: true }] })
  const fail = (u: Upstream): void => { for (let i = 0; i < 5; i++) { b.attemptStarted(u); b.attemptFinished(u, 'connect', 1) } }
  fail(at(0))
  fail(at(1))
  t.ok(at(0).has(UpstreamFlag.FAILED_OUTLIER))
  t.notOk(at(1).has(UpstreamFlag.FAILED_OUTLIER), 'max ejection percent keeps the second dead primary in')
  t.equal(b.set.state, 'normal')
  t.equal(b.pick([at(1)]), at(2), 'after the dead primary, the backup rather than nothing or the ejected one')
  t.equal(b.pick([at(1), at(2)]), at(0), 'then the ejected one')
  t.equal(b.pick([at(0), at(1), at(2)]), undefined)
  b.close()
})

t.test('a start-up wait that turns into a real panic is announced then, once', async (t) => {
  const probe = new FakeProbe()
  probe.status.set(URLS[0]!, 503)
  probe.status.set(URLS[1]!, 503)
  const { b, clock, events, logs } = engine({ healthCheck: { interval: 100, jitter: 0, timeout: 50 } }, probe)
  t.equal(b.set.state, 'panic')
  t.same(events, [])
  b.start()
  await run(clock, 20)
  t.equal(b.set.state, 'panic', '1 of 3 available')
  t.same(events.filter((e) => e.startsWith('panic')), ['panic on'])
  t.equal(logs.filter((l) => l.level === 'warn' && /^panic/.test(l.msg)).length, 1)
  probe.status.delete(URLS[0]!)
  await run(clock, 250)
  t.equal(b.set.state, 'normal')
  t.same(events.filter((e) => e.startsWith('panic')), ['panic on', 'panic off'])
  b.close()
})
