/**
 * `least-connections`: the upstream with the fewest in-flight requests per unit of weight (`inFlight / weight`,
 * nginx `least_conn`, HAProxy `leastconn`); ties go round robin.
 *
 * nginx scans every peer per pick (~1 µs at 1,000 upstreams). Here the loads are indexed, and the index is told
 * about every change: the engine calls `inFlightChanged(upstream)` after each `inFlight++` and `inFlight--`.
 *
 * - Upstreams are grouped by weight (configured weights take few distinct values). Each group is a bucket
 *   queue: bucket `c` is an intrusive FIFO list of the group's upstreams with `c` requests in flight, and the
 *   group's `min` is its lowest non-empty bucket. A pick compares the groups' heads (`min / weight`, ties to
 *   the one picked longest ago) and moves the winner to the back of its bucket (round robin among equals, as
 *   nginx); a change of ±1 moves one upstream between neighbouring buckets. O(groups) per pick, O(1) per
 *   change; with equal weights there is one group.
 * - More than `MAX_GROUPS` distinct weights (many upstreams ramping under slow start at once): a binary heap
 *   keyed by `(inFlight / weight, sequence of the last pick)`, O(log n).
 *
 * Safety net: a pick re-checks its candidates against the live `inFlight` and re-files them when they differ,
 * so a missed increment cannot pile requests onto one upstream; every `refresh` re-reads all counts.
 */
import type { Upstream } from '../upstream/upstream.js'
import { randomIndex } from '../util/random.js'
import { IndexedHeap, SlotIndex } from './heap.js'
import { type PickContext, type Picker, type PickerDeps, wasTried, weightOf } from './picker.js'

/** Most distinct weights served by bucket queues; beyond, the heap is cheaper than comparing every group. */
export const MAX_GROUPS = 8

const NONE = -1

export class LeastConnectionsPicker implements Picker {
  private list: readonly Upstream[] = []
  private readonly slots = new SlotIndex()
  private readonly offset: number = 0
  private useHeap = false
  /** Sequence number of the last pick, per upstream (ties go to the smallest). */
  private picked = new Float64Array(0)
  private sequence = 0
  private weights = new Float64Array(0)

  // Bucket queues, one per weight group.
  private groups = 0
  private groupWeights = new Float64Array(0)
  /** Lowest non-empty bucket of each group. */
  private mins = new Int32Array(0)
  /** Buckets per group; `heads`/`tails` are `groups × capacity`, indexed `group * capacity + bucket`. */
  private capacity = 0
  private heads = new Int32Array(0)
  private tails = new Int32Array(0)
  /** Per upstream: its group, the bucket it is filed in, its neighbours there. */
  private groupOf = new Int32Array(0)
  private filed = new Int32Array(0)
  private nexts = new Int32Array(0)
  private prevs = new Int32Array(0)

  // Fallback: heap keyed by (inFlight / weight, sequence of the last pick).
  private readonly heap = new IndexedHeap()

