/**
 * Options of @switchyard/balancer: defaults as `DEFAULT_*` constants and one `validateOptions()` that runs at
 * registration and returns a frozen, fully defaulted object, or throws an `InvalidOptionError` naming the option.
 * Nothing downstream checks for `undefined` again.
 */
import { InvalidOptionError } from './errors.js'
import {
  ALGORITHMS, type Algorithm, type ConsistentHashOptions, type P2cOptions, type PeakEwmaOptions, PickerOptionError,
  type ResolvedAlgorithmOptions, type StickyOptions, validatePickerOptions
} from './pickers/index.js'
import type { UpstreamConfig } from './upstream/upstream.js'
import { type AdminOptions, resolveAdminOptions, type ResolvedAdminOptions } from './admin/admin-api.js'
import { type DnsDiscoveryOptions, resolveDnsDiscoveryOptions } from './discovery/dns.js'
import type { ResolvedDiscovery } from './discovery/membership.js'
import { type RegistryDiscoveryOptions, resolveRegistryDiscoveryOptions } from './discovery/redis-registry.js'
import { resolveSharedHealthOptions, type ResolvedSharedHealthOptions, type SharedHealthOptions } from './discovery/shared-health.js'
import type { Registry } from 'prom-client'
import { DEFAULT_HEALTH_CHECK_PATH } from './health-check/http-probe.js'
import { DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_HEALTH_CHECK_JITTER, DEFAULT_HEALTH_CHECK_TIMEOUT } from './health-check/scheduler.js'
import {
  DEFAULT_EXPECTED_STATUSES, DEFAULT_HEALTHY_THRESHOLD, DEFAULT_UNHEALTHY_THRESHOLD, type HealthStateOptions, type InitialHealth,
  type StatusRange
} from './health-check/state-machine.js'
import {
  DEFAULT_BASE_EJECTION_TIME, DEFAULT_CONSECUTIVE_5XX, DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_EJECTION_JITTER,
  DEFAULT_MAX_EJECTION_PERCENT, DEFAULT_MAX_EJECTION_TIME, DEFAULT_UNEJECT_ON_HEALTH_CHECK, type OutlierDetectionOptions
} from './outlier/detector.js'
import {
  DEFAULT_RETRY_BUDGET_MIN_PER_SECOND, DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_RETRY_BUDGET_WINDOW, type RetryBudgetOptions
} from './retry/retry-budget.js'
import { DEFAULT_SLOW_START_AGGRESSION, DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT, DEFAULT_SLOW_START_WINDOW } from './upstream/slow-start.js'

export {
  DEFAULT_HEALTH_CHECK_PATH, DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_HEALTH_CHECK_JITTER, DEFAULT_HEALTH_CHECK_TIMEOUT,
  DEFAULT_EXPECTED_STATUSES, DEFAULT_HEALTHY_THRESHOLD, DEFAULT_UNHEALTHY_THRESHOLD, DEFAULT_BASE_EJECTION_TIME,
  DEFAULT_CONSECUTIVE_5XX, DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_EJECTION_JITTER, DEFAULT_MAX_EJECTION_PERCENT,
  DEFAULT_MAX_EJECTION_TIME, DEFAULT_UNEJECT_ON_HEALTH_CHECK, DEFAULT_RETRY_BUDGET_MIN_PER_SECOND,
  DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_RETRY_BUDGET_WINDOW, DEFAULT_SLOW_START_AGGRESSION,
  DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT, DEFAULT_SLOW_START_WINDOW
}
/** A new upstream waits for its first probe in the "pending" state (HAProxy `init-state up`). */
export const DEFAULT_HEALTH_CHECK_INITIAL_STATE: InitialHealth = 'pending'

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
  /** Retry budget (Envoy/Finagle): retries beyond `percent` % of requests are not attempted. `false` turns it off. */
  budget?: RetryBudgetInput | boolean
}

/** An upstream entry: url, weight, backup, name, and its own health-check target. */
export interface UpstreamOptions extends UpstreamConfig {
  healthCheck?: UpstreamHealthCheckOption
}

/** A validated upstream entry. */
export type ResolvedUpstream = Readonly<Required<UpstreamConfig>> & { readonly healthCheck?: UpstreamHealthCheckOption }

