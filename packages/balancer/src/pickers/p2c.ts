/**
 * `p2c`: power of two choices on in-flight requests, as Envoy's `LEAST_REQUEST` and HAProxy's `random(2)`.
 *
 * - Equal weights: draw `choiceCount` upstreams at random (the first two distinct) and take the one with the
 *   fewest in-flight requests. O(1), and "nearly as good as an O(N) full scan" (Envoy docs; Mitzenmacher: the
 *   maximum load drops from Θ(log n / log log n) to log log n / log 2 + O(1)).
 * - Different weights: as Envoy, an earliest-deadline-first schedule whose weights are adjusted by load at the
 *   time of selection, `weight / (inFlight + 1)^activeRequestBias`: after a pick the upstream is next due
 *   `(inFlight + 1)^bias / weight` virtual time units later. O(log n).
 *
 * A retry skips tried candidates; if every drawn candidate was tried it scans for the least-loaded untried one.
 */
import type { Upstream } from '../upstream/upstream.js'
import { KeyHeap } from './heap.js'
import { PickRandom } from './pick-random.js'
import type { ResolvedP2cOptions } from './options.js'
import { type PickContext, type Picker, type PickerDeps, hasUnequalWeights, wasTried, weightOf } from './picker.js'

export class P2cPicker implements Picker {
  private list: readonly Upstream[] = []
  private weighted = false
  private readonly random: PickRandom
  private readonly choiceCount: number = 0
  private readonly bias: number = 0
  /** Weighted path: EDF over `key` = next deadline. */
  private readonly heap = new KeyHeap()
  private weights = new Float64Array(0)
  private time = 0

  constructor (deps: PickerDeps, options: ResolvedP2cOptions) {
    this.random = new PickRandom(deps.random)
    this.choiceCount = options.choiceCount
    this.bias = options.activeRequestBias
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.list = upstreams
    const n = upstreams.length
    this.weighted = hasUnequalWeights(upstreams)
    if (!this.weighted) return
    if (this.weights.length < n) this.weights = new Float64Array(n)
    const heap = this.heap
    heap.reset(n)
    for (let i = 0; i < n; i++) {
      const upstream = upstreams[i]!
      const w = weightOf(upstream)
      this.weights[i] = w
      // First deadline at a random point of the first period: no burst on refresh, no fleet lock step.
      heap.init(i, this.time + this.random.next() * this.cost(upstream.inFlight) / w)
    }
    heap.build()
  }

  pick (ctx: PickContext): Upstream | undefined {
    const list = this.list
    const n = list.length
    if (n === 0) return undefined
    if (this.weighted) return this.pickWeighted(ctx.tried)
    const tried = ctx.tried
    if (n === 1) return tried.length === 0 || !wasTried(tried, list[0]!) ? list[0] : undefined
    const random = this.random
    // Two distinct indices: the second is drawn from the n - 1 others.
    const a = random.below(n)
    let b = random.below(n - 1)
    if (b >= a) b++
    if (tried.length === 0) {
      let best = list[a]!
      let other = list[b]!
      if (other.inFlight < best.inFlight) best = other
      for (let c = 2; c < this.choiceCount; c++) {
        other = list[random.below(n)]!
        if (other.inFlight < best.inFlight) best = other
      }
      return best
    }
    return this.pickExcept(tried, a, b)
  }

  /** Retry path: the drawn candidates minus the tried ones, else the least-loaded untried upstream. */
  private pickExcept (tried: readonly Upstream[], a: number, b: number): Upstream | undefined {
    const list = this.list
    let best: Upstream | undefined
    for (let c = 0; c < this.choiceCount; c++) {
      const candidate = list[c === 0 ? a : c === 1 ? b : this.random.below(list.length)]!
      if (wasTried(tried, candidate)) continue
      if (best === undefined || candidate.inFlight < best.inFlight) best = candidate
    }
    if (best !== undefined) return best
    for (let i = 0; i < list.length; i++) {
      const candidate = list[i]!
      if (wasTried(tried, candidate)) continue
      if (best === undefined || candidate.inFlight < best.inFlight) best = candidate
    }
    return best
  }

  private pickWeighted (tried: readonly Upstream[]): Upstream | undefined {
    const heap = this.heap
    const list = this.list
    const i = heap.top()
    const upstream = list[i]!
    if (tried.length === 0 || !wasTried(tried, upstream)) {
      this.time = heap.topKey()
      heap.raiseTop(this.time + this.cost(upstream.inFlight) / this.weights[i]!)
      return upstream
    }
    // Retry path: the earliest deadline among the untried.
    const j = heap.minExcept(list, tried)
    if (j === -1) return undefined
    const deadline = heap.keyOf(j)
    if (deadline > this.time) this.time = deadline
    heap.setKey(j, this.time + this.cost(list[j]!.inFlight) / this.weights[j]!)
    return list[j]
  }

  /** `(inFlight + 1)^bias`, without `Math.pow` for Envoy's default bias of 1. */
  private cost (inFlight: number): number {
    const bias = this.bias
    if (bias === 1) return inFlight + 1
    if (bias === 0) return 1
    return Math.pow(inFlight + 1, bias)
  }
}
