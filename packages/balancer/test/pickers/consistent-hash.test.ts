import t from 'tap'
import { ConsistentHashPicker, type Upstream, hash32 } from '@switchyard/balancer/pickers'
import { build, context, upstreams } from './helpers.js'

const KEYS = Array.from({ length: 100_000 }, (_, i) => hash32(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`))

function owners (picker: ConsistentHashPicker): Array<Upstream | undefined> {
  return KEYS.map((h) => picker.owner(h))
}

function unbounded (list: readonly Upstream[], tableSize?: number): ConsistentHashPicker {
  return build('consistent-hash', list, { balanceFactor: 0, ...(tableSize === undefined ? {} : { tableSize }) }).picker as ConsistentHashPicker
}

t.test('the same key always goes to the same upstream, on every gateway', async (t) => {
  const list = upstreams(5)
  const a = build('consistent-hash', list).picker
  // Another gateway, configured in another order, with another RNG seed.
  const b = build('consistent-hash', [...list].reverse(), undefined, 99).picker
  let disagreements = 0
  for (let i = 0; i < 1000; i++) {
    const ctx = context({ hash: KEYS[i]! })
    const first = a.pick(ctx)
    if (a.pick(ctx) !== first || b.pick(ctx) !== first) disagreements++
  }
  t.equal(disagreements, 0, '1,000 keys agree across gateways and repeats')
  // Exact owners are pinned: a change of hash or table build would remap every user's sessions.
  t.same(KEYS.slice(0, 12).map((h) => a.pick(context({ hash: h }))!.name).join(''), 'bedcdcbcbbbd')
})

t.test('keys spread evenly (±1% of each share), weights respected', async (t) => {
  for (const weights of [[1, 1, 1, 1, 1], [1, 2, 3, 4], [5, 1, 1]]) {
    const picker = unbounded(upstreams(weights))
    const counts: Record<string, number> = {}
    for (const u of owners(picker)) counts[u!.name] = (counts[u!.name] ?? 0) + 1
    const total = weights.reduce((s, w) => s + w, 0)
    weights.forEach((w, i) => {
      const name = 'abcde'[i]!
      const expected = KEYS.length * w / total
      // Maglev table shares are exact to ±1 slot; key sampling adds ~√n noise.
      const tolerance = expected * 0.01 + 3 * Math.sqrt(expected)
      t.ok(Math.abs(counts[name]! - expected) <= tolerance, `${weights.join(':')} ${name}: ${counts[name]} ≈ ${expected.toFixed(0)}`)
    })
  }
})

t.test('adding or removing one of N upstreams remaps at most 1/N + 2% of keys', async (t) => {
  for (const n of [3, 5, 10, 50]) {
    const list = upstreams(n + 1)
    const base = owners(unbounded(list.slice(0, n)))
    const added = owners(unbounded(list))
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) if (base[i] !== added[i]) moved++
    const addFraction = moved / KEYS.length
    t.ok(addFraction <= 1 / (n + 1) + 0.02, `n=${n} add one: ${(addFraction * 100).toFixed(2)}% moved (ideal ${(100 / (n + 1)).toFixed(2)}%)`)
    // Remove one from the middle.
    const removed = owners(unbounded(list.slice(0, n).filter((_, i) => i !== Math.floor(n / 2))))
    moved = 0
    for (let i = 0; i < KEYS.length; i++) if (base[i] !== removed[i]) moved++
    const removeFraction = moved / KEYS.length
    t.ok(removeFraction <= 1 / n + 0.02, `n=${n} remove one: ${(removeFraction * 100).toFixed(2)}% moved (ideal ${(100 / n).toFixed(2)}%)`)
    // Keys of the removed upstream must move; the others should mostly stay.
    let strays = 0
    for (let i = 0; i < KEYS.length; i++) if (base[i] !== list[Math.floor(n / 2)] && base[i] !== removed[i]) strays++
    t.ok(strays / KEYS.length <= 0.02, `n=${n}: ${(strays / KEYS.length * 100).toFixed(2)}% of the other upstreams' keys moved`)
  }
})

/** Sends `steps` requests whose keys come from `keyOf(step)`, `concurrency` in flight; returns the worst ratio. */
function worstLoad (picker: ConsistentHashPicker, list: readonly Upstream[], steps: number, concurrency: number, keyOf: (step: number) => number): { worst: number, limitOk: boolean } {
  const inFlight: Upstream[] = []
  /** Highest max/average once `concurrency` requests are in flight. */
  let worst = 0
  let limitOk = true
  for (let step = 0; step < steps; step++) {
    if (inFlight.length >= concurrency) {
      // Finish a pseudo-random one, so loads move around.
      const k = (step * 7919) % inFlight.length
      const done = inFlight[k]!
      inFlight[k] = inFlight[inFlight.length - 1]!
      inFlight.pop()
      done.inFlight--
      picker.inFlightChanged(done)
    }
    const u = picker.pick(context({ hash: keyOf(step) }))!
    u.inFlight++
    picker.inFlightChanged(u)
    inFlight.push(u)
    let total = 0
    let max = 0
    for (const x of list) { total += x.inFlight; max = Math.max(max, x.inFlight) }
    const average = total / list.length
    if (inFlight.length >= concurrency) worst = Math.max(worst, max / average)
    if (max > Math.ceil(1.25 * average)) limitOk = false
  }
  return { worst, limitOk }
}

