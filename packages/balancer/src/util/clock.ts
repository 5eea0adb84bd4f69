/**
 * Time, injected (as Envoy's TimeSource) so that state machines and ejection windows can be driven by a
 * fake clock in tests. Pure: no Fastify, no network.
 */
export interface TimerHandle {
  /** Cancels the timer; calling it twice is harmless. */
  cancel (): void
}

export interface Clock {
  /** Monotonic milliseconds (fractional). Only differences are meaningful. */
  now (): number
  /** Runs `fn` once after `ms`. Real timers are unref()'d so they never keep the process alive. */
  setTimeout (fn: () => void, ms: number): TimerHandle
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout (fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return { cancel: () => { clearTimeout(timer) } }
  }
}

/** A clock that only moves when told to: `advance(ms)` runs every timer that falls due, in order. */
export class ManualClock implements Clock {
  private time: number
  private timers: Array<{ at: number, seq: number, fn: () => void, cancelled: boolean }> = []
  private seq = 0

  constructor (start = 0) { this.time = start }

  now (): number { return this.time }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false }
    this.timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  /** Moves time forward by `ms`, firing due timers (including ones scheduled while advancing). */
  advance (ms: number): void {
    const end = this.time + ms
    for (;;) {
      let next: (typeof this.timers)[number] | undefined
      for (const timer of this.timers) {
        if (timer.cancelled || timer.at > end) continue
        if (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq)) next = timer
      }
      if (next === undefined) break
      this.time = Math.max(this.time, next.at)
      next.cancelled = true
      next.fn()
    }
    this.timers = this.timers.filter((timer) => !timer.cancelled)
    this.time = end
  }

  /**
   * Moves time forward by `ms` without firing anything, as a blocked event loop would: timers that fell due meanwhile
   * fire late, at the next `advance`.
   */
  stall (ms: number): void {
    this.time += ms
  }

  /** Timers still waiting to fire. */
  get pending (): number { return this.timers.filter((timer) => !timer.cancelled).length }
}
