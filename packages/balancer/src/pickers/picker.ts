/**
 * The interface every balancing algorithm implements. Pure: no Fastify, no network.
 *
 * A picker is refreshed with the precomputed eligible list when it changes, and picks from it per attempt.
 * `pick` must not allocate (no closures, spread, filter or template strings): it runs on every request.
 */
import type { Upstream } from '../upstream/upstream.js'
import type { Clock } from '../util/clock.js'
import type { Random } from '../util/random.js'

export interface PickContext {
  /**
   * Upstreams this request already tried: never picked again (Envoy's `previous_hosts` retry predicate).
   * Empty on a first attempt.
   */
  tried: readonly Upstream[]
  /**
   * A 32-bit hash of the request's affinity key (consistent-hash), or 0 when the algorithm needs none.
   * Computed by the plugin with `requestHash()` (hash.ts); read as unsigned (`hash >>> 0`).
   */
  hash: number
  /** `clock.now()` at pick time. */
  now: number
  /**
   * The request's sticky cookie value (`sticky`), as received; `undefined` when the request has none. Keep the
   * field present (set it to `undefined`) on a reused context so its shape stays stable.
   */
  affinity?: string | undefined
}

export interface Picker {
  /** The eligible list changed (membership, flags, weights): rebuild any precomputed state. */
  refresh (upstreams: readonly Upstream[]): void
  /** One upstream not in `ctx.tried`, or undefined when there is none. */
  pick (ctx: PickContext): Upstream | undefined
  /**
   * Call after every change of `upstream.inFlight` (start and end of each attempt), for pickers that keep an
   * index over in-flight counts (`least-connections`' heap, `consistent-hash`'s total load). Pickers that read
   * `inFlight` at pick time do not define it. Upstreams not in the eligible list are ignored.
   */
  inFlightChanged? (upstream: Upstream): void
}

export interface PickerDeps {
  random: Random
  clock: Clock
}

/** True when `upstream` is in `tried`. Linear on purpose: `tried` holds at most `retry.tries` entries. */
export function wasTried (tried: readonly Upstream[], upstream: Upstream): boolean {
  for (let i = 0; i < tried.length; i++) {
    if (tried[i] === upstream) return true
  }
  return false
}

/**
 * Weight a picker uses for `upstream`: `effectiveWeight` (configured weight × slow-start factor), floored so
 * that a zero or negative value cannot divide by zero or reverse an order.
 */
export function weightOf (upstream: Upstream): number {
  const w = upstream.effectiveWeight
  return w > MIN_WEIGHT ? w : MIN_WEIGHT
}

/** The smallest weight pickers use: a ramping or mis-set upstream still gets an occasional turn. */
export const MIN_WEIGHT = 1e-6

/** True when the upstreams' effective weights are not all equal: the algorithm must take its weighted path. */
export function hasUnequalWeights (upstreams: readonly Upstream[]): boolean {
  for (let i = 1; i < upstreams.length; i++) {
    if (upstreams[i]!.effectiveWeight !== upstreams[0]!.effectiveWeight) return true
  }
  return false
}
