/**
 * Metrics and the status page, set up together for the plugin, which imports this module only when one of them
 * is on: a balancer with both off loads none of this (and never prom-client), sets no observer on the engine and
 * registers no route (DESIGN.md principle 9). No Fastify here: the plugin registers the returned routes.
 */
import type { Balancer } from '../balancer.js'
import type { ResolvedOptions, ResolvedStatusPageOptions } from '../options.js'
import type { RouteScope } from '../metrics/index.js'
import type { ObservabilityRoute } from './index.js'
import { combineObservers, type ObservabilityObserver } from './observers.js'

export type { ObservabilityRoute, RouteAnswer } from './index.js'
export type { RouteScope } from '../metrics/index.js'

export interface Observability<Request> {
  /** For `engine.observer`. */
  readonly observer: ObservabilityObserver | null
  readonly routes: ReadonlyArray<ObservabilityRoute<Request>>
  close (): void
}

export interface ObservabilityDeps {
  scope: RouteScope
  /** Where a throwing `authorize` hook is reported (it counts as "no"). */
  onAuthorizeError: (err: unknown) => void
}

export async function setUpObservability<Request> (engine: Balancer, options: ResolvedOptions, deps: ObservabilityDeps): Promise<Observability<Request>> {
  const observers: ObservabilityObserver[] = []
  const routes: Array<ObservabilityRoute<Request>> = []
  const closers: Array<() => void> = []
  if (options.metrics !== null) {
    const { createMetrics } = await import('../metrics/index.js')
    const metrics = await createMetrics(engine, options.metrics, deps.scope)
    observers.push(metrics.collector)
    closers.push(() => { metrics.close() })
    if (metrics.route !== null) {
      routes.push({
        url: metrics.route,
        handle: async () => {
          const { contentType, body } = await metrics.scrape()
          return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body }
        }
      })
    }
  }
  if (options.statusPage !== null) {
    const { createStatusPage } = await import('./index.js')
    const page = createStatusPage(engine, options.statusPage as ResolvedStatusPageOptions<Request>, deps.onAuthorizeError)
    observers.push(page.tracker)
    closers.push(() => { page.tracker.close() })
    routes.push(...page.routes)
  }
  return {
    observer: combineObservers(observers),
    routes,
    close () { for (const close of closers) close() }
  }
}
