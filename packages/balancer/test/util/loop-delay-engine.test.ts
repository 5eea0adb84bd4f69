/**
 * The engine's use of LoopDelayMeter: peak-EWMA samples leave out the `stalled` part of an attempt; the meter runs
 * only for algorithms that read latencies (peak-ewma, sticky over peak-ewma) and stops with the engine.
 */
import t from 'tap'
import { Balancer, type BalancerOptions, validateOptions } from '@switchyard/balancer'
import { freePort } from '@switchyard/test-harness'
import { ManualClock } from '../../src/util/clock.js'
import { SeededRandom } from '../../src/util/random.js'

// Never dialled (the engine alone is under test), but free ports all the same, as everywhere in the tests.
const URLS = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`]
const SECRET = 'a-sticky-secret-of-at-least-32-characters'

function engine (options: Partial<BalancerOptions>): { b: Balancer, clock: ManualClock } {
  const clock = new ManualClock(1000)
  return { b: new Balancer(validateOptions({ upstreams: URLS, ...options }), { clock, random: new SeededRandom(1) }), clock }
}

t.test('a success and a failure are recorded without the stall', async (t) => {
  const { b } = engine({ algorithm: 'peak-ewma' })
  const [u, v] = b.upstreams as [typeof b.upstreams[0], typeof b.upstreams[0]]
  b.attemptStarted(u)
  b.attemptFinished(u, 'success', 25, 200, 0, 20)
  t.equal(u.latencyEwma, 5, '25 ms, 20 of them the gateway\'s')
  b.attemptStarted(v)
  b.attemptFinished(v, 'timeout', 1500, 0, 0, 400)
  t.equal(v.latencyEwma, 1100, 'a failure too (above the 1 s floor)')
})

t.test('excludeEventLoopDelay: false records the whole time, and reads no meter', async (t) => {
  const { b, clock } = engine({ algorithm: 'peak-ewma', peakEwma: { excludeEventLoopDelay: false } })
  const u = b.upstreams[0]!
  b.attemptStarted(u)
  b.attemptFinished(u, 'success', 25, 200, 0, 20)
  t.equal(u.latencyEwma, 25)
  t.equal(b.loopDelayNow(), 0)
  t.equal(clock.pending, 0, 'no timer')
})

t.test('the meter runs for peak-ewma and sticky over peak-ewma, from the first attempt until close', async (t) => {
  for (const options of [{ algorithm: 'peak-ewma' }, { algorithm: 'sticky', sticky: { secret: SECRET, base: 'peak-ewma' } }] as const) {
    const { b, clock } = engine(options)
    t.equal(clock.pending, 0, `${options.algorithm}: nothing before the first attempt`)
    t.equal(b.loopDelayNow(), 0)
    clock.stall(50)
    t.equal(b.loopDelayNow(), 48, `${options.algorithm}: a 50 ms stall (less the 2 ms tick)`)
    b.close()
    t.equal(clock.pending, 0, `${options.algorithm}: close stops it`)
  }
  for (const algorithm of ['round-robin', 'p2c', 'least-connections'] as const) {
    const { b, clock } = engine({ algorithm })
    clock.stall(50)
    t.equal(b.loopDelayNow(), 0, `${algorithm}: reads no latencies, runs no meter`)
    t.equal(clock.pending, 0)
  }
})
