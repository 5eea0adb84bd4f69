/**
 * The resilience features of one balancer engine, wired together: active health checks (scheduler + one
 * `HealthState` per upstream), passive outlier detection, slow start, the retry budget, drain, and the
 * transition events and logs. The engine owns one and forwards to it; every unit here only sets flags on
 * upstreams and calls `set.changed()` (DESIGN.md principle 3).
 *
 * Disabled features are `null` and cost the hot path one null check (DESIGN.md principle 9).
 * No Fastify and no HTTP client here: the HTTP probe is injected by the plugin.
 */
import { BalancerEvents, type TransitionReason } from './events.js'
import { HealthCheckScheduler, type ProbeFunction } from './health-check/scheduler.js'
import { HealthState, HealthTransition, type ProbeResult } from './health-check/state-machine.js'
import type { ResolvedOptions } from './options.js'
import { OutlierDetector } from './outlier/detector.js'
import type { FailureKind } from './retry/retry-policy.js'
import { RetryBudget } from './retry/retry-budget.js'
import { SlowStart } from './upstream/slow-start.js'
import { type Upstream, UpstreamFlag } from './upstream/upstream.js'
import type { SetChange, UpstreamSet } from './upstream/upstream-set.js'
import type { Clock } from './util/clock.js'
import type { Random } from './util/random.js'

/** The subset of a pino/Fastify logger used for transitions. */
export interface TransitionLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** The active probe, injected by the plugin (an `HttpProbe`), so this file needs no HTTP client. */
export interface HealthProbe {
  readonly probe: ProbeFunction
  /** Probe `upstream` at `url` (absolute, or a path on its origin) instead of the configured path. */
  setTarget (upstream: Upstream, url: string | undefined): void
}

export interface ResilienceDeps {
  clock: Clock
  random: Random
  log?: TransitionLogger | undefined
  probe?: HealthProbe | undefined
}

export class Resilience {
  readonly events = new BalancerEvents()
  readonly detector: OutlierDetector | null
  readonly budget: RetryBudget | null
  readonly slowStart: SlowStart | null
  /** 0 = no circuit breaking. */
  readonly maxInFlight: number
  private readonly scheduler: HealthCheckScheduler | null
  private readonly states = new Map<Upstream, HealthState>()
  private readonly drainWaiters = new Map<Upstream, Array<() => void>>()
  /** A `panic` event (active) was emitted and its end not yet. */
  private panicAnnounced = false
  private closed = false

  constructor (
    private readonly set: UpstreamSet,
    private readonly options: ResolvedOptions,
    private readonly deps: ResilienceDeps
  ) {
    const { healthCheck, outlierDetection, slowStart, retry } = options
    this.maxInFlight = options.maxInFlightPerUpstream
    this.budget = retry.budget === null ? null : new RetryBudget(retry.budget)
    this.slowStart = slowStart.window > 0 ? new SlowStart(slowStart, deps.clock, () => { this.set.changed() }) : null
    this.detector = outlierDetection === null
      ? null
      : new OutlierDetector(outlierDetection, {
        clock: deps.clock,
        random: deps.random,
        onTransition: (upstream, ejected, reason, detail) => { this.onOutlierTransition(upstream, ejected, reason, detail) }
      })
    if (healthCheck !== null && deps.probe === undefined) {
      throw new TypeError('healthCheck is on but no probe was given to the engine')
    }
    this.scheduler = healthCheck === null || deps.probe === undefined
      ? null
      : new HealthCheckScheduler(healthCheck, {
        clock: deps.clock,
        random: deps.random,
        probe: deps.probe.probe,
        onResult: (upstream, result) => { this.onProbeResult(upstream, result) },
        onError: (err) => { this.deps.log?.warn({ err }, 'health check result handler failed') }
      })
  }

  /**
   * Watches `upstream`. With active checks it starts pending or unhealthy (`healthCheck.initialState`); one added
   * at run time (`ramp`) also gets slow start. The caller rebuilds the set afterwards.
   */
  add (upstream: Upstream, healthCheckUrl: string | undefined, ramp: boolean): void {
    this.detector?.add(upstream)
    const healthCheck = this.options.healthCheck
    if (this.scheduler !== null && healthCheck !== null) {
      this.states.set(upstream, new HealthState(upstream, healthCheck))
      if (healthCheckUrl !== undefined) this.deps.probe?.setTarget(upstream, healthCheckUrl)
      this.scheduler.add(upstream)
    }
    if (ramp) this.slowStart?.begin(upstream)
  }

