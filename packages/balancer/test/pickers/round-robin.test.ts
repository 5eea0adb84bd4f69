import t from 'tap'
import { MAX_SCHEDULE } from '../../src/pickers/round-robin.js'
import { build, context, longestRun, sequence, tally, upstreams } from './helpers.js'

t.test('exact pick sequences (seeded RNG)', async (t) => {
  const cases: Array<{ name: string, weights: number[], seed: number, expected: string }> = [
    { name: 'unweighted, seed 1: starts at b', weights: [1, 1, 1], seed: 1, expected: 'bcabcabcabca' },
    { name: 'unweighted, seed 3: starts at c', weights: [1, 1, 1], seed: 3, expected: 'cabcabcabcab' },
    { name: 'unweighted, seed 5: starts at a', weights: [1, 1, 1], seed: 5, expected: 'abcabcabcabc' },
    { name: 'equal non-unit weights are unweighted', weights: [4, 4], seed: 5, expected: 'babababa' },
    { name: '5:1:1, smooth (a never more than 3 in a row)', weights: [5, 1, 1], seed: 1, expected: 'abaaacaabaaacaabaaacaaba' },
    { name: '5:1:1, another phase', weights: [5, 1, 1], seed: 2, expected: 'aacaabaaacaabaaacaabaaac' },
    { name: '3:2:1', weights: [3, 2, 1], seed: 1, expected: 'baabcabaabcabaabcabaabca' },
    { name: '1:2:3:4', weights: [1, 2, 3, 4], seed: 7, expected: 'bdcddbacdcbdcddbacdcbdcd' }
  ]
  for (const c of cases) {
    const { picker } = build('round-robin', upstreams(c.weights), undefined, c.seed)
    t.equal(sequence(picker, c.expected.length), c.expected, c.name)
  }
})

t.test('weighted-round-robin is the same picker', async (t) => {
  const a = build('round-robin', upstreams([5, 1, 1]), undefined, 9)
  const b = build('weighted-round-robin', upstreams([5, 1, 1]), undefined, 9)
  t.equal(sequence(a.picker, 50), sequence(b.picker, 50))
})

t.test('the start offset is random, so a fleet of gateways is not in lock step', async (t) => {
  const firsts = new Set<string>()
  for (let seed = 1; seed <= 30; seed++) firsts.add(sequence(build('round-robin', upstreams(5), undefined, seed).picker, 1))
  t.equal(firsts.size, 5, 'every upstream is somebody\'s first pick')
  const phases = new Set<string>()
  for (let seed = 1; seed <= 30; seed++) phases.add(sequence(build('round-robin', upstreams([5, 1, 1]), undefined, seed).picker, 7))
  t.ok(phases.size >= 4, `weighted cycle starts at different phases (${phases.size} distinct)`)
})

t.test('weights are exact over every cycle and within ±1% over 100,000 picks', async (t) => {
  const cases = [
    { weights: [5, 1, 1] },
    { weights: [3, 2, 1] },
    { weights: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
    { weights: [100, 1] },
    // Fractional weights (slow start) run on the live EDF heap.
    { weights: [2.5, 1, 0.25] },
    { weights: [0.1, 0.7, 1.3, 3.9] }
  ]
  for (const c of cases) {
    const total = c.weights.reduce((s, w) => s + w, 0)
    const { picker } = build('round-robin', upstreams(c.weights), undefined, 11)
    if (c.weights.every((w) => Number.isInteger(w))) {
      // Any window of one cycle (Σw consecutive picks) holds exactly w picks of each.
      sequence(picker, 3) // start mid-cycle
      const counts = tally(picker, total)
      t.same(c.weights.map((_, i) => counts['abcdefghij'[i]!] ?? 0), c.weights, `exact cycle ${c.weights.join(':')}`)
    }
    const counts = tally(picker, 100_000)
    for (let i = 0; i < c.weights.length; i++) {
      const expected = 100_000 * c.weights[i]! / total
      const got = counts['abcdefghij'[i]!] ?? 0
      t.ok(Math.abs(got - expected) <= expected * 0.01 + 1, `${c.weights.join(':')}: ${'abcdefghij'[i]} ${got} ≈ ${expected.toFixed(0)}`)
    }
  }
})

t.test('smooth: no burst to the heaviest upstream', async (t) => {
  for (const [weights, maxRun] of [[[5, 1, 1], 3], [[10, 1], 10], [[3, 1, 1, 1], 2], [[2, 1], 2]] as const) {
    const { picker } = build('round-robin', upstreams([...weights]), undefined, 4)
    const s = sequence(picker, 1000)
    t.ok(longestRun(s, 'a') <= maxRun, `${weights.join(':')} longest run of a ${longestRun(s, 'a')} ≤ ${maxRun}`)
  }
})

t.test('ctx.tried is skipped on every path', async (t) => {
  {
    const list = upstreams([1, 1, 1])
    const { picker } = build('round-robin', list, undefined, 1)
    const twin = build('round-robin', list, undefined, 1).picker
    const usualTurns = sequence(twin, 3, context())
    const retries = sequence(picker, 6, context({ tried: [list[1]!] }))
    t.notMatch(retries, /b/, 'unweighted: never the tried upstream')
    t.match(retries, /^(a{6}|c{6})$/, 'a retry looks ahead from the cursor without moving it')
    t.equal(sequence(picker, 3, context()), usualTurns, 'so the next requests take their usual turns')
    t.equal(sequence(picker, 2, context({ tried: list })), '--', 'all tried → undefined')
  }
  {
    const list = upstreams([5, 1, 1])
    const { picker } = build('round-robin', list, undefined, 1)
    t.equal(sequence(picker, 6, context({ tried: [list[0]!] })), 'bcbcbc', 'precomputed cycle')
    t.equal(sequence(picker, 1, context({ tried: list })), '-', 'precomputed cycle, all tried')
  }
  {
    const list = upstreams([2.5, 1, 1])
    const { picker } = build('round-robin', list, undefined, 1)
    const s = sequence(picker, 30, context({ tried: [list[0]!] }))
    t.notMatch(s, /a/, 'live EDF never picks a tried upstream')
    t.equal(sequence(picker, 1, context({ tried: list })), '-', 'live EDF, all tried')
  }
})

t.test('a weight change keeps the cycle going, and slow-start ramps converge', async (t) => {
  const list = upstreams([1, 1, 1, 1])
  const { picker } = build('round-robin', list, undefined, 3)
  const d = list[3]!
  let share = 0
  // Slow start: d ramps 0.1 → 1 in ten refreshes; the others keep weight 1.
  for (let step = 1; step <= 10; step++) {
    d.effectiveWeight = step / 10
    picker.refresh(list)
    const counts = tally(picker, 3_000)
    share = (counts.d ?? 0) / 3_000
    const expected = (step / 10) / (3 + step / 10)
    t.ok(Math.abs(share - expected) < 0.01, `step ${step}: d share ${share.toFixed(3)} ≈ ${expected.toFixed(3)}`)
  }
})

t.test('an empty list picks nothing; a single upstream is always picked', async (t) => {
  const { picker } = build('round-robin', [])
  t.equal(picker.pick(context()), undefined)
  const one = build('round-robin', upstreams(1))
  t.equal(sequence(one.picker, 3), 'aaa')
})

t.test('a cycle longer than MAX_SCHEDULE runs on the live heap with the same ratios', async (t) => {
  const weights = [MAX_SCHEDULE, 3]
  const { picker } = build('round-robin', upstreams(weights), undefined, 2)
  const counts = tally(picker, MAX_SCHEDULE + 3)
  t.equal(counts.b, 3)
})
