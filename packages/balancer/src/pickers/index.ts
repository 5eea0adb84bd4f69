/**
 * The balancing algorithms, importable without Fastify: `@switchyard/balancer/pickers`.
 *
 * `pickers[algorithm](deps, options)` builds a picker; `validatePickerOptions(algorithm, raw, path)` checks and
 * defaults its options once, at registration, and `buildPicker(algorithm, deps, resolved)` builds from those. Every picker is pure (injected `Random` and `Clock`), reads only
 * the precomputed eligible list it is refreshed with, and allocates nothing per pick.
 */
import { ConsistentHashPicker } from './consistent-hash.js'
import { LeastConnectionsPicker } from './least-connections.js'
import {
  type AlgorithmOptions, type ConsistentHashOptions, type PeakEwmaOptions, type P2cOptions, type ResolvedAlgorithmOptions,
  type ResolvedConsistentHashOptions, type ResolvedPeakEwmaOptions, type ResolvedP2cOptions, type ResolvedStickyOptions,
  type StickyOptions, resolveConsistentHash, resolvePeakEwma, resolveP2c, resolveSticky
} from './options.js'
import { P2cPicker } from './p2c.js'
import { PeakEwmaPicker } from './peak-ewma.js'
import type { Picker, PickerDeps } from './picker.js'
import { RandomPicker } from './random.js'
import { RoundRobinPicker } from './round-robin.js'
import { StickyPicker } from './sticky.js'

export type { PickContext, Picker, PickerDeps } from './picker.js'
export { wasTried, weightOf, MIN_WEIGHT } from './picker.js'
export { RoundRobinPicker } from './round-robin.js'
export { LeastConnectionsPicker } from './least-connections.js'
export { RandomPicker } from './random.js'
export { P2cPicker } from './p2c.js'
export { PeakEwmaPicker, observeLatency, observeFailure, latencyEstimate, DEFAULT_FAILURE_LATENCY } from './peak-ewma.js'
export { ConsistentHashPicker } from './consistent-hash.js'
export { StickyPicker, stickyValue, constantTimeEqual, STICKY_VALUE_LENGTH } from './sticky.js'
export {
  hash32, fmix32, affinityKey, requestHash, readCookie, type HashKeySource, type AffinityRequest
} from './hash.js'
export {
  validatePickerOptions, serializeStickyCookie, PickerOptionError,
  DEFAULT_DECAY_TIME, DEFAULT_LATENCY, DEFAULT_CHOICE_COUNT, DEFAULT_ACTIVE_REQUEST_BIAS, DEFAULT_TABLE_SIZE,
  DEFAULT_BALANCE_FACTOR, DEFAULT_HASH_KEY, DEFAULT_STICKY_COOKIE, DEFAULT_STICKY_BASE, MIN_SECRET_LENGTH,
  type AlgorithmOptions, type ResolvedAlgorithmOptions, type PickerOptions, type BaseAlgorithm,
  type P2cOptions, type PeakEwmaOptions, type ConsistentHashOptions, type StickyOptions, type StickyCookieOptions,
  type ResolvedP2cOptions, type ResolvedPeakEwmaOptions, type ResolvedConsistentHashOptions,
  type ResolvedStickyOptions, type ResolvedStickyCookieOptions
} from './options.js'
export { Upstream, UpstreamFlag, EXCLUDING_FLAGS, type UpstreamConfig } from '../upstream/upstream.js'
export { UpstreamSet, type SetState, type SetChange, type UpstreamSetOptions } from '../upstream/upstream-set.js'
export { ManualClock, systemClock, type Clock, type TimerHandle } from '../util/clock.js'
export { SeededRandom, systemRandom, randomIndex, type Random } from '../util/random.js'

/**
 * Builds a picker by algorithm name. `options` are the algorithm's options as a user writes them (validated and
 * defaulted here, with errors naming `p2c.`, `peakEwma.`, `consistentHash.` or `sticky.`); `sticky` requires
 * `{ secret }`.
 */
export type PickerFactory<O = undefined> = (deps: PickerDeps, options?: O) => Picker

export const pickers: { readonly [A in Algorithm]: PickerFactory<AlgorithmOptions[A]> } = {
  'round-robin': (deps: PickerDeps) => new RoundRobinPicker(deps),
  /** The same picker as `round-robin`, which is weighted (smooth EDF) whenever weights differ. */
  'weighted-round-robin': (deps: PickerDeps) => new RoundRobinPicker(deps),
  'least-connections': (deps: PickerDeps) => new LeastConnectionsPicker(deps),
  random: (deps: PickerDeps) => new RandomPicker(deps),
  p2c: (deps: PickerDeps, options?: P2cOptions) => new P2cPicker(deps, resolveP2c(options)),
  'peak-ewma': (deps: PickerDeps, options?: PeakEwmaOptions) => new PeakEwmaPicker(deps, resolvePeakEwma(options)),
  'consistent-hash': (deps: PickerDeps, options?: ConsistentHashOptions) =>
    new ConsistentHashPicker(deps, resolveConsistentHash(options)),
  sticky: (deps: PickerDeps, options?: StickyOptions): Picker => buildPicker('sticky', deps, resolveSticky(options))
}

export type Algorithm = keyof AlgorithmOptions

export const ALGORITHMS = Object.keys(pickers) as Algorithm[]

/** `pickers[algorithm](deps, options)` with the options type of that algorithm. */
export function createPicker<A extends Algorithm> (algorithm: A, deps: PickerDeps, options?: AlgorithmOptions[A]): Picker {
  return (pickers[algorithm] as PickerFactory<AlgorithmOptions[A]>)(deps, options)
}

/**
 * Builds a picker from options already resolved by `validatePickerOptions` (what the plugin's `validateOptions`
 * stores), without validating them again.
 */
export function buildPicker<A extends Algorithm> (algorithm: A, deps: PickerDeps, resolved: ResolvedAlgorithmOptions[A]): Picker {
  const options = resolved as ResolvedAlgorithmOptions[Algorithm]
  switch (algorithm as Algorithm) {
    case 'round-robin':
    case 'weighted-round-robin':
      return new RoundRobinPicker(deps)
    case 'least-connections':
      return new LeastConnectionsPicker(deps)
    case 'random':
      return new RandomPicker(deps)
    case 'p2c':
      return new P2cPicker(deps, options as ResolvedP2cOptions)
    case 'peak-ewma':
      return new PeakEwmaPicker(deps, options as ResolvedPeakEwmaOptions)
    case 'consistent-hash':
      return new ConsistentHashPicker(deps, options as ResolvedConsistentHashOptions)
    case 'sticky': {
      const sticky = options as ResolvedStickyOptions
      return new StickyPicker(deps, sticky, buildPicker(sticky.base, deps, sticky.baseOptions))
    }
  }
}