export interface BalancerOptions {
  /**
   * The servers to balance over: URLs, or objects with `url`, `weight`, `backup`, `name`; or where to discover them:
   * `{ dns: 'api.internal', port }` (A/AAAA), `{ dns: '_http._tcp.api.internal' }` (SRV), or
   * `{ redis: client, service: 'orders' }` (the heartbeat registry replicas announce into).
   */
  upstreams: Array<string | UpstreamOptions> | DnsDiscoveryOptions | RegistryDiscoveryOptions
  /** Balancing algorithm. */
  algorithm?: Algorithm
  /** Options of `algorithm: 'p2c'`. */
  p2c?: P2cOptions
  /** Options of `algorithm: 'peak-ewma'`. */
  peakEwma?: PeakEwmaOptions
  /** Options of `algorithm: 'consistent-hash'` (the key: client IP, a header, a cookie or a function). */
  consistentHash?: ConsistentHashOptions
  /** Options of `algorithm: 'sticky'` (`secret` is required). */
  sticky?: StickyOptions
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
  /** Active health checks (off unless set): `true` for the defaults, or their options. */
  healthCheck?: HealthCheckOptions | boolean
  /** Passive outlier ejection (on by default); `false` turns it off. */
  outlierDetection?: OutlierDetectionOptionsInput | boolean
  /** Ramp an upstream that becomes healthy from 10 % to 100 % of its weight over `window` ms (0 = off). */
  slowStart?: SlowStartOptionsInput
  /** Circuit breaking: at most this many in-flight attempts per upstream (off unless set). */
  maxInFlightPerUpstream?: number
  /** Prometheus metrics through prom-client (off unless set): `true` serves them on `/metrics`. */
  metrics?: MetricsOptions | boolean
  /** The live status page and its JSON (off unless set): `true` serves it on `/_switchyard`, open to all. */
  statusPage?: StatusPageOptions | boolean
  /** The admin API (off unless set; needs a `token` or `authorize`): list, add, remove, drain, undrain, set weight. */
  admin?: AdminOptions
  /** Share ejections and health transitions with the other gateways over Redis pub/sub (off unless set). */
  sharedHealth?: SharedHealthOptions
}

export interface ResolvedOptions {
  readonly upstreams: readonly ResolvedUpstream[]
  readonly algorithm: Algorithm
  /** The chosen algorithm's resolved options (undefined for those that take none). */
  readonly algorithmOptions: ResolvedAlgorithmOptions[Algorithm]
  readonly retry: {
    readonly tries: number
    readonly timeout: number
    readonly statuses: ReadonlySet<number>
    readonly maxBufferedBody: number
    /** null when off. */
    readonly budget: Readonly<Required<RetryBudgetOptions>> | null
  }
  readonly timeout: number
  readonly connectTimeout: number
  readonly connections: number
  readonly panicThreshold: number
  readonly trustProxy: boolean
  readonly exposeErrorDetails: boolean
  readonly decorator: string | false
  /** null when active health checks are off. */
  readonly healthCheck: ResolvedHealthCheck | null
  /** null when outlier detection is off. */
  readonly outlierDetection: Readonly<OutlierDetectionOptions> | null
  /** `window` 0 = off. */
  readonly slowStart: Readonly<Required<SlowStartOptionsInput>>
  /** 0 = no circuit breaking. */
  readonly maxInFlightPerUpstream: number
  /** null when metrics are off. */
  readonly metrics: ResolvedMetricsOptions | null
  /** null when the status page is off. */
  readonly statusPage: ResolvedStatusPageOptions | null
  /** Where upstreams come from when `upstreams` is not a list (then `upstreams` starts empty); null for a list. */
  readonly discovery: ResolvedDiscovery | null
  /** null when the admin API is off. */
  readonly admin: ResolvedAdminOptions | null
  /** null when the shared health view is off. */
  readonly sharedHealth: ResolvedSharedHealthOptions | null
}

/** @fastify/http-proxy options the balancer passes through untouched (routing, hooks, WebSocket). */
export const PROXY_PASSTHROUGH_OPTIONS = [
  'prefix', 'rewritePrefix', 'httpMethods', 'routes', 'preHandler', 'preValidation', 'config', 'constraints',
  'websocket', 'wsClientOptions', 'wsServerOptions', 'wsHooks', 'internalRewriteLocationHeader', 'replyOptions',
  'proxyPayloads'
] as const

