/**
 * `round-robin` (and `weighted-round-robin`, the same picker: nginx, HAProxy and Envoy round robin are all
 * weighted): each upstream in turn.
 *
 * - Equal weights take the O(1) index path (Envoy's `unweightedHostPick`).
 * - Different weights follow an earliest-deadline-first schedule (Envoy's `EdfScheduler`): upstream `i` is due
 *   at virtual times `(k + φᵢ) / wᵢ` for `k = 0, 1, …`. Its turns are evenly spaced, so they are spread across
 *   the cycle rather than sent in a burst (the "smooth" property of nginx's algorithm), and in every unit of
 *   virtual time it gets exactly `wᵢ` picks when weights are integers. The phase `φᵢ` is the golden-ratio
 *   sequence `frac((i + 1) · 0.618…)`, so light upstreams do not all fall due at the same instant (with
 *   weights 5:1:1 the heavy one never runs more than 3 in a row; nginx gives 4, Envoy's `1/w` deadlines 5).
 *   Deadlines are computed from an integer pick count, never accumulated, so float rounding cannot drift the
 *   ratios.
 *   - Integer weights (configured weights; total ≤ `MAX_SCHEDULE`): one cycle of that schedule is precomputed
 *     on refresh, and a pick reads the next entry: O(1), ~5 ns at any size.
 *   - Fractional weights (upstreams ramping under slow start, which refreshes often): the schedule runs live
 *     on a binary heap of deadlines, O(log n) per pick.
 *
 * Each instance starts at a random offset (index path) or a random phase of the cycle (weighted paths), so a
 * fleet of gateways does not hit the backends in lock step (Envoy seeds its schedulers for the same reason).
 * A weight change keeps the virtual clock, so a slow-start ramp does not restart the cycle.
 */
import type { Upstream } from '../upstream/upstream.js'
import { randomIndex } from '../util/random.js'
import { KeyHeap } from './heap.js'
import { type PickContext, type Picker, type PickerDeps, hasUnequalWeights, wasTried, weightOf } from './picker.js'

/** Longest precomputed cycle (Σ weights): 65,536 entries = 256 KiB, built in a few ms. */
export const MAX_SCHEDULE = 65_536

const UNWEIGHTED = 0
const SCHEDULE = 1
const LIVE = 2

export class RoundRobinPicker implements Picker {
  private list: readonly Upstream[] = []
  private next = 0
  private mode = UNWEIGHTED
  /** Precomputed cycle of list indices, and where the next pick reads it. */
  private schedule = new Int32Array(0)
  private scheduleLength = 0
  private position = 0
  /** Virtual time at which the precomputed cycle starts. */
  private scheduleStart = 0
  /** Live EDF: key = next deadline. */
  private readonly heap = new KeyHeap()
  /** Weight, phase and pick count of each upstream, index-aligned with `list`. */
  private weights = new Float64Array(0)
  private phases = new Float64Array(0)
  private picks = new Float64Array(0)
  /** Virtual time of the last weighted pick; starts at a random phase of the first cycle. */
  private time = 0

  constructor (deps: PickerDeps) {
    this.next = randomIndex(deps.random, 1 << 30)
    this.time = deps.random.next()
  }

  refresh (upstreams: readonly Upstream[]): void {
    if (this.mode === SCHEDULE) this.time = this.scheduleStart + this.position / this.scheduleLength
    this.list = upstreams
    const n = upstreams.length
    if (!hasUnequalWeights(upstreams)) {
      this.mode = UNWEIGHTED
      return
    }
    if (this.weights.length < n) {
      this.weights = new Float64Array(n)
      this.phases = new Float64Array(n)
      this.picks = new Float64Array(n)
    }
    const heap = this.heap
    heap.reset(n)
    const time = this.time
    let total = 0
    let integral = true
    for (let i = 0; i < n; i++) {
      const w = weightOf(upstreams[i]!)
      const phase = phaseOf(i)
      // The first k with (k + φ) / w > time: the schedule continues from the current virtual time.
      const k = Math.floor(time * w - phase) + 1
      this.weights[i] = w
      this.phases[i] = phase
      this.picks[i] = k
      heap.init(i, (k + phase) / w)
      total += w
      if (!Number.isInteger(w)) integral = false
    }
    heap.build()
    if (integral && total <= MAX_SCHEDULE) {
      // One full cycle (exactly Σw picks, one unit of virtual time), then it repeats.
      if (this.schedule.length < total) this.schedule = new Int32Array(total)
      for (let s = 0; s < total; s++) this.schedule[s] = this.advance(heap.top())
      this.scheduleLength = total
      this.position = 0
      this.scheduleStart = time
      this.mode = SCHEDULE
    } else {
      this.mode = LIVE
    }
  }

  pick (ctx: PickContext): Upstream | undefined {
    const mode = this.mode
    if (mode === UNWEIGHTED) return this.pickUnweighted(ctx.tried)
    if (mode === SCHEDULE) return this.pickScheduled(ctx.tried)
    return this.pickLive(ctx.tried)
  }

  private pickUnweighted (tried: readonly Upstream[]): Upstream | undefined {
    const list = this.list
    const n = list.length
    if (n === 0) return undefined
    if (tried.length === 0) {
      const upstream = list[this.next % n]!
      this.next = (this.next + 1) % 0x3fffffff
      return upstream
    }
    // A retry looks ahead from the cursor without moving it, so retries do not skew whose turn the next
    // request is (otherwise, with one dead upstream of two, every first attempt would land on the dead one).
    for (let k = 0; k < n; k++) {
      const upstream = list[(this.next + k) % n]!
      if (!wasTried(tried, upstream)) return upstream
    }
    return undefined
  }

  private pickScheduled (tried: readonly Upstream[]): Upstream | undefined {
    const schedule = this.schedule
    const length = this.scheduleLength
    let p = this.position
    // A retry takes the next untried entry of the cycle; the entries it passes lose this turn.
    for (let k = 0; k < length; k++) {
      const upstream = this.list[schedule[p]!]!
      p = p + 1 === length ? 0 : p + 1
      if (tried.length === 0 || !wasTried(tried, upstream)) {
        this.position = p
        return upstream
      }
    }
    return undefined
  }

  private pickLive (tried: readonly Upstream[]): Upstream | undefined {
    const heap = this.heap
    if (heap.size === 0) return undefined
    const i = heap.top()
    if (tried.length === 0 || !wasTried(tried, this.list[i]!)) return this.list[this.advance(i)]
    // Retry path: the earliest deadline among the untried (O(n), at most `retry.tries` times per request).
    const j = heap.minExcept(this.list, tried)
    return j === -1 ? undefined : this.list[this.advance(j)]
  }

  /** Takes upstream `i`'s turn: the clock moves to its deadline, and it is due again 1/w later. */
  private advance (i: number): number {
    const heap = this.heap
    const k = this.picks[i]! + 1
    this.picks[i] = k
    const next = (k + this.phases[i]!) / this.weights[i]!
    if (heap.top() === i) {
      this.time = heap.topKey()
      heap.raiseTop(next)
    } else {
      this.time = heap.keyOf(i)
      heap.setKey(i, next)
    }
    return i
  }
}

/** 1/φ: consecutive multiples mod 1 are as evenly spread as any sequence can be (three-gap theorem). */
const GOLDEN = 0.6180339887498949

/** Phase of upstream `i` in (0, 1]. */
function phaseOf (i: number): number {
  const f = ((i + 1) * GOLDEN) % 1
  return f === 0 ? 1 : f
}
