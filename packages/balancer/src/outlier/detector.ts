/**
 * Passive health: ejects upstreams that fail real traffic, as Envoy's outlier detection
 * (source/common/upstream/outlier_detection_impl.cc), and honours `503` + `Retry-After`.
 *
 * - `consecutiveFailures` connect failures, resets or timeouts in a row (and 5xx answers too when
 *   `consecutive5xx` is on) eject the upstream: FAILED_OUTLIER is set. Any success resets the count; with
 *   `consecutive5xx` off, any HTTP answer does (the upstream is reachable, which is what is being counted).
 * - The ejection lasts `baseEjectionTime × n` (n = its ejection count, so repeat offenders stay out longer),
 *   capped by `maxEjectionTime`, plus up to `jitter` % more at random, "so that not all hosts uneject at the
 *   same time, which could possibly generate a connection storm" (Envoy).
 * - Ejection count decay: Envoy decrements the multiplier once per sweep interval while the host stays healthy.
 *   We do the same lazily, without a sweep timer: when an upstream is ejected again, its count first drops by
 *   one for every whole `baseEjectionTime` it spent un-ejected since its last un-ejection.
 * - No ejection may take the ejected share above `maxEjectionPercent` of the monitored upstreams, except that
 *   one upstream can always be ejected (Envoy: "will eject at least one host regardless of the value").
 * - On un-ejection the counter is reset, "to avoid re-ejection on very few new errors" (Envoy).
 * - A successful active health check ends an ejection early when `unejectOnHealthCheck` is on (Envoy
 *   `successful_active_health_check_uneject_host`, default true).
 * - A `503` with `Retry-After` holds that upstream out (RETRY_AFTER) until then, capped by `maxEjectionTime`.
 *   Holds are not ejections: they do not count towards `maxEjectionPercent`, since the upstream asked for
 *   them; if every upstream is held, the set's panic mode and last-resort tries still reach them.
 *
 * `record()` runs once per upstream attempt: no allocation unless something changes. Time goes through the
 * injected Clock; it only flips flags and reports transitions (the caller calls `set.changed()`).
 * Pure: no Fastify, no undici, no sockets.
 */
import type { TransitionReason } from '../events.js'
import { type Upstream, UpstreamFlag } from '../upstream/upstream.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { Random } from '../util/random.js'

export const DEFAULT_CONSECUTIVE_FAILURES = 5
export const DEFAULT_CONSECUTIVE_5XX = false
export const DEFAULT_BASE_EJECTION_TIME = 30_000
export const DEFAULT_MAX_EJECTION_TIME = 300_000
export const DEFAULT_MAX_EJECTION_PERCENT = 50
export const DEFAULT_EJECTION_JITTER = 10
export const DEFAULT_UNEJECT_ON_HEALTH_CHECK = true

export interface OutlierDetectionOptions {
  /** Failures in a row that eject (Envoy `consecutive_5xx` / `consecutive_local_origin_failure`). */
  consecutiveFailures: number
  /** Count 5xx answers as failures too (off: only connect errors, resets and timeouts count). */
  consecutive5xx: boolean
  /** Ejection time for a first ejection, in ms; multiplied by the ejection count. */
  baseEjectionTime: number
  /** Cap on one ejection (and on a Retry-After hold), in ms. */
  maxEjectionTime: number
  /** Upper bound on the share of upstreams ejected at once, in percent (one can always be ejected). */
  maxEjectionPercent: number
  /** Up to this percent of the ejection time is added at random on un-ejection. */
  jitter: number
  /** A passing active health check ends an ejection early. */
  unejectOnHealthCheck: boolean
}

/** What happened to one attempt on an upstream. A number is an HTTP status. */
export type Outcome =
  | 'success'
  | 'connect-failure'
  | 'reset'
  | 'timeout'
  | number
  | { readonly status: number, readonly retryAfterMs?: number }

