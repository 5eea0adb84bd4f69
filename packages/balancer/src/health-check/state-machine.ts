/**
 * The active health verdict of one upstream: HAProxy's rise/fall counters and Envoy's explicit
 * `HealthTransition`, turning probe results into flags on the `Upstream`.
 *
 * It only sets and clears FAILED_ACTIVE_HC, PENDING_ACTIVE_HC and DEGRADED (DESIGN.md principle 3); the caller
 * calls `set.changed()` when `record()` answers `Changed`. It never probes and never reads a clock.
 * Pure: no Fastify, no undici, no sockets.
 */
import { type Upstream, UpstreamFlag } from '../upstream/upstream.js'

/** What a probe saw. `status` is 0 when there was no HTTP answer (connect error, reset, timeout). */
export interface ProbeResult {
  status: number
  /** The `status` member of an `application/health+json` body (`pass`, `warn`, `fail`), when there was one. */
  healthJsonStatus?: string
  error?: Error
}

/** As Envoy's `HealthTransition` (envoy/upstream/health_checker.h). */
export const HealthTransition = {
  /** Nothing changed. */
  Unchanged: 0,
  /** A flag changed (healthy ↔ unhealthy, pending resolved, degraded on/off): call `set.changed()`. */
  Changed: 1,
  /** The result disagrees with the current verdict, but the threshold is not reached yet. */
  ChangePending: 2
} as const
export type HealthTransitionValue = (typeof HealthTransition)[keyof typeof HealthTransition]

/** The state of a new upstream, before any probe answered. */
export type InitialHealth =
  /**
   * PENDING_ACTIVE_HC: no verdict yet; the first probe decides, in either direction (HAProxy `init-state up`,
   * Envoy's first-check rule). Pending upstreams are in doubt, so they still get traffic as a last resort.
   */
  | 'pending'
  /** FAILED_ACTIVE_HC: needs `healthyThreshold` passing probes before it gets traffic (HAProxy `init-state fully-down`). */
  | 'unhealthy'

/** An inclusive range of HTTP statuses that count as passing. */
export type StatusRange = readonly [min: number, max: number]

export interface HealthStateOptions {
  /** Consecutive passing probes to turn an unhealthy upstream healthy (HAProxy `rise`). */
  healthyThreshold: number
  /** Consecutive failing probes to turn a healthy upstream unhealthy (HAProxy `fall`). */
  unhealthyThreshold: number
  initialState: InitialHealth
  /** Statuses that pass (HAProxy `http-check expect status`, Envoy `expected_statuses`). */
  expectedStatuses: readonly StatusRange[]
}

export const DEFAULT_HEALTHY_THRESHOLD = 2
export const DEFAULT_UNHEALTHY_THRESHOLD = 3
export const DEFAULT_EXPECTED_STATUSES: readonly StatusRange[] = Object.freeze([Object.freeze([200, 399] as const)])

/** How a probe result is read. */
export const Verdict = {
  Pass: 0,
  /** `application/health+json` `status: "warn"`: healthy, reported as DEGRADED. */
  Warn: 1,
  Fail: 2
} as const
export type VerdictValue = (typeof Verdict)[keyof typeof Verdict]

/** Reads one probe result: the status must be expected, and a health+json `fail` fails even with a 200. */
export function verdictOf (result: ProbeResult, expected: readonly StatusRange[]): VerdictValue {
  if (result.status === 0 || result.error !== undefined) return Verdict.Fail
  let statusOk = false
  for (let i = 0; i < expected.length; i++) {
    const range = expected[i]!
    if (result.status >= range[0] && result.status <= range[1]) { statusOk = true; break }
  }
  if (!statusOk) return Verdict.Fail
  // RFC draft "Health Check Response Format for HTTP APIs" (application/health+json): pass | warn | fail.
  // Older implementations say "ok"/"up"/"down"; only an explicit failure or warning changes the verdict.
  switch (result.healthJsonStatus) {
    case 'fail': case 'down': return Verdict.Fail
    case 'warn': return Verdict.Warn
    default: return Verdict.Pass
  }
}

/** One upstream's active-check state (Envoy's per-host `HealthCheckSession` counters). */
export class HealthState {
  /** Passing probes in a row (reset by a failure). */
  successes = 0
  /** Failing probes in a row (reset by a pass). */
  failures = 0
  /** Results recorded so far. */
  checks = 0
  /** The last probe result, for the status page and logs. */
  last: ProbeResult | undefined
  /** When the last result came, on the engine's clock (set by the caller, which owns the clock); 0 = never. */
  lastAt = 0

  constructor (readonly upstream: Upstream, private readonly options: HealthStateOptions) {
    if (options.initialState === 'pending') {
      upstream.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, true)
      upstream.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, false)
    } else {
      upstream.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, true)
      upstream.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, false)
    }
  }

  /** True when the active checks say it can take traffic (pending counts as "not yet"). */
  get healthy (): boolean {
    return !this.upstream.has(UpstreamFlag.FAILED_ACTIVE_HC) && !this.upstream.has(UpstreamFlag.PENDING_ACTIVE_HC)
  }

  get pending (): boolean { return this.upstream.has(UpstreamFlag.PENDING_ACTIVE_HC) }

  /** Feeds one probe result; answers what happened to the flags. */
  record (result: ProbeResult): HealthTransitionValue {
    this.checks++
    this.last = result
    const verdict = verdictOf(result, this.options.expectedStatuses)
    return verdict === Verdict.Fail ? this.fail() : this.pass(verdict === Verdict.Warn)
  }

  /** Forgets the counters and clears this checker's flags (the upstream is no longer checked). */
  clear (): void {
    const u = this.upstream
    u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, false)
    u.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, false)
    u.setFlag(UpstreamFlag.DEGRADED, false)
    this.successes = 0
    this.failures = 0
  }

  private pass (warn: boolean): HealthTransitionValue {
    const u = this.upstream
    this.failures = 0
    this.successes++
    if (u.has(UpstreamFlag.PENDING_ACTIVE_HC)) {
      // First verdict for a pending upstream: one pass is enough (Envoy's `first_check_`).
      u.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, false)
      u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, false)
      u.setFlag(UpstreamFlag.DEGRADED, warn)
      return HealthTransition.Changed
    }
    if (u.has(UpstreamFlag.FAILED_ACTIVE_HC)) {
      if (this.successes < this.options.healthyThreshold) return HealthTransition.ChangePending
      u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, false)
      u.setFlag(UpstreamFlag.DEGRADED, warn)
      return HealthTransition.Changed
    }
    // Healthy already: DEGRADED follows every answer, as `warn` is a report about now (no threshold).
    return u.setFlag(UpstreamFlag.DEGRADED, warn) ? HealthTransition.Changed : HealthTransition.Unchanged
  }

  private fail (): HealthTransitionValue {
    const u = this.upstream
    this.successes = 0
    this.failures++
    if (u.has(UpstreamFlag.PENDING_ACTIVE_HC)) {
      // First verdict for a pending upstream: one failure is enough (HAProxy `init-state up`).
      u.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, false)
      u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, true)
      u.setFlag(UpstreamFlag.DEGRADED, false)
      return HealthTransition.Changed
    }
    if (u.has(UpstreamFlag.FAILED_ACTIVE_HC)) return HealthTransition.Unchanged
    if (this.failures >= this.options.unhealthyThreshold) {
      u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, true)
      u.setFlag(UpstreamFlag.DEGRADED, false)
      return HealthTransition.Changed
    }
    return HealthTransition.ChangePending
  }
}
