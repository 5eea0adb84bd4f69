import t from 'tap'
import { build, context, sequence, simulate, tally, upstreams } from './helpers.js'

t.test('exact pick sequences (seeded RNG)', async (t) => {
  const cases = [
    { name: 'two choices, static loads 3/1/2: b whenever drawn', specs: [{ inFlight: 3 }, { inFlight: 1 }, { inFlight: 2 }], options: {}, expected: 'cccbcbcccbbcbcbb' },
    { name: 'three choices', specs: [{ inFlight: 3 }, { inFlight: 1 }, { inFlight: 2 }, { inFlight: 0 }], options: { choiceCount: 3 }, expected: 'bdbdddddcddbdddd' },
    { name: 'weighted 3:1:1 (EDF, weight / (inFlight + 1))', specs: [3, 1, 1], options: {}, expected: 'acbaaacbaaacbaaa' }
  ]
  for (const c of cases) {
    t.equal(sequence(build('p2c', upstreams(c.specs), c.options, 1).picker, c.expected.length), c.expected, c.name)
  }
})

t.test('routes away from an upstream with 10× the in-flight requests', async (t) => {
  for (const n of [2, 3, 10, 100]) {
    const list = upstreams(Array.from({ length: n }, (_, i) => ({ inFlight: i === 0 ? 100 : 10 })))
    const { picker } = build('p2c', list)
    const counts = simulate(picker, 10_000, 5 * n)
    t.equal(counts.a ?? 0, 0, `n=${n}: the loaded upstream is never the lighter of two`)
  }
  // Weighted path (Envoy's EDF on weight / (inFlight + 1)): the loaded one is due (inFlight + 1) / weight
  // later after each turn, so its share falls far below its 50% by weight (Envoy samples load only at pick
  // time, so it is not driven to zero as the unweighted path does).
  const list = upstreams([{ weight: 2, inFlight: 100 }, { weight: 1, inFlight: 10 }, { weight: 1, inFlight: 10 }])
  const { picker } = build('p2c', list)
  const counts = simulate(picker, 10_000, 15)
  const picked = (counts.a ?? 0) + (counts.b ?? 0) + (counts.c ?? 0)
  t.ok((counts.a ?? 0) < 0.15 * picked, `weighted: loaded upstream share ${((counts.a ?? 0) / picked).toFixed(3)} (50% by weight)`)
})

t.test('spreads an idle fleet evenly, and weights within ±1% when loads are equal', async (t) => {
  const counts = tally(build('p2c', upstreams(4), undefined, 5).picker, 100_000)
  for (const name of ['a', 'b', 'c', 'd']) t.ok(Math.abs(counts[name]! - 25_000) < 1_000, `${name}: ${counts[name]}`)
  for (const weights of [[3, 1, 1], [1, 2, 3, 4], [0.5, 1.5]]) {
    const total = weights.reduce((s, w) => s + w, 0)
    const c = tally(build('p2c', upstreams(weights), undefined, 5).picker, 100_000)
    weights.forEach((w, i) => {
      const name = 'abcd'[i]!
      const expected = 100_000 * w / total
      t.ok(Math.abs((c[name] ?? 0) - expected) <= expected * 0.01, `${weights.join(':')} ${name}: ${c[name]} ≈ ${expected.toFixed(0)}`)
    })
  }
})

t.test('closed loop with one slow upstream: it gets little traffic', async (t) => {
  const { picker } = build('p2c', upstreams(3), undefined, 7)
  const counts = simulate(picker, 30_000, 30, { hold: (u) => u.name === 'c' ? 100 : 10 })
  const share = counts.c! / (counts.a! + counts.b! + counts.c!)
  t.ok(share < 0.1, `slow share ${share.toFixed(3)}`)
})

t.test('ctx.tried is skipped; all tried → undefined', async (t) => {
  const list = upstreams([{ inFlight: 0 }, { inFlight: 5 }, { inFlight: 9 }])
  const { picker } = build('p2c', list, undefined, 3)
  t.notMatch(sequence(picker, 50, context({ tried: [list[0]!] })), /a/)
  t.equal(sequence(picker, 10, context({ tried: [list[0]!, list[1]!] })), 'cccccccccc')
  t.equal(picker.pick(context({ tried: list })), undefined)
  const one = upstreams(1)
  t.equal(build('p2c', one).picker.pick(context())?.name, 'a', 'single upstream')
  t.equal(build('p2c', one).picker.pick(context({ tried: one })), undefined)
  t.equal(build('p2c', []).picker.pick(context()), undefined)
  const weighted = upstreams([3, 1, 1])
  const w = build('p2c', weighted)
  t.notMatch(sequence(w.picker, 30, context({ tried: [weighted[0]!] })), /a/, 'weighted path')
  t.equal(w.picker.pick(context({ tried: weighted })), undefined)
})

t.test('activeRequestBias: 0 ignores load on the weighted path; 2 punishes it harder', async (t) => {
  const specs = [{ weight: 2, inFlight: 9 }, { weight: 1, inFlight: 0 }]
  const none = tally(build('p2c', upstreams(specs), { activeRequestBias: 0 }).picker, 30_000)
  t.ok(Math.abs(none.a! / 30_000 - 2 / 3) < 0.01, `bias 0: a ${none.a}`)
  const linear = tally(build('p2c', upstreams(specs), { activeRequestBias: 1 }).picker, 30_000)
  const square = tally(build('p2c', upstreams(specs), { activeRequestBias: 2 }).picker, 30_000)
  t.ok(square.a! < linear.a! && linear.a! < none.a!, `a: ${none.a} > ${linear.a} > ${square.a}`)
})
