/**
 * The balancing algorithms, importable without Fastify: `@switchyard/balancer/pickers`.
 */
import type { Picker, PickerDeps } from './picker.js'
import { RoundRobinPicker } from './round-robin.js'

export type { PickContext, Picker, PickerDeps } from './picker.js'
export { wasTried } from './picker.js'
export { RoundRobinPicker } from './round-robin.js'
export { Upstream, UpstreamFlag, EXCLUDING_FLAGS, type UpstreamConfig } from '../upstream/upstream.js'
export { UpstreamSet, type SetState, type SetChange, type UpstreamSetOptions } from '../upstream/upstream-set.js'
export { ManualClock, systemClock, type Clock, type TimerHandle } from '../util/clock.js'
export { SeededRandom, systemRandom, randomIndex, type Random } from '../util/random.js'

/** Builds a picker by algorithm name. */
export type PickerFactory = (deps: PickerDeps) => Picker

export const pickers = {
  'round-robin': (deps: PickerDeps) => new RoundRobinPicker(deps)
} satisfies Record<string, PickerFactory>

export type Algorithm = keyof typeof pickers

export const ALGORITHMS = Object.keys(pickers) as Algorithm[]
