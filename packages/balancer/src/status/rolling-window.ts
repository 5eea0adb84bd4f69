/**
 * The last few minutes of one upstream's traffic, for the status page: attempts, failed attempts and a latency
 * histogram per time bucket, in a fixed ring (constant memory, nothing allocated per record, no timer). The ring
 * advances lazily from the clock on every record and read, as the retry budget's does.
 *
 * Latencies go into log-scale bins (4 per octave from 0.1 ms: a bin is 19 % wide, so a percentile read from it is
 * within ±9 % of the true value), which merge across buckets by addition: a p99 over any span is exact up to the
 * bin width, never an average of percentiles. Pure: no Fastify, no network; time comes from the injected Clock.
 */
import type { Clock } from '../util/clock.js'

/** Lower edge of the second bin, in ms; bin 0 holds everything faster. */
export const LATENCY_BIN_BASE = 0.1
/** Bins per doubling of latency. */
export const LATENCY_BINS_PER_OCTAVE = 4
/** Bin count: the last bin holds everything from 0.1 ms × 2^21.5 ≈ 5 min up. */
export const LATENCY_BINS = 88

const LOG_SCALE = LATENCY_BINS_PER_OCTAVE / Math.LN2

/** The bin of a latency in ms. */
export function latencyBin (ms: number): number {
  if (!(ms >= LATENCY_BIN_BASE)) return 0 // also NaN
  const bin = 1 + Math.floor(Math.log(ms / LATENCY_BIN_BASE) * LOG_SCALE)
  return bin < LATENCY_BINS ? bin : LATENCY_BINS - 1
}

/** The value reported for a bin: its geometric middle (bin 0: its upper edge). */
export function binValue (bin: number): number {
  if (bin <= 0) return LATENCY_BIN_BASE
  return LATENCY_BIN_BASE * Math.pow(2, (bin - 0.5) / LATENCY_BINS_PER_OCTAVE)
}

/** The q-quantile (0..1) of `total` samples spread over `bins` (nearest rank), or null without samples. */
export function quantileOfBins (bins: ArrayLike<number>, total: number, q: number): number | null {
  if (total <= 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < bins.length; i++) {
    seen += bins[i]!
    if (seen >= rank) return binValue(i)
  }
  return binValue(bins.length - 1)
}

export interface RollingWindowOptions {
  /** Width of one time bucket in ms. */
  bucketMs: number
  /** Buckets kept, the current one included: the window covers `bucketMs × buckets`. */
  buckets: number
  /** Keep a latency histogram per bucket (off: counts only, e.g. for per-balancer counters). Default true. */
  latency?: boolean
}

/** Traffic over a span. Rates are per second; latencies in ms, null when nothing answered. */
export interface WindowSummary {
  /** Milliseconds the summary covers. */
  span: number
  requests: number
  failures: number
  /** Requests per second over `span`. */
  rps: number
  /** failures / requests, 0 without requests. */
  errorRate: number
  p50: number | null
  p99: number | null
}

/** One value per completed bucket, oldest first, for charts; null where the window did not exist yet. */
export interface WindowHistory {
  /** `clock.now()` at the start of the oldest bucket. */
  start: number
  bucketMs: number
  rps: Array<number | null>
  errorRate: Array<number | null>
  p50: Array<number | null>
  p99: Array<number | null>
}

export class RollingWindow {
  readonly bucketMs: number
  readonly size: number
  private readonly requests: Float64Array
  private readonly failures: Float64Array
  /** Samples in each bucket's histogram (attempts that got a response). */
  private readonly samples: Float64Array
  /** `size × LATENCY_BINS` counts, or empty without latency. */
  private readonly bins: Uint32Array
  /** Absolute index (`floor(now / bucketMs)`) of the newest bucket; -1 before the first record. */
  private head = -1
  /** `clock.now()` at creation: rates never count time before it. */
  private readonly origin: number
  /** Totals since creation. */
  totalRequests = 0
  totalFailures = 0

  constructor (private readonly clock: Pick<Clock, 'now'>, options: RollingWindowOptions) {
    if (!(options.bucketMs > 0) || !Number.isInteger(options.buckets) || options.buckets < 2) {
      throw new RangeError('RollingWindow needs bucketMs > 0 and at least 2 buckets')
    }
    this.bucketMs = options.bucketMs
    this.size = options.buckets
    this.requests = new Float64Array(this.size)
    this.failures = new Float64Array(this.size)
    this.samples = new Float64Array(this.size)
    this.bins = new Uint32Array(options.latency === false ? 0 : this.size * LATENCY_BINS)
    this.origin = clock.now()
  }