  /** Stops watching `upstream` (removed from the set). */
  remove (upstream: Upstream): void {
    this.detector?.remove(upstream)
    this.scheduler?.remove(upstream)
    this.states.get(upstream)?.clear()
    this.states.delete(upstream)
    this.deps.probe?.setTarget(upstream, undefined)
    this.slowStart?.end(upstream)
    this.resolveDrain(upstream)
  }

  /** Starts the active health checks (the plugin calls it once the server is ready). */
  start (): void {
    if (!this.closed) this.scheduler?.start()
  }

  /** The active-check state of `upstream`, for stats. */
  healthOf (upstream: Upstream): HealthState | undefined { return this.states.get(upstream) }

  /**
   * One attempt ended. `status` is the upstream's HTTP status (0 when none), `retryAfterMs` what a 503's
   * `Retry-After` asked for (0 when none). Allocation-free.
   */
  record (upstream: Upstream, outcome: 'success' | FailureKind, status: number, retryAfterMs: number): void {
    const detector = this.detector
    if (detector !== null) {
      switch (outcome) {
        case 'connect': detector.record(upstream, 'connect-failure'); break
        case 'reset': detector.record(upstream, 'reset'); break
        case 'timeout': detector.record(upstream, 'timeout'); break
        default:
          if (status > 0) detector.recordStatus(upstream, status, retryAfterMs)
          else detector.record(upstream, 'success')
      }
    }
    if (upstream.inFlight === 0 && (upstream.flags & UpstreamFlag.DRAINING) !== 0) this.resolveDrain(upstream)
  }

  /**
   * The set changed: emit and log panic transitions once each, and log backup / none states. A start-up
   * "panic" where every unavailable primary merely waits for its first probe is not announced (it is the plan,
   * not an alarm); it is announced if it turns into a real one.
   */
  onSetChange (change: SetChange): void {
    const log = this.deps.log
    const inPanic = change.state === 'panic'
    if (inPanic && !this.panicAnnounced) {
      if (!this.onlyPending()) {
        this.panicAnnounced = true
        this.announcePanic(change, true)
      } else if (change.previous !== 'panic') {
        log?.info({ state: change.state, previous: change.previous }, 'upstreams wait for their first health check; balancing over all of them meanwhile')
      }
    } else if (!inPanic && this.panicAnnounced) {
      this.panicAnnounced = false
      this.announcePanic(change, false)
    }
    if (log === undefined || change.previous === change.state || inPanic) return
    const fields = { state: change.state, previous: change.previous, eligible: change.eligible.map((u) => u.name) }
    if (change.state === 'backup') log.warn(fields, 'no primary upstream is available: backups take the traffic')
    else if (change.state === 'none') log.warn(fields, 'no upstream is available: requests try the upstreams in doubt')
    else log.info(fields, `upstream set is ${change.state} again`)
  }

  private announcePanic (change: SetChange, active: boolean): void {
    let available = 0
    let total = 0
    for (const u of this.set.all) {
      if (u.backup || u.has(UpstreamFlag.DRAINING)) continue
      total++
      if (u.available) available++
    }
    if (this.events.has('panic')) this.events.emit('panic', { active, previous: change.previous, state: change.state, available, total })
    const fields = { state: change.state, previous: change.previous, available, total, eligible: change.eligible.map((u) => u.name) }
    if (active) {
      this.deps.log?.warn(fields, `panic: only ${available} of ${total} upstreams are available (below panicThreshold ${this.options.panicThreshold} %); balancing over all of them`)
    } else {
      this.deps.log?.info(fields, `panic over: ${available} of ${total} upstreams are available`)
    }
  }

  /**
   * Stops new requests to `upstream` and resolves once its in-flight attempts have finished (at once if idle).
   * Also resolves when it is undrained or removed meanwhile, or the engine closes.
   */
  async drain (upstream: Upstream): Promise<void> {
    if (upstream.setFlag(UpstreamFlag.DRAINING, true)) {
      this.set.changed()
      this.transition('draining', upstream, 'drain', { inFlight: upstream.inFlight })
    }
    if (upstream.inFlight <= 0) return
    await new Promise<void>((resolve) => {
      const waiters = this.drainWaiters.get(upstream)
      if (waiters === undefined) this.drainWaiters.set(upstream, [resolve])
      else waiters.push(resolve)
    })
  }

