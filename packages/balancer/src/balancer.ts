/**
 * The engine: owns the upstream set and the picker, and hears the outcome of every attempt. It knows nothing of
 * Fastify or HTTP clients (the dispatcher sends, the plugin wires); health checks and outlier detection plug in
 * here as flag writers. Exposed to users as the `fastify.balancer` decorator.
 */
import type { BalancerEvents } from './events.js'
import { type ResolvedOptions, resolveUpstream, type UpstreamOptions } from './options.js'
import { type HealthProbe, Resilience } from './resilience.js'
import { buildPicker, DEFAULT_DECAY_TIME, observeFailure, observeLatency, type ResolvedConsistentHashOptions, type ResolvedPeakEwmaOptions, type ResolvedStickyOptions, StickyPicker } from './pickers/index.js'
import { type PickContext, type Picker, wasTried } from './pickers/picker.js'
import type { FailureKind } from './retry/retry-policy.js'
import { Upstream, UpstreamFlag } from './upstream/upstream.js'
import { type SetChange, UpstreamSet } from './upstream/upstream-set.js'
import type { Clock } from './util/clock.js'
import { LoopDelayMeter } from './util/loop-delay.js'
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
  /** The active health probe (the plugin's `HttpProbe`); required when `healthCheck` is on. */
  probe?: HealthProbe
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
  /** A failed attempt on `from` was not retried because the retry budget was spent. */
  retryBudgetExhausted (from: Upstream, kind: FailureKind): void
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

/** The peak-EWMA options when the algorithm reads latency estimates (itself, or as sticky's base), else null. */
function peakEwmaOf (options: ResolvedOptions): Pick<ResolvedPeakEwmaOptions, 'decayTime' | 'excludeEventLoopDelay'> | null {
  if (options.algorithm === 'peak-ewma') return options.algorithmOptions as ResolvedPeakEwmaOptions
  if (options.algorithm === 'sticky') {
    const sticky = options.algorithmOptions as ResolvedStickyOptions
    if (sticky.base === 'peak-ewma') {
      return (sticky.baseOptions as ResolvedPeakEwmaOptions | undefined) ?? { decayTime: DEFAULT_DECAY_TIME, excludeEventLoopDelay: true }
    }
  }
  return null
}

export class Balancer {
  readonly set: UpstreamSet
  private readonly picker: Picker
  /** Set by whoever wants to observe attempts (metrics); null costs nothing. */
  observer: AttemptObserver | null = null
  /** Reused for every pick: picks are synchronous, so one context is enough and costs no allocation. */
  private readonly ctx: PickContext = { tried: NO_UPSTREAMS, hash: 0, now: 0, affinity: undefined }
  /** The sticky picker when `algorithm: 'sticky'`: the dispatcher reads and sets its cookie. */
  readonly sticky: StickyPicker | null
  /** The consistent-hash key source when `algorithm: 'consistent-hash'`: the plugin hashes each request. */
  readonly hashKey: ResolvedConsistentHashOptions['hashKey'] | null
  /** Peak-EWMA: the gateway's event-loop delay, left out of latency samples; null when not wanted. */
  private readonly loopDelay: LoopDelayMeter | null
  /** Peak-EWMA decay window in ms when the algorithm reads latencies; 0 = latencies are not tracked. */
  private readonly latencyDecay: number
  /** The picker wants to hear about in-flight changes (least-connections, consistent-hash bounded loads). */
  private readonly notifyInFlight: boolean
  /** Health checks, outlier detection, slow start, retry budget, drain, events. */
  readonly resilience: Resilience
  /** `maxInFlightPerUpstream`, 0 = off. */
  private readonly maxInFlight: number
  /** Scratch list for picks that skip upstreams at their cap (picks are synchronous: one is enough). */
  private readonly excluded: Upstream[] = []
  private readonly removedListeners: Array<(upstream: Upstream) => void> = []

