/**
 * LoopDelayMeter with a manual clock: `stall(ms)` moves time on without firing timers, as a blocked event loop does.
 */
import t from 'tap'
import { ManualClock } from '../../src/util/clock.js'
import { LoopDelayMeter } from '../../src/util/loop-delay.js'

function meter (): { clock: ManualClock, delay: LoopDelayMeter } {
  const clock = new ManualClock(1000)
  return { clock, delay: new LoopDelayMeter(clock, 2) }
}

t.test('starts on first use, and a loop that keeps time counts no delay', async (t) => {
  const { clock, delay } = meter()
  t.equal(clock.pending, 0, 'no timer before the first read')
  t.equal(delay.now(), 0)
  t.equal(clock.pending, 1)
  clock.advance(500)
  t.equal(delay.now(), 0, '250 ticks on time')
})

t.test('a stall counts while its tick is overdue, and the same once the tick has run', async (t) => {
  const { clock, delay } = meter()
  const start = delay.now()
  clock.advance(1)
  clock.stall(20)
  const during = delay.now() - start
  t.equal(during, 19, 'responses read right after the stall already see it (tick due at +2, now +21)')
  clock.advance(0) // the loop runs again: the overdue tick fires, late
  t.equal(delay.now() - start, 19, 'the tick recorded the same delay')
  clock.advance(10)
  t.equal(delay.now() - start, 19, 'and nothing after it')
})

t.test('the delay inside an interval is a subtraction; timer jitter of 1 ms or less is not a stall', async (t) => {
  const { clock, delay } = meter()
  delay.now()
  clock.stall(30)
  clock.advance(0)
  const before = delay.now()
  clock.advance(2) // a tick on time; the next is due in 2 ms
  clock.stall(3)
  clock.advance(0) // that tick runs 1 ms late: granularity
  clock.advance(4)
  t.equal(delay.now() - before, 0)
  clock.stall(8)
  t.equal(delay.now() - before, 6, 'a later stall: 8 ms, less the 2 ms the next tick was due in anyway')
})

t.test('close stops the timer and freezes the count', async (t) => {
  const { clock, delay } = meter()
  delay.now()
  clock.stall(10)
  clock.advance(0)
  const total = delay.now()
  delay.close()
  t.equal(clock.pending, 0)
  clock.stall(50)
  t.equal(delay.now(), total)
  t.equal(clock.pending, 0, 'reading it after close does not start it again')
})
