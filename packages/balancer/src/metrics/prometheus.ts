/**
 * The Prometheus metrics of every balancer that reports into one prom-client `Registry`.
 *
 * Each metric is registered once per registry (and prefix) and labelled by `balancer`, so several balancers, and
 * other libraries such as fastify-metrics, share a registry without clashing. Nothing is counted through
 * prom-client on the request path: each metric reads the balancers' `MetricsCollector`s and engines when it is
 * collected (prom-client's `collect()` callbacks), so a scrape shows the values of that moment.
 *
 * prom-client itself is passed in by the caller, which imports it lazily (a balancer without metrics never loads
 * it); only its types are imported here.
 */
import type * as PromClient from 'prom-client'
import { InvalidOptionError } from '../errors.js'
import { UPSTREAM_STATES, upstreamState } from '../status/upstream-state.js'
import type { Upstream } from '../upstream/upstream.js'
import { FAILURE_REASONS, type MetricsCollector, STATUS_CLASSES, type UpstreamCounters } from './collector.js'

export type PromModule = typeof PromClient
type Registry = PromClient.Registry
type Labels = Record<string, string | number>
type Emit = (labels: Labels, value: number) => void

/** The metrics of one registry + prefix, and the balancers (by `balancer` label) that report into them. */
class RegistryMetrics {
  readonly sources = new Map<string, MetricsCollector>()
  private readonly names: string[] = []

  constructor (
    prom: PromModule,
    private readonly registry: Registry,
    prefix: string,
    readonly buckets: readonly number[]
  ) {
    const sources = this.sources
    /** Calls `fn` for every current upstream of every balancer in this registry. */
    const eachUpstream = (fn: (collector: MetricsCollector, upstream: Upstream, counters: UpstreamCounters) => void): void => {
      for (const collector of sources.values()) {
        for (const upstream of collector.engine.upstreams) fn(collector, upstream, collector.countersOf(upstream))
      }
    }
    const counter = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void => {
      // eslint-disable-next-line no-new -- prom-client metrics register themselves in `registers`
      new prom.Counter({
        name: prefix + name,
        help,
        labelNames,
        registers: [registry],
        collect () {
          this.reset()
          fill((labels, value) => { this.inc(labels, value) })
        }
      })
      // Only once registered: on a clash, unregister() must not remove the other library's metric.
      this.names.push(prefix + name)
    }
    const gauge = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void => {
      // eslint-disable-next-line no-new -- prom-client metrics register themselves in `registers`
      new prom.Gauge({
        name: prefix + name,
        help,
        labelNames,
        registers: [registry],
        collect () {
          this.reset()
          fill((labels, value) => { this.set(labels, value) })
        }
      })
      this.names.push(prefix + name)
    }
    const upstreamLabels = ['balancer', 'upstream']

    try {
      counter('upstream_requests_total',
        'Attempts sent to the upstream, by response status class; code="none" when no response came (connect error, reset, timeout).',
        [...upstreamLabels, 'code'], (emit) => {
          for (const collector of sources.values()) collector.prune()
          eachUpstream((collector, upstream, c) => {
            for (let i = 0; i < STATUS_CLASSES.length; i++) {
              emit({ balancer: collector.label, upstream: upstream.name, code: STATUS_CLASSES[i]! }, c.requests[i]!)
            }
          })
        })
      counter('upstream_failures_total',
        'Failed attempts, by reason: connect (no connection), reset (connection lost before the response), timeout (no response headers in time), 5xx (answered with a 5xx status).',
        [...upstreamLabels, 'reason'], (emit) => {
          eachUpstream((collector, upstream, c) => {
            for (let i = 0; i < FAILURE_REASONS.length; i++) {
              emit({ balancer: collector.label, upstream: upstream.name, reason: FAILURE_REASONS[i]! }, c.failures[i]!)
            }
          })
        })
      counter('upstream_retries_total', 'Failed attempts on the upstream that were retried on another upstream.',
        upstreamLabels, (emit) => {
          eachUpstream((collector, upstream, c) => { emit({ balancer: collector.label, upstream: upstream.name }, c.retries) })
        })
      counter('upstream_ejections_total', 'Times outlier detection ejected the upstream (or a 503 with Retry-After held it out).',
        upstreamLabels, (emit) => {
          eachUpstream((collector, upstream, c) => { emit({ balancer: collector.label, upstream: upstream.name }, c.ejections) })
        })
      gauge('upstream_in_flight', 'Attempts sent to the upstream and not finished yet.', upstreamLabels, (emit) => {
        eachUpstream((collector, upstream) => { emit({ balancer: collector.label, upstream: upstream.name }, upstream.inFlight) })
      })
      gauge('upstream_up', '1 when the upstream may take new requests (no health, ejection or drain flag), else 0.', upstreamLabels, (emit) => {
        eachUpstream((collector, upstream) => { emit({ balancer: collector.label, upstream: upstream.name }, upstream.available ? 1 : 0) })
      })
      gauge('upstream_state',
        'The upstream\'s state, 1 for the current one: up, down, ejected, draining, pending, slow-start, backup (standing by).',
        [...upstreamLabels, 'state'], (emit) => {
          eachUpstream((collector, upstream, c) => {
            const state = upstreamState(upstream, collector.engine.set.state, c.connectFailed)
            for (const s of UPSTREAM_STATES) emit({ balancer: collector.label, upstream: upstream.name, state: s }, s === state ? 1 : 0)
          })
        })
      gauge('upstream_effective_weight', 'Weight the picker uses: the configured weight, scaled down while slow start ramps.',
        upstreamLabels, (emit) => {
          eachUpstream((collector, upstream) => { emit({ balancer: collector.label, upstream: upstream.name }, upstream.effectiveWeight) })
        })
      createPrecomputedHistogram(prom, registry, prefix + 'upstream_response_time_seconds',
        'Time from sending an attempt to the upstream\'s response headers, for attempts that got a response.',
        buckets, () => {
          const series: HistogramSeries[] = []
          eachUpstream((collector, upstream, c) => {
            series.push({ labels: { balancer: collector.label, upstream: upstream.name }, counters: c })
          })
          return series
        })
      this.names.push(prefix + 'upstream_response_time_seconds')
      counter('balancer_no_upstream_total', 'Requests answered 503 because no upstream could be tried at all.', ['balancer'], (emit) => {
        for (const collector of sources.values()) emit({ balancer: collector.label }, collector.noUpstreamTotal)
      })
      counter('balancer_retry_budget_exhausted_total', 'Retries not sent because the retry budget was spent.', ['balancer'], (emit) => {
        for (const collector of sources.values()) emit({ balancer: collector.label }, collector.retryBudgetExhaustedTotal)
      })
      gauge('balancer_panic', '1 while the balancer is in panic mode (too few healthy primaries: balancing over all of them).',
        ['balancer'], (emit) => {
          for (const collector of sources.values()) emit({ balancer: collector.label }, collector.engine.set.state === 'panic' ? 1 : 0)
        })
      gauge('balancer_eligible_upstreams', 'Upstreams the picker currently balances over.', ['balancer'], (emit) => {
        for (const collector of sources.values()) emit({ balancer: collector.label }, collector.engine.set.eligible.length)
      })
    } catch (err) {
      this.unregister()
      throw new InvalidOptionError(`metrics: ${(err as Error).message} (another library uses the name; set metrics.prefix)`, { cause: err })
    }
  }

