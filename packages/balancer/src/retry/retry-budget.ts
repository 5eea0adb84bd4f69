/**
 * Retry budget (Finagle `RetryBudget`, Envoy `retry_budget`): retries are allowed while the retries of the last
 * `window` stay within `percent` % of the requests of that window, with a floor of `minPerSecond` retries per
 * second so that a quiet service can still retry at all. When the whole fleet fails, retries stop at the
 * budget instead of multiplying the load (a client request costs at most `1 + percent / 100` attempts on
 * average, plus the floor).
 *
 * Constant memory: the window is a ring of `BUCKETS` time buckets with running sums, advanced lazily from the
 * `now` each call passes in (no timer). A bucket's counts leave the window as a whole, so the window is
 * between `window × (BUCKETS − 1) / BUCKETS` and `window` long.
 * Pure: no Fastify, no undici, no sockets; time is passed in.
 */

export const DEFAULT_RETRY_BUDGET_PERCENT = 20
export const DEFAULT_RETRY_BUDGET_MIN_PER_SECOND = 3
/** Finagle's default budget TTL. */
export const DEFAULT_RETRY_BUDGET_WINDOW = 10_000

export interface RetryBudgetOptions {
  /** Retries allowed as a share of requests in the window, in percent. */
  percent: number
  /** Retries per second allowed regardless of the share (times the window, in seconds). */
  minPerSecond: number
  /** Length of the sliding window in ms. Default 10 s. */
  window?: number
}

const BUCKETS = 10

export class RetryBudget {
  private readonly requests = new Float64Array(BUCKETS)
  private readonly retries = new Float64Array(BUCKETS)
  private requestSum = 0
  private retrySum = 0
  /** Absolute index (`floor(now / bucketMs)`) of the newest bucket. */
  private head = -1
  private readonly bucketMs: number
  private readonly ratio: number
  private readonly floor: number

  constructor (options: RetryBudgetOptions) {
    const window = options.window ?? DEFAULT_RETRY_BUDGET_WINDOW
    this.bucketMs = window / BUCKETS
    this.ratio = options.percent / 100
    this.floor = options.minPerSecond * window / 1000
  }

  /** A client request started (count it once, not once per attempt). */
  recordRequest (now: number): void {
    this.advance(now)
    this.requests[this.head % BUCKETS]!++
    this.requestSum++
  }

  /** A retry was sent. */
  recordRetry (now: number): void {
    this.advance(now)
    this.retries[this.head % BUCKETS]!++
    this.retrySum++
  }

  /** True when one more retry stays within the budget. */
  canRetry (now: number): boolean {
    this.advance(now)
    const allowed = Math.max(this.requestSum * this.ratio, this.floor)
    return this.retrySum + 1 <= allowed
  }

  /** `canRetry` and, when allowed, `recordRetry`, in one call. */
  tryRetry (now: number): boolean {
    if (!this.canRetry(now)) return false
    this.retries[this.head % BUCKETS]!++
    this.retrySum++
    return true
  }

  /** Requests and retries in the current window, for stats and tests. */
  get window (): { requests: number, retries: number } {
    return { requests: this.requestSum, retries: this.retrySum }
  }

  private advance (now: number): void {
    const index = Math.floor(now / this.bucketMs)
    if (index <= this.head) return
    if (this.head < 0 || index - this.head >= BUCKETS) {
      this.requests.fill(0)
      this.retries.fill(0)
      this.requestSum = 0
      this.retrySum = 0
    } else {
      for (let i = this.head + 1; i <= index; i++) {
        const slot = i % BUCKETS
        this.requestSum -= this.requests[slot]!
        this.retrySum -= this.retries[slot]!
        this.requests[slot] = 0
        this.retries[slot] = 0
      }
    }
    this.head = index
  }
}
