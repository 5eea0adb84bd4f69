/**
 * Options of the balancing algorithms: types, `DEFAULT_*` constants, and one validator per algorithm that
 * returns a frozen, fully defaulted object or throws an error naming the option path (DESIGN.md principle 6).
 * The plugin's `validateOptions` calls `validatePickerOptions(algorithm, raw, path)`; the picker factories call
 * the same code, so a picker built directly (benchmarks, users of the `./pickers` subpath) is checked too.
 */
import type { HashKeySource } from './hash.js'

/** Peak-EWMA decay window τ in ms (Finagle `p2cPeakEwma(decayTime = 10.seconds)`, Linkerd `EWMA_DECAY`). */
export const DEFAULT_DECAY_TIME = 10_000
/** Latency assumed for an upstream that never answered, in ms (see peak-ewma.ts for why not Linkerd's 30 ms). */
export const DEFAULT_LATENCY = 1
/** Envoy `LEAST_REQUEST` `choice_count`. */
export const DEFAULT_CHOICE_COUNT = 2
/** Envoy `LEAST_REQUEST` `active_request_bias`. */
export const DEFAULT_ACTIVE_REQUEST_BIAS = 1
/** Maglev table size: prime, as Envoy's default. ≥ 100 × upstreams keeps shares within ~1%. */
export const DEFAULT_TABLE_SIZE = 65_537
/**
 * Bounded loads, HAProxy `hash-balance-factor` / Envoy `hash_balance_factor` (percent, `100 × (1 + ε)`):
 * no upstream holds more than 125% of the average in-flight load. 0 turns the bound off.
 */
export const DEFAULT_BALANCE_FACTOR = 125
export const DEFAULT_HASH_KEY: HashKeySource = 'ip'
export const DEFAULT_STICKY_COOKIE = 'swy_upstream'
export const DEFAULT_STICKY_BASE = 'round-robin'
/** The shortest sticky secret accepted: 32 characters, the HMAC-SHA256 key guidance (RFC 2104 §3). */
export const MIN_SECRET_LENGTH = 32

export type BaseAlgorithm = 'round-robin' | 'weighted-round-robin' | 'least-connections' | 'random' | 'p2c' |
  'peak-ewma' | 'consistent-hash'

export interface P2cOptions {
  /** Random candidates compared per pick (Envoy `choice_count`), ≥ 2. Default 2. */
  choiceCount?: number
  /** Weighted path: weight / (inFlight + 1)^bias (Envoy `active_request_bias`), ≥ 0. Default 1. */
  activeRequestBias?: number
}

export interface PeakEwmaOptions {
  /** Decay window τ of the latency average, ms. Default 10 000. */
  decayTime?: number
  /** Latency assumed for an upstream with no sample yet, ms. Default 1. */
  defaultLatency?: number
  /**
   * Subtract from each latency sample the time the gateway's own event loop was blocked during the attempt (a GC
   * pause, a heavy request, CPU shared with other processes), so that a stall of the gateway is not taken for a peak
   * of every upstream. Default true.
   */
  excludeEventLoopDelay?: boolean
}

export interface ConsistentHashOptions {
  /** Where the key comes from (read by the plugin). Default `'ip'`. */
  hashKey?: HashKeySource
  /** Maglev lookup table size, a prime larger than the number of upstreams. Default 65 537. */
  tableSize?: number
  /** Bounded loads, percent (`100 × (1 + ε)`, ≥ 100), or 0 for none. Default 125. */
  balanceFactor?: number
}

/** Attributes of the sticky cookie (set by the plugin). */
export interface StickyCookieOptions {
  path?: string
  domain?: string
  /** Seconds; omitted = a session cookie (Traefik's default). */
  maxAge?: number
  httpOnly?: boolean
  secure?: boolean
  sameSite?: 'strict' | 'lax' | 'none'
}

export interface StickyOptions {
  /** HMAC key(s), ≥ 32 characters each; the first signs, all verify (rotation). Required. */
  secret: string | readonly string[]
  /** Cookie name. Default `swy_upstream`. */
  cookieName?: string
  /** Cookie attributes. Default `{ path: '/', httpOnly: true, sameSite: 'lax' }`. */
  cookie?: StickyCookieOptions
  /** Algorithm for requests without a valid cookie. Default `round-robin`. */
  base?: BaseAlgorithm
  /** Options of `base`. */
  baseOptions?: P2cOptions | PeakEwmaOptions | ConsistentHashOptions
}

