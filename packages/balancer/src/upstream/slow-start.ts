/**
 * Slow start (Envoy `slow_start_config`, HAProxy `slowstart`, nginx `slow_start=`): an upstream that becomes
 * healthy again, or is added at run time, does not get its full share at once. Its `effectiveWeight` ramps
 * from `minWeightPercent` % [10] to 100 % of `weight` over `window` ms; with Envoy's `aggression` a the
 * factor is `(elapsed / window) ^ (1 / a)`, so 1.0 (the default) is a linear ramp.
 *
 * The ramp moves on a coarse timer (every `window / steps`), not per request: each step rewrites the
 * weights and calls `onChange` (the set's `changed()`, so pickers refresh their precomputed state). The
 * timer only runs while something ramps. Pure: no Fastify, no network; time comes from the injected Clock.
 */
import type { Clock, TimerHandle } from '../util/clock.js'
import type { Upstream } from './upstream.js'

export const DEFAULT_SLOW_START_WINDOW = 0
export const DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT = 10
export const DEFAULT_SLOW_START_AGGRESSION = 1
/** Weight updates per window. */
export const DEFAULT_SLOW_START_STEPS = 10

export interface SlowStartOptions {
  /** Ramp length in ms; 0 turns slow start off. */
  window: number
  /** Where the ramp starts, in percent of `weight`. */
  minWeightPercent?: number
  /** Envoy's `aggression`: 1 = linear; above 1 ramps faster early on. */
  aggression?: number
  /** Weight updates per window. */
  steps?: number
}

export class SlowStart {
  /** Upstream → `clock.now()` when its ramp began. */
  private readonly ramping = new Map<Upstream, number>()
  private timer: TimerHandle | undefined = undefined
  private readonly minFactor: number
  private readonly exponent: number
  private readonly step: number

  constructor (
    private readonly options: SlowStartOptions,
    private readonly clock: Clock,
    private readonly onChange: () => void
  ) {
    this.minFactor = (options.minWeightPercent ?? DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT) / 100
    this.exponent = 1 / (options.aggression ?? DEFAULT_SLOW_START_AGGRESSION)
    this.step = options.window / (options.steps ?? DEFAULT_SLOW_START_STEPS)
  }

  get enabled (): boolean { return this.options.window > 0 }

  /** Upstreams still ramping. */
  get size (): number { return this.ramping.size }

  isRamping (upstream: Upstream): boolean { return this.ramping.has(upstream) }

  /**
   * `upstream` just became healthy (or was added): start (or restart) its ramp at `minWeightPercent`.
   * Does not call `onChange`: the caller is rebuilding the set for the transition anyway.
   */
  begin (upstream: Upstream): void {
    if (!this.enabled) return
    this.ramping.set(upstream, this.clock.now())
    upstream.effectiveWeight = upstream.weight * this.minFactor
    if (this.timer === undefined) this.timer = this.clock.setTimeout(() => { this.tick() }, this.step)
  }

  /** Ends `upstream`'s ramp at full weight (it was removed, or went down). */
  end (upstream: Upstream): void {
    if (this.ramping.delete(upstream)) upstream.effectiveWeight = upstream.weight
  }

  /** The weight factor `elapsed` ms into a ramp. */
  factor (elapsed: number): number {
    const { window } = this.options
    if (elapsed >= window) return 1
    const f = Math.pow(Math.max(0, elapsed) / window, this.exponent)
    return f < this.minFactor ? this.minFactor : f
  }

  /** Cancels the timer and puts every ramping upstream at full weight. */
  stop (): void {
    this.timer?.cancel()
    this.timer = undefined
    for (const upstream of this.ramping.keys()) upstream.effectiveWeight = upstream.weight
    this.ramping.clear()
  }

  private tick (): void {
    this.timer = undefined
    const now = this.clock.now()
    for (const [upstream, start] of this.ramping) {
      const f = this.factor(now - start)
      upstream.effectiveWeight = upstream.weight * f
      if (f >= 1) this.ramping.delete(upstream)
    }
    if (this.ramping.size > 0) this.timer = this.clock.setTimeout(() => { this.tick() }, this.step)
    this.onChange()
  }
}