  constructor (readonly options: ResolvedOptions, private readonly deps: EngineDeps) {
    const upstreams = options.upstreams.map((config) => new Upstream(config))
    this.set = new UpstreamSet(upstreams, { panicThreshold: options.panicThreshold })
    this.picker = buildPicker(options.algorithm, { random: deps.random, clock: deps.clock }, options.algorithmOptions)
    this.sticky = this.picker instanceof StickyPicker ? this.picker : null
    this.hashKey = options.algorithm === 'consistent-hash' ? (options.algorithmOptions as ResolvedConsistentHashOptions).hashKey : null
    const peakEwma = peakEwmaOf(options)
    this.latencyDecay = peakEwma?.decayTime ?? 0
    this.loopDelay = peakEwma?.excludeEventLoopDelay === true ? new LoopDelayMeter(deps.clock) : null
    this.notifyInFlight = this.picker.inFlightChanged !== undefined
    this.picker.refresh(this.set.eligible)
    this.set.onChange((change) => { this.onSetChange(change) })
    this.maxInFlight = options.maxInFlightPerUpstream
    this.resilience = new Resilience(this.set, options, { clock: deps.clock, random: deps.random, log: deps.log, probe: deps.probe })
    for (let i = 0; i < upstreams.length; i++) {
      this.resilience.add(upstreams[i]!, options.upstreams[i]!.healthCheck?.url, false)
    }
    if (options.healthCheck !== null) this.set.changed()
  }

  /** Transition events (`up`, `down`, `ejected`, `restored`, `draining`, `panic`); free when nobody listens. */
  get events (): BalancerEvents { return this.resilience.events }

  /** Starts the active health checks (the plugin calls it when the server is ready). */
  start (): void { this.resilience.start() }

  get clock (): Clock { return this.deps.clock }

  /** All configured upstreams. */
  get upstreams (): readonly Upstream[] { return this.set.all }

  /**
   * The upstream for the next attempt of a request, never one in `tried`. When nothing eligible is left, an
   * upstream whose health is in doubt is the last resort (DESIGN.md principle 5): health state decides where
   * to try first, it is not a wall.
   */
  pick (tried: readonly Upstream[], hash = 0, affinity?: string): Upstream | undefined {
    const ctx = this.ctx
    ctx.tried = tried
    ctx.hash = hash
    ctx.affinity = affinity
    ctx.now = this.deps.clock.now()
    let upstream = this.picker.pick(ctx)
    ctx.tried = NO_UPSTREAMS
    if (upstream !== undefined) {
      if (!this.belowCap(upstream)) upstream = this.pickBelowCap(tried, upstream)
    } else {
      upstream = this.lastResort(tried)
    }
    ctx.affinity = undefined
    return upstream
  }

  /**
   * Circuit breaking: true when `maxInFlightPerUpstream` is on and every upstream this request could still try
   * is at its cap (the request gets 503 with Retry-After rather than a pile-up).
   */
  saturated (tried: readonly Upstream[]): boolean {
    if (this.maxInFlight === 0) return false
    let candidates = 0
    for (const upstream of this.set.all) {
      if (upstream.has(UpstreamFlag.DRAINING) || wasTried(tried, upstream)) continue
      candidates++
      if (upstream.inFlight < this.maxInFlight) return false
    }
    return candidates > 0
  }

  /** A client request starts (counted once, for the retry budget). */
  requestStarted (): void {
    this.resilience.budget?.recordRequest(this.deps.clock.now())
  }

  /** May one more retry be sent within the retry budget? */
  retryAllowed (): boolean {
    const budget = this.resilience.budget
    return budget === null || budget.canRetry(this.deps.clock.now())
  }

  /**
   * A backup (standby) upstream for a retry the budget refused: available, not in `tried`, below its in-flight cap;
   * the least loaded if there are several. The budget keeps retries from piling onto a failing fleet; a backup is
   * idle capacity kept for exactly the moment the primaries fail (nginx sends such retries to `backup` servers
   * with no budget at all), so a spent budget does not stop a retry from going there.
   */
  standby (tried: readonly Upstream[]): Upstream | undefined {
    let best: Upstream | undefined
    for (const upstream of this.set.all) {
      if (!upstream.backup || !upstream.available || wasTried(tried, upstream) || !this.belowCap(upstream)) continue
      if (best === undefined || upstream.inFlight < best.inFlight) best = upstream
    }
    return best
  }

