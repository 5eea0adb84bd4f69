/**
 * Options of @switchyard/session-redis: defaults as `DEFAULT_*` constants and one `validateOptions()` that runs in
 * the `RedisStore` constructor and returns a frozen, fully defaulted object, or throws an `InvalidOptionError`
 * naming the option. Nothing downstream checks for `undefined` again.
 */
import type { Cluster, Redis } from 'ioredis'
import { InvalidOptionError } from './errors.js'
import type { TtlOption } from './ttl.js'

/** Key prefix, as connect-redis (it is appended to any ioredis `keyPrefix`). */
export const DEFAULT_PREFIX = 'sess:'
/** Seconds a session lives without a cookie expiry (connect-redis' default: one day). */
export const DEFAULT_TTL = 86_400
/**
 * Milliseconds a store operation may take, waiting for a connection included, before it fails with a 503. A Redis
 * command takes well under a millisecond on a healthy server; half a second covers GC pauses and a loaded host
 * while keeping a user-facing request far from hanging (issue 6: "fail fast, default under 1 s").
 */
export const DEFAULT_TIMEOUT = 500
/** Largest session, in bytes of serialized values plus key names (a 100 KB session fits ten times over). */
export const DEFAULT_MAX_SIZE = 1024 * 1024
/**
 * Milliseconds a destroyed id stays reserved by its tombstone, so that `reload()` + save after a logout on another
 * replica cannot create it again. Writes to a loaded session never create the key, whatever this is.
 */
export const DEFAULT_TOMBSTONE_TIME = 300_000
/** Rolling reads: a `get` slides the TTL in the same round trip (match `@fastify/session`'s `rolling`, default true). */
export const DEFAULT_ROLLING = true

/**
 * Client-side cache: a session read from Redis is served from this process' memory for at most this many ms, unless
 * Redis invalidates it first. Half a second keeps the Redis TTL of a rolling session within half a second of the
 * cookie (a cache hit does not slide it) while sparing a round trip to every request after the first in that window.
 */
export const DEFAULT_CACHE_TTL = 500
/** Sessions the client-side cache holds per store; the oldest read is evicted first. */
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000

/** Options of the client-side cache (node-redis' `clientSideCache` names). */
export interface ClientSideCacheOptions {
  /**
   * Milliseconds after which a cached session is read again (in the background: hits go on being served meanwhile,
   * for `timeout` at most), counted from when Redis last slid its TTL. Default 500.
   */
  ttl?: number
  /** Sessions kept. Default 10 000. */
  maxEntries?: number
}

/** Turns one top-level session value into a string and back (default `JSON`). Must honour `toJSON` (Dates). */
export interface Serializer {
  stringify (value: unknown): string | undefined
  parse (text: string): unknown
}

/** Anything with pino's `warn(obj, msg)`, e.g. `app.log`. */
export interface StoreLogger {
  warn (obj: Record<string, unknown>, msg: string): void
}

/** An ioredis standalone client (Sentinel-configured or not) or a Cluster. */
export type RedisClient = Redis | Cluster

export interface RedisStoreOptions {
  /** The ioredis client (`Redis`, Sentinel-configured `Redis`, or `Cluster`). Required. */
  client: RedisClient
  /** Key prefix. Default `sess:`. */
  prefix?: string
  /** Seconds without a cookie expiry, or `(session) => seconds` used verbatim. Default 86 400. */
  ttl?: TtlOption
  /** Per-key serializer. Default `JSON`. */
  serializer?: Serializer
  /** Largest session in bytes; bigger ones fail with `SWY_SESSION_TOO_LARGE`. Default 1 MiB. */
  maxSize?: number
  /** Milliseconds per store operation (connection wait included) before a 503. Default 500. */
  timeout?: number
  /** A read slides the TTL (one round trip per read-only request). Set it like `@fastify/session`'s `rolling`. */
  rolling?: boolean
  /** Milliseconds a destroyed id stays reserved. Default 300 000. */
  tombstoneTime?: number
  /**
   * Serve repeated reads of a session from memory, kept exact by Redis' invalidation messages (`CLIENT TRACKING`,
   * Redis 6+; the store then opens two connections of its own, duplicates of `client`). Default on for a standalone
   * or Sentinel client, off for a Cluster
   * (where it is not supported). `false` turns it off.
   */
  clientSideCache?: boolean | ClientSideCacheOptions
  /**
   * With the client-side cache, hand `@fastify/session` back the signed id it made for a session on an earlier
   * request, so a cache hit does not sign it again (as with its in-memory store). Default true.
   */
  reuseSignedId?: boolean
  /** Close (QUIT) the client in `close()`. Default false: a client you passed in stays yours. */
  closeClient?: boolean
  /** Where corrupted sessions are reported. Default: `process.emitWarning`. */
  logger?: StoreLogger
}