export interface OutlierDeps {
  clock: Clock
  random: Random
  /**
   * An upstream was ejected (or held) or came back. Flags are already set: the caller rebuilds the set
   * (`set.changed()`), logs, and starts slow start on restore.
   */
  onTransition?: (upstream: Upstream, ejected: boolean, reason: TransitionReason, detail?: Readonly<Record<string, unknown>>) => void
}

class Monitor {
  /** Failures in a row since the last success. */
  consecutive = 0
  /** Backoff multiplier: ejections so far, minus decay. */
  ejections = 0
  /** Ejections over the upstream's life, for stats. */
  totalEjections = 0
  ejected = false
  /** `clock.now()` of the last un-ejection, for the decay. */
  unejectedAt = 0
  timer: TimerHandle | undefined = undefined
  /** `clock.now()` until which a Retry-After hold lasts (0 = none). */
  holdUntil = 0
  holdTimer: TimerHandle | undefined = undefined
  constructor (readonly upstream: Upstream) {}
}

export interface MonitorStats {
  consecutive: number
  ejections: number
  totalEjections: number
  ejected: boolean
  holdUntil: number
}

export class OutlierDetector {
  private readonly monitors = new Map<Upstream, Monitor>()
  private ejectedCount = 0
  /** Ejections refused by `maxEjectionPercent`, for stats. */
  refused = 0

  constructor (private readonly options: OutlierDetectionOptions, private readonly deps: OutlierDeps) {}

  /** Upstreams currently ejected (Retry-After holds not included). */
  get ejected (): number { return this.ejectedCount }

  get size (): number { return this.monitors.size }

  add (upstream: Upstream): void {
    if (!this.monitors.has(upstream)) this.monitors.set(upstream, new Monitor(upstream))
  }

  /** Stops watching `upstream`: cancels its timers and clears the flags this detector set. */
  remove (upstream: Upstream): void {
    const m = this.monitors.get(upstream)
    if (m === undefined) return
    this.monitors.delete(upstream)
    if (m.ejected) this.ejectedCount--
    this.cancel(m)
    upstream.setFlag(UpstreamFlag.FAILED_OUTLIER, false)
    upstream.setFlag(UpstreamFlag.RETRY_AFTER, false)
  }

  /** Cancels every timer (flags are left as they are: the balancer is closing). */
  stop (): void {
    for (const m of this.monitors.values()) this.cancel(m)
  }

  /** Records one attempt's outcome. */
  record (upstream: Upstream, outcome: Outcome): void {
    switch (outcome) {
      case 'success': {
        const m = this.monitors.get(upstream)
        if (m !== undefined) m.consecutive = 0
        return
      }
      case 'connect-failure': case 'reset': case 'timeout':
        this.failure(upstream, outcome)
        return
      default:
        if (typeof outcome === 'number') this.recordStatus(upstream, outcome, 0)
        else this.recordStatus(upstream, outcome.status, outcome.retryAfterMs ?? 0)
    }
  }

  /** Records an HTTP answer; `retryAfterMs` > 0 with a 503 holds the upstream out that long. No allocation. */
  recordStatus (upstream: Upstream, status: number, retryAfterMs: number): void {
    if (status === 503 && retryAfterMs > 0) {
      const m = this.monitors.get(upstream)
      if (m !== undefined) this.hold(m, retryAfterMs)
    }
    if (status >= 500 && this.options.consecutive5xx) {
      this.failure(upstream, 'status')
      return
    }
    const m = this.monitors.get(upstream)
    if (m !== undefined) m.consecutive = 0
  }

  /** An active health check passed: end an ejection early (Envoy `successful_active_health_check_uneject_host`). */
  onHealthCheckPassed (upstream: Upstream): void {
    if (!this.options.unejectOnHealthCheck) return
    const m = this.monitors.get(upstream)
    if (m?.ejected === true) this.uneject(m, 'health-check-uneject')
  }

  stats (upstream: Upstream): MonitorStats | undefined {
    const m = this.monitors.get(upstream)
    if (m === undefined) return undefined
    return { consecutive: m.consecutive, ejections: m.ejections, totalEjections: m.totalEjections, ejected: m.ejected, holdUntil: m.holdUntil }
  }