export interface ResolvedP2cOptions { readonly choiceCount: number, readonly activeRequestBias: number }
export interface ResolvedPeakEwmaOptions {
  readonly decayTime: number
  readonly defaultLatency: number
  readonly excludeEventLoopDelay: boolean
}
export interface ResolvedConsistentHashOptions {
  readonly hashKey: HashKeySource
  readonly tableSize: number
  readonly balanceFactor: number
}
export interface ResolvedStickyCookieOptions {
  readonly path: string
  readonly domain: string | undefined
  readonly maxAge: number | undefined
  readonly httpOnly: boolean
  readonly secure: boolean
  readonly sameSite: 'strict' | 'lax' | 'none'
}
export interface ResolvedStickyOptions {
  /** The secrets, signing one first. */
  readonly secrets: readonly string[]
  readonly cookieName: string
  readonly cookie: ResolvedStickyCookieOptions
  readonly base: BaseAlgorithm
  readonly baseOptions: ResolvedAlgorithmOptions[BaseAlgorithm]
}

/** Options each algorithm accepts (`undefined`: none). */
export interface AlgorithmOptions {
  'round-robin': undefined
  'weighted-round-robin': undefined
  'least-connections': undefined
  random: undefined
  p2c: P2cOptions
  'peak-ewma': PeakEwmaOptions
  'consistent-hash': ConsistentHashOptions
  sticky: StickyOptions
}

export interface ResolvedAlgorithmOptions {
  'round-robin': undefined
  'weighted-round-robin': undefined
  'least-connections': undefined
  random: undefined
  p2c: ResolvedP2cOptions
  'peak-ewma': ResolvedPeakEwmaOptions
  'consistent-hash': ResolvedConsistentHashOptions
  sticky: ResolvedStickyOptions
}

/** Any algorithm's options: what `validatePickerOptions` accepts for the `algorithmOptions`-style slot. */
export type PickerOptions = AlgorithmOptions[keyof AlgorithmOptions]

/** Thrown for an invalid picker option; the message starts with the option path. */
export class PickerOptionError extends TypeError {
  readonly code = 'SWY_BALANCER_INVALID_OPTION'
}

const BASES: readonly BaseAlgorithm[] = ['round-robin', 'weighted-round-robin', 'least-connections', 'random',
  'p2c', 'peak-ewma', 'consistent-hash']

/**
 * Validates and defaults `raw` as the options of `algorithm`. `path` prefixes error messages
 * (e.g. `'peakEwma'` → `peakEwma.decayTime must be a positive number of milliseconds (got -1)`).
 */
export function validatePickerOptions<A extends keyof AlgorithmOptions> (
  algorithm: A, raw: unknown, path: string
): ResolvedAlgorithmOptions[A] {
  return resolve(algorithm, raw, path) as ResolvedAlgorithmOptions[A]
}

function resolve (algorithm: keyof AlgorithmOptions, raw: unknown, path: string): unknown {
  switch (algorithm) {
    case 'p2c': return resolveP2c(raw, path)
    case 'peak-ewma': return resolvePeakEwma(raw, path)
    case 'consistent-hash': return resolveConsistentHash(raw, path)
    case 'sticky': return resolveSticky(raw, path)
    default:
      if (raw !== undefined && !(isObject(raw) && Object.keys(raw).length === 0)) {
        fail(path, `must be omitted: ${algorithm} takes no options`)
      }
      return undefined
  }
}

export function resolveP2c (raw: unknown, path = 'p2c'): ResolvedP2cOptions {
  const o = objectOf(raw, path, ['choiceCount', 'activeRequestBias'])
  const choiceCount = o.choiceCount ?? DEFAULT_CHOICE_COUNT
  if (!Number.isInteger(choiceCount) || (choiceCount as number) < 2) {
    fail(`${path}.choiceCount`, `must be an integer ≥ 2 (got ${describe(choiceCount)})`)
  }
  const activeRequestBias = o.activeRequestBias ?? DEFAULT_ACTIVE_REQUEST_BIAS
  if (typeof activeRequestBias !== 'number' || !(activeRequestBias >= 0) || !Number.isFinite(activeRequestBias)) {
    fail(`${path}.activeRequestBias`, `must be a finite number ≥ 0 (got ${describe(activeRequestBias)})`)
  }
  return Object.freeze({ choiceCount: choiceCount as number, activeRequestBias })
}

