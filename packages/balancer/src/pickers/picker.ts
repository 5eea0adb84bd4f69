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
  /** A hash of the request's affinity key (consistent-hash, sticky), or 0 when the algorithm needs none. */
  hash: number
  /** `clock.now()` at pick time. */
  now: number
}

export interface Picker {
  /** The eligible list changed (membership, flags, weights): rebuild any precomputed state. */
  refresh (upstreams: readonly Upstream[]): void
  /** One upstream not in `ctx.tried`, or undefined when there is none. */
  pick (ctx: PickContext): Upstream | undefined
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
