import t from 'tap'
import type { Picker, Upstream } from '@switchyard/balancer/pickers'
import { MAX_GROUPS } from '../../src/pickers/least-connections.js'
import { build, context, sequence, simulate, upstreams } from './helpers.js'

/** Picks `count` times, starting a request on each pick (inFlight++ and the notification, as the engine does). */
function start (picker: Picker, count: number, tried: Upstream[] = []): string {
  let s = ''
  for (let i = 0; i < count; i++) {
    const u = picker.pick(context({ tried }))
    if (u === undefined) { s += '-'; continue }
    s += u.name
    u.inFlight++
    picker.inFlightChanged?.(u)
  }
  return s
}

function finish (picker: Picker, u: Upstream): void {
  u.inFlight--
  picker.inFlightChanged?.(u)
}

t.test('exact pick sequences', async (t) => {
  const cases: Array<{ name: string, specs: Parameters<typeof upstreams>[0], seed: number, expected: string, startRequests: boolean }> = [
    { name: 'idle and nothing starts: round robin', specs: 3, seed: 1, expected: 'bcabcabca', startRequests: false },
    { name: 'fewest in flight first, ties round robin', specs: [{ inFlight: 2 }, { inFlight: 0 }, { inFlight: 1 }], seed: 1, expected: 'bcbacbacb', startRequests: true },
    { name: 'weighted 3:1 by inFlight / weight', specs: [{ weight: 3 }, { weight: 1 }], seed: 1, expected: 'abaabaaabaaa', startRequests: true },
    { name: 'weighted with loads', specs: [{ weight: 2, inFlight: 4 }, { weight: 1, inFlight: 1 }, { weight: 1, inFlight: 3 }], seed: 2, expected: 'babacbaa', startRequests: true }
  ]
  for (const c of cases) {
    const { picker } = build('least-connections', upstreams(c.specs), undefined, c.seed)
    const got = c.startRequests ? start(picker, c.expected.length) : sequence(picker, c.expected.length)
    t.equal(got, c.expected, c.name)
  }
})

t.test('routes away from an upstream with 10× the in-flight requests', async (t) => {
  for (const n of [3, 10, 100]) {
    const list = upstreams(Array.from({ length: n }, (_, i) => ({ inFlight: i === 0 ? 100 : 10 })))
    const { picker } = build('least-connections', list)
    const counts = simulate(picker, 10_000, 5 * n)
    t.equal(counts.a ?? 0, 0, `n=${n}: the loaded upstream gets nothing while others have fewer`)
  }
})

t.test('weights within ±1% over 100,000 requests of a closed loop', async (t) => {
  for (const weights of [[3, 1], [5, 2, 1], [1, 2, 3, 4]]) {
    const list = upstreams(weights)
    const { picker } = build('least-connections', list)
    const total = weights.reduce((s, w) => s + w, 0)
    // Every request holds for the same time, so in-flight ∝ share: least in-flight / weight ⇒ share ∝ weight.
    const counts = simulate(picker, 100_000, 10 * total)
    const picked = Object.values(counts).reduce((s, c) => s + c, 0)
    weights.forEach((w, i) => {
      const name = 'abcd'[i]!
      const expected = picked * w / total
      t.ok(Math.abs((counts[name] ?? 0) - expected) <= expected * 0.01, `${weights.join(':')} ${name}: ${counts[name]} ≈ ${expected.toFixed(0)}`)
    })
  }
})

t.test('prefers the upstream whose requests finish sooner (it has fewer in flight)', async (t) => {
  const list = upstreams(3)
  const { picker } = build('least-connections', list)
  // c holds each request 10× longer: it should get ~1/21 of the traffic (10:10:1 of the service rate).
  const counts = simulate(picker, 50_000, 30, { hold: (u) => u.name === 'c' ? 100 : 10 })
  const share = (counts.c ?? 0) / ((counts.a ?? 0) + (counts.b ?? 0) + (counts.c ?? 0))
  t.ok(share < 0.08, `slow upstream share ${share.toFixed(3)}`)
})

t.test('ties go round robin, also after requests finish', async (t) => {
  const list = upstreams(4)
  const { picker } = build('least-connections', list, undefined, 5)
  let s = ''
  for (let i = 0; i < 12; i++) {
    const u = picker.pick(context())!
    s += u.name
    u.inFlight++
    picker.inFlightChanged?.(u)
    finish(picker, u) // sequential traffic: always idle again
  }
  t.equal(s, 'dabcdabcdabc')
})

t.test('missed notifications: the live count still wins', async (t) => {
  const list = upstreams(3)
  const { picker } = build('least-connections', list, undefined, 1)
  // The engine forgot to notify: b got 5 requests behind the picker's back.
  list[1]!.inFlight = 5
  t.equal(sequence(picker, 4), 'cacac'.slice(0, 4), 'b is re-filed when it comes up')
  // And the weighted (grouped) path too.
  const weighted = upstreams([{ weight: 2 }, { weight: 1 }])
  const w = build('least-connections', weighted, undefined, 1)
  weighted[0]!.inFlight = 50
  t.equal(sequence(w.picker, 3), 'bbb')
})

t.test('ctx.tried is skipped; all tried → undefined', async (t) => {
  const list = upstreams([{ inFlight: 0 }, { inFlight: 1 }, { inFlight: 2 }])
  const { picker } = build('least-connections', list)
  t.equal(picker.pick(context({ tried: [list[0]!] }))?.name, 'b', 'next least loaded')
  t.equal(picker.pick(context({ tried: [list[0]!, list[1]!] }))?.name, 'c')
  t.equal(picker.pick(context({ tried: list })), undefined)
  const weighted = upstreams([{ weight: 3 }, { weight: 1, inFlight: 1 }])
  const w = build('least-connections', weighted)
  t.equal(w.picker.pick(context({ tried: [weighted[0]!] }))?.name, 'b')
})

t.test(`more than ${MAX_GROUPS} distinct weights (slow start ramps) use the heap, same answers`, async (t) => {
  const weights = Array.from({ length: 20 }, (_, i) => 1 + i / 10)
  const list = upstreams(weights)
  const { picker } = build('least-connections', list)
  const total = weights.reduce((s, w) => s + w, 0)
  const counts = simulate(picker, 100_000, 2000)
  const picked = Object.values(counts).reduce((s, c) => s + c, 0)
  for (const i of [0, 10, 19]) {
    const name = list[i]!.name
    const expected = picked * weights[i]! / total
    t.ok(Math.abs((counts[name] ?? 0) - expected) <= expected * 0.02, `${name}: ${counts[name]} ≈ ${expected.toFixed(0)}`)
  }
  t.equal(picker.pick(context({ tried: list })), undefined, 'all tried')
  t.not(picker.pick(context({ tried: [list[0]!] })), list[0], 'tried skipped on the heap path')
  list[3]!.inFlight += 1000 // missed notification
  t.not(sequence(picker, 20).includes('d'), true, 'live count re-checked on the heap path')
})

t.test('in-flight counts beyond the initial buckets grow the queue', async (t) => {
  const list = upstreams(2)
  const { picker } = build('least-connections', list, undefined, 1)
  t.equal(start(picker, 200).length, 200)
  t.same([list[0]!.inFlight, list[1]!.inFlight], [100, 100])
  // Notifications for upstreams not in the list are ignored.
  const stranger = upstreams(1)[0]!
  picker.inFlightChanged?.(stranger)
  t.equal(picker.pick(context({ tried: list })), undefined)
  const empty = build('least-connections', [])
  t.equal(empty.picker.pick(context()), undefined)
})
