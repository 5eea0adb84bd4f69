/**
 * The numbers behind the Prometheus metrics of one balancer, counted on the request path with plain increments
 * into typed arrays: no label hashing, no allocation, no prom-client call per request (prom-client's own
 * `histogram.observe()` + `counter.inc()` cost about 1.5 µs a request; this costs tens of ns). prom-client reads
 * them at scrape time (see prometheus.ts). Gauges (in-flight, weight, state, panic) are not counted at all: they
 * are read from the engine when scraped.
 *
 * No Fastify and no prom-client here.
 */
import type { AttemptOutcome, Balancer } from '../balancer.js'
import type { UpstreamEvent } from '../events.js'
import type { FailureKind } from '../retry/retry-policy.js'
import type { Upstream } from '../upstream/upstream.js'
import type { ObservabilityObserver } from '../status/observers.js'

/** Values of the `code` label: the response's status class, `none` when no response came. Index = status / 100. */
export const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const
/** Values of the `reason` label of failures. */
export const FAILURE_REASONS = ['connect', 'reset', 'timeout', '5xx'] as const

const CONNECT = 0
const RESET = 1
const TIMEOUT = 2
const STATUS_5XX = 3

/** Cumulative counts of one upstream. */
export class UpstreamCounters {
  /** Attempts by `STATUS_CLASSES` index. */
  readonly requests = new Float64Array(STATUS_CLASSES.length)
  /** Failed attempts by `FAILURE_REASONS` index. */
  readonly failures = new Float64Array(FAILURE_REASONS.length)
  /** Failed attempts on this upstream that were retried on another. */
  retries = 0
  /** Outlier ejections (and Retry-After holds), from the engine's `ejected` event. */
  ejections = 0
  /** Response-time histogram: one count per bucket bound, then the overflow (`+Inf` only). Not cumulative. */
  readonly buckets: Float64Array
  /** Sum of response times in ms. */
  latencySum = 0
  latencyCount = 0
  /**
   * The passive "down" signal: the last attempt failed to connect and nothing answered since (cleared by a
   * response or a passing active health check).
   */
  connectFailed = false

  constructor (bounds: number) {
    this.buckets = new Float64Array(bounds + 1)
  }
}

export class MetricsCollector implements ObservabilityObserver {
  private readonly counters = new Map<Upstream, UpstreamCounters>()
  /** Bucket bounds in ms (the `buckets` option is in seconds, Prometheus' unit). */
  private readonly boundsMs: Float64Array
  /** Requests that found no upstream to try at all (503). */
  noUpstreamTotal = 0
  /** Retries the retry budget refused. */
  retryBudgetExhaustedTotal = 0
  private readonly onEjected = (event: UpstreamEvent): void => { this.countersOf(event.upstream).ejections++ }
  private readonly onUp = (event: UpstreamEvent): void => { this.countersOf(event.upstream).connectFailed = false }

  constructor (
    readonly engine: Balancer,
    /** Value of the `balancer` label. */
    readonly label: string,
    /** Histogram bucket bounds in seconds, ascending. */
    readonly buckets: readonly number[]
  ) {
    this.boundsMs = Float64Array.from(buckets, (s) => s * 1000)
    for (const upstream of engine.upstreams) this.countersOf(upstream)
    engine.events.on('ejected', this.onEjected)
    engine.events.on('up', this.onUp)
  }

  attemptFinished (upstream: Upstream, outcome: AttemptOutcome, status: number, latency: number): void {
    const c = this.counters.get(upstream) ?? this.countersOf(upstream)
    const statusClass = (status / 100) | 0
    c.requests[statusClass >= 1 && statusClass <= 5 ? statusClass : 0]!++
    switch (outcome) {
      case 'connect':
        c.failures[CONNECT]!++
        c.connectFailed = true
        break
      case 'reset': c.failures[RESET]!++; break
      case 'timeout': c.failures[TIMEOUT]!++; break
      default:
        // 'status' (a retryable 5xx) and 'success' (passed on, any status): a 5xx is a failure of the upstream.
        if (status >= 500) c.failures[STATUS_5XX]!++
    }
    if (status > 0) {
      c.connectFailed = false
      const bounds = this.boundsMs
      let i = 0
      while (i < bounds.length && latency > bounds[i]!) i++
      c.buckets[i]!++
      c.latencySum += latency
      c.latencyCount++
    }
  }

  retried (from: Upstream, _kind: FailureKind): void {
    const c = this.counters.get(from) ?? this.countersOf(from)
    c.retries++
  }

  noUpstream (): void { this.noUpstreamTotal++ }

  retryBudgetExhausted (_from: Upstream, _kind: FailureKind): void { this.retryBudgetExhaustedTotal++ }

  /** The counts of `upstream` (created on first use: upstreams can be added at run time). */
  countersOf (upstream: Upstream): UpstreamCounters {
    let c = this.counters.get(upstream)
    if (c === undefined) {
      c = new UpstreamCounters(this.boundsMs.length)
      this.counters.set(upstream, c)
    }
    return c
  }

  /** Forgets upstreams that left the set (their series disappear from the next scrape). */
  prune (): void {
    const current = new Set(this.engine.upstreams)
    for (const upstream of this.counters.keys()) {
      if (!current.has(upstream)) this.counters.delete(upstream)
    }
  }

  close (): void {
    this.engine.events.off('ejected', this.onEjected)
    this.engine.events.off('up', this.onUp)
  }
}