  /** Lets `upstream` take new requests again; answers whether it was draining. */
  undrain (upstream: Upstream): boolean {
    if (!upstream.setFlag(UpstreamFlag.DRAINING, false)) return false
    this.set.changed()
    this.transition('draining', upstream, 'undrain')
    this.resolveDrain(upstream)
    return true
  }

  /** Cancels every timer and probe, and releases drain waiters. */
  close (): void {
    this.closed = true
    this.scheduler?.stop()
    this.detector?.stop()
    this.slowStart?.stop()
    for (const upstream of [...this.drainWaiters.keys()]) this.resolveDrain(upstream)
  }

  private onlyPending (): boolean {
    for (const u of this.set.all) {
      if (u.backup || u.available || u.has(UpstreamFlag.DRAINING)) continue
      if ((u.flags & ~(UpstreamFlag.PENDING_ACTIVE_HC | UpstreamFlag.DEGRADED)) !== 0) return false
    }
    return true
  }

  private resolveDrain (upstream: Upstream): void {
    const waiters = this.drainWaiters.get(upstream)
    if (waiters === undefined) return
    this.drainWaiters.delete(upstream)
    for (const resolve of waiters) resolve()
  }

  private onProbeResult (upstream: Upstream, result: ProbeResult): void {
    const state = this.states.get(upstream)
    if (state === undefined) return
    const wasHealthy = state.healthy
    const wasPending = state.pending
    const wasDegraded = upstream.has(UpstreamFlag.DEGRADED)
    const transition = state.record(result)
    state.lastAt = this.deps.clock.now()
    // A passing check (pass or warn) ends an outlier ejection early (Envoy, default on).
    if (state.successes > 0) this.detector?.onHealthCheckPassed(upstream)
    if (transition !== HealthTransition.Changed) return
    const detail = probeDetail(result, state)
    if (!wasHealthy && state.healthy) {
      // A recovered upstream ramps up; one that just got its first verdict at start-up does not need to.
      if (!wasPending) this.slowStart?.begin(upstream)
      this.transition('up', upstream, 'health-check-passed', detail)
    } else if ((wasHealthy || wasPending) && !state.healthy) {
      this.slowStart?.end(upstream)
      this.transition('down', upstream, 'health-check-failed', detail)
    } else if (wasDegraded !== upstream.has(UpstreamFlag.DEGRADED)) {
      this.deps.log?.info({ upstream: upstream.name, url: upstream.url, degraded: !wasDegraded, ...detail },
        wasDegraded ? 'upstream no longer degraded' : 'upstream degraded (health check says warn)')
    }
    this.set.changed()
  }

  private onOutlierTransition (upstream: Upstream, ejected: boolean, reason: TransitionReason, detail?: Readonly<Record<string, unknown>>): void {
    if (!ejected && upstream.available) this.slowStart?.begin(upstream)
    this.transition(ejected ? 'ejected' : 'restored', upstream, reason, detail)
    this.set.changed()
  }

  private transition (
    name: 'up' | 'down' | 'ejected' | 'restored' | 'draining',
    upstream: Upstream,
    reason: TransitionReason,
    detail?: Readonly<Record<string, unknown>>
  ): void {
    this.events.upstream(name, upstream, reason, detail)
    const log = this.deps.log
    if (log === undefined) return
    const fields = { upstream: upstream.name, url: upstream.url, event: name, reason, ...detail }
    if (name === 'down' || name === 'ejected') log.warn(fields, `upstream ${name}: ${reason}`)
    else log.info(fields, `upstream ${name}: ${reason}`)
  }
}

function probeDetail (result: ProbeResult, state: HealthState): Record<string, unknown> {
  const detail: Record<string, unknown> = { status: result.status, successes: state.successes, failures: state.failures }
  if (result.healthJsonStatus !== undefined) detail.healthStatus = result.healthJsonStatus
  if (result.error !== undefined) detail.error = (result.error as { code?: string }).code ?? result.error.message
  return detail
}