export interface ResolvedOptions {
  readonly client: RedisClient
  readonly prefix: string
  readonly ttl: TtlOption
  readonly serializer: Serializer
  readonly maxSize: number
  readonly timeout: number
  readonly rolling: boolean
  readonly tombstoneTime: number
  readonly closeClient: boolean
  readonly reuseSignedId: boolean
  readonly logger: StoreLogger
  /** Undefined when the cache is off. */
  readonly clientSideCache: Readonly<Required<ClientSideCacheOptions>> | undefined
}

const warningLogger: StoreLogger = {
  warn (obj, msg) { process.emitWarning(`${msg} ${JSON.stringify(obj)}`, { code: 'SWY_SESSION_CORRUPT' }) }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function positive (
  raw: Record<string, unknown>, name: string, fallback: number, unit: string, integer = false, label = name
): number {
  const value = raw[name]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(`${label} must be a positive ${integer ? 'integer' : 'number'} of ${unit}`)
  }
  return value
}

function boolean (raw: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = raw[name]
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(`${name} must be a boolean`)
  return value
}

function cacheOptions (value: unknown, isCluster: boolean): Readonly<Required<ClientSideCacheOptions>> | undefined {
  if (value === false || (value === undefined && isCluster)) return undefined
  if (value !== undefined && value !== true && !isObject(value)) {
    throw new InvalidOptionError('clientSideCache must be a boolean or { ttl, maxEntries }')
  }
  if (isCluster) throw new InvalidOptionError('clientSideCache is not supported with a Redis Cluster client; set it to false')
  const raw = isObject(value) ? value : {}
  return Object.freeze({
    ttl: positive(raw, 'ttl', DEFAULT_CACHE_TTL, 'milliseconds', false, 'clientSideCache.ttl'),
    maxEntries: positive(raw, 'maxEntries', DEFAULT_CACHE_MAX_ENTRIES, 'sessions', true, 'clientSideCache.maxEntries')
  })
}

export function validateOptions (raw: unknown): ResolvedOptions {
  if (!isObject(raw)) throw new InvalidOptionError('options must be an object with at least { client }')
  const client = raw.client
  if (!isObject(client) || typeof client.defineCommand !== 'function' || typeof client.status !== 'string') {
    throw new InvalidOptionError('client must be an ioredis Redis or Cluster instance')
  }

  const prefix = raw.prefix ?? DEFAULT_PREFIX
  if (typeof prefix !== 'string') throw new InvalidOptionError('prefix must be a string')

  let ttl: TtlOption = DEFAULT_TTL
  if (typeof raw.ttl === 'function') ttl = raw.ttl as TtlOption
  else if (raw.ttl !== undefined) ttl = positive(raw, 'ttl', DEFAULT_TTL, 'seconds or a function (session) => seconds')

  const serializer = raw.serializer ?? JSON
  if (!isObject(serializer) || typeof serializer.stringify !== 'function' || typeof serializer.parse !== 'function') {
    throw new InvalidOptionError('serializer must have stringify(value) and parse(text) functions')
  }

  const logger = raw.logger ?? warningLogger
  if (!isObject(logger) || typeof logger.warn !== 'function') {
    throw new InvalidOptionError('logger must have a warn(obj, msg) function')
  }

  return Object.freeze({
    clientSideCache: cacheOptions(raw.clientSideCache, (client as { isCluster?: unknown }).isCluster === true),
    client: client as unknown as RedisClient,
    prefix,
    ttl,
    serializer: serializer as unknown as Serializer,
    maxSize: positive(raw, 'maxSize', DEFAULT_MAX_SIZE, 'bytes', true),
    timeout: positive(raw, 'timeout', DEFAULT_TIMEOUT, 'milliseconds'),
    rolling: boolean(raw, 'rolling', DEFAULT_ROLLING),
    tombstoneTime: positive(raw, 'tombstoneTime', DEFAULT_TOMBSTONE_TIME, 'milliseconds', true),
    closeClient: boolean(raw, 'closeClient', false),
    reuseSignedId: boolean(raw, 'reuseSignedId', true),
    logger: logger as unknown as StoreLogger
  })
}