  /**
   * One attempt ended. `latency` in ms, or a negative number when there is no latency to record (no response).
   * Allocation-free.
   */
  record (latency: number, failed: boolean): void {
    const slot = this.advance(this.clock.now())
    this.requests[slot]!++
    this.totalRequests++
    if (failed) {
      this.failures[slot]!++
      this.totalFailures++
    }
    if (latency >= 0 && this.bins.length !== 0) {
      this.samples[slot]!++
      this.bins[slot * LATENCY_BINS + latencyBin(latency)]!++
    }
  }

  /**
   * The current (partial) bucket plus the `completed` buckets before it: for the figures of a table row, so they
   * cover between `completed` and `completed + 1` buckets of traffic and move smoothly.
   */
  recent (completed = 1): WindowSummary {
    const now = this.clock.now()
    const headSlot = this.advance(now)
    const count = Math.min(completed, this.size - 1) + 1
    const span = Math.max(1, now - Math.max(this.origin, (this.head - count + 1) * this.bucketMs))
    let requests = 0
    let failures = 0
    let samples = 0
    const merged = this.bins.length === 0 ? null : new Float64Array(LATENCY_BINS)
    for (let k = 0; k < count; k++) {
      const slot = (headSlot - k + this.size) % this.size
      requests += this.requests[slot]!
      failures += this.failures[slot]!
      samples += this.samples[slot]!
      if (merged !== null) {
        const base = slot * LATENCY_BINS
        for (let b = 0; b < LATENCY_BINS; b++) merged[b]! += this.bins[base + b]!
      }
    }
    return {
      span,
      requests,
      failures,
      rps: requests * 1000 / span,
      errorRate: requests === 0 ? 0 : failures / requests,
      p50: merged === null ? null : quantileOfBins(merged, samples, 0.5),
      p99: merged === null ? null : quantileOfBins(merged, samples, 0.99)
    }
  }

  /** Every completed bucket of the window (the current one is still filling), oldest first. */
  history (): WindowHistory {
    const headSlot = this.advance(this.clock.now())
    const n = this.size - 1
    const history: WindowHistory = {
      start: (this.head - n) * this.bucketMs,
      bucketMs: this.bucketMs,
      rps: new Array<number | null>(n),
      errorRate: new Array<number | null>(n),
      p50: new Array<number | null>(n),
      p99: new Array<number | null>(n)
    }
    const perSecond = 1000 / this.bucketMs
    for (let k = 0; k < n; k++) {
      // k = 0 is the oldest completed bucket, n - 1 the one just before the current.
      const slot = (headSlot - n + k + this.size) % this.size
      const requests = this.requests[slot]!
      if ((this.head - n + k + 1) * this.bucketMs <= this.origin) {
        // The bucket ended before the window was created: no data, rather than a misleading 0.
        history.rps[k] = null
        history.errorRate[k] = null
        history.p50[k] = null
        history.p99[k] = null
        continue
      }
      history.rps[k] = requests * perSecond
      history.errorRate[k] = requests === 0 ? null : this.failures[slot]! / requests
      if (this.bins.length === 0) {
        history.p50[k] = null
        history.p99[k] = null
      } else {
        const bins = this.bins.subarray(slot * LATENCY_BINS, (slot + 1) * LATENCY_BINS)
        history.p50[k] = quantileOfBins(bins, this.samples[slot]!, 0.5)
        history.p99[k] = quantileOfBins(bins, this.samples[slot]!, 0.99)
      }
    }
    return history
  }

  /** Moves the ring to `now`, clearing buckets that fell out of the window; answers the slot of the current bucket. */
  private advance (now: number): number {
    const index = Math.floor(now / this.bucketMs)
    if (index > this.head) {
      if (this.head < 0 || index - this.head >= this.size) {
        this.requests.fill(0)
        this.failures.fill(0)
        this.samples.fill(0)
        this.bins.fill(0)
      } else {
        for (let i = this.head + 1; i <= index; i++) this.clear(i % this.size)
      }
      this.head = index
    }
    return this.head % this.size
  }

  private clear (slot: number): void {
    this.requests[slot] = 0
    this.failures[slot] = 0
    this.samples[slot] = 0
    if (this.bins.length !== 0) this.bins.fill(0, slot * LATENCY_BINS, (slot + 1) * LATENCY_BINS)
  }
}
