/**
 * Balancer state transitions, for subscribers (and for the plugin, which logs them through Fastify's logger).
 *
 * Transitions are rare, but they are published from places that run often (the outlier detector sees every
 * response), so publishing costs nothing when nobody listens: callers ask `has(name)` before they build a
 * payload (as undici guards `diagnostics_channel` publishes with `hasSubscribers`), and the `upstream()`
 * helper does that check itself. Pure: no Fastify, no network, no `node:events` (its EventEmitter treats an
 * `error` event specially and allocates an args array per emit).
 */
import type { Upstream } from './upstream/upstream.js'
import type { SetState } from './upstream/upstream-set.js'

/** Why an upstream changed state: a stable code for machines, plus `detail` for humans. */
export type TransitionReason =
  /** Active health check passed `healthyThreshold` times (or once, after a pending start). */
  | 'health-check-passed'
  /** Active health check failed `unhealthyThreshold` times (or once, after a pending start). */
  | 'health-check-failed'
  /** Outlier detection: `consecutiveFailures` failures in a row. */
  | 'consecutive-failures'
  /** A 503 with `Retry-After`: held out until then. */
  | 'retry-after'
  /** The ejection (or Retry-After hold) time ran out. */
  | 'ejection-expired'
  /** A successful active health check ended an ejection early (Envoy `successful_active_health_check_uneject_host`). */
  | 'health-check-uneject'
  /** `drain(url)` or `removeUpstream(url)` was called. */
  | 'drain'
  /** `undrain(url)` was called. */
  | 'undrain'
  /** `addUpstream(config)` was called. */
  | 'added'

export interface UpstreamEvent {
  readonly upstream: Upstream
  readonly reason: TransitionReason
  /** Extra facts: the ejection time, the number of ejections, the failing status, an error message. */
  readonly detail?: Readonly<Record<string, unknown>>
}

export interface PanicEvent {
  /** True when the set entered panic mode, false when it left it. */
  readonly active: boolean
  readonly previous: SetState
  readonly state: SetState
  /** Primaries available / all primaries (not draining), when the set changed. */
  readonly available: number
  readonly total: number
}

export interface BalancerEventMap {
  /** An upstream became healthy (active checks). */
  up: UpstreamEvent
  /** An upstream became unhealthy (active checks). */
  down: UpstreamEvent
  /** Outlier detection ejected an upstream, or it asked to be left alone with Retry-After. */
  ejected: UpstreamEvent
  /** An ejection or hold ended. */
  restored: UpstreamEvent
  /** An upstream started or stopped draining (`reason` says which). */
  draining: UpstreamEvent
  /** The set entered or left panic mode (Envoy `healthy_panic_threshold`). */
  panic: PanicEvent
}

export type BalancerEventName = keyof BalancerEventMap

export type BalancerListener<K extends BalancerEventName> = (event: BalancerEventMap[K]) => void

export const BALANCER_EVENTS: readonly BalancerEventName[] = ['up', 'down', 'ejected', 'restored', 'draining', 'panic']

/** A small typed emitter. Listeners run synchronously; one that throws does not stop the others. */
export class BalancerEvents {
  private readonly lists: { [K in BalancerEventName]: Array<BalancerListener<K>> } = {
    up: [], down: [], ejected: [], restored: [], draining: [], panic: []
  }

  /** Total listeners, so a caller can skip a whole block of work when nobody listens to anything. */
  private count = 0

  /** Called with the error when a listener throws (the default swallows it: a logger must not break routing). */
  onListenerError: (err: unknown) => void = () => {}

  on<K extends BalancerEventName> (name: K, listener: BalancerListener<K>): this {
    this.lists[name].push(listener)
    this.count++
    return this
  }

  off<K extends BalancerEventName> (name: K, listener: BalancerListener<K>): this {
    const list = this.lists[name]
    const i = list.indexOf(listener)
    if (i !== -1) {
      // Replace rather than splice, so an emit iterating the old array is not disturbed.
      this.lists[name] = [...list.slice(0, i), ...list.slice(i + 1)] as never
      this.count--
    }
    return this
  }

  /** True when someone listens to `name`: check it before building a payload. */
  has (name: BalancerEventName): boolean { return this.lists[name].length !== 0 }

  /** True when someone listens to anything. */
  get active (): boolean { return this.count !== 0 }

  listenerCount (name: BalancerEventName): number { return this.lists[name].length }

  emit<K extends BalancerEventName> (name: K, event: BalancerEventMap[K]): void {
    const list = this.lists[name]
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event)
      } catch (err) {
        this.onListenerError(err)
      }
    }
  }

  /** Emits an upstream transition, building the payload only when somebody listens. */
  upstream (
    name: Exclude<BalancerEventName, 'panic'>,
    upstream: Upstream,
    reason: TransitionReason,
    detail?: Readonly<Record<string, unknown>>
  ): void {
    if (this.lists[name].length === 0) return
    this.emit(name, detail === undefined ? { upstream, reason } : { upstream, reason, detail })
  }

  removeAll (): void {
    for (const name of BALANCER_EVENTS) this.lists[name] = []
    this.count = 0
  }
}
