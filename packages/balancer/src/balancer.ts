/**
 * The engine: owns the upstream set and the picker, and hears the outcome of every attempt. It knows nothing of
 * Fastify or HTTP clients (the dispatcher sends, the plugin wires); health checks and outlier detection plug in
 * here as flag writers. Exposed to users as the `fastify.balancer` decorator.
 */
import type { ResolvedOptions } from './options.js'
import { pickers } from './pickers/index.js'
import { type PickContext, type Picker, wasTried } from './pickers/picker.js'
import type { FailureKind } from './retry/retry-policy.js'
import { Upstream } from './upstream/upstream.js'
import { type SetChange, UpstreamSet } from './upstream/upstream-set.js'
import type { Clock } from './util/clock.js'
import type { Random } from './util/random.js'

/** The subset of a pino/Fastify logger the engine uses. */
export interface EngineLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface EngineDeps {
  clock: Clock
  random: Random
  log?: EngineLogger
}

/** How an attempt ended, as the engine records it. */
export type AttemptOutcome = 'success' | FailureKind

/**
 * Hears every attempt, for metrics and status pages. Optional: with none attached the engine pays one null check.
 */
export interface AttemptObserver {
  /** An attempt ended. `status` is the upstream's HTTP status, or 0 when there was no response. */
  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, status: number, latency: number): void
  /** A failed attempt on `from` is being retried on another upstream. */
  retried (from: Upstream, kind: FailureKind): void
  /** A request found no upstream to try at all (answered 503). */
  noUpstream (): void
}

export interface UpstreamStats {
  name: string
  url: string
  weight: number
  effectiveWeight: number
  backup: boolean
  available: boolean
  flags: number
  inFlight: number
  requests: number
  failures: number
}

const NO_UPSTREAMS: readonly Upstream[] = []

export class Balancer {
  readonly set: UpstreamSet
  private readonly picker: Picker
  /** Set by whoever wants to observe attempts (metrics); null costs nothing. */
  observer: AttemptObserver | null = null
  /** Reused for every pick: picks are synchronous, so one context is enough and costs no allocation. */
  private readonly ctx: PickContext = { tried: NO_UPSTREAMS, hash: 0, now: 0 }

  constructor (readonly options: ResolvedOptions, private readonly deps: EngineDeps) {
    const upstreams = options.upstreams.map((config) => new Upstream(config))
    this.set = new UpstreamSet(upstreams, { panicThreshold: options.panicThreshold })
    this.picker = pickers[options.algorithm]({ random: deps.random, clock: deps.clock })
    this.picker.refresh(this.set.eligible)
    this.set.onChange((change) => { this.onSetChange(change) })
  }

  get clock (): Clock { return this.deps.clock }

  /** All configured upstreams. */
  get upstreams (): readonly Upstream[] { return this.set.all }

  /**
   * The upstream for the next attempt of a request, never one in `tried`. When nothing eligible is left, an
   * upstream whose health is in doubt is the last resort (DESIGN.md principle 5): health state decides where
   * to try first, it is not a wall.
   */
  pick (tried: readonly Upstream[], hash = 0): Upstream | undefined {
    const ctx = this.ctx
    ctx.tried = tried
    ctx.hash = hash
    ctx.now = this.deps.clock.now()
    const upstream = this.picker.pick(ctx)
    ctx.tried = NO_UPSTREAMS
    if (upstream !== undefined) return upstream
    return this.lastResort(tried)
  }

  /** An attempt is being sent to `upstream`. */
  attemptStarted (upstream: Upstream): void {
    upstream.inFlight++
    upstream.requests++
  }

  /**
   * An attempt ended: `success` once its response body is done (or the response is passed on with a
   * non-retryable status), a failure kind when it failed. `latency` is milliseconds to response headers.
   */
  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, latency: number, status = 0): void {
    upstream.inFlight--
    if (outcome !== 'success') upstream.failures++
    if (this.observer !== null) this.observer.attemptFinished(upstream, outcome, status, latency)
  }

  /** The dispatcher retries a failed attempt on `from` elsewhere. */
  retried (from: Upstream, kind: FailureKind): void {
    if (this.observer !== null) this.observer.retried(from, kind)
  }

  /** The dispatcher found no upstream to try for a request. */
  noUpstream (): void {
    if (this.observer !== null) this.observer.noUpstream()
  }

  stats (): UpstreamStats[] {
    return this.set.all.map((u) => ({
      name: u.name,
      url: u.url,
      weight: u.weight,
      effectiveWeight: u.effectiveWeight,
      backup: u.backup,
      available: u.available,
      flags: u.flags,
      inFlight: u.inFlight,
      requests: u.requests,
      failures: u.failures
    }))
  }

  /** Stops everything the engine runs (timers of health checks, ejection windows). */
  close (): void {}

  private lastResort (tried: readonly Upstream[]): Upstream | undefined {
    const candidates = this.set.inDoubt()
    for (const upstream of candidates) {
      if (!wasTried(tried, upstream)) return upstream
    }
    return undefined
  }

  private onSetChange (change: SetChange): void {
    this.picker.refresh(change.eligible)
    if (change.previous !== change.state) {
      this.deps.log?.warn({ state: change.state, previous: change.previous, eligible: change.eligible.map((u) => u.name) },
        `upstream set is now ${change.state}`)
    }
  }
}
