/**
 * Prometheus metrics for one balancer: loads prom-client (only now: a balancer without metrics never does),
 * binds a `MetricsCollector` to the registry, and serves the registry's exposition on `metrics.route`.
 * No Fastify here: the plugin registers the route this returns.
 */
import type { Registry } from 'prom-client'
import type { Balancer } from '../balancer.js'
import type { ResolvedMetricsOptions } from '../options.js'
import { MetricsCollector } from './collector.js'
import { bindCollector } from './prometheus.js'

export { MetricsCollector, UpstreamCounters, STATUS_CLASSES, FAILURE_REASONS } from './collector.js'

/** Where the balancer's routes live: one key per HTTP server (Fastify's `server`), and the route prefix there. */
export interface RouteScope {
  key: object
  prefix: string
}

export interface MetricsEndpoint {
  readonly collector: MetricsCollector
  readonly registry: Registry
  /** The URL to serve the exposition on, or null (route off, or another balancer serves this registry there). */
  readonly route: string | null
  /** The registry's exposition, in its content type (Prometheus text 0.0.4 unless the registry says OpenMetrics). */
  scrape (): Promise<{ contentType: string, body: string }>
  close (): void
}

/** Without `metrics.registry`, the balancers of one server share a registry of their own (not prom-client's global one). */
const defaultRegistries = new WeakMap<object, Registry>()
/** Server → URL → the registry served there, so two balancers sharing a registry serve it once. */
const servedRoutes = new WeakMap<object, Map<string, Registry>>()

export async function createMetrics (engine: Balancer, options: ResolvedMetricsOptions, scope: RouteScope): Promise<MetricsEndpoint> {
  const prom = await import('prom-client')
  let registry = options.registry as Registry | null
  if (registry === null) {
    registry = defaultRegistries.get(scope.key) ?? new prom.Registry()
    defaultRegistries.set(scope.key, registry)
  }
  const collector = new MetricsCollector(engine, options.label, options.buckets)
  let unbind: () => void
  try {
    unbind = bindCollector(prom, registry, options.prefix, collector)
  } catch (err) {
    collector.close()
    throw err
  }

  let route: string | null = null
  let served: Map<string, Registry> | undefined
  if (options.route !== null) {
    const url = scope.prefix + options.route
    served = servedRoutes.get(scope.key)
    if (served === undefined) {
      served = new Map()
      servedRoutes.set(scope.key, served)
    }
    // Another balancer already serves this very registry here: nothing to add. A different registry on the same
    // URL is registered anyway, and Fastify reports the duplicate route.
    if (served.get(url) !== registry) {
      served.set(url, registry)
      route = options.route
    }
  }
  const ownRegistry = registry
  return {
    collector,
    registry,
    route,
    async scrape () {
      return { contentType: ownRegistry.contentType, body: await ownRegistry.metrics() }
    },
    close () {
      unbind()
      collector.close()
      if (route !== null && served?.get(scope.prefix + route) === ownRegistry) served.delete(scope.prefix + route)
    }
  }
}
