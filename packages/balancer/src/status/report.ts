/**
 * The status document: what `GET <statusPage.route>/status.json` answers and the status page draws. It is a
 * public API (documented in the README), so its shape only grows. Built on request from the engine's live
 * state (flags, weights, in-flight, health verdicts, retry budget) and the tracker's rolling windows.
 * No Fastify, no network.
 */
import type { Balancer } from '../balancer.js'
import type { TransitionReason } from '../events.js'
import { verdictOf, Verdict } from '../health-check/state-machine.js'
import { EXCLUDING_FLAGS, type Upstream, UpstreamFlag } from '../upstream/upstream.js'
import type { SetState } from '../upstream/upstream-set.js'
import type { StatusTracker, UpstreamTrack } from './tracker.js'
import { type UpstreamState, upstreamState, weightPercent } from './upstream-state.js'

/** Completed buckets merged with the current one for the per-row figures (so they cover 5 to 10 s by default). */
const RECENT_BUCKETS = 1

export interface StatusReport {
  /** Version of this document's shape; fields are only ever added. */
  version: 1
  /** The balancer's name: its `metrics.label`, else the decorator name, else the proxy prefix. */
  balancer: string
  /** When the document was built (ISO 8601). */
  generatedAt: string
  algorithm: string
  /** `normal`, `panic` (too few healthy primaries: balancing over all), `backup` (backups serve) or `none`. */
  state: SetState
  panic: boolean
  /** Upstreams the picker balances over now, and all of them. */
  eligible: number
  total: number
  window: {
    /** Seconds per point of each upstream's `history`. */
    bucketSeconds: number
    /** Start of the first `history` point (ISO 8601); points are consecutive and end where the current bucket starts. */
    historyStart: string
    points: number
    /** Seconds covered by the per-upstream `rps`, `errorRate`, `p50Ms`, `p99Ms` (the current bucket and the one before). */
    recentSeconds: number
  }
  /** Sums over the upstreams (attempts, so retries count again). */
  totals: { rps: number, errorRate: number, inFlight: number, requests: number, failures: number }
  /** Requests answered 503 because no upstream could be tried: since start, and within `recentSeconds`. */
  noUpstream: { total: number, recent: number }
  /** null when the retry budget is off. */
  retryBudget: RetryBudgetStatus | null
  upstreams: UpstreamStatus[]
}

export interface RetryBudgetStatus {
  percent: number
  minPerSecond: number
  windowSeconds: number
  /** Requests and retries in the budget's sliding window, and the retries it allows there. */
  requests: number
  retries: number
  allowed: number
  /** True when one more retry would be refused now. */
  exhausted: boolean
  /** Retries refused: since start, and within `recentSeconds`. */
  denied: { total: number, recent: number }
}

export interface HealthCheckStatus {
  /** Probes answered so far, and the current run of passes / failures. */
  checks: number
  successes: number
  failures: number
  /** The newest probe result; null before the first. */
  last: null | {
    result: 'pass' | 'warn' | 'fail'
    /** HTTP status, 0 when there was no answer. */
    status: number
    /** The `status` of an application/health+json body, when there was one. */
    healthStatus: string | null
    /** The error code or message when the probe got no answer. */
    error: string | null
    /** When the result came (ISO 8601), to within one poll of the status page (see README). */
    at: string | null
  }
}

export interface UpstreamStatus {
  name: string
  url: string
  backup: boolean
  /** `up`, `down`, `ejected`, `draining`, `pending`, `slow-start` or `backup` (standing by). */
  state: UpstreamState
  /** Why, in words: "health check failed: ECONNREFUSED", "ramping: 40 % of weight", … */
  detail: string
  /** Names of the engine's flags that are set (`FAILED_ACTIVE_HC`, `FAILED_OUTLIER`, `DRAINING`, …). */
  flags: string[]
  weight: number
  effectiveWeight: number
  /** effectiveWeight / weight in percent: below 100 while slow start ramps. */
  weightPercent: number
  inFlight: number
  /** Attempts and failed attempts since start; failed attempts retried elsewhere. */
  requests: number
  failures: number
  retries: number
  /** Over `window.recentSeconds`: attempts per second, share of attempts that failed or answered 5xx, latency to response headers. */
  rps: number
  errorRate: number
  p50Ms: number | null
  p99Ms: number | null
  /** null when active health checks are off. */
  healthCheck: HealthCheckStatus | null
  /** The last attempt that could not connect (ISO 8601), null for none. */
  lastConnectFailure: string | null
  /** The last ejection by outlier detection (or Retry-After hold), null for none. */
  lastEjection: null | { reason: TransitionReason, at: string }
  /** One point per completed bucket, oldest first (see `window`); null before the balancer started. */
  history: { rps: Array<number | null>, errorRate: Array<number | null>, p50Ms: Array<number | null>, p99Ms: Array<number | null> }
}