  constructor (deps: PickerDeps) {
    this.offset = randomIndex(deps.random, 1 << 30)
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.list = upstreams
    const n = upstreams.length
    this.slots.rebuild(upstreams)
    this.weights = new Float64Array(n)
    this.picked = new Float64Array(n)
    this.groupOf = new Int32Array(n)
    const distinct: number[] = []
    for (let i = 0; i < n; i++) {
      const w = weightOf(upstreams[i]!)
      this.weights[i] = w
      let g = distinct.indexOf(w)
      if (g === -1 && distinct.length <= MAX_GROUPS) { g = distinct.length; distinct.push(w) }
      this.groupOf[i] = g
    }
    // Round robin among equals starts at a random offset, so a fleet of gateways does not move in lock step.
    const start = n > 0 ? this.offset % n : 0
    for (let k = 0; k < n; k++) this.picked[(start + k) % n] = k
    this.sequence = n
    this.useHeap = distinct.length > MAX_GROUPS
    if (this.useHeap) {
      this.heap.reset(n)
      for (let i = 0; i < n; i++) this.heap.init(i, upstreams[i]!.inFlight / this.weights[i]!, this.picked[i]!)
      this.heap.build()
      return
    }
    this.groups = distinct.length
    this.groupWeights = Float64Array.from(distinct)
    let maxLoad = 0
    for (let i = 0; i < n; i++) maxLoad = Math.max(maxLoad, loadOf(upstreams[i]!))
    this.capacity = Math.max(16, maxLoad + 2)
    this.heads = new Int32Array(this.groups * this.capacity).fill(NONE)
    this.tails = new Int32Array(this.groups * this.capacity).fill(NONE)
    this.mins = new Int32Array(this.groups).fill(this.capacity - 1)
    this.filed = new Int32Array(n)
    this.nexts = new Int32Array(n)
    this.prevs = new Int32Array(n)
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n
      const load = loadOf(upstreams[i]!)
      const g = this.groupOf[i]!
      this.append(i, g, load)
      if (load < this.mins[g]!) this.mins[g] = load
    }
  }

  pick (ctx: PickContext): Upstream | undefined {
    const list = this.list
    if (list.length === 0) return undefined
    if (this.useHeap) return this.pickHeap(ctx.tried)
    let best = NONE
    let bestLoad = 0
    let bestWeight = 1
    for (let g = 0; g < this.groups; g++) {
      const i = this.headOf(g)
      const load = this.filed[i]!
      const w = this.groupWeights[g]!
      // load / w < bestLoad / bestWeight, without dividing.
      const a = load * bestWeight
      const b = bestLoad * w
      if (best === NONE || a < b || (a === b && this.picked[i]! < this.picked[best]!)) {
        best = i
        bestLoad = load
        bestWeight = w
      }
    }
    const tried = ctx.tried
    if (tried.length !== 0 && wasTried(tried, list[best]!)) {
      best = this.leastExcept(tried)
      if (best === NONE) return undefined
    }
    // Round robin among equals: the picked one goes to the back of its bucket.
    const g = this.groupOf[best]!
    const bucket = this.filed[best]!
    if (this.tails[g * this.capacity + bucket] !== best) {
      this.unlink(best)
      this.append(best, g, bucket)
    }
    this.picked[best] = ++this.sequence
    return list[best]
  }

  inFlightChanged (upstream: Upstream): void {
    const i = this.slots.indexOf(this.list, upstream)
    if (i === -1) return
    if (this.useHeap) {
      const key = upstream.inFlight / this.weights[i]!
      if (key !== this.heap.keyOf(i)) this.heap.setKey(i, key)
      return
    }
    const load = loadOf(upstream)
    if (load !== this.filed[i]) this.move(i, load)
  }

  /** Head of group `g`'s lowest bucket, re-filing heads whose live count moved (missed notifications). */
  private headOf (g: number): number {
    const list = this.list
    let i = this.heads[g * this.capacity + this.mins[g]!]!
    for (let guard = list.length; guard > 0; guard--) {
      const load = loadOf(list[i]!)
      if (load === this.filed[i]) break
      this.move(i, load)
      i = this.heads[g * this.capacity + this.mins[g]!]!
    }
    return i
  }

  private pickHeap (tried: readonly Upstream[]): Upstream | undefined {
    const heap = this.heap
    const list = this.list
    let i = heap.top()
    for (let guard = heap.size; guard > 0; guard--) {
      const live = list[i]!.inFlight / this.weights[i]!
      if (live === heap.keyOf(i)) break
      heap.setKey(i, live)
      i = heap.top()
    }
    if (tried.length !== 0 && wasTried(tried, list[i]!)) {
      i = heap.minExcept(list, tried)
      if (i === -1) return undefined
    }
    heap.set(i, heap.keyOf(i), ++this.sequence)
    return list[i]
  }

  /** Retry path: the least-loaded untried upstream by a scan (ties to the one picked longest ago). */
  private leastExcept (tried: readonly Upstream[]): number {
    const list = this.list
    let best = NONE
    for (let i = 0; i < list.length; i++) {
      if (wasTried(tried, list[i]!)) continue
      if (best === NONE) { best = i; continue }
      const a = loadOf(list[i]!) * this.weights[best]!
      const b = loadOf(list[best]!) * this.weights[i]!
      if (a < b || (a === b && this.picked[i]! < this.picked[best]!)) best = i
    }
    return best
  }

  /** Re-files upstream `i` under `load` (at the back) and keeps its group's `min` right. */
  private move (i: number, load: number): void {
    const g = this.groupOf[i]!
    this.unlink(i)
    if (load >= this.capacity) this.grow(load)
    this.append(i, g, load)
    const base = g * this.capacity
    let min = this.mins[g]!
    if (load < min) min = load
    while (this.heads[base + min] === NONE) min++
    this.mins[g] = min
  }

  private append (i: number, g: number, bucket: number): void {
    const slot = g * this.capacity + bucket
    const tail = this.tails[slot]!
    this.prevs[i] = tail
    this.nexts[i] = NONE
    if (tail === NONE) this.heads[slot] = i
    else this.nexts[tail] = i
    this.tails[slot] = i
    this.filed[i] = bucket
  }

  private unlink (i: number): void {
    const slot = this.groupOf[i]! * this.capacity + this.filed[i]!
    const prev = this.prevs[i]!
    const next = this.nexts[i]!
    if (prev === NONE) this.heads[slot] = next
    else this.nexts[prev] = next
    if (next === NONE) this.tails[slot] = prev
    else this.prevs[next] = prev
  }

  /** More requests in flight than buckets: double the capacity of every group (rare; not per pick). */
  private grow (load: number): void {
    let capacity = this.capacity * 2
    while (capacity <= load) capacity *= 2
    const heads = new Int32Array(this.groups * capacity).fill(NONE)
    const tails = new Int32Array(this.groups * capacity).fill(NONE)
    for (let g = 0; g < this.groups; g++) {
      heads.set(this.heads.subarray(g * this.capacity, (g + 1) * this.capacity), g * capacity)
      tails.set(this.tails.subarray(g * this.capacity, (g + 1) * this.capacity), g * capacity)
    }
    this.heads = heads
    this.tails = tails
    this.capacity = capacity
  }
}

/** In-flight count as a bucket number (a negative count, which would be an engine bug, files as 0). */
function loadOf (upstream: Upstream): number {
  const load = upstream.inFlight
  return load > 0 ? load : 0
}
