/**
 * Event-loop delay, cumulative: how many milliseconds this process's event loop has run late since the meter
 * started, as a repeating timer sees it (the idea of `perf_hooks.monitorEventLoopDelay`, kept as a running sum so
 * that the delay inside any interval is a subtraction). Pure: time and timers come from the injected `Clock`.
 *
 * Why peak-EWMA needs it: the gateway times each attempt itself. While its event loop is blocked (a GC pause, a
 * heavy request, a CPU shared with other processes), every response that arrives waits in its socket, and each of
 * those attempts measures the stall on top of the upstream's own time. The peak rule takes any higher sample at
 * once, so after a 20 ms stall every fast upstream costs 20 ms, and a 100 ms upstream with nothing in flight looks
 * cheaper than a fast one with a few requests in flight. The delay that fell inside an attempt is the gateway's,
 * not the upstream's: subtracting it leaves what the upstream took. (Finagle and Linkerd time on threads that are
 * rarely blocked that long.)
 */
import type { Clock, TimerHandle } from './clock.js'

/** Milliseconds between ticks: fine enough to see stalls of a few ms, cheap enough to run all the time. */
export const DEFAULT_RESOLUTION = 2

/** A tick up to this much late is timer granularity, not a stall. */
const JITTER = 1

export class LoopDelayMeter {
  private total = 0
  /** When the last tick ran (or the meter started). */
  private last = 0
  private timer: TimerHandle | null = null
  private closed = false

  constructor (private readonly clock: Clock, private readonly resolution = DEFAULT_RESOLUTION) {}

  /**
   * Milliseconds the loop has run late so far, counting a tick overdue right now: responses read just after a stall
   * are handled before the timer that measures it gets to run. Starts the meter on first use.
   */
  now (): number {
    const now = this.clock.now()
    if (this.timer === null) {
      if (!this.closed) this.arm(now)
      return this.total
    }
    const overdue = now - this.last - this.resolution
    return overdue > JITTER ? this.total + overdue : this.total
  }

  /** Stops the timer; `now()` then stays where it was. */
  close (): void {
    this.closed = true
    this.timer?.cancel()
    this.timer = null
  }

  private arm (now: number): void {
    this.last = now
    this.timer = this.clock.setTimeout(this.tick, this.resolution)
  }

  private readonly tick = (): void => {
    const now = this.clock.now()
    const late = now - this.last - this.resolution
    if (late > JITTER) this.total += late
    this.arm(now)
  }
}