const OWN_OPTIONS = [
  'upstreams', 'algorithm', 'p2c', 'peakEwma', 'consistentHash', 'sticky', 'retry', 'timeout', 'connectTimeout', 'connections', 'panicThreshold',
  'trustProxy', 'exposeErrorDetails', 'decorator',
  'healthCheck', 'outlierDetection', 'slowStart', 'maxInFlightPerUpstream',
  'metrics', 'statusPage', 'admin', 'sharedHealth'
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

/** The option holding each algorithm's settings, named as the algorithm in camelCase. */
const ALGORITHM_OPTION_KEYS: Partial<Record<Algorithm, 'p2c' | 'peakEwma' | 'consistentHash' | 'sticky'>> = {
  p2c: 'p2c', 'peak-ewma': 'peakEwma', 'consistent-hash': 'consistentHash', sticky: 'sticky'
}

function resolveAlgorithmOptions (algorithm: Algorithm, raw: Record<string, unknown>): ResolvedAlgorithmOptions[Algorithm] {
  const own = ALGORITHM_OPTION_KEYS[algorithm]
  for (const key of Object.values(ALGORITHM_OPTION_KEYS)) {
    if (key !== own && raw[key] !== undefined) fail(`${key} is set but algorithm is ${JSON.stringify(algorithm)}; it only applies to its own algorithm`)
  }
  try {
    return validatePickerOptions(algorithm, own === undefined ? undefined : raw[own], own ?? algorithm)
  } catch (err) {
    // The pickers are Fastify-free and throw a plain TypeError; registration errors are ours.
    if (err instanceof PickerOptionError) fail(err.message)
    throw err
  }
}

export function resolveUpstream (raw: unknown, path: string): ResolvedUpstream {
  const config: Record<string, unknown> = typeof raw === 'string' ? { url: raw } : isPlainObject(raw) ? raw : fail(`${path} must be a URL string or an object with a url (got ${describe(raw)})`)
  for (const key of Object.keys(config)) {
    if (!['url', 'weight', 'backup', 'name', 'healthCheck'].includes(key)) fail(`${path}.${key} is not an upstream option (use url, weight, backup, name, healthCheck)`)
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
  const healthCheck = resolveUpstreamHealthCheck(config.healthCheck, path)
  const resolved = {
    url: parsed.origin,
    weight: (weight as number | undefined) ?? 1,
    backup: boolean(config.backup, `${path}.backup`, false),
    name
  }
  return Object.freeze(healthCheck === undefined ? resolved : { ...resolved, healthCheck })
}

function resolveRetry (raw: unknown): ResolvedOptions['retry'] {
  if (raw === false) raw = { tries: 1 }
  if (raw === undefined) raw = {}
  if (!isPlainObject(raw)) fail(`retry must be an object or false (got ${describe(raw)})`)
  for (const key of Object.keys(raw)) {
    if (!['tries', 'timeout', 'statuses', 'maxBufferedBody', 'budget'].includes(key)) {
      fail(`retry.${key} is not a retry option (use tries, timeout, statuses, maxBufferedBody, budget)`)
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
    maxBufferedBody: (maxBufferedBody as number | undefined) ?? DEFAULT_MAX_BUFFERED_BODY,
    budget: resolveRetryBudget(raw.budget)
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
  // Discovery: the list starts empty and the source fills it (DNS A/AAAA/SRV, or the Redis heartbeat registry).
  const discovery = resolveDiscovery(rawUpstreams)
  if (discovery === null && (!Array.isArray(rawUpstreams) || rawUpstreams.length === 0)) {
    fail(`upstreams must be a non-empty array of URLs or { url, weight, backup, name } objects, or { dns, port } or { redis, service } (got ${describe(rawUpstreams)})`)
  }
  const upstreams = discovery !== null ? [] : (rawUpstreams as unknown[]).map((u, i) => resolveUpstream(u, `upstreams[${i}]`))
  const seen = new Set<string>()
  upstreams.forEach((u, i) => {
    if (seen.has(u.url)) fail(`upstreams[${i}] repeats ${u.url}; list each upstream once and use weight`)
    seen.add(u.url)
  })
  if (discovery === null && upstreams.every((u) => u.backup)) fail('upstreams must include at least one that is not a backup')

  const algorithm = raw.algorithm ?? DEFAULT_ALGORITHM
  if (typeof algorithm !== 'string' || !(ALGORITHMS as string[]).includes(algorithm)) {
    fail(`algorithm must be one of ${ALGORITHMS.join(', ')} (got ${describe(algorithm)})`)
  }
  const algorithmOptions = resolveAlgorithmOptions(algorithm as Algorithm, raw)
  const decorator = raw.decorator ?? DEFAULT_DECORATOR
  if (decorator !== false && (typeof decorator !== 'string' || decorator === '')) {
    fail(`decorator must be a non-empty string or false (got ${describe(decorator)})`)
  }

  return Object.freeze({
    upstreams: Object.freeze(upstreams),
    algorithm: algorithm as Algorithm,
    algorithmOptions,
    retry: resolveRetry(raw.retry),
    timeout: milliseconds(raw.timeout, 'timeout', DEFAULT_TIMEOUT),
    connectTimeout: milliseconds(raw.connectTimeout, 'connectTimeout', DEFAULT_CONNECT_TIMEOUT),
    connections: positiveInteger(raw.connections, 'connections', DEFAULT_CONNECTIONS),
    panicThreshold: percent(raw.panicThreshold, 'panicThreshold', DEFAULT_PANIC_THRESHOLD),
    trustProxy: boolean(raw.trustProxy, 'trustProxy', false),
    exposeErrorDetails: boolean(raw.exposeErrorDetails, 'exposeErrorDetails', false),
    decorator: decorator as string | false,
    healthCheck: resolveHealthCheck(raw.healthCheck),
    outlierDetection: resolveOutlierDetection(raw.outlierDetection),
    slowStart: resolveSlowStart(raw.slowStart),
    maxInFlightPerUpstream: resolveMaxInFlight(raw.maxInFlightPerUpstream),
    ...resolveObservability(raw, decorator as string | false),
    discovery,
    admin: resolveAdminOptions(raw.admin),
    sharedHealth: raw.sharedHealth === undefined || raw.sharedHealth === false ? null : resolveSharedHealthOptions(raw.sharedHealth)
  })
}

/** `upstreams: { dns, … }` or `{ redis, service, … }`, validated; null for a list. */
function resolveDiscovery (raw: unknown): ResolvedDiscovery | null {
  if (!isPlainObject(raw)) return null
  if ('dns' in raw) return Object.freeze({ kind: 'dns', options: resolveDnsDiscoveryOptions(raw, 'upstreams') })
  if ('redis' in raw || 'service' in raw) return Object.freeze({ kind: 'redis', options: resolveRegistryDiscoveryOptions(raw, 'upstreams') })
  return fail(`upstreams must be a list of upstreams, { dns, port } for DNS discovery, or { redis, service } for the Redis registry (got an object with ${Object.keys(raw).join(', ') || 'no keys'})`)
}

// ── Resilience options: active health checks, outlier detection, slow start, retry budget, circuit breaking ──

export interface HealthCheckOptions {
  /** Path probed with GET on every upstream (an upstream's own `healthCheck.url` wins). */
  path?: string
  /** Milliseconds between the end of a probe and the next (HAProxy `inter`). */
  interval?: number
  /** ± percent of `interval` applied at random to each wait (Envoy `interval_jitter_percent`). */
  jitter?: number
  /** Milliseconds a probe may take before it counts as failed. */
  timeout?: number
  /** Passing probes in a row that turn an unhealthy upstream healthy (HAProxy `rise`). */
  healthyThreshold?: number
  /** Failing probes in a row that turn a healthy upstream unhealthy (HAProxy `fall`). */
  unhealthyThreshold?: number
  /** Statuses that pass: codes, or inclusive `[min, max]` ranges. Default 200–399. */
  expectedStatuses?: Array<number | [number, number]>
  /** Extra request headers for the probe. */
  headers?: Record<string, string>
  /** A new upstream's state before its first probe: `pending` (first probe decides) or `unhealthy` (needs `healthyThreshold` passes). */
  initialState?: InitialHealth
}

export interface ResolvedHealthCheck extends HealthStateOptions {
  readonly path: string
  readonly interval: number
  readonly jitter: number
  readonly timeout: number
  readonly headers: Readonly<Record<string, string>>
}

export interface OutlierDetectionOptionsInput extends Partial<OutlierDetectionOptions> {}

export interface SlowStartOptionsInput {
  /** Ramp length in ms; 0 (the default) turns slow start off. */
  window?: number
  /** Where the ramp starts, in percent of the weight. Default 10. */
  minWeightPercent?: number
  /** Envoy `aggression`: 1 = linear. Default 1. */
  aggression?: number
}

export interface RetryBudgetInput {
  /** Retries as a share of requests over the window, in percent. Default 20. */
  percent?: number
  /** Retries per second always allowed. Default 3. */
  minPerSecond?: number
  /** Sliding window in ms. Default 10 000. */
  window?: number
}

/** Upstream entry options beyond url/weight/backup/name. */
export interface UpstreamHealthCheckOption {
  /** Probe this upstream here instead: an absolute URL (e.g. an admin port) or a path on its origin. */
  url: string
}

export const DEFAULT_MAX_IN_FLIGHT_PER_UPSTREAM = 0
/** Seconds put in `Retry-After` when every upstream is at `maxInFlightPerUpstream`. */
export const DEFAULT_SATURATED_RETRY_AFTER = 1

const HEALTH_CHECK_KEYS = ['path', 'interval', 'jitter', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'expectedStatuses', 'headers', 'initialState']
const OUTLIER_KEYS = ['consecutiveFailures', 'consecutive5xx', 'baseEjectionTime', 'maxEjectionTime', 'maxEjectionPercent', 'jitter', 'unejectOnHealthCheck']
const SLOW_START_KEYS = ['window', 'minWeightPercent', 'aggression']
const BUDGET_KEYS = ['percent', 'minPerSecond', 'window']

function onlyKeys (raw: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (!keys.includes(key)) fail(`${path}.${key} is not an option of ${path} (use ${keys.join(', ')})`)
  }
}

function positiveNumber (value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${path} must be a positive number (got ${describe(value)})`)
  return value
}

function resolveHealthCheck (raw: unknown): ResolvedHealthCheck | null {
  if (raw === undefined || raw === false) return null
  if (raw === true) raw = {}
  if (!isPlainObject(raw)) fail(`healthCheck must be an object, true or false (got ${describe(raw)})`)
  onlyKeys(raw, 'healthCheck', HEALTH_CHECK_KEYS)
  const path = raw.path ?? DEFAULT_HEALTH_CHECK_PATH
  if (typeof path !== 'string' || !path.startsWith('/')) fail(`healthCheck.path must be a path starting with / (got ${describe(path)})`)
  const interval = milliseconds(raw.interval, 'healthCheck.interval', DEFAULT_HEALTH_CHECK_INTERVAL)
  const timeout = milliseconds(raw.timeout, 'healthCheck.timeout', DEFAULT_HEALTH_CHECK_TIMEOUT)
  const initialState = raw.initialState ?? DEFAULT_HEALTH_CHECK_INITIAL_STATE
  if (initialState !== 'pending' && initialState !== 'unhealthy') {
    fail(`healthCheck.initialState must be "pending" or "unhealthy" (got ${describe(initialState)})`)
  }
  const headers = raw.headers ?? {}
  if (!isPlainObject(headers) || !Object.values(headers).every((v) => typeof v === 'string')) {
    fail(`healthCheck.headers must be an object of string values (got ${describe(raw.headers)})`)
  }
  let expectedStatuses: readonly StatusRange[] = DEFAULT_EXPECTED_STATUSES
  if (raw.expectedStatuses !== undefined) {
    const list = raw.expectedStatuses
    const isStatus = (s: unknown): s is number => Number.isInteger(s) && (s as number) >= 100 && (s as number) <= 599
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => isStatus(s) ||
      (Array.isArray(s) && s.length === 2 && isStatus(s[0]) && isStatus(s[1]) && s[0] <= s[1]))) {
      fail(`healthCheck.expectedStatuses must be a non-empty array of status codes or [min, max] ranges (got ${describe(list)})`)
    }
    expectedStatuses = Object.freeze((list as Array<number | [number, number]>).map((s) =>
      Object.freeze(typeof s === 'number' ? [s, s] as const : [s[0], s[1]] as const)))
  }
  return Object.freeze({
    path,
    interval,
    jitter: percent(raw.jitter, 'healthCheck.jitter', DEFAULT_HEALTH_CHECK_JITTER),
    timeout,
    healthyThreshold: positiveInteger(raw.healthyThreshold, 'healthCheck.healthyThreshold', DEFAULT_HEALTHY_THRESHOLD),
    unhealthyThreshold: positiveInteger(raw.unhealthyThreshold, 'healthCheck.unhealthyThreshold', DEFAULT_UNHEALTHY_THRESHOLD),
    expectedStatuses,
    headers: Object.freeze({ ...(headers as Record<string, string>) }),
    initialState
  })
}

function resolveOutlierDetection (raw: unknown): Readonly<OutlierDetectionOptions> | null {
  if (raw === false) return null
  if (raw === undefined || raw === true) raw = {}
  if (!isPlainObject(raw)) fail(`outlierDetection must be an object, true or false (got ${describe(raw)})`)
  onlyKeys(raw, 'outlierDetection', OUTLIER_KEYS)
  const baseEjectionTime = milliseconds(raw.baseEjectionTime, 'outlierDetection.baseEjectionTime', DEFAULT_BASE_EJECTION_TIME)
  const maxEjectionTime = milliseconds(raw.maxEjectionTime, 'outlierDetection.maxEjectionTime',
    Math.max(DEFAULT_MAX_EJECTION_TIME, baseEjectionTime))
  // As Envoy's DetectorImpl::create: "max_ejection_time cannot be smaller than base_ejection_time".
  if (maxEjectionTime < baseEjectionTime) {
    fail(`outlierDetection.maxEjectionTime (${maxEjectionTime}) must not be smaller than outlierDetection.baseEjectionTime (${baseEjectionTime})`)
  }
  return Object.freeze({
    consecutiveFailures: positiveInteger(raw.consecutiveFailures, 'outlierDetection.consecutiveFailures', DEFAULT_CONSECUTIVE_FAILURES),
    consecutive5xx: boolean(raw.consecutive5xx, 'outlierDetection.consecutive5xx', DEFAULT_CONSECUTIVE_5XX),
    baseEjectionTime,
    maxEjectionTime,
    maxEjectionPercent: percent(raw.maxEjectionPercent, 'outlierDetection.maxEjectionPercent', DEFAULT_MAX_EJECTION_PERCENT),
    jitter: percent(raw.jitter, 'outlierDetection.jitter', DEFAULT_EJECTION_JITTER),
    unejectOnHealthCheck: boolean(raw.unejectOnHealthCheck, 'outlierDetection.unejectOnHealthCheck', DEFAULT_UNEJECT_ON_HEALTH_CHECK)
  })
}

function resolveSlowStart (raw: unknown): Readonly<Required<SlowStartOptionsInput>> {
  if (raw === undefined || raw === false) raw = {}
  if (!isPlainObject(raw)) fail(`slowStart must be an object like { window: 30000 } (got ${describe(raw)})`)
  onlyKeys(raw, 'slowStart', SLOW_START_KEYS)
  const minWeightPercent = percent(raw.minWeightPercent, 'slowStart.minWeightPercent', DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT)
  if (minWeightPercent === 0) fail('slowStart.minWeightPercent must be above 0 (a zero weight would never be picked)')
  return Object.freeze({
    window: milliseconds(raw.window, 'slowStart.window', DEFAULT_SLOW_START_WINDOW, { allowZero: true }),
    minWeightPercent,
    aggression: positiveNumber(raw.aggression, 'slowStart.aggression', DEFAULT_SLOW_START_AGGRESSION)
  })
}

function resolveRetryBudget (raw: unknown): Readonly<Required<RetryBudgetOptions>> | null {
  if (raw === false) return null
  if (raw === undefined || raw === true) raw = {}
  if (!isPlainObject(raw)) fail(`retry.budget must be an object or false (got ${describe(raw)})`)
  onlyKeys(raw, 'retry.budget', BUDGET_KEYS)
  const minPerSecond = raw.minPerSecond ?? DEFAULT_RETRY_BUDGET_MIN_PER_SECOND
  if (typeof minPerSecond !== 'number' || !Number.isFinite(minPerSecond) || minPerSecond < 0) {
    fail(`retry.budget.minPerSecond must be a non-negative number (got ${describe(minPerSecond)})`)
  }
  return Object.freeze({
    percent: percent(raw.percent, 'retry.budget.percent', DEFAULT_RETRY_BUDGET_PERCENT),
    minPerSecond,
    window: milliseconds(raw.window, 'retry.budget.window', DEFAULT_RETRY_BUDGET_WINDOW)
  })
}

function resolveMaxInFlight (raw: unknown): number {
  if (raw === undefined || raw === false || raw === 0) return DEFAULT_MAX_IN_FLIGHT_PER_UPSTREAM
  return positiveInteger(raw, 'maxInFlightPerUpstream', DEFAULT_MAX_IN_FLIGHT_PER_UPSTREAM)
}

function resolveUpstreamHealthCheck (raw: unknown, path: string): UpstreamHealthCheckOption | undefined {
  if (raw === undefined) return undefined
  if (!isPlainObject(raw)) fail(`${path}.healthCheck must be an object like { url } (got ${describe(raw)})`)
  onlyKeys(raw, `${path}.healthCheck`, ['url'])
  const url = raw.url
  if (typeof url !== 'string' || url === '') fail(`${path}.healthCheck.url must be a URL or a path (got ${describe(url)})`)
  try {
    const parsed = new URL(url, 'http://placeholder.invalid')
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol')
  } catch {
    fail(`${path}.healthCheck.url must be an http(s) URL or a path (got ${describe(url)})`)
  }
  return Object.freeze({ url })
}

// ── Observability: Prometheus metrics and the status page (both off by default) ──

/** Route of the Prometheus exposition when metrics are on. */
export const DEFAULT_METRICS_ROUTE = '/metrics'
/** Prefix of every metric name. */
export const DEFAULT_METRICS_PREFIX = 'switchyard_'
/** Response-time histogram buckets, in seconds: prom-client's defaults plus 1 ms, 2.5 ms and 30 s (the default timeout). */
export const DEFAULT_METRICS_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
/** Route of the status page (its JSON is at `<route>/status.json`). */
export const DEFAULT_STATUS_PAGE_ROUTE = '/_switchyard'
/** The `balancer` label and status page title when neither a decorator name nor a proxy prefix names the balancer. */
export const DEFAULT_BALANCER_LABEL = 'balancer'

export interface MetricsOptions {
  /** Serve the registry's exposition here (GET), or `false` to only fill `registry` (served by e.g. fastify-metrics). */
  route?: string | false
  /**
   * A prom-client Registry to report into (e.g. fastify-metrics' or prom-client's global `register`). Default: a
   * registry shared by the balancers of this server.
   */
  registry?: Registry
  /** Prefix of every metric name. */
  prefix?: string
  /** Response-time histogram buckets in seconds, ascending. */
  buckets?: number[]
  /** Value of the `balancer` label. Default: the decorator name, else the proxy `prefix`. */
  label?: string
}

export interface StatusPageOptions<Request = unknown> {
  /** Path of the page; its JSON is at `<route>/status.json`. */
  route?: string
  /** Required as `Authorization: Bearer <token>` or `?token=<token>`. */
  token?: string
  /**
   * Decides who may see the page (e.g. from a session or an IP allow-list); a request with the right `token` is
   * let in without it. Method syntax on purpose: the plugin narrows `Request` to FastifyRequest.
   */
  authorize? (request: Request): boolean | Promise<boolean>
}

export interface ResolvedMetricsOptions {
  readonly route: string | null
  readonly registry: Registry | null
  readonly prefix: string
  readonly buckets: readonly number[]
  readonly label: string
}

export interface ResolvedStatusPageOptions<Request = unknown> {
  readonly route: string
  readonly token: string | null
  readonly authorize: ((request: Request) => boolean | Promise<boolean>) | null
  /** The balancer's name on the page (the metrics `balancer` label). */
  readonly label: string
}

const METRICS_KEYS = ['route', 'registry', 'prefix', 'buckets', 'label']
const STATUS_PAGE_KEYS = ['route', 'token', 'authorize']

/** A static route path: starts with `/`, no trailing `/`, no parameters or wildcards. */
function routePath (value: unknown, path: string, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+$/.test(value)) {
    fail(`${path} must be a path like ${JSON.stringify(fallback)}: starting with /, without a trailing /, parameters or wildcards (got ${describe(value)})`)
  }
  return value
}

function resolveObservability (raw: Record<string, unknown>, decorator: string | false): Pick<ResolvedOptions, 'metrics' | 'statusPage'> {
  const prefix = raw.prefix
  let label = decorator !== false ? decorator : typeof prefix === 'string' && prefix !== '' && prefix !== '/' ? prefix : DEFAULT_BALANCER_LABEL
  const metrics = resolveMetrics(raw.metrics, label)
  if (metrics !== null) label = metrics.label
  return { metrics, statusPage: resolveStatusPage(raw.statusPage, label) }
}

function resolveMetrics (raw: unknown, defaultLabel: string): ResolvedMetricsOptions | null {
  if (raw === undefined || raw === false) return null
  if (raw === true) raw = {}
  if (!isPlainObject(raw)) fail(`metrics must be an object, true or false (got ${describe(raw)})`)
  onlyKeys(raw, 'metrics', METRICS_KEYS)
  const route = raw.route === false ? null : routePath(raw.route, 'metrics.route', DEFAULT_METRICS_ROUTE)
  const registry = raw.registry
  if (registry !== undefined && (!isPlainObject(registry) || typeof registry.registerMetric !== 'function' || typeof registry.metrics !== 'function')) {
    fail(`metrics.registry must be a prom-client Registry (got ${describe(registry)})`)
  }
  if (route === null && registry === undefined) {
    fail('metrics.route is false and there is no metrics.registry: the metrics would go nowhere (pass your registry, or a route)')
  }
  const prefix = raw.prefix ?? DEFAULT_METRICS_PREFIX
  if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    fail(`metrics.prefix must be a Prometheus metric name prefix like "switchyard_" (got ${describe(prefix)})`)
  }
  let buckets = DEFAULT_METRICS_BUCKETS
  if (raw.buckets !== undefined) {
    const list = raw.buckets
    if (!Array.isArray(list) || list.length === 0 ||
      !list.every((b, i) => typeof b === 'number' && Number.isFinite(b) && b > 0 && (i === 0 || b > (list[i - 1] as number)))) {
      fail(`metrics.buckets must be a non-empty array of ascending positive numbers of seconds (got ${describe(list)})`)
    }
    buckets = Object.freeze([...(list as number[])])
  }
  const label = raw.label ?? defaultLabel
  if (typeof label !== 'string' || label === '') fail(`metrics.label must be a non-empty string (got ${describe(label)})`)
  return Object.freeze({ route, registry: (registry as Registry | undefined) ?? null, prefix, buckets, label })
}

function resolveStatusPage (raw: unknown, label: string): ResolvedStatusPageOptions | null {
  if (raw === undefined || raw === false) return null
  if (raw === true) raw = {}
  if (!isPlainObject(raw)) fail(`statusPage must be an object, true or false (got ${describe(raw)})`)
  onlyKeys(raw, 'statusPage', STATUS_PAGE_KEYS)
  const token = raw.token
  if (token !== undefined && (typeof token !== 'string' || token === '' || /\s/.test(token))) {
    fail('statusPage.token must be a non-empty string without whitespace')
  }
  const authorize = raw.authorize
  if (authorize !== undefined && typeof authorize !== 'function') {
    fail(`statusPage.authorize must be a function (request) => boolean | Promise<boolean> (got ${describe(authorize)})`)
  }
  return Object.freeze({
    route: routePath(raw.route, 'statusPage.route', DEFAULT_STATUS_PAGE_ROUTE),
    token: (token as string | undefined) ?? null,
    authorize: (authorize as ResolvedStatusPageOptions['authorize'] | undefined) ?? null,
    label
  })
}
