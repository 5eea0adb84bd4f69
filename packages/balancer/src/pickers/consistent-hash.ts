/**
 * `consistent-hash`: the same key goes to the same upstream, and adding or removing one of N upstreams moves
 * only about 1/N of the keys. Maglev hashing (Eisenbud et al., NSDI 2016; Envoy `MAGLEV`) with bounded loads
 * (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2017; HAProxy
 * `hash-balance-factor`, Envoy `hash_balance_factor`).
 *
 * Maglev: each upstream owns a permutation of the `tableSize` slots (prime, default 65,537 as Envoy), derived
 * from two hashes of its URL; upstreams take turns claiming their next free preferred slot, in proportion to
 * their weight, until the table is full. A pick is `table[hash % tableSize]`: O(1), ~5× faster than a ketama
 * ring lookup (Envoy docs). The build is O(tableSize · log) on refresh, skipped when membership and weights are
 * unchanged. Upstreams are ordered by their URL hash before the build, so every gateway builds the same table
 * whatever order its configuration lists them in.
 *
 * Bounded loads: an upstream may hold at most `ceil(c × (total + 1) × weight / Σ weight)` in-flight requests,
 * `c = balanceFactor / 100` (1 + ε); a request whose slot names a full upstream walks forward through the
 * table to the first one with room (the paper's "next bin on the ring"). The new request counts in `total + 1`,
 * so some upstream always has room, and no upstream exceeds `c` × the average. `total` is kept by
 * `inFlightChanged` (the engine calls it on every in-flight change) and re-read on refresh.
 */
import type { Upstream } from '../upstream/upstream.js'
import { hash32 } from './hash.js'
import { SlotIndex } from './heap.js'
import type { ResolvedConsistentHashOptions } from './options.js'
import { type PickContext, type Picker, type PickerDeps, wasTried, weightOf } from './picker.js'

export class ConsistentHashPicker implements Picker {
  private list: readonly Upstream[] = []
  /** Maglev lookup table: slot → index in `list`. */
  private table: Int32Array
  private readonly tableSize: number = 0
  /** `balanceFactor / 100`, or 0 when loads are unbounded. */
  private readonly factor: number = 0
  private weights = new Float64Array(0)
  private totalWeight = 0
  /** Σ inFlight over `list`, from `inFlightChanged`; `counted[i]` is the count last added for upstream `i`. */
  private total = 0
  private counted = new Float64Array(0)
  private readonly slots = new SlotIndex()
  /** Walk length before falling back to a scan (only reached if `total` is wrong or retries exclude much). */
  private walkLimit = 0
  /** What the current table was built from, to skip identical rebuilds. */
  private builtFor: readonly Upstream[] = []
  private builtWeights = new Float64Array(0)

  constructor (_deps: PickerDeps, options: ResolvedConsistentHashOptions) {
    this.tableSize = options.tableSize
    this.factor = options.balanceFactor / 100
    this.table = new Int32Array(0)
  }

  refresh (upstreams: readonly Upstream[]): void {
    const n = upstreams.length
    this.list = upstreams
    if (this.weights.length < n) {
      this.weights = new Float64Array(n)
      this.counted = new Float64Array(n)
    }
    this.totalWeight = 0
    this.total = 0
    for (let i = 0; i < n; i++) {
      const upstream = upstreams[i]!
      this.weights[i] = weightOf(upstream)
      this.totalWeight += this.weights[i]!
      this.counted[i] = upstream.inFlight
      this.total += upstream.inFlight
    }
    this.slots.rebuild(upstreams)
    this.walkLimit = Math.min(this.tableSize, 4 * n + 32)
    if (!this.sameAsBuilt(upstreams)) this.build(upstreams)
  }

