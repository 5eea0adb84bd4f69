/**
 * Options of @switchyard/balancer: defaults as `DEFAULT_*` constants and one `validateOptions()` that runs at
 * registration and returns a frozen, fully defaulted object, or throws an `InvalidOptionError` naming the option.
 * Nothing downstream checks for `undefined` again.
 */
import { InvalidOptionError } from './errors.js'
import { ALGORITHMS, type Algorithm } from './pickers/index.js'
import type { UpstreamConfig } from './upstream/upstream.js'

export const DEFAULT_ALGORITHM: Algorithm = 'round-robin'
/** Attempts per request, the first included (HAProxy `retries` 3 + the first try; nginx tries every server). */
export const DEFAULT_RETRY_TRIES = 3
/** No new attempt starts later than this after the first (nginx `proxy_next_upstream_timeout`). */
export const DEFAULT_RETRY_TIMEOUT = 10_000
/** Upstream statuses that send an idempotent request to another upstream (nginx `http_502 http_503 http_504`). */
export const DEFAULT_RETRY_STATUSES: readonly number[] = Object.freeze([502, 503, 504])
/** Request bodies up to this size are held so they can be replayed on another upstream (Envoy's 1 MiB). */
export const DEFAULT_MAX_BUFFERED_BODY = 1024 * 1024
/** Per-attempt wait for response headers, and for each body chunk (nginx `proxy_read_timeout`-like). */
export const DEFAULT_TIMEOUT = 30_000
/** TCP connect timeout per attempt (HAProxy `timeout connect` 5 s). */
export const DEFAULT_CONNECT_TIMEOUT = 5_000
/** Keep-alive connections per upstream (reply-from's default). */
export const DEFAULT_CONNECTIONS = 128
/** Percent of primaries that must be available before panic mode balances over all (Envoy 50 %). */
export const DEFAULT_PANIC_THRESHOLD = 50
export const DEFAULT_DECORATOR = 'balancer'

export interface RetryOptions {
  /** Attempts per request, on different upstreams, the first included. 1 disables retries. */
  tries?: number
  /** Milliseconds after the first attempt during which another attempt may start. */
  timeout?: number
  /** Upstream response statuses that are retried for idempotent requests. */
  statuses?: number[]
  /** Largest request body (bytes, from Content-Length) held for replay; larger bodies stream once, unretried. */
  maxBufferedBody?: number
}

export interface BalancerOptions {
  /** The servers to balance over: URLs, or objects with `url`, `weight`, `backup`, `name`. */
  upstreams: Array<string | UpstreamConfig>
  /** Balancing algorithm. */
  algorithm?: Algorithm
  /** Failover on another upstream; `false` is the same as `{ tries: 1 }`. */
  retry?: RetryOptions | false
  /** Per-attempt timeout in ms for response headers (and between body chunks). */
  timeout?: number
  /** Per-attempt TCP connect timeout in ms. */
  connectTimeout?: number
  /** Keep-alive connections per upstream. */
  connections?: number
  /** Percent of primaries that must be available; below it, balance over all of them. 0 disables. */
  panicThreshold?: number
  /** Append to incoming X-Forwarded-* headers instead of replacing them (only behind a proxy you trust). */
  trustProxy?: boolean
  /** Put upstream names and low-level error codes in error responses (off: no internal details leak). */
  exposeErrorDetails?: boolean
  /** Name of the instance decorator exposing the engine, or `false` for none. */
  decorator?: string | false
}

export interface ResolvedOptions {
  readonly upstreams: ReadonlyArray<Readonly<Required<UpstreamConfig>>>
  readonly algorithm: Algorithm
  readonly retry: {
    readonly tries: number
    readonly timeout: number
    readonly statuses: ReadonlySet<number>
    readonly maxBufferedBody: number
  }
  readonly timeout: number
  readonly connectTimeout: number
  readonly connections: number
  readonly panicThreshold: number
  readonly trustProxy: boolean
  readonly exposeErrorDetails: boolean
  readonly decorator: string | false
}

/** @fastify/http-proxy options the balancer passes through untouched (routing, hooks, WebSocket). */
export const PROXY_PASSTHROUGH_OPTIONS = [
  'prefix', 'rewritePrefix', 'httpMethods', 'routes', 'preHandler', 'preValidation', 'config', 'constraints',
  'websocket', 'wsClientOptions', 'wsServerOptions', 'wsHooks', 'internalRewriteLocationHeader', 'replyOptions',
  'proxyPayloads'
] as const

const OWN_OPTIONS = [
  'upstreams', 'algorithm', 'retry', 'timeout', 'connectTimeout', 'connections', 'panicThreshold',
  'trustProxy', 'exposeErrorDetails', 'decorator'
] as const

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A positive finite number of milliseconds, or the default when absent. */
export function milliseconds (value: unknown, path: string, fallback: number, { allowZero = false } = {}): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    fail(`${path} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds (got ${describe(value)})`)
  }
  return value
}

export function positiveInteger (value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(`${path} must be a positive integer (got ${describe(value)})`)
  }
  return value
}

export function percent (value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    fail(`${path} must be a percentage from 0 to 100 (got ${describe(value)})`)
  }
  return value
}

