/**
 * The HTTP side of the balancer: an object with undici's `request(options, callback)` shape, handed to
 * @fastify/reply-from through its `undici` option. reply-from calls it once per proxied request (with a
 * placeholder origin); for each attempt it asks the engine for an upstream, sends through that upstream's
 * keep-alive pool, and on a retryable failure asks again, excluding upstreams already tried (undici's
 * BalancedPool + retry-interceptor shape, Envoy's "select another host"). reply-from's own retries are off:
 * they would re-send to the same URL. See docs/decisions/0001-failover-wiring.md.
 */
import type { Readable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import type { AttemptOutcome, Balancer } from '../balancer.js'
import { BadGatewayError, GatewayTimeoutError, NoHealthyUpstreamError, type UpstreamFailure, UpstreamsSaturatedError } from '../errors.js'
import type { ResolvedOptions } from '../options.js'
import { parseRetryAfter } from '../outlier/detector.js'
import { type FailureKind, failureKindOf, mayRetry } from '../retry/retry-policy.js'
import { readCookie, type ResolvedStickyOptions, serializeStickyCookie } from '../pickers/index.js'
import type { Upstream } from '../upstream/upstream.js'

/** What reply-from passes to `request()` (lib/request.js `handleUndici`). */
export interface ProxyRequestOptions {
  origin?: string
  path: string
  method: string
  headers: Record<string, string | string[] | undefined>
  body?: string | Buffer | Readable | null
  headersTimeout?: number
  bodyTimeout?: number
}

export type ProxyCallback = (err: Error | null, data?: Dispatcher.ResponseData) => void

const EMPTY: readonly Upstream[] = []

const FAILURE_TEXT: Record<FailureKind, string> = {
  connect: 'connection failed',
  reset: 'connection reset before a response',
  timeout: 'no response within the timeout',
  status: 'upstream answered with an error status'
}

function addSetCookie (headers: Record<string, string | string[] | undefined>, cookie: string): void {
  const existing = headers['set-cookie']
  headers['set-cookie'] = existing === undefined ? cookie : Array.isArray(existing) ? [...existing, cookie] : [existing, cookie]
}

function isStream (body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function'
}

/**
 * The plugin puts a request's consistent-hash value in this header (it sees the Fastify request; the dispatcher
 * does not); the dispatcher reads it and removes it before anything is sent upstream.
 */
export const HASH_HEADER = 'x-switchyard-hash'

export class BalancerDispatcher {
  private readonly pools = new Map<number, Pool>()
  private closed = false
  /** `algorithm: 'sticky'`: its options (cookie name and attributes), else null. */
  readonly sticky: ResolvedStickyOptions | null

  constructor (readonly engine: Balancer, readonly options: ResolvedOptions) {
    this.sticky = engine.sticky === null ? null : options.algorithmOptions as ResolvedStickyOptions
  }

  /** reply-from's entry point. */
  request (opts: ProxyRequestOptions, callback: ProxyCallback): void {
    new ProxiedRequest(this, opts, callback).start()
  }

  /** The keep-alive pool of one upstream, created on first use. */
  poolFor (upstream: Upstream): Pool {
    let pool = this.pools.get(upstream.id)
    if (pool === undefined) {
      pool = new Pool(upstream.url, {
        connections: this.options.connections,
        pipelining: 1,
        connect: { timeout: this.options.connectTimeout }
      })
      this.pools.set(upstream.id, pool)
    }
    return pool
  }

  /** Drops the pool of an upstream that left the set. */
  async release (upstream: Upstream): Promise<void> {
    const pool = this.pools.get(upstream.id)
    if (pool === undefined) return
    this.pools.delete(upstream.id)
    await pool.close()
  }

  get isClosed (): boolean { return this.closed }

  /** Closes every upstream connection (in-flight responses are cut: Fastify is closing). */
  async close (): Promise<void> {
    this.closed = true
    const pools = [...this.pools.values()]
    this.pools.clear()
    await Promise.all(pools.map(async (pool) => { await pool.destroy() }))
  }
}

/** One client request through its attempts. A class, not closures, so per-request state has one stable shape. */
class ProxiedRequest {
  private tried: Upstream[] | null = null
  private attempts = 0
  private startedAt = 0
  private lastFailure: FailureKind | null = null
  private lastError: Error | null = null
  private body: string | Buffer | Readable | null
  private replayable: boolean
  /** Consistent-hash value of this request (0 when the algorithm needs none). */
  private hash = 0
  /** The sticky cookie's value as the client sent it. */
  private affinity: string | undefined = undefined

  constructor (
    private readonly dispatcher: BalancerDispatcher,
    private readonly opts: ProxyRequestOptions,
    private readonly callback: ProxyCallback
  ) {
    this.body = opts.body ?? null
    this.replayable = !isStream(this.body)
  }

  start (): void {
    const { engine, sticky } = this.dispatcher
    this.startedAt = engine.clock.now()
    engine.requestStarted()
    if (engine.hashKey !== null) {
      const headers = this.opts.headers
      this.hash = Number(headers[HASH_HEADER]) >>> 0
      delete headers[HASH_HEADER]
    }
    if (sticky !== null) {
      const cookie = this.opts.headers.cookie
      this.affinity = readCookie(Array.isArray(cookie) ? cookie.join('; ') : cookie, sticky.cookieName)
    }
    const body = this.body
    if (isStream(body)) {
      const length = Number(this.opts.headers['content-length'])
      if (Number.isInteger(length) && length >= 0 && length <= this.dispatcher.options.retry.maxBufferedBody) {
        this.bufferBody(body, length)
        return
      }
    }
    this.next(this.dispatcher.engine.pick(EMPTY, this.hash, this.affinity))
  }

  /** Holds a body of known, bounded size, so a failed attempt can send it again byte for byte. */
  private bufferBody (body: Readable, length: number): void {
    const chunks: Buffer[] = []
    let received = 0
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      received += chunk.length
    })
    body.once('error', (err) => { this.callback(err) })
    body.once('end', () => {
      if (received !== length) {
        this.callback(Object.assign(new Error(`request body ended after ${received} of ${length} bytes`), { code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' }))
        return
      }
      this.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)
      this.replayable = true
      this.next(this.dispatcher.engine.pick(EMPTY, this.hash, this.affinity))
    })
  }

  /** Sends the next attempt to `upstream`, or ends the request when there is none. */
  private next (upstream: Upstream | undefined): void {
    if (upstream === undefined || this.dispatcher.isClosed) {
      this.fail()
      return
    }
    const { engine, options } = this.dispatcher
    this.attempts++
    engine.attemptStarted(upstream)
    const opts = this.opts
    opts.headers.host = upstream.host
    const attemptStart = engine.clock.now()
    const delayStart = engine.loopDelayNow()
    this.dispatcher.poolFor(upstream).request({
      path: opts.path,
      method: opts.method as Dispatcher.HttpMethod,
      headers: opts.headers as Record<string, string | string[]>,
      body: this.body,
      headersTimeout: options.timeout,
      bodyTimeout: options.timeout
    }, (err, data) => {
      const latency = engine.clock.now() - attemptStart
      const stalled = engine.loopDelayNow() - delayStart
      if (err !== null) this.onError(upstream, err, latency, stalled)
      else this.onResponse(upstream, data, latency, stalled)
    })
  }

  private onError (upstream: Upstream, err: Error, latency: number, stalled: number): void {
    const kind = failureKindOf((err as { code?: string }).code)
    this.dispatcher.engine.attemptFinished(upstream, kind, latency, 0, 0, stalled)
    this.lastFailure = kind
    this.lastError = err
    const retryTo = this.retryTarget(upstream, kind)
    if (retryTo !== undefined) {
      this.dispatcher.engine.retried(upstream, kind)
      this.next(retryTo)
    } else {
      this.fail()
    }
  }

  private onResponse (upstream: Upstream, data: Dispatcher.ResponseData, latency: number, stalled: number): void {
    const engine = this.dispatcher.engine
    // A 503 with Retry-After holds that upstream out for as long as it asks (outlier detection).
    const retryAfter = data.statusCode === 503 ? parseRetryAfter(data.headers['retry-after'], Date.now()) : 0
    if (this.dispatcher.options.retry.statuses.has(data.statusCode)) {
      const retryTo = this.retryTarget(upstream, 'status')
      if (retryTo !== undefined) {
        engine.attemptFinished(upstream, 'status', latency, data.statusCode, retryAfter, stalled)
        engine.retried(upstream, 'status')
        this.lastFailure = 'status'
        // Read the error body to the end so the keep-alive connection can be reused.
        data.body.dump().catch(() => {})
        this.next(retryTo)
        return
      }
    }
    // This response goes to the client; the attempt ends when its body does (so in-flight counts are true).
    const outcome: AttemptOutcome = data.statusCode >= 500 && this.dispatcher.options.retry.statuses.has(data.statusCode) ? 'status' : 'success'
    const status = data.statusCode
    data.body.once('close', () => { engine.attemptFinished(upstream, outcome, latency, status, retryAfter, stalled) })
    const sticky = this.dispatcher.sticky
    if (sticky !== null && engine.sticky!.needsCookie(this.affinity, upstream)) {
      // No cookie, a stale or tampered one, or its upstream could not serve: bind the client to this one.
      addSetCookie(data.headers, serializeStickyCookie(sticky, engine.sticky!.cookieFor(upstream)))
    }
    this.callback(null, data)
  }

  /** The upstream to try next after a failure on `upstream`, or undefined when this request must stop. */
  private retryTarget (upstream: Upstream, kind: FailureKind): Upstream | undefined {
    const { engine, options } = this.dispatcher
    if (this.attempts >= options.retry.tries) return undefined
    if (!mayRetry(kind, this.opts.method, this.replayable)) return undefined
    if (engine.clock.now() - this.startedAt >= options.retry.timeout) return undefined
    const tried = this.tried ?? (this.tried = [])
    tried.push(upstream)
    // Retry budget: beyond it a sick fleet gets no extra load from us (Envoy/Finagle), but a backup still may.
    if (!engine.retryAllowed()) {
      const standby = engine.standby(tried)
      if (standby === undefined) engine.retryDenied(upstream, kind)
      return standby
    }
    const target = engine.pick(tried, this.hash, this.affinity)
    if (target !== undefined) engine.retrySent()
    return target
  }

  private fail (): void {
    if (this.lastFailure === null) this.dispatcher.engine.noUpstream()
    this.callback(this.finalError())
  }

  private finalError (): UpstreamFailure {
    const { exposeErrorDetails } = this.dispatcher.options
    const attempts = this.attempts
    const detail = exposeErrorDetails && this.lastError !== null
      ? ` (${(this.lastError as { code?: string }).code ?? this.lastError.message}; tried ${this.tried?.map((u) => u.name).join(', ') ?? ''})`
      : ''
    const cause = this.lastError ?? undefined
    if (this.lastFailure === null) {
      if (this.dispatcher.engine.saturated(this.tried ?? EMPTY)) {
        return new UpstreamsSaturatedError(`every upstream is at maxInFlightPerUpstream${detail}`, { cause })
      }
      return new NoHealthyUpstreamError(`no upstream could be tried${detail}`, { cause })
    }
    const summary = `${attempts} attempt${attempts === 1 ? '' : 's'} failed, the last: ${FAILURE_TEXT[this.lastFailure]}${detail}`
    if (this.lastFailure === 'timeout') return new GatewayTimeoutError(summary, { cause })
    return new BadGatewayError(summary, { cause })
  }
}
