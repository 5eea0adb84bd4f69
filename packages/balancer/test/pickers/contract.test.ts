import t from 'tap'
import * as subpath from '@switchyard/balancer/pickers'
import { ALGORITHMS, type Algorithm, type AlgorithmOptions, SeededRandom, type Upstream } from '@switchyard/balancer/pickers'
import { build, context, upstreams } from './helpers.js'

const SECRET = 'a-secret-of-at-least-32-characters!!'
const OPTIONS: { [A in Algorithm]?: AlgorithmOptions[A] } = { sticky: { secret: SECRET } }

t.test('the registry has every algorithm of issue 3', async (t) => {
  t.same([...ALGORITHMS].sort(), ['consistent-hash', 'least-connections', 'p2c', 'peak-ewma', 'random', 'round-robin',
    'sticky', 'weighted-round-robin'])
  for (const name of ['observeLatency', 'hash32', 'requestHash', 'validatePickerOptions', 'serializeStickyCookie',
    'readCookie', 'createPicker', 'StickyPicker', 'ConsistentHashPicker', 'PeakEwmaPicker', 'P2cPicker', 'RandomPicker',
    'LeastConnectionsPicker', 'RoundRobinPicker', 'Upstream', 'SeededRandom', 'ManualClock'] as const) {
    t.equal(typeof subpath[name], 'function', `${name} is exported from @switchyard/balancer/pickers`)
  }
})

t.test('every algorithm: empty list, single upstream, all tried', async (t) => {
  for (const algorithm of ALGORITHMS) {
    t.equal(build(algorithm, [], OPTIONS[algorithm] as never).picker.pick(context()), undefined, `${algorithm}: empty`)
    for (const weights of [[1], [3]]) {
      const one = upstreams(weights)
      const { picker } = build(algorithm, one, OPTIONS[algorithm] as never)
      t.equal(picker.pick(context({ hash: 123 })), one[0], `${algorithm}: single`)
      t.equal(picker.pick(context({ tried: one })), undefined, `${algorithm}: single, tried`)
    }
    const list = upstreams([1, 2, 3])
    const { picker } = build(algorithm, list, OPTIONS[algorithm] as never)
    t.equal(picker.pick(context({ tried: list, hash: 5 })), undefined, `${algorithm}: all tried`)
  }
})

t.test('every algorithm, random lists: never a tried upstream, always one when any is left', async (t) => {
  const random = new SeededRandom(2024)
  for (const algorithm of ALGORITHMS) {
    let bad = 0
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(random.next() * 12)
      const weighted = random.next() < 0.5
      const list = upstreams(Array.from({ length: n }, () => ({
        weight: weighted ? 1 + Math.floor(random.next() * 4) : 1,
        inFlight: Math.floor(random.next() * 5),
        ...(random.next() < 0.7 ? { latency: 1 + random.next() * 20 } : {})
      })))
      if (random.next() < 0.3) list[0]!.effectiveWeight = 0.37 // ramping under slow start
      const { picker } = build(algorithm, list, OPTIONS[algorithm] as never, round)
      for (let attempt = 0; attempt < 10; attempt++) {
        const tried: Upstream[] = list.filter(() => random.next() < 0.3)
        const ctx = context({ tried, hash: Math.floor(random.next() * 2 ** 32), now: attempt })
        const u = picker.pick(ctx)
        if (u === undefined ? tried.length < n : (tried.includes(u) || !list.includes(u))) bad++
        if (u !== undefined && random.next() < 0.5) { u.inFlight++; picker.inFlightChanged?.(u) }
      }
      // Membership changes: drop one, refresh, keep picking.
      if (n > 1) {
        const fewer = list.slice(1)
        picker.refresh(fewer)
        const u = picker.pick(context({ hash: 9 }))
        if (u === undefined || !fewer.includes(u)) bad++
      }
    }
    t.equal(bad, 0, `${algorithm}: 2,000 picks over 200 random lists`)
  }
})