  unregister (): void {
    for (const name of this.names) {
      if (this.registry.getSingleMetric(name) !== undefined) this.registry.removeSingleMetric(name)
    }
  }
}

interface HistogramSeries {
  labels: Labels
  counters: UpstreamCounters
}

/**
 * A prom-client `Histogram` whose buckets are counted elsewhere (in `UpstreamCounters`) and read when collected.
 * prom-client has no public way to set bucket counts, so `get()` and `getForPromString()` (what the registry
 * calls) return the values in prom-client's own metric-object shape; the registry formats them, as it does for
 * the metric objects its cluster aggregator registers.
 */
function createPrecomputedHistogram (
  prom: PromModule,
  registry: Registry,
  name: string,
  help: string,
  buckets: readonly number[],
  read: () => HistogramSeries[]
): void {
  type Snapshot = Awaited<ReturnType<PromClient.Histogram['get']>>
  class PrecomputedHistogram extends prom.Histogram {
    override async get (): Promise<Snapshot> { return this.snapshot() }
    async getForPromString (): Promise<Snapshot> { return this.snapshot() }

    private snapshot (): Snapshot {
      const values: Array<{ labels: Labels, value: number, metricName: string }> = []
      const bucketName = name + '_bucket'
      for (const { labels, counters } of read()) {
        let cumulative = 0
        for (let i = 0; i < buckets.length; i++) {
          cumulative += counters.buckets[i]!
          values.push({ labels: { ...labels, le: buckets[i]! }, value: cumulative, metricName: bucketName })
        }
        values.push({ labels: { ...labels, le: '+Inf' }, value: counters.latencyCount, metricName: bucketName })
        values.push({ labels, value: counters.latencySum / 1000, metricName: name + '_sum' })
        values.push({ labels, value: counters.latencyCount, metricName: name + '_count' })
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' } as unknown as Snapshot
    }
  }
  // eslint-disable-next-line no-new -- prom-client metrics register themselves in `registers`
  new PrecomputedHistogram({ name, help, labelNames: ['balancer', 'upstream'], buckets: [...buckets], registers: [registry] })
}

const bound = new WeakMap<Registry, Map<string, RegistryMetrics>>()

function sameBuckets (a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/**
 * Makes `collector`'s balancer report into `registry` under `prefix`, registering the metrics on first use.
 * Answers the function that stops it (and unregisters the metrics when it was the last balancer there).
 */
export function bindCollector (prom: PromModule, registry: Registry, prefix: string, collector: MetricsCollector): () => void {
  let byPrefix = bound.get(registry)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    bound.set(registry, byPrefix)
  }
  let metrics = byPrefix.get(prefix)
  if (metrics === undefined) {
    metrics = new RegistryMetrics(prom, registry, prefix, collector.buckets)
    byPrefix.set(prefix, metrics)
  } else if (!sameBuckets(metrics.buckets, collector.buckets)) {
    throw new InvalidOptionError(`metrics.buckets differ from those of another balancer reporting into the same registry with prefix ${JSON.stringify(prefix)}; use the same buckets`)
  }
  if (metrics.sources.has(collector.label)) {
    throw new InvalidOptionError(`metrics: a balancer labelled ${JSON.stringify(collector.label)} already reports into this registry; give each balancer its own \`decorator\` name or metrics.label`)
  }
  metrics.sources.set(collector.label, collector)
  const owner = metrics
  const map = byPrefix
  return () => {
    if (owner.sources.get(collector.label) !== collector) return
    owner.sources.delete(collector.label)
    if (owner.sources.size === 0) {
      owner.unregister()
      map.delete(prefix)
    }
  }
}
