/**
 * Time as a dependency: the check runner and the drain lifecycle read time and arm timers only through a
 * `Clock`, so tests drive them deterministically (DESIGN.md principle 2). The system clock unrefs every timer
 * so none of ours ever keeps the process alive.
 */
export type TimerHandle = unknown

export interface Clock {
  /** Milliseconds since the epoch (wall clock: it also stamps each check's `time`). */
  now (): number
  /**
   * Timers are unref'd unless `ref` is true. Only bounded timers that something must wait for are ref'd: a
   * check's timeout (a probe is waiting; unref'd, a process that only uses `inject()` could exit mid-probe)
   * and the drain delay (the close it leads to must run).
   */
  setTimeout (fn: () => void, ms: number, ref?: boolean): TimerHandle
  clearTimeout (handle: TimerHandle): void
}

export const systemClock: Clock = {
  now: Date.now,
  setTimeout (fn, ms, ref = false) {
    const timer = setTimeout(fn, ms)
    if (!ref) timer.unref()
    return timer
  },
  clearTimeout (handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  }
}

/** The part of a Fastify/pino logger we use, so Fastify-free modules can log. */
export interface Logger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export const silentLogger: Logger = { info () {}, warn () {}, error () {} }