  private failure (upstream: Upstream, kind: string): void {
    const m = this.monitors.get(upstream)
    // Failures of requests that were in flight when it was ejected do not extend the ejection.
    if (m === undefined || m.ejected) return
    if (++m.consecutive < this.options.consecutiveFailures) return
    // Reset whether or not the ejection is allowed, so a new bout of failures is needed for the next try
    // (Envoy resets the counter after notifying the detector).
    m.consecutive = 0
    this.eject(m, kind)
  }

  private eject (m: Monitor, kind: string): void {
    const total = this.monitors.size
    if (this.ejectedCount > 0 && (this.ejectedCount + 1) * 100 > this.options.maxEjectionPercent * total) {
      this.refused++
      return
    }
    const { baseEjectionTime, maxEjectionTime, jitter } = this.options
    const now = this.deps.clock.now()
    if (m.ejections > 0 && baseEjectionTime > 0) {
      const decay = Math.floor((now - m.unejectedAt) / baseEjectionTime)
      m.ejections = Math.max(0, m.ejections - decay)
    }
    m.ejections++
    m.totalEjections++
    const time = Math.min(baseEjectionTime * m.ejections, maxEjectionTime)
    const duration = time + time * (jitter / 100) * this.deps.random.next()
    m.ejected = true
    this.ejectedCount++
    m.upstream.setFlag(UpstreamFlag.FAILED_OUTLIER, true)
    m.timer = this.deps.clock.setTimeout(() => { this.uneject(m, 'ejection-expired') }, duration)
    this.deps.onTransition?.(m.upstream, true, 'consecutive-failures', {
      failure: kind, ejections: m.ejections, ejectionTime: Math.round(duration)
    })
  }

  private uneject (m: Monitor, reason: TransitionReason): void {
    if (!m.ejected) return
    m.timer?.cancel()
    m.timer = undefined
    m.ejected = false
    this.ejectedCount--
    m.unejectedAt = this.deps.clock.now()
    m.consecutive = 0
    m.upstream.setFlag(UpstreamFlag.FAILED_OUTLIER, false)
    this.deps.onTransition?.(m.upstream, false, reason)
  }

  private hold (m: Monitor, retryAfterMs: number): void {
    const ms = Math.min(retryAfterMs, this.options.maxEjectionTime)
    const until = this.deps.clock.now() + ms
    if (m.holdTimer !== undefined && until <= m.holdUntil) return // already held at least that long
    m.holdTimer?.cancel()
    m.holdUntil = until
    m.holdTimer = this.deps.clock.setTimeout(() => { this.release(m) }, ms)
    if (m.upstream.setFlag(UpstreamFlag.RETRY_AFTER, true)) {
      this.deps.onTransition?.(m.upstream, true, 'retry-after', { retryAfterMs: ms })
    }
  }

  private release (m: Monitor): void {
    m.holdTimer = undefined
    m.holdUntil = 0
    if (m.upstream.setFlag(UpstreamFlag.RETRY_AFTER, false)) {
      this.deps.onTransition?.(m.upstream, false, 'ejection-expired', { retryAfter: true })
    }
  }

  private cancel (m: Monitor): void {
    m.timer?.cancel()
    m.timer = undefined
    m.holdTimer?.cancel()
    m.holdTimer = undefined
  }
}

/**
 * Milliseconds a `Retry-After` header asks for (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or 0 when
 * absent or unreadable. `wallNow` is `Date.now()` (an HTTP-date is wall-clock time).
 */
export function parseRetryAfter (value: string | string[] | undefined, wallNow: number): number {
  const header = Array.isArray(value) ? value[0] : value
  if (header === undefined || header === '') return 0
  const c = header.charCodeAt(0)
  if (c >= 48 && c <= 57) {
    const seconds = Number(header.trim())
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0
  }
  const date = Date.parse(header)
  return Number.isNaN(date) ? 0 : Math.max(0, date - wallNow)
}