  pick (ctx: PickContext): Upstream | undefined {
    const list = this.list
    if (list.length === 0) return undefined
    const table = this.table
    const size = this.tableSize
    const tried = ctx.tried
    let slot = (ctx.hash >>> 0) % size
    if (this.factor === 0) {
      const upstream = list[table[slot]!]!
      if (tried.length === 0 || !wasTried(tried, upstream)) return upstream
    }
    // Room per unit of weight, counting this request in the total. (No `Infinity` for the unbounded case: a
    // phi of a double and a constant makes V8 box the double, 16 bytes per pick.)
    const bounded = this.factor !== 0
    const room = this.factor * (this.total + 1) / this.totalWeight
    for (let step = 0; step < this.walkLimit; step++) {
      const i = table[slot]!
      const upstream = list[i]!
      // inFlight + 1 ≤ ceil(room × w)  ⟺  inFlight < room × w, for an integer inFlight.
      if ((!bounded || upstream.inFlight < room * this.weights[i]!) &&
        (tried.length === 0 || !wasTried(tried, upstream))) return upstream
      slot = slot + 1 === size ? 0 : slot + 1
    }
    return this.leastLoaded(tried)
  }

  inFlightChanged (upstream: Upstream): void {
    const i = this.slots.indexOf(this.list, upstream)
    if (i === -1) return
    this.total += upstream.inFlight - this.counted[i]!
    this.counted[i] = upstream.inFlight
  }

  /** Which upstream owns `hash` in the table, ignoring load (for tests and diagnostics). */
  owner (hash: number): Upstream | undefined {
    if (this.list.length === 0) return undefined
    return this.list[this.table[(hash >>> 0) % this.tableSize]!]
  }

  private leastLoaded (tried: readonly Upstream[]): Upstream | undefined {
    let best = -1
    for (let i = 0; i < this.list.length; i++) {
      const upstream = this.list[i]!
      if (tried.length !== 0 && wasTried(tried, upstream)) continue
      if (best === -1 || upstream.inFlight / this.weights[i]! < this.list[best]!.inFlight / this.weights[best]!) best = i
    }
    return best === -1 ? undefined : this.list[best]
  }

  private sameAsBuilt (upstreams: readonly Upstream[]): boolean {
    const built = this.builtFor
    if (built.length !== upstreams.length || this.table.length !== this.tableSize) return false
    for (let i = 0; i < upstreams.length; i++) {
      if (built[i] !== upstreams[i] || this.builtWeights[i] !== this.weights[i]) return false
    }
    return true
  }

  /** Maglev table population (paper §3.4, with Envoy's weighted turns). */
  private build (upstreams: readonly Upstream[]): void {
    const n = upstreams.length
    const size = this.tableSize
    this.builtFor = upstreams
    this.builtWeights = this.weights.slice(0, n)
    const table = new Int32Array(size).fill(-1)
    this.table = table
    if (n === 0) return
    // Canonical order: by URL hash, then URL, so that every gateway builds the same table.
    const order = Array.from({ length: n }, (_, i) => i)
    const keys = upstreams.map((u) => hash32(u.url))
    order.sort((a, b) => keys[a]! - keys[b]! || (upstreams[a]!.url < upstreams[b]!.url ? -1 : 1))
    const offset = new Float64Array(n)
    const skip = new Float64Array(n)
    const next = new Float64Array(n)
    const weight = new Float64Array(n)
    const target = new Float64Array(n)
    let maxWeight = 0
    for (let k = 0; k < n; k++) {
      const upstream = upstreams[order[k]!]!
      offset[k] = hash32(upstream.url, 0x5bd1e995) % size
      skip[k] = hash32(upstream.url, 0x27d4eb2f) % (size - 1) + 1
      weight[k] = this.weights[order[k]!]! / this.totalWeight
      maxWeight = Math.max(maxWeight, weight[k]!)
    }
    // An upstream of the largest weight claims a slot every round; one of a third of it every third round.
    let filled = 0
    for (let round = 1; filled < size; round++) {
      for (let k = 0; k < n && filled < size; k++) {
        if (round * weight[k]! < target[k]!) continue
        target[k] = target[k]! + maxWeight
        let c = (offset[k]! + skip[k]! * next[k]!) % size
        while (table[c] !== -1) {
          next[k] = next[k]! + 1
          c = (offset[k]! + skip[k]! * next[k]!) % size
        }
        table[c] = order[k]!
        next[k] = next[k]! + 1
        filled++
      }
    }
  }
}
