/**
 * `random`: each upstream with probability `weight / Σ weight` (HAProxy `balance random(1)`, Envoy `RANDOM`).
 *
 * Equal weights draw one index. Different weights use Vose's alias method, built in `refresh`: one index draw
 * and one biased coin, O(1) whatever the number of upstreams. A retry redraws a few times, then falls back to
 * a weighted scan of the untried upstreams.
 */
import type { Upstream } from '../upstream/upstream.js'
import { PickRandom } from './pick-random.js'
import { type PickContext, type Picker, type PickerDeps, hasUnequalWeights, wasTried, weightOf } from './picker.js'

/** Redraws on a retry before scanning: with `retry.tries` ≤ 3 a redraw almost always lands on an untried one. */
const REDRAWS = 4

export class RandomPicker implements Picker {
  private list: readonly Upstream[] = []
  private weighted = false
  /** Alias table: column `i` keeps `i` with probability `accept[i]`, else answers `alias[i]`. */
  private accept = new Float64Array(0)
  private alias = new Int32Array(0)
  private readonly random: PickRandom

  constructor (deps: PickerDeps) {
    this.random = new PickRandom(deps.random)
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.list = upstreams
    this.weighted = hasUnequalWeights(upstreams)
    if (this.weighted) this.buildAlias(upstreams)
  }

  pick (ctx: PickContext): Upstream | undefined {
    const list = this.list
    if (list.length === 0) return undefined
    const tried = ctx.tried
    if (tried.length === 0) return list[this.draw()]
    for (let k = 0; k < REDRAWS; k++) {
      const upstream = list[this.draw()]!
      if (!wasTried(tried, upstream)) return upstream
    }
    return this.scan(tried)
  }

  private draw (): number {
    const n = this.list.length
    const i = this.random.below(n)
    if (!this.weighted) return i
    return this.random.chance(this.accept[i]!) ? i : this.alias[i]!
  }

  /** Weighted choice among the untried, by one pass over the list. */
  private scan (tried: readonly Upstream[]): Upstream | undefined {
    const list = this.list
    let total = 0
    for (let i = 0; i < list.length; i++) {
      if (!wasTried(tried, list[i]!)) total += weightOf(list[i]!)
    }
    if (total === 0) return undefined
    let r = this.random.next() * total
    let last: Upstream | undefined
    for (let i = 0; i < list.length; i++) {
      const upstream = list[i]!
      if (wasTried(tried, upstream)) continue
      last = upstream
      r -= weightOf(upstream)
      if (r < 0) return upstream
    }
    return last
  }

  /** Vose's alias method: O(n) build, exact probabilities up to float rounding. */
  private buildAlias (upstreams: readonly Upstream[]): void {
    const n = upstreams.length
    this.accept = new Float64Array(n)
    this.alias = new Int32Array(n)
    let total = 0
    for (let i = 0; i < n; i++) total += weightOf(upstreams[i]!)
    const scaled = new Float64Array(n)
    const small: number[] = []
    const large: number[] = []
    for (let i = 0; i < n; i++) {
      scaled[i] = weightOf(upstreams[i]!) * n / total
      if (scaled[i]! < 1) small.push(i)
      else large.push(i)
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!
      const l = large.pop()!
      this.accept[s] = scaled[s]!
      this.alias[s] = l
      scaled[l] = scaled[l]! + scaled[s]! - 1
      if (scaled[l]! < 1) small.push(l)
      else large.push(l)
    }
    // Leftovers are 1 up to rounding.
    for (const i of large) { this.accept[i] = 1; this.alias[i] = i }
    for (const i of small) { this.accept[i] = 1; this.alias[i] = i }
  }
}
