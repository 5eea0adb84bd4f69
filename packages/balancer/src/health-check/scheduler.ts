/**
 * When to probe: one probe timer per upstream, on the injected Clock, so tests drive it with a ManualClock and a
 * fake probe.
 *
 * - Every `interval` ± `jitter` % (Envoy `interval_jitter_percent`), counted from the end of the previous
 *   probe as Envoy does, so a slow upstream is never probed faster than it answers.
 * - The first probe of each upstream comes after a random share of `jitter` % of the interval (Envoy
 *   `initial_jitter`), so a fleet of gateways started together does not probe in lock step.
 * - Probes of one upstream never overlap: a probe that outlives its `timeout` is reported as failed and
 *   aborted, and while it has still not settled the next tick is skipped rather than stacked.
 * - `stop()` cancels every timer and aborts every probe.
 *
 * It knows nothing about HTTP: the probe is injected. Pure: no Fastify, no undici, no sockets.
 */
import type { Upstream } from '../upstream/upstream.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { Random } from '../util/random.js'
import type { ProbeResult } from './state-machine.js'

/** Probes one upstream. Must settle; should stop work when `signal` aborts (on timeout or stop). */
export type ProbeFunction = (upstream: Upstream, signal: AbortSignal) => Promise<ProbeResult>

export interface SchedulerOptions {
  /** Milliseconds between the end of one probe and the start of the next (HAProxy `inter`). */
  interval: number
  /** ± percent of `interval` applied at random to each wait (0 = none). */
  jitter: number
  /** Milliseconds a probe may take before it counts as failed and is aborted. */
  timeout: number
}

export interface SchedulerDeps {
  clock: Clock
  random: Random
  probe: ProbeFunction
  /** Every probe's result (or its timeout), in order per upstream. */
  onResult: (upstream: Upstream, result: ProbeResult) => void
  /** A throwing `onResult` ends up here instead of in an unhandled rejection. */
  onError?: (err: unknown) => void
}

export const DEFAULT_HEALTH_CHECK_INTERVAL = 2000
export const DEFAULT_HEALTH_CHECK_JITTER = 10
export const DEFAULT_HEALTH_CHECK_TIMEOUT = 1000

/** The error a timed-out probe is reported with. */
export class ProbeTimeoutError extends Error {
  readonly code = 'SWY_BALANCER_HEALTH_CHECK_TIMEOUT'
  constructor (timeout: number) {
    super(`health check timed out after ${timeout} ms`)
    this.name = 'ProbeTimeoutError'
  }
}

class Session {
  timer: TimerHandle | undefined = undefined
  timeoutTimer: TimerHandle | undefined = undefined
  controller: AbortController | undefined = undefined
  /** A probe was started and has not settled yet (even if it was already reported as timed out). */
  busy = false
  /** Bumped per probe, on timeout, stop and removal: a late result with an old token is ignored. */
  token = 0
  /** Probes started, for stats and tests. */
  probes = 0
  removed = false
  constructor (readonly upstream: Upstream) {}
}

export class HealthCheckScheduler {
  private readonly sessions = new Map<Upstream, Session>()
  private running = false

  constructor (private readonly options: SchedulerOptions, private readonly deps: SchedulerDeps) {}

  get started (): boolean { return this.running }

  /** Starts probing `upstream` (at once if the scheduler runs). Adding twice is a no-op. */
  add (upstream: Upstream): void {
    if (this.sessions.has(upstream)) return
    const session = new Session(upstream)
    this.sessions.set(upstream, session)
    if (this.running) this.schedule(session, this.initialDelay())
  }

  /** Stops probing `upstream`; an in-flight probe is aborted and its result ignored. */
  remove (upstream: Upstream): boolean {
    const session = this.sessions.get(upstream)
    if (session === undefined) return false
    this.sessions.delete(upstream)
    session.removed = true
    this.cancel(session)
    return true
  }

  start (): void {
    if (this.running) return
    this.running = true
    for (const session of this.sessions.values()) this.schedule(session, this.initialDelay())
  }

  stop (): void {
    this.running = false
    for (const session of this.sessions.values()) this.cancel(session)
  }

  /** Probes started for `upstream` so far. */
  probeCount (upstream: Upstream): number { return this.sessions.get(upstream)?.probes ?? 0 }

  /** True while a probe of `upstream` has not settled. */
  inFlight (upstream: Upstream): boolean { return this.sessions.get(upstream)?.busy ?? false }

  /** The wait before the next probe: `interval` ± `jitter` %. */
  nextDelay (): number {
    const { interval, jitter } = this.options
    if (jitter <= 0) return interval
    return interval * (1 + (2 * this.deps.random.next() - 1) * jitter / 100)
  }

  private initialDelay (): number {
    const { interval, jitter } = this.options
    return this.deps.random.next() * interval * jitter / 100
  }

  private schedule (session: Session, delay: number): void {
    session.timer = this.deps.clock.setTimeout(() => { this.tick(session) }, delay)
  }

  private cancel (session: Session): void {
    session.token++
    session.timer?.cancel()
    session.timer = undefined
    session.timeoutTimer?.cancel()
    session.timeoutTimer = undefined
    session.controller?.abort()
    session.controller = undefined
  }

  private tick (session: Session): void {
    session.timer = undefined
    if (!this.running || session.removed) return
    if (session.busy) {
      // The previous probe timed out and still has not settled (its probe ignored the abort): never stack a
      // second one on the same upstream. Try again one interval later.
      this.schedule(session, this.nextDelay())
      return
    }
    session.busy = true
    session.probes++
    const token = ++session.token
    const controller = new AbortController()
    session.controller = controller
    session.timeoutTimer = this.deps.clock.setTimeout(() => { this.timedOut(session, token) }, this.options.timeout)
    let promise: Promise<ProbeResult>
    try {
      promise = this.deps.probe(session.upstream, controller.signal)
    } catch (err) {
      promise = Promise.reject(err)
    }
    promise.then(
      (result) => { this.settled(session, token, result) },
      (err: unknown) => { this.settled(session, token, { status: 0, error: toError(err) }) }
    )
  }

  private timedOut (session: Session, token: number): void {
    if (token !== session.token) return
    session.timeoutTimer = undefined
    session.token++ // the probe's own result, if it ever comes, is stale now
    session.controller?.abort()
    session.controller = undefined
    this.report(session, { status: 0, error: new ProbeTimeoutError(this.options.timeout) })
    if (this.running && !session.removed) this.schedule(session, this.nextDelay())
  }

  private settled (session: Session, token: number, result: ProbeResult): void {
    session.busy = false
    if (token !== session.token) return // timed out, stopped or removed meanwhile
    session.timeoutTimer?.cancel()
    session.timeoutTimer = undefined
    session.controller = undefined
    this.report(session, result)
    if (this.running && !session.removed) this.schedule(session, this.nextDelay())
  }

  private report (session: Session, result: ProbeResult): void {
    try {
      this.deps.onResult(session.upstream, result)
    } catch (err) {
      this.deps.onError?.(err)
    }
  }
}

function toError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