export function resolvePeakEwma (raw: unknown, path = 'peakEwma'): ResolvedPeakEwmaOptions {
  const o = objectOf(raw, path, ['decayTime', 'defaultLatency', 'excludeEventLoopDelay'])
  const decayTime = o.decayTime ?? DEFAULT_DECAY_TIME
  if (!isPositive(decayTime)) fail(`${path}.decayTime`, `must be a positive number of milliseconds (got ${describe(decayTime)})`)
  const defaultLatency = o.defaultLatency ?? DEFAULT_LATENCY
  if (!isPositive(defaultLatency)) {
    fail(`${path}.defaultLatency`, `must be a positive number of milliseconds (got ${describe(defaultLatency)})`)
  }
  const excludeEventLoopDelay = o.excludeEventLoopDelay ?? true
  if (typeof excludeEventLoopDelay !== 'boolean') {
    fail(`${path}.excludeEventLoopDelay`, `must be a boolean (got ${describe(excludeEventLoopDelay)})`)
  }
  return Object.freeze({ decayTime, defaultLatency, excludeEventLoopDelay })
}

export function resolveConsistentHash (raw: unknown, path = 'consistentHash'): ResolvedConsistentHashOptions {
  const o = objectOf(raw, path, ['hashKey', 'tableSize', 'balanceFactor'])
  const hashKey = o.hashKey ?? DEFAULT_HASH_KEY
  if (!isHashKeySource(hashKey)) {
    fail(`${path}.hashKey`, `must be 'ip', { header: name }, { cookie: name } or a function of the request (got ${describe(hashKey)})`)
  }
  const tableSize = o.tableSize ?? DEFAULT_TABLE_SIZE
  if (!Number.isInteger(tableSize) || (tableSize as number) < 3 || (tableSize as number) > 0x7fffffff || !isPrime(tableSize as number)) {
    fail(`${path}.tableSize`, `must be a prime number ≥ 3 (got ${describe(tableSize)}); 65537 is a good choice`)
  }
  const balanceFactor = o.balanceFactor ?? DEFAULT_BALANCE_FACTOR
  if (typeof balanceFactor !== 'number' || !Number.isFinite(balanceFactor) || (balanceFactor !== 0 && balanceFactor < 100)) {
    fail(`${path}.balanceFactor`, `must be 0 (unbounded) or a percentage ≥ 100 (got ${describe(balanceFactor)})`)
  }
  return Object.freeze({ hashKey: hashKey as HashKeySource, tableSize: tableSize as number, balanceFactor })
}

