import t from 'tap'
import { SlowStart } from '../../src/upstream/slow-start.js'
import { Upstream } from '../../src/upstream/upstream.js'
import { ManualClock } from '../../src/util/clock.js'

const upstream = (weight = 10): Upstream => new Upstream({ url: 'http://127.0.0.1:3000', weight, backup: false, name: 'u' })
const round = (x: number): number => Math.round(x * 1000) / 1000

t.test('linear ramp from 10 % to 100 % over the window, on a coarse timer', async (t) => {
  const clock = new ManualClock()
  let changes = 0
  const slow = new SlowStart({ window: 10_000 }, clock, () => { changes++ })
  const u = upstream(10)
  t.ok(slow.enabled)
  slow.begin(u)
  t.equal(u.effectiveWeight, 1, '10 % at once')
  t.ok(slow.isRamping(u))
  const weights: number[] = []
  for (let i = 0; i < 10; i++) {
    clock.advance(1000)
    weights.push(round(u.effectiveWeight))
  }
  t.same(weights, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'the 10 % floor, then linear')
  t.equal(changes, 10, 'one set.changed() per step, not per request')
  t.notOk(slow.isRamping(u))
  t.equal(slow.size, 0)
  t.equal(clock.pending, 0, 'no timer once nothing ramps')
  clock.advance(10_000)
  t.equal(changes, 10)
})

t.test('factor: min weight and aggression (Envoy slow_start_config)', async (t) => {
  const clock = new ManualClock()
  const linear = new SlowStart({ window: 1000 }, clock, () => {})
  t.same([0, 50, 100, 500, 999, 1000, 5000].map((e) => round(linear.factor(e))), [0.1, 0.1, 0.1, 0.5, 0.999, 1, 1])
  const aggressive = new SlowStart({ window: 1000, aggression: 2, minWeightPercent: 5 }, clock, () => {})
  t.same([0, 10, 250, 1000].map((e) => round(aggressive.factor(e))), [0.05, 0.1, 0.5, 1], 'sqrt ramp: faster early')
  t.equal(round(aggressive.factor(-5)), 0.05)
})

t.test('restart, end, several upstreams, stop; window 0 = off', async (t) => {
  const clock = new ManualClock()
  let changes = 0
  const slow = new SlowStart({ window: 1000, steps: 4 }, clock, () => { changes++ })
  const a = upstream(4)
  const b = upstream(8)
  slow.begin(a)
  clock.advance(500)
  t.equal(a.effectiveWeight, 2)
  slow.begin(b)
  t.equal(b.effectiveWeight, 0.8)
  slow.begin(a) // went down and up again: the ramp restarts
  t.equal(round(a.effectiveWeight), 0.4)
  clock.advance(250)
  t.equal(a.effectiveWeight, 1)
  t.equal(b.effectiveWeight, 2)
  slow.end(b)
  t.equal(b.effectiveWeight, 8)
  slow.end(b)
  slow.stop()
  t.equal(a.effectiveWeight, 4, 'stop puts everyone at full weight')
  t.equal(clock.pending, 0)
  const before = changes
  clock.advance(5000)
  t.equal(changes, before)

  const off = new SlowStart({ window: 0 }, clock, () => { changes++ })
  const c = upstream(5)
  off.begin(c)
  t.equal(c.effectiveWeight, 5)
  t.notOk(off.enabled)
  t.equal(clock.pending, 0)
})