export function boolean (value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(`${path} must be true or false (got ${describe(value)})`)
  return value
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

function resolveUpstream (raw: unknown, path: string): Readonly<Required<UpstreamConfig>> {
  const config: Record<string, unknown> = typeof raw === 'string' ? { url: raw } : isPlainObject(raw) ? raw : fail(`${path} must be a URL string or an object with a url (got ${describe(raw)})`)
  for (const key of Object.keys(config)) {
    if (!['url', 'weight', 'backup', 'name'].includes(key)) fail(`${path}.${key} is not an upstream option (use url, weight, backup, name)`)
  }
  const url = config.url
  if (typeof url !== 'string') fail(`${path}.url must be a string (got ${describe(url)})`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    fail(`${path} must be an absolute http(s) URL (got ${describe(url)})`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(`${path} must use http: or https: (got ${describe(url)})`)
  }
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    fail(`${path} must be an origin without a path or query (got ${describe(url)}); use rewritePrefix to change paths`)
  }
  const weight = config.weight
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1_000_000)) {
    fail(`${path}.weight must be an integer from 1 to 1000000 (got ${describe(weight)})`)
  }
  const name = config.name ?? parsed.origin
  if (typeof name !== 'string' || name === '') fail(`${path}.name must be a non-empty string (got ${describe(name)})`)
  return Object.freeze({
    url: parsed.origin,
    weight: (weight as number | undefined) ?? 1,
    backup: boolean(config.backup, `${path}.backup`, false),
    name
  })
}

function resolveRetry (raw: unknown): ResolvedOptions['retry'] {
  if (raw === false) raw = { tries: 1 }
  if (raw === undefined) raw = {}
  if (!isPlainObject(raw)) fail(`retry must be an object or false (got ${describe(raw)})`)
  for (const key of Object.keys(raw)) {
    if (!['tries', 'timeout', 'statuses', 'maxBufferedBody', 'budget'].includes(key)) {
      fail(`retry.${key} is not a retry option (use tries, timeout, statuses, maxBufferedBody)`)
    }
  }
  const statuses = raw.statuses ?? DEFAULT_RETRY_STATUSES
  if (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s) && s >= 500 && s <= 599)) {
    fail(`retry.statuses must be an array of 5xx status codes (got ${describe(raw.statuses)})`)
  }
  const maxBufferedBody = raw.maxBufferedBody
  if (maxBufferedBody !== undefined && (typeof maxBufferedBody !== 'number' || !Number.isInteger(maxBufferedBody) || maxBufferedBody < 0)) {
    fail(`retry.maxBufferedBody must be a non-negative integer number of bytes (got ${describe(maxBufferedBody)})`)
  }
  return Object.freeze({
    tries: positiveInteger(raw.tries, 'retry.tries', DEFAULT_RETRY_TRIES),
    timeout: milliseconds(raw.timeout, 'retry.timeout', DEFAULT_RETRY_TIMEOUT),
    statuses: new Set(statuses as number[]),
    maxBufferedBody: (maxBufferedBody as number | undefined) ?? DEFAULT_MAX_BUFFERED_BODY
  })
}

/** Validates the balancer's own options (the passthrough proxy options are checked by @fastify/http-proxy). */
export function validateOptions (raw: unknown): ResolvedOptions {
  if (!isPlainObject(raw)) fail('options must be an object')
  const known = new Set<string>([...OWN_OPTIONS, ...PROXY_PASSTHROUGH_OPTIONS])
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      fail(`unknown option ${JSON.stringify(key)}${key === 'upstream' ? ' (did you mean "upstreams"?)' : ''}`)
    }
  }
  const rawUpstreams = raw.upstreams
  if (!Array.isArray(rawUpstreams) || rawUpstreams.length === 0) {
    fail(`upstreams must be a non-empty array of URLs or { url, weight, backup, name } objects (got ${describe(rawUpstreams)})`)
  }
  const upstreams = rawUpstreams.map((u, i) => resolveUpstream(u, `upstreams[${i}]`))
  const seen = new Set<string>()
  upstreams.forEach((u, i) => {
    if (seen.has(u.url)) fail(`upstreams[${i}] repeats ${u.url}; list each upstream once and use weight`)
    seen.add(u.url)
  })
  if (upstreams.every((u) => u.backup)) fail('upstreams must include at least one that is not a backup')

  const algorithm = raw.algorithm ?? DEFAULT_ALGORITHM
  if (typeof algorithm !== 'string' || !(ALGORITHMS as string[]).includes(algorithm)) {
    fail(`algorithm must be one of ${ALGORITHMS.join(', ')} (got ${describe(algorithm)})`)
  }
  const decorator = raw.decorator ?? DEFAULT_DECORATOR
  if (decorator !== false && (typeof decorator !== 'string' || decorator === '')) {
    fail(`decorator must be a non-empty string or false (got ${describe(decorator)})`)
  }

  return Object.freeze({
    upstreams: Object.freeze(upstreams),
    algorithm: algorithm as Algorithm,
    retry: resolveRetry(raw.retry),
    timeout: milliseconds(raw.timeout, 'timeout', DEFAULT_TIMEOUT),
    connectTimeout: milliseconds(raw.connectTimeout, 'connectTimeout', DEFAULT_CONNECT_TIMEOUT),
    connections: positiveInteger(raw.connections, 'connections', DEFAULT_CONNECTIONS),
    panicThreshold: percent(raw.panicThreshold, 'panicThreshold', DEFAULT_PANIC_THRESHOLD),
    trustProxy: boolean(raw.trustProxy, 'trustProxy', false),
    exposeErrorDetails: boolean(raw.exposeErrorDetails, 'exposeErrorDetails', false),
    decorator: decorator as string | false
  })
}