export function resolveSticky (raw: unknown, path = 'sticky'): ResolvedStickyOptions {
  if (raw === undefined) fail(`${path}.secret`, 'is required: sticky cookies are signed with an HMAC key')
  const o = objectOf(raw, path, ['secret', 'cookieName', 'cookie', 'base', 'baseOptions'])
  const secret = o.secret
  const secrets = typeof secret === 'string' ? [secret] : secret
  if (!Array.isArray(secrets) || secrets.length === 0) {
    fail(`${path}.secret`, `must be a string or a non-empty array of strings (got ${describe(secret)})`)
  }
  for (const s of secrets as unknown[]) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      fail(`${path}.secret`, `must be at least ${MIN_SECRET_LENGTH} characters long`)
    }
  }
  const cookieName = o.cookieName ?? DEFAULT_STICKY_COOKIE
  // RFC 6265 §4.1.1 cookie-name is an RFC 7230 token.
  if (typeof cookieName !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) {
    fail(`${path}.cookieName`, `must be a non-empty cookie name token (got ${describe(cookieName)})`)
  }
  const c = objectOf(o.cookie, `${path}.cookie`, ['path', 'domain', 'maxAge', 'httpOnly', 'secure', 'sameSite'])
  const cookiePath = c.path ?? '/'
  if (typeof cookiePath !== 'string' || !cookiePath.startsWith('/') || /[;\s]/.test(cookiePath)) {
    fail(`${path}.cookie.path`, `must be a path starting with / (got ${describe(cookiePath)})`)
  }
  if (c.domain !== undefined && (typeof c.domain !== 'string' || !/^[A-Za-z0-9.-]+$/.test(c.domain))) {
    fail(`${path}.cookie.domain`, `must be a domain name (got ${describe(c.domain)})`)
  }
  if (c.maxAge !== undefined && (!Number.isInteger(c.maxAge) || (c.maxAge as number) < 0)) {
    fail(`${path}.cookie.maxAge`, `must be a non-negative integer number of seconds (got ${describe(c.maxAge)})`)
  }
  for (const flag of ['httpOnly', 'secure'] as const) {
    if (c[flag] !== undefined && typeof c[flag] !== 'boolean') fail(`${path}.cookie.${flag}`, `must be a boolean (got ${describe(c[flag])})`)
  }
  const sameSite = c.sameSite ?? 'lax'
  if (sameSite !== 'strict' && sameSite !== 'lax' && sameSite !== 'none') {
    fail(`${path}.cookie.sameSite`, `must be 'strict', 'lax' or 'none' (got ${describe(sameSite)})`)
  }
  const secure = (c.secure as boolean | undefined) ?? false
  if (sameSite === 'none' && !secure) fail(`${path}.cookie.sameSite`, "'none' requires cookie.secure: true (browsers reject it otherwise)")
  const base = o.base ?? DEFAULT_STICKY_BASE
  if (typeof base !== 'string' || !(BASES as readonly string[]).includes(base)) {
    fail(`${path}.base`, `must be one of ${BASES.join(', ')} (got ${describe(base)})`)
  }
  const baseOptions = resolve(base as BaseAlgorithm, o.baseOptions, `${path}.baseOptions`)
  return Object.freeze({
    secrets: Object.freeze((secrets as string[]).slice()),
    cookieName,
    cookie: Object.freeze({
      path: cookiePath,
      domain: c.domain as string | undefined,
      maxAge: c.maxAge as number | undefined,
      httpOnly: (c.httpOnly as boolean | undefined) ?? true,
      secure,
      sameSite
    }),
    base: base as BaseAlgorithm,
    baseOptions: baseOptions as ResolvedAlgorithmOptions[BaseAlgorithm]
  })
}

/**
 * `Set-Cookie` header value for the sticky cookie: `name=value; Path=/; HttpOnly; SameSite=Lax` (+ `Domain`,
 * `Max-Age`, `Secure` when configured). The value is base64url, so it needs no encoding.
 */
export function serializeStickyCookie (options: ResolvedStickyOptions, value: string): string {
  const c = options.cookie
  let header = `${options.cookieName}=${value}; Path=${c.path}`
  if (c.domain !== undefined) header += `; Domain=${c.domain}`
  if (c.maxAge !== undefined) header += `; Max-Age=${c.maxAge}`
  if (c.httpOnly) header += '; HttpOnly'
  if (c.secure) header += '; Secure'
  header += `; SameSite=${c.sameSite === 'strict' ? 'Strict' : c.sameSite === 'lax' ? 'Lax' : 'None'}`
  return header
}

function isHashKeySource (value: unknown): boolean {
  if (value === 'ip' || typeof value === 'function') return true
  if (!isObject(value)) return false
  const keys = Object.keys(value)
  if (keys.length !== 1) return false
  const name = (value as Record<string, unknown>)[keys[0]!]
  return (keys[0] === 'header' || keys[0] === 'cookie') && typeof name === 'string' && name.length > 0
}

function isPrime (n: number): boolean {
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

function isPositive (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function objectOf (raw: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  if (raw === undefined) return {}
  if (!isObject(raw)) fail(path, `must be an object (got ${describe(raw)})`)
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) fail(`${path}.${key}`, `is not an option (known: ${known.join(', ')})`)
  }
  return raw
}

function describe (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'string') return JSON.stringify(value)
  try { return JSON.stringify(value) ?? String(value) } catch { return String(value) }
}

function fail (path: string, message: string): never {
  throw new PickerOptionError(`${path} ${message}`)
}