  /** A retry is being sent (after `retryAllowed()`). */
  retrySent (): void {
    this.resilience.budget?.recordRetry(this.deps.clock.now())
  }

  /**
   * Stops new requests to an upstream (by URL or name); resolves once its in-flight requests have finished.
   * Rejects when there is no such upstream.
   */
  async drain (urlOrName: string): Promise<void> {
    await this.resilience.drain(this.mustFind(urlOrName))
  }

  /** Lets a drained upstream take new requests again; answers whether it was draining. */
  undrain (urlOrName: string): boolean {
    return this.resilience.undrain(this.mustFind(urlOrName))
  }

  /**
   * Adds an upstream at run time (same entry format as the `upstreams` option). With active health checks it
   * starts per `healthCheck.initialState`; with slow start it ramps up.
   */
  addUpstream (config: string | UpstreamOptions): Upstream {
    const resolved = resolveUpstream(config, 'addUpstream()')
    if (this.set.find(resolved.url) !== undefined) throw new TypeError(`addUpstream(): ${resolved.url} is already an upstream`)
    const upstream = new Upstream(resolved)
    this.resilience.add(upstream, resolved.healthCheck?.url, true)
    this.set.add(upstream)
    this.deps.log?.info({ upstream: upstream.name, url: upstream.url, event: 'added' }, 'upstream added')
    return upstream
  }

  /** Drains an upstream, then drops it (and its connections). Answers false when there is no such upstream. */
  async removeUpstream (urlOrName: string): Promise<boolean> {
    const upstream = this.set.find(urlOrName)
    if (upstream === undefined) return false
    await this.resilience.drain(upstream)
    if (!this.set.remove(upstream)) return false // removed meanwhile by a concurrent call
    this.resilience.remove(upstream)
    for (const listener of this.removedListeners) listener(upstream)
    this.deps.log?.info({ upstream: upstream.name, url: upstream.url, event: 'removed' }, 'upstream removed')
    return true
  }

  /**
   * Sets an upstream's weight at run time (admin API, a discovery source). A slow-start ramp in progress keeps its
   * progress, scaled to the new weight. Answers false when there is no such upstream.
   */
  setWeight (urlOrName: string, weight: number): boolean {
    const upstream = this.set.find(urlOrName)
    if (upstream === undefined) return false
    if (!Number.isInteger(weight) || weight < 1 || weight > 1_000_000) throw new RangeError(`setWeight(): weight must be an integer from 1 to 1000000 (got ${weight})`)
    if (upstream.weight === weight) return true
    const ramp = upstream.weight > 0 ? upstream.effectiveWeight / upstream.weight : 1
    upstream.weight = weight
    upstream.effectiveWeight = weight * ramp
    this.set.changed()
    this.deps.log?.info({ upstream: upstream.name, url: upstream.url, weight, event: 'weight' }, 'upstream weight set')
    return true
  }

  /** Called with each upstream `removeUpstream()` dropped (the dispatcher closes its pool). */
  onUpstreamRemoved (listener: (upstream: Upstream) => void): void { this.removedListeners.push(listener) }

  /** An attempt is being sent to `upstream`. */
  attemptStarted (upstream: Upstream): void {
    upstream.inFlight++
    upstream.requests++
    if (this.notifyInFlight) this.picker.inFlightChanged!(upstream)
  }

  /**
   * The gateway's event-loop delay so far, in ms (`LoopDelayMeter`): the dispatcher reads it when an attempt starts
   * and when its response headers arrive, and passes the difference to `attemptFinished` as `stalled`. 0 when the
   * algorithm reads no latencies or `peakEwma.excludeEventLoopDelay` is off.
   */
  loopDelayNow (): number {
    return this.loopDelay === null ? 0 : this.loopDelay.now()
  }