const FLAG_NAMES = Object.entries(UpstreamFlag) as Array<[string, number]>

function round (value: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

function roundOrNull (value: number | null): number | null {
  return value === null ? null : round(value)
}

/** Builds the status document. `wallNow` is `Date.now()`; the engine's clock is monotonic and only gives ages. */
export function buildStatusReport (engine: Balancer, tracker: StatusTracker, name: string, wallNow: number): StatusReport {
  const now = engine.clock.now()
  const iso = (t: number): string => new Date(wallNow - (now - t)).toISOString()
  tracker.prune()
  const setState = engine.set.state
  const upstreams = engine.upstreams.map((u) => upstreamStatus(engine, u, tracker.trackOf(u), setState, now, iso))
  const first = engine.upstreams[0]
  const history = first === undefined ? null : tracker.trackOf(first).window.history()
  const recent = first === undefined ? null : tracker.trackOf(first).window.recent(RECENT_BUCKETS)
  let requests = 0
  let failures = 0
  let rps = 0
  let inFlight = 0
  let recentRequests = 0
  let recentFailures = 0
  for (let i = 0; i < upstreams.length; i++) {
    const u = upstreams[i]!
    requests += u.requests
    failures += u.failures
    rps += u.rps
    inFlight += u.inFlight
    const summary = tracker.trackOf(engine.upstreams[i]!).window.recent(RECENT_BUCKETS)
    recentRequests += summary.requests
    recentFailures += summary.failures
  }
  return {
    version: 1,
    balancer: name,
    generatedAt: new Date(wallNow).toISOString(),
    algorithm: engine.options.algorithm,
    state: setState,
    panic: setState === 'panic',
    eligible: engine.set.eligible.length,
    total: engine.upstreams.length,
    window: {
      bucketSeconds: tracker.options.bucketMs / 1000,
      historyStart: iso(history?.start ?? now),
      points: history?.rps.length ?? 0,
      recentSeconds: round((recent?.span ?? 0) / 1000, 1)
    },
    totals: {
      rps: round(rps),
      errorRate: recentRequests === 0 ? 0 : round(recentFailures / recentRequests, 4),
      inFlight,
      requests,
      failures
    },
    noUpstream: { total: tracker.noUpstreamWindow.totalRequests, recent: tracker.noUpstreamWindow.recent(RECENT_BUCKETS).requests },
    retryBudget: retryBudgetStatus(engine, tracker, now),
    upstreams
  }
}

function retryBudgetStatus (engine: Balancer, tracker: StatusTracker, now: number): RetryBudgetStatus | null {
  const budget = engine.resilience.budget
  const options = engine.options.retry.budget
  if (budget === null || options === null) return null
  // canRetry() moves the budget's window to now (it only reads otherwise), so the counts below are current.
  const exhausted = !budget.canRetry(now)
  const { requests, retries } = budget.window
  return {
    percent: options.percent,
    minPerSecond: options.minPerSecond,
    windowSeconds: options.window / 1000,
    requests,
    retries,
    allowed: round(Math.max(requests * options.percent / 100, options.minPerSecond * options.window / 1000)),
    exhausted,
    denied: { total: tracker.budgetWindow.totalRequests, recent: tracker.budgetWindow.recent(RECENT_BUCKETS).requests }
  }
}

function upstreamStatus (
  engine: Balancer,
  upstream: Upstream,
  track: UpstreamTrack,
  setState: SetState,
  now: number,
  iso: (t: number) => string
): UpstreamStatus {
  const state = upstreamState(upstream, setState, track.connectFailed)
  const recent = track.window.recent(RECENT_BUCKETS)
  const history = track.window.history()
  const healthCheck = healthCheckStatus(engine, upstream, iso)
  const flags: string[] = []
  for (const [flagName, bit] of FLAG_NAMES) if ((upstream.flags & bit) !== 0) flags.push(flagName)
  return {
    name: upstream.name,
    url: upstream.url,
    backup: upstream.backup,
    state,
    detail: describeState(state, upstream, track, healthCheck, now),
    flags,
    weight: upstream.weight,
    effectiveWeight: round(upstream.effectiveWeight),
    weightPercent: weightPercent(upstream),
    inFlight: upstream.inFlight,
    requests: upstream.requests,
    failures: upstream.failures,
    retries: track.retries,
    rps: round(recent.rps),
    errorRate: round(recent.errorRate, 4),
    p50Ms: roundOrNull(recent.p50),
    p99Ms: roundOrNull(recent.p99),
    healthCheck,
    lastConnectFailure: track.lastConnectFailureAt < 0 ? null : iso(track.lastConnectFailureAt),
    lastEjection: track.lastEjection === null ? null : { reason: track.lastEjection.reason, at: iso(track.lastEjection.at) },
    history: {
      rps: history.rps.map(roundOrNull),
      errorRate: history.errorRate.map((v) => (v === null ? null : round(v, 4))),
      p50Ms: history.p50.map(roundOrNull),
      p99Ms: history.p99.map(roundOrNull)
    }
  }
}

function healthCheckStatus (engine: Balancer, upstream: Upstream, iso: (t: number) => string): HealthCheckStatus | null {
  const health = engine.resilience.healthOf(upstream)
  const options = engine.options.healthCheck
  if (health === undefined || options === null) return null
  const last = health.last
  if (last === undefined) return { checks: health.checks, successes: health.successes, failures: health.failures, last: null }
  const verdict = verdictOf(last, options.expectedStatuses)
  const error = last.error === undefined ? null : (last.error as { code?: string }).code ?? last.error.message
  return {
    checks: health.checks,
    successes: health.successes,
    failures: health.failures,
    last: {
      result: verdict === Verdict.Pass ? 'pass' : verdict === Verdict.Warn ? 'warn' : 'fail',
      status: last.status,
      healthStatus: last.healthJsonStatus ?? null,
      error,
      at: iso(health.lastAt)
    }
  }
}

function describeState (state: UpstreamState, upstream: Upstream, track: UpstreamTrack, health: HealthCheckStatus | null, now: number): string {
  switch (state) {
    case 'draining':
      return `draining: ${upstream.inFlight} in flight`
    case 'down': {
      if (upstream.has(UpstreamFlag.FAILED_ACTIVE_HC)) {
        const last = health?.last
        const why = last == null ? '' : last.error ?? (last.status === 0 ? 'no answer' : `HTTP ${last.status}${last.healthStatus === null ? '' : ` ${last.healthStatus}`}`)
        return why === '' ? 'health check failed' : `health check failed: ${why}`
      }
      if (track.connectFailed) {
        const seconds = Math.max(0, Math.round((now - track.lastConnectFailureAt) / 1000))
        return `connection failed ${seconds} s ago, nothing answered since (passive)`
      }
      const others: string[] = []
      for (const [flagName, bit] of FLAG_NAMES) if ((upstream.flags & bit) !== 0 && (EXCLUDING_FLAGS & bit) !== 0) others.push(flagName)
      return `not available: ${others.join(', ')}`
    }
    case 'ejected':
      if (upstream.has(UpstreamFlag.RETRY_AFTER)) return 'held out: answered 503 with Retry-After'
      if (!upstream.has(UpstreamFlag.FAILED_OUTLIER)) return 'reported failing by another gateway (shared health)'
      return track.lastEjection === null ? 'ejected by outlier detection' : `ejected: ${track.lastEjection.reason}`
    case 'pending':
      return 'waiting for the first health check'
    case 'slow-start':
      return `ramping: ${weightPercent(upstream)} % of weight`
    case 'backup':
      return 'backup, standing by'
    default:
      return upstream.has(UpstreamFlag.DEGRADED) ? 'degraded: health check says warn' : ''
  }
}
