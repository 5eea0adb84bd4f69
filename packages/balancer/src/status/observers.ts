/**
 * What metrics and the status page hear from the engine, and how both hear it through the engine's single
 * `observer` slot. Pure: no Fastify, no network.
 */
import type { AttemptObserver, AttemptOutcome } from '../balancer.js'
import type { FailureKind } from '../retry/retry-policy.js'
import type { Upstream } from '../upstream/upstream.js'

/** The engine's `AttemptObserver`, plus the retry-budget signal. */
export interface ObservabilityObserver extends AttemptObserver {
  /**
   * A failed attempt on `from` could have been retried but the retry budget said no (the request fails with
   * the last error). The caller is the dispatcher, where `engine.retryAllowed()` answers false.
   */
  retryBudgetExhausted (from: Upstream, kind: FailureKind): void
  /** Unsubscribes from the engine's events. */
  close (): void
}

/** Forwards every call to two observers: used only when both metrics and the status page are on. */
export class ObserverTee implements ObservabilityObserver {
  constructor (private readonly a: ObservabilityObserver, private readonly b: ObservabilityObserver) {}

  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, status: number, latency: number): void {
    this.a.attemptFinished(upstream, outcome, status, latency)
    this.b.attemptFinished(upstream, outcome, status, latency)
  }

  retried (from: Upstream, kind: FailureKind): void {
    this.a.retried(from, kind)
    this.b.retried(from, kind)
  }

  noUpstream (): void {
    this.a.noUpstream()
    this.b.noUpstream()
  }

  retryBudgetExhausted (from: Upstream, kind: FailureKind): void {
    this.a.retryBudgetExhausted(from, kind)
    this.b.retryBudgetExhausted(from, kind)
  }

  close (): void {
    this.a.close()
    this.b.close()
  }
}

/** One observer for the engine's slot, or null when there is none (the engine then pays one null check). */
export function combineObservers (observers: readonly ObservabilityObserver[]): ObservabilityObserver | null {
  if (observers.length === 0) return null
  if (observers.length === 1) return observers[0]!
  return new ObserverTee(observers[0]!, combineObservers(observers.slice(1))!)
}
