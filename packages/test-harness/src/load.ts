import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'

export interface LoadOptions {
  /** Target origin, e.g. a gateway's `url`. Must be on loopback. */
  url: string
  path?: string
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Concurrent connections (each has one request in flight at a time). Default 10. */
  connections?: number
  /** Stop after this many requests... */
  requests?: number
  /** ...or after this many milliseconds, whichever comes first. At least one of the two is required. */
  durationMs?: number
  /** Per-request timeout in milliseconds (a request that takes longer counts as an error). Default 30 000. */
  timeout?: number
  /** Keep every request's start time, latency, status and backend for timeline analysis. */
  recordSamples?: boolean
  /** Name of the response header that names the backend. Default `x-backend`. */
  backendHeader?: string
  /**
   * Open loop (wrk2's `-R`): start requests on a fixed schedule of `rate` per second, spread over the
   * `connections`, instead of each connection sending its next request as soon as the last one answered. A
   * closed loop saturates whatever is slowest, so its latencies measure that queue; a constant rate below
   * capacity measures the system itself. A request whose slot comes while every connection is busy starts late
   * and is counted in `lateStarts`; latency is still timed from its actual start (true per-request figures).
   */
  rate?: number
}

export interface Sample {
  /** Milliseconds since the load started. */
  start: number
  latency: number
  /** HTTP status, or 0 for a transport error. */
  status: number
  backend: string | undefined
}

export interface LoadResult {
  total: number
  durationMs: number
  /** Count per HTTP status code. */
  statuses: Record<number, number>
  ok2xx: number
  c3xx: number
  c4xx: number
  c5xx: number
  /** Transport errors (no HTTP response) by error code. */
  errors: Record<string, number>
  errorCount: number
  /** Non-2xx responses plus transport errors. */
  failed: number
  /** Requests served per backend name (from `backendHeader`). */
  backends: Record<string, number>
  /** Per-request latency percentiles in milliseconds (true per-request figures, no correction). */
  latency: { p50: number, p90: number, p99: number, p999: number, max: number, mean: number }
  samples: Sample[]
  rps: number
  /** With `rate`: requests that started more than 1 ms after their scheduled time (every connection was busy). */
  lateStarts: number
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** The q-quantile (0..1) of an ascending sorted array, nearest rank. */
export function percentile (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? 0
}

/**
 * A bounded load: `connections` workers each send one request at a time until `requests` have been sent or
 * `durationMs` has passed, back to back (closed loop) or on a fixed schedule (`rate`, open loop). Counts
 * statuses, transport errors and which backend answered.
 */
export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  const { url, path = '/', method = 'GET', connections = 10, timeout = 30_000 } = options
  if (options.requests === undefined && options.durationMs === undefined) {
    throw new TypeError('runLoad needs requests or durationMs, so that it stops by itself')
  }
  const rate = options.rate
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) throw new TypeError('runLoad: rate must be a positive number of requests per second')
  const maxRequests = options.requests ?? Number.POSITIVE_INFINITY
  const backendHeader = options.backendHeader ?? 'x-backend'
  const pool = new Pool(url, { connections, pipelining: 1 })
  const result: LoadResult = {
    total: 0,
    durationMs: 0,
    statuses: {},
    ok2xx: 0,
    c3xx: 0,
    c4xx: 0,
    c5xx: 0,
    errors: {},
    errorCount: 0,
    failed: 0,
    backends: {},
    latency: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
    samples: [],
    rps: 0,
    lateStarts: 0
  }
  const latencies: number[] = []
  const t0 = performance.now()
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : t0 + options.durationMs
  let issued = 0

  const worker = async (): Promise<void> => {
    while (issued < maxRequests && performance.now() < deadline) {
      const slot = issued++
      if (rate !== undefined) {
        const at = t0 + slot * 1000 / rate
        if (at >= deadline) break
        const wait = at - performance.now()
        if (wait > 0) await sleep(wait)
        else if (wait < -1) result.lateStarts++
      }
      const start = performance.now()
      let status = 0
      let backend: string | undefined
      try {
        const res = await pool.request({
          path, method, headers: options.headers ?? {}, body: options.body ?? null, headersTimeout: timeout, bodyTimeout: timeout
        })
        await res.body.dump()
        status = res.statusCode
        const named = res.headers[backendHeader]
        backend = Array.isArray(named) ? named[0] : named
      } catch (err) {
        const code = (err as { code?: string }).code ?? (err as Error).name
        result.errors[code] = (result.errors[code] ?? 0) + 1
        result.errorCount++
      }
      const latency = performance.now() - start
      latencies.push(latency)
      result.total++
      if (status !== 0) {
        result.statuses[status] = (result.statuses[status] ?? 0) + 1
        if (status < 300) result.ok2xx++
        else if (status < 400) result.c3xx++
        else if (status < 500) result.c4xx++
        else result.c5xx++
      }
      if (backend !== undefined) result.backends[backend] = (result.backends[backend] ?? 0) + 1
      if (options.recordSamples === true) result.samples.push({ start: start - t0, latency, status, backend })
    }
  }

  try {
    await Promise.all(Array.from({ length: connections }, worker))
  } finally {
    await pool.close()
  }
  result.durationMs = performance.now() - t0
  result.failed = result.total - result.ok2xx
  result.rps = result.total / (result.durationMs / 1000)
  latencies.sort((a, b) => a - b)
  let sum = 0
  for (const l of latencies) sum += l
  result.latency = {
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    p999: percentile(latencies, 0.999),
    max: latencies[latencies.length - 1] ?? 0,
    mean: latencies.length > 0 ? sum / latencies.length : 0
  }
  return result
}