  /**
   * An attempt ended: `success` once its response body is done (or the response is passed on with a
   * non-retryable status), a failure kind when it failed. `latency` is milliseconds to response headers, `stalled`
   * the part of it the gateway's own event loop spent blocked: peak-EWMA leaves that out of its sample.
   */
  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, latency: number, status = 0, retryAfterMs = 0, stalled = 0): void {
    upstream.inFlight--
    if (this.notifyInFlight) this.picker.inFlightChanged!(upstream)
    if (this.latencyDecay !== 0) {
      const own = this.loopDelay === null ? latency : latency > stalled ? latency - stalled : 0
      // Peak-EWMA: a failure counts as a slow answer, so an upstream that fails fast never looks fastest.
      if (outcome === 'success') observeLatency(upstream, own, this.deps.clock.now(), this.latencyDecay)
      else observeFailure(upstream, own, this.deps.clock.now(), this.latencyDecay)
    }
    this.resilience.record(upstream, outcome, status, retryAfterMs)
    if (outcome !== 'success') upstream.failures++
    if (this.observer !== null) this.observer.attemptFinished(upstream, outcome, status, latency)
  }

  /** The dispatcher retries a failed attempt on `from` elsewhere. */
  retried (from: Upstream, kind: FailureKind): void {
    if (this.observer !== null) this.observer.retried(from, kind)
  }

  /** The dispatcher did not retry a failed attempt on `from`: the retry budget is spent. */
  retryDenied (from: Upstream, kind: FailureKind): void {
    if (this.observer !== null) this.observer.retryBudgetExhausted(from, kind)
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

  /** Stops everything the engine runs (timers of health checks, ejection windows, the loop-delay meter). */
  close (): void {
    this.resilience.close()
    this.loopDelay?.close()
  }

  private lastResort (tried: readonly Upstream[]): Upstream | undefined {
    // First an available upstream the eligible list left out: a backup idling while the primaries still count
    // as eligible (e.g. one dead primary that max-ejection-percent keeps from being ejected).
    const all = this.set.all
    for (let i = 0; i < all.length; i++) {
      const upstream = all[i]!
      if (upstream.available && !wasTried(tried, upstream) && this.belowCap(upstream)) return upstream
    }
    const candidates = this.set.inDoubt()
    for (const upstream of candidates) {
      if (!wasTried(tried, upstream) && this.belowCap(upstream)) return upstream
    }
    return undefined
  }

  /** True unless `maxInFlightPerUpstream` is on and `upstream` is at it. */
  private belowCap (upstream: Upstream): boolean {
    return this.maxInFlight === 0 || upstream.inFlight < this.maxInFlight
  }

  /** `first` is at its cap: pick again, excluding every upstream found at its cap (pickers skip them). */
  private pickBelowCap (tried: readonly Upstream[], first: Upstream): Upstream | undefined {
    const excluded = this.excluded
    excluded.length = 0
    for (let i = 0; i < tried.length; i++) excluded.push(tried[i]!)
    excluded.push(first)
    const ctx = this.ctx
    let found: Upstream | undefined
    for (;;) {
      ctx.tried = excluded
      const next = this.picker.pick(ctx)
      ctx.tried = NO_UPSTREAMS
      if (next === undefined) break
      if (next.inFlight < this.maxInFlight) { found = next; break }
      excluded.push(next)
    }
    if (found === undefined) found = this.lastResort(excluded)
    excluded.length = 0
    return found
  }

  private mustFind (urlOrName: string): Upstream {
    const upstream = this.set.find(urlOrName)
    if (upstream === undefined) throw new TypeError(`no upstream ${JSON.stringify(urlOrName)}`)
    return upstream
  }

  private onSetChange (change: SetChange): void {
    this.picker.refresh(change.eligible)
    // Logs state changes once each (panic, backup, none), and emits `panic` events.
    this.resilience.onSetChange(change)
  }
}
