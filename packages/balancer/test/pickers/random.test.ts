import t from 'tap'
import { build, context, sequence, tally, upstreams } from './helpers.js'

t.test('exact pick sequences (seeded RNG)', async (t) => {
  const cases = [
    { name: 'unweighted', weights: [1, 1, 1], seed: 1, expected: 'cbacacbbacaacbca' },
    { name: 'weighted 5:1:1 (alias table)', weights: [5, 1, 1], seed: 1, expected: 'aaaaaacccbacbaaa' }
  ]
  for (const c of cases) {
    t.equal(sequence(build('random', upstreams(c.weights), undefined, c.seed).picker, c.expected.length), c.expected, c.name)
  }
})

t.test('weights within ±1% over 100,000 picks', async (t) => {
  const cases = [[1, 1, 1], [5, 1, 1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [0.25, 1.5, 2], [50, 1, 1, 1, 1]]
  for (const weights of cases) {
    const total = weights.reduce((s, w) => s + w, 0)
    const counts = tally(build('random', upstreams(weights), undefined, 3).picker, 100_000)
    weights.forEach((w, i) => {
      const name = 'abcdefghij'[i]!
      const expected = 100_000 * w / total
      // ±1% of the total share for small shares, whose sampling noise alone is ~1%.
      const tolerance = Math.max(expected * 0.01, 3 * Math.sqrt(expected))
      t.ok(Math.abs((counts[name] ?? 0) - expected) <= tolerance, `${weights.join(':')} ${name}: ${counts[name]} ≈ ${expected.toFixed(0)}`)
    })
  }
})

t.test('ctx.tried is skipped, by redraws and then by a weighted scan', async (t) => {
  const list = upstreams([5, 1, 1, 1])
  const { picker } = build('random', list, undefined, 2)
  const tried = [list[0]!, list[1]!, list[2]!]
  t.equal(sequence(picker, 20, context({ tried })), 'd'.repeat(20), 'only d is left')
  const counts = tally(picker, 30_000, context({ tried: [list[0]!] }))
  t.notOk('a' in counts)
  for (const name of ['b', 'c', 'd']) t.ok(Math.abs(counts[name]! - 10_000) < 400, `${name}: ${counts[name]}`)
  t.equal(picker.pick(context({ tried: list })), undefined, 'all tried')
  t.equal(build('random', []).picker.pick(context()), undefined, 'empty list')
})
