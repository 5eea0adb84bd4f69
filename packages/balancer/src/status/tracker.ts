/**
 * What the status page remembers of recent traffic: a `RollingWindow` per upstream (attempts, failures, latency
 * per 5 s bucket over the last 5 minutes), the passive "connection failed" signal, the last ejection, and
 * per-balancer windows of requests without an upstream and of retry-budget refusals. Fed by the engine as its
 * attempt observer; allocation-free per attempt. No Fastify, no network; time comes from the engine's Clock.
 */
import type { AttemptOutcome, Balancer } from '../balancer.js'
import type { TransitionReason, UpstreamEvent } from '../events.js'
import type { FailureKind } from '../retry/retry-policy.js'
import type { Upstream } from '../upstream/upstream.js'
import type { ObservabilityObserver } from './observers.js'
import { RollingWindow } from './rolling-window.js'

/** Width of one time bucket of the status page's charts. */
export const DEFAULT_STATUS_BUCKET = 5_000
/** How far back the charts go. */
export const DEFAULT_STATUS_HISTORY = 300_000

export interface TrackerOptions {
  bucketMs: number
  historyMs: number
}

/** The status page's memory of one upstream. */
export class UpstreamTrack {
  readonly window: RollingWindow
  retries = 0
  /** Passive "down": the last attempt failed to connect and nothing answered since. */
  connectFailed = false
  /** `clock.now()` of the last connect failure, -1 for none. */
  lastConnectFailureAt = -1
  /** The last ejection (or Retry-After hold): why and when; null before any. */
  lastEjection: { reason: TransitionReason, at: number } | null = null

  constructor (clock: Balancer['clock'], options: TrackerOptions) {
    this.window = new RollingWindow(clock, { bucketMs: options.bucketMs, buckets: Math.ceil(options.historyMs / options.bucketMs) + 1 })
  }
}

export class StatusTracker implements ObservabilityObserver {
  private readonly tracks = new Map<Upstream, UpstreamTrack>()
  readonly noUpstreamWindow: RollingWindow
  readonly budgetWindow: RollingWindow
  private readonly onEjected = (event: UpstreamEvent): void => {
    this.trackOf(event.upstream).lastEjection = { reason: event.reason, at: this.engine.clock.now() }
  }

  private readonly onUp = (event: UpstreamEvent): void => { this.trackOf(event.upstream).connectFailed = false }

  constructor (readonly engine: Balancer, readonly options: TrackerOptions) {
    const counts = { bucketMs: options.bucketMs, buckets: Math.ceil(options.historyMs / options.bucketMs) + 1, latency: false }
    this.noUpstreamWindow = new RollingWindow(engine.clock, counts)
    this.budgetWindow = new RollingWindow(engine.clock, counts)
    for (const upstream of engine.upstreams) this.trackOf(upstream)
    engine.events.on('ejected', this.onEjected)
    engine.events.on('up', this.onUp)
  }

  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, status: number, latency: number): void {
    const track = this.tracks.get(upstream) ?? this.trackOf(upstream)
    // An error is a failed attempt (connect, reset, timeout) or a 5xx answer, retried or not.
    track.window.record(status > 0 ? latency : -1, outcome !== 'success' || status >= 500)
    if (outcome === 'connect') {
      track.connectFailed = true
      track.lastConnectFailureAt = this.engine.clock.now()
    } else if (status > 0) {
      track.connectFailed = false
    }
  }

  retried (from: Upstream, _kind: FailureKind): void {
    const track = this.tracks.get(from) ?? this.trackOf(from)
    track.retries++
  }

  noUpstream (): void { this.noUpstreamWindow.record(-1, true) }

  retryBudgetExhausted (_from: Upstream, _kind: FailureKind): void { this.budgetWindow.record(-1, true) }

  /** The memory of `upstream` (created on first use: upstreams can be added at run time). */
  trackOf (upstream: Upstream): UpstreamTrack {
    let track = this.tracks.get(upstream)
    if (track === undefined) {
      track = new UpstreamTrack(this.engine.clock, this.options)
      this.tracks.set(upstream, track)
    }
    return track
  }

  /** Forgets upstreams that left the set. */
  prune (): void {
    const current = new Set(this.engine.upstreams)
    for (const upstream of this.tracks.keys()) {
      if (!current.has(upstream)) this.tracks.delete(upstream)
    }
  }

  close (): void {
    this.engine.events.off('ejected', this.onEjected)
    this.engine.events.off('up', this.onUp)
  }
}