t.test('bounded loads: no upstream exceeds ceil(1.25 × average) in flight', async (t) => {
  const cases: Array<{ name: string, n: number, keyOf: (step: number) => number }> = [
    { name: 'one hot key', n: 5, keyOf: () => KEYS[0]! },
    { name: '90% one key', n: 10, keyOf: (s) => (s % 10 === 0 ? KEYS[s % KEYS.length]! : KEYS[1]!) },
    { name: 'zipf-like keys', n: 8, keyOf: (s) => KEYS[Math.floor(1000 / (1 + (s * 2654435761 % 1000)))]! },
    { name: 'uniform keys', n: 20, keyOf: (s) => KEYS[(s * 48271) % KEYS.length]! }
  ]
  for (const c of cases) {
    const list = upstreams(c.n)
    const picker = build('consistent-hash', list).picker as ConsistentHashPicker
    const { worst, limitOk } = worstLoad(picker, list, 20_000, 10 * c.n, c.keyOf)
    t.ok(limitOk, `${c.name}: every step within ceil(1.25 × avg); steady-state max/avg ${worst.toFixed(2)}`)
    // In-flight counts are integers, so the bound is ceil(1.25 × avg) (as in the paper): with 10 per upstream
    // on average, 13. With more in flight the ratio closes in on 1.25 itself.
    const bigList = upstreams(c.n)
    const big = build('consistent-hash', bigList).picker as ConsistentHashPicker
    const many = worstLoad(big, bigList, 20_000, 200 * c.n, c.keyOf)
    t.ok(many.limitOk && many.worst <= 1.25 + 1 / 200, `${c.name}: max/avg ${many.worst.toFixed(3)} ≤ 1.25 (+ rounding) with ${200 * c.n} in flight`)
  }
  // Without the bound a hot key piles up on one upstream.
  const list = upstreams(5)
  const { worst } = worstLoad(unbounded(list), list, 2_000, 50, () => KEYS[0]!)
  t.ok(worst >= 4.9, `unbounded hot key: max/avg ${worst.toFixed(2)}`)
})

t.test('under the bound, keys stay on their owner', async (t) => {
  const list = upstreams(4)
  const picker = build('consistent-hash', list).picker as ConsistentHashPicker
  for (let i = 0; i < 200; i++) {
    const ctx = context({ hash: KEYS[i]! })
    t.equal(picker.pick(ctx), picker.owner(KEYS[i]!))
  }
})

t.test('ctx.tried walks to the next upstream in the table; all tried → undefined', async (t) => {
  for (const balanceFactor of [0, 125]) {
    const list = upstreams(4)
    const picker = build('consistent-hash', list, { balanceFactor }).picker as ConsistentHashPicker
    const ctx = context({ hash: KEYS[3]! })
    const first = picker.pick(ctx)!
    const second = picker.pick(context({ hash: KEYS[3]!, tried: [first] }))!
    t.not(second, first, `balanceFactor ${balanceFactor}: a retry goes elsewhere`)
    t.equal(picker.pick(context({ hash: KEYS[3]!, tried: [first] })), second, 'deterministically')
    t.equal(picker.pick(context({ hash: KEYS[3]!, tried: list })), undefined)
  }
  t.equal(build('consistent-hash', []).picker.pick(context()), undefined)
})

t.test('in-flight total: refresh re-reads counts, strangers are ignored, a lost count falls back to a scan', async (t) => {
  const list = upstreams([{ inFlight: 3 }, { inFlight: 3 }, { inFlight: 0 }])
  const picker = build('consistent-hash', list).picker as ConsistentHashPicker
  // Total 6, room ceil(1.25 × 7 / 3) = 3: a and b are full, so every key goes to c.
  for (let i = 0; i < 20; i++) t.equal(picker.pick(context({ hash: KEYS[i]! }))?.name, 'c')
  picker.inFlightChanged(upstreams(1)[0]!)
  // Engine never notified and everything looks full: walk gives up, least loaded wins.
  list[2]!.inFlight = 3
  const tiny = build('consistent-hash', list, { tableSize: 7 }).picker
  list[0]!.inFlight = 50
  list[1]!.inFlight = 50
  list[2]!.inFlight = 40
  t.equal(tiny.pick(context({ hash: 1 }))?.name, 'c')
})

t.test('same membership and weights: refresh keeps the table', async (t) => {
  const list = upstreams(3)
  const picker = build('consistent-hash', list).picker as ConsistentHashPicker
  const before = owners(picker).slice(0, 100)
  picker.refresh([...list])
  t.same(owners(picker).slice(0, 100), before)
  list[0]!.effectiveWeight = 2
  picker.refresh([...list])
  const after = owners(picker)
  t.ok(after.filter((u) => u === list[0]).length > 0.45 * KEYS.length, 'a weight change rebuilds')
})
