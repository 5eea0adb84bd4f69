/**
 * `RedisStore`: the `@fastify/session` store contract (callback `get`/`set`/`destroy`, plus `touch`) over one ioredis
 * client, without lost updates between replicas. No Fastify import: the plugin calls the store, nothing else.
 *
 * Consistency model: per-key merge. `get` remembers what it loaded (a snapshot riding on the session object), `set`
 * diffs the session against it and sends only the top-level keys that changed, in one Lua script that also sets the
 * TTL and never re-creates a session that is gone. An unmodified session costs no write at all: with `rolling`, the
 * read already slid the TTL. See scripts.ts for the Redis side and README.md for the reasoning.
 *
 * Client-side cache (on by default for a standalone client): a session read from Redis is served from memory for
 * up to `clientSideCache.ttl` ms, and evicted as soon as Redis reports a change to it (tracking.ts). Writes always go
 * to Redis; a write of our own evicts the entry before it is sent. See session-cache.ts for the read/invalidate race.
 *
 * Availability: every operation has one deadline (`timeout`), the wait for a connection included. Commands are only
 * handed to ioredis while it is `ready`, so nothing waits in its offline queue to be replayed after a reconnect, and
 * writes carry their deadline in Redis time so that a command ioredis re-sends after a reconnect is refused.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import {
  RedisTimeoutError, RedisUnavailableError, SerializeError, SessionIdConflictError, SessionTooLargeError,
  StoreCommandError
} from './errors.js'
import { validateOptions, type RedisClient, type RedisStoreOptions, type ResolvedOptions } from './options.js'
import { COMMANDS, SCRIPTS } from './scripts.js'
import { copyJson, copyPlainJson, NOT_PLAIN, sameJson } from './json-data.js'
import { SessionCache, type CachedSession, type FillToken } from './session-cache.js'
import { SignedIdReuse } from './signed-id.js'
import { InvalidationTracking } from './tracking.js'
import { planExpiry, restoredExpiresAt, type ExpiryPlan } from './ttl.js'

/** A session as the store sees it: `@fastify/session`'s `Session`, or any plain object with an optional `cookie`. */
export type SessionData = Record<string, unknown>
export type StoreCallback = (err?: unknown) => void
/**
 * `@fastify/session` types the loaded session as its `Session` interface, which each app augments with its own keys;
 * `any` keeps `RedisStore` assignable to `SessionStore` whatever the augmentation. The value is a `SessionData`.
 */
export type GetCallback = (err: unknown, session?: any) => void

/** Counters for what the store decided on its own; read them for metrics and tests. */
export interface StoreStats {
  /** Keys this process overwrote after another writer changed them since this process loaded them (last writer wins). */
  conflicts: number
  /** Writes refused because the session was destroyed, expired or evicted meanwhile (no resurrection). */
  droppedWrites: number
  /** `set` calls that needed no Redis command at all (nothing changed, TTL already slid by the read). */
  skippedWrites: number
  /** Writes Redis refused because they arrived after their deadline (re-sent by ioredis after a reconnect). */
  lateWrites: number
  /** Stored sessions that could not be decoded and were treated as missing (and deleted). */
  corrupted: number
  /** Operations that failed because Redis did not answer or was not connected within `timeout`. */
  timeouts: number
  /** Reads answered from the client-side cache, without Redis. */
  cacheHits: number
  /** Invalidation messages received from Redis (client-side cache). */
  invalidations: number
}

/**
 * The top-level session key under which `get` hands its snapshot to `@fastify/session`. The plugin builds its own
 * `Session` and copies the loaded object's enumerable string keys into it (lib/session.js), so a Symbol or a
 * WeakMap keyed by our object would not survive the copy; this key does. Its value serializes to nothing (`toJSON`
 * returns undefined), so it is invisible to JSON, to `isModified()` and to the stored data.
 */
export const SNAPSHOT_KEY = '__swySessionSnapshot'

/** Threshold above which a snapshot indexes its keys in a Map instead of scanning its array. */
const INDEX_AT = 16

/**
 * What one `get` loaded, so that `set` can tell what this request changed. It is also the value under
 * `SNAPSHOT_KEY`: `toJSON` makes it serialize to nothing, and `util.inspect` shows it as one short line.
 */
class Snapshot {
  #index: Map<string, number> | undefined
  constructor (
    readonly id: string,
    /** Version as stored: the update script counts conflicts only when it moved. */
    public version: string,
    /**
     * Session keys and their serialized values as stored, in parallel arrays (cheaper than a Map for a few keys).
     * Possibly shared with the client-side cache until the first write, which copies them (`shared`).
     */
    public keys: string[],
    public raws: string[],
    /** Session key → loaded value, to skip re-serializing unchanged primitives and to compare the cookie. */
    readonly values: SessionData,
    public slideMs: number,
    public maxAgeMs: number,
    public expiresAt: number,
    /** The Redis TTL was already set or slid during this request. */
    public refreshed: boolean,
    /**
     * The values as parsed from Redis, parallel to `keys`, when the client-side cache holds them: shared with the
     * cache, so never handed out nor modified. `set` compares against them instead of serializing. Dropped at the
     * first write (the arrays above then move on without it).
     */
    public pristine: readonly unknown[] | undefined = undefined,
    /**
     * The client-side cache entry this session was loaded from (a hit, or the fill of its read), which then owns
     * `keys` and `raws` too: they are copied before any change. Dropped at the first change.
     */
    public source: CachedSession | undefined = undefined
  ) {}

  #own (): void {
    this.pristine = undefined
    if (this.source === undefined) return
    this.keys = this.keys.slice()
    this.raws = this.raws.slice()
    this.source = undefined
  }

  indexOf (key: string): number {
    const keys = this.keys
    if (keys.length <= INDEX_AT) return keys.indexOf(key)
    if (this.#index === undefined) {
      this.#index = new Map()
      for (let i = 0; i < keys.length; i++) this.#index.set(keys[i] as string, i)
    }
    return this.#index.get(key) ?? -1
  }

  put (key: string, raw: string): void {
    this.#own()
    const i = this.indexOf(key)
    if (i !== -1) { this.raws[i] = raw; return }
    this.keys.push(key)
    this.raws.push(raw)
    this.#index = undefined
  }

  remove (key: string): void {
    this.#own()
    const i = this.indexOf(key)
    if (i === -1) return
    const last = this.keys.length - 1
    this.keys[i] = this.keys[last] as string
    this.raws[i] = this.raws[last] as string
    this.keys.length = last
    this.raws.length = last
    this.#index = undefined
  }

  toJSON (): undefined { return undefined }
  [Symbol.for('nodejs.util.inspect.custom')] (): string { return `[session-redis snapshot v${this.version}]` }
}

/** One store operation in flight: its deadline timer, and whether it was handed to ioredis. */
interface Pending {
  readonly command: string
  readonly args: Array<string | number>
  readonly done: (err: Error | null, reply: unknown[] | undefined) => void
  /** Date.now() after which the operation fails. */
  readonly deadline: number
  sent: boolean
  settled: boolean
}

/** A session as a write leaves it in Redis: keys, stored values and (JSON) parsed values, in parallel arrays. */
interface Written { keys: string[], raws: string[], values: unknown[] | undefined }

/** A Lua script as sent: EVAL with its source, EVALSHA with its SHA1 once a connection (socket) has run it. */
interface Script { readonly sha: string, readonly lua: string, readonly loadedOn: WeakSet<object> }

/** The ioredis commands the store sends its scripts with. */
interface ScriptClient {
  evalsha: (sha: string, numKeys: number, ...args: Array<string | number>) => Promise<unknown>
  eval: (lua: string, numKeys: number, ...args: Array<string | number>) => Promise<unknown>
  /** The connection's socket; undefined with a Cluster. */
  stream?: object
}

const SCRIPT_BY_NAME: ReadonlyMap<string, Script> = new Map(SCRIPTS.map(([name, lua]) =>
  [name, { sha: createHash('sha1').update(lua).digest('hex'), lua, loadedOn: new WeakSet() }]))

/** Redis error replies that mean "not now" (failover, loading, memory) rather than "wrong": they map to 503. */
const UNAVAILABLE_REPLY = /^(OOM|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|MISCONF)/

const HASH = 35 // '#': first character of meta fields; a session key starting with it is stored as '#' + key

function fieldOf (key: string): string {
  return key.charCodeAt(0) === HASH ? '#' + key : key
}

/**
 * Whether a flat list of records, each `stride` long and starting with its key, lists `key`: the keys an update
 * sets ([key, value, fingerprint, …], stride 3) or deletes ([key, fingerprint, …], stride 2).
 */
function hasKey (records: string[] | undefined, stride: number, key: string): boolean {
  if (records === undefined) return false
  for (let i = 0; i < records.length; i += stride) if (records[i] === key) return true
  return false
}

function sameStrings (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function isPrimitive (value: unknown): boolean {
  const type = typeof value
  return value === null || type === 'string' || type === 'number' || type === 'boolean'
}

/** What the update script compares a stored value with to count conflicts: the value itself when short, else its SHA-1. */
function fingerprint (raw: string | undefined): string {
  if (raw === undefined) return ''
  return raw.length <= 64 ? '=' + raw : '#' + createHash('sha1').update(raw).digest('hex')
}

/**
 * The cookie as stored: its expiry lives in the `#` metadata field instead, so the stored cookie does not change on
 * every rolling request (which would turn every read into a write).
 */
function storableCookie (cookie: unknown): unknown {
  return withoutExpiry(cookieJson(cookie))
}

/** The cookie as JSON would see it: its `toJSON()` (`@fastify/session`'s `Cookie` has one), else itself. */
function cookieJson (cookie: unknown): unknown {
  if (cookie === null || typeof cookie !== 'object') return cookie
  const toJSON = (cookie as { toJSON?: unknown }).toJSON
  return typeof toJSON === 'function' ? toJSON.call(cookie) : cookie
}

function withoutExpiry (json: unknown): unknown {
  if (json === null || typeof json !== 'object') return json
  const source = json as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key in source) if (key !== 'expires' && key !== 'originalExpires') out[key] = source[key]
  return out
}

/**
 * True when a cookie (its JSON form) has the same attributes as the loaded one, expiry aside, compared without
 * serializing nor copying (a cookie is flat); `undefined` attributes count as absent, as in JSON. Anything unusual
 * (nested values) says "not the same".
 */
function sameCookie (current: unknown, loaded: unknown): boolean {
  if (current === null || typeof current !== 'object' || loaded === null || typeof loaded !== 'object') return false
  const a = current as Record<string, unknown>
  const b = loaded as Record<string, unknown>
  let count = 0
  for (const key in a) {
    const value = a[key]
    if (value === undefined || key === 'expires' || key === 'originalExpires') continue
    if (!isPrimitive(value) || value !== b[key]) return false
    count++
  }
  let loadedCount = 0
  for (const key in b) if (key !== 'expires' && b[key] !== undefined) loadedCount++
  return count === loadedCount
}

/**
 * Size of a session once written: the kept values plus the new ones (key and value bytes). UTF-16 length is a lower
 * bound of the UTF-8 size and a third of its upper bound, so bytes are only counted exactly when that cannot decide.
 */
function byteSize (keys: string[], raws: Array<string | undefined>, extra: string[], step: number, maxSize: number): number {
  let units = 0
  for (let i = 0; i < keys.length; i++) {
    const raw = raws[i]
    if (raw !== undefined) units += (keys[i] as string).length + raw.length
  }
  for (let i = 0; i < extra.length; i += step) units += (extra[i] as string).length + (extra[i + 1] as string).length
  if (units * 3 <= maxSize) return units
  let bytes = 0
  for (let i = 0; i < keys.length; i++) {
    const raw = raws[i]
    if (raw !== undefined) bytes += Buffer.byteLength(keys[i] as string) + Buffer.byteLength(raw)
  }
  for (let i = 0; i < extra.length; i += step) {
    bytes += Buffer.byteLength(extra[i] as string) + Buffer.byteLength(extra[i + 1] as string)
  }
  return bytes
}

export class RedisStore {
  readonly options: ResolvedOptions
  readonly client: RedisClient
  readonly stats: StoreStats = {
    conflicts: 0, droppedWrites: 0, skippedWrites: 0, lateWrites: 0, corrupted: 0, timeouts: 0, cacheHits: 0, invalidations: 0
  }

  readonly #prefix: string
  readonly #rollingArg: string
  readonly #snapshots = new WeakMap<object, Snapshot>()
  /** Last availability failure of a `set`, per session object (see `set`). */
  readonly #failures = new WeakMap<object, { err: Error, at: number }>()
  /** When the last of those failures happened: `set` only looks a session up while one may still apply. */
  #lastFailureAt = 0
  /** Operations waiting for the client to become ready (never queued inside ioredis). */
  readonly #waiting = new Set<Pending>()
  /** Requests waiting for a read or write of their session already on its way (`#join`), by session id. */
  readonly #joined = new Map<string, GetCallback[]>()
  /**
   * Operations in deadline order. Every operation gets the same `timeout`, so creation order is deadline order and
   * one timer for the oldest replaces a timer per operation; settled entries are skipped when the sweep reaches them.
   */
  #deadlines: Array<Pending | undefined> = []
  #deadlineHead = 0
  #deadlineTimer: NodeJS.Timeout | undefined
  /** Redis clock minus ours, in ms: measured with TIME on each (re)connection, refined by write replies. */
  #offset = 0
  #calibrated = false
  #closed = false
  /**
   * The connection the store sends its scripts on: the client itself, or, with the client-side cache, a connection
   * of the store's own (\`client.duplicate()\`), whose reads Redis tracks (tracking.ts) without touching the app's
   * commands on the client.
   */
  readonly #conn: RedisClient
  /** The client-side cache and what keeps it exact; undefined when the cache is off. */
  readonly #cache: SessionCache | undefined
  readonly #tracking: InvalidationTracking | undefined
  /** Hands @fastify/session back the ids it signed (with the cache only: the signed ids live in its entries). */
  readonly #signedIds: SignedIdReuse | undefined
  /**
   * ARGV[2] of a cached read: the TTL tolerance, half the cache's ttl. A read slides a TTL older than that, so the
   * entry it fills is valid for at least ttl / 2. With the whole ttl as tolerance, a read made just before the TTL
   * came due slid nothing and filled an entry valid for the few milliseconds left: every request missed until then.
   */
  readonly #cacheTtlArg: string

  constructor (options: RedisStoreOptions) {
    this.options = validateOptions(options)
    this.client = this.options.client
    this.#prefix = this.options.prefix
    this.#rollingArg = this.options.rolling ? '1' : '0'
    const cacheOptions = this.options.clientSideCache
    this.#cacheTtlArg = String(Math.floor((cacheOptions?.ttl ?? 0) / 2))
    if (cacheOptions === undefined) {
      this.#conn = this.client
    } else {
      // Connects at once, as the client does, or when the store first needs it (a lazyConnect client's duplicate is
      // lazy too). Its trouble reaches requests as the store's 503s; the listener only keeps ioredis from logging it.
      const conn = (this.client as Redis).duplicate({ connectionName: 'swy-session' })
      conn.on('error', () => { /* reconnects by itself; operations fail with 503s meanwhile */ })
      this.#conn = conn
      this.#cache = new SessionCache(cacheOptions.maxEntries)
      this.#signedIds = this.options.reuseSignedId ? new SignedIdReuse() : undefined
      this.#tracking = new InvalidationTracking(
        conn, this.#prefix, this.#cache, this.options.logger, () => { this.stats.invalidations++ })
      // The app closed its client for good (quit, disconnect): our connections must not keep the process alive.
      this.client.once('end', this.#onClientEnd)
    }
    this.#conn.on('ready', this.#onReady)
    if (this.#conn.status === 'ready') this.#calibrate()
  }

  /** `@fastify/session` contract: the session stored under `sessionId`, or `null`. Calls back exactly once. */
  get (sessionId: string, callback: GetCallback): void {
    const cache = this.#cache
    let token: FillToken | undefined
    let sent = 0
    if (cache !== undefined) {
      sent = Date.now()
      const hit = cache.lookup(sessionId, sent)
      if (hit !== undefined) {
        this.stats.cacheHits++
        // Sent before this request can write: its write then revokes the refresh, and refills the cache itself.
        if (sent >= hit.refreshAt) this.#refresh(sessionId, hit, sent)
        callback(null, this.#fromCache(sessionId, hit))
        return
      }
      if (cache.inFlight(sessionId)) { this.#join(sessionId, callback); return }
      token = cache.begin(sessionId)
    }
    const args = token === undefined
      ? [this.#prefix + sessionId, this.#rollingArg]
      : [this.#prefix + sessionId, this.#rollingArg, this.#cacheTtlArg]
    this.#call(COMMANDS.get, args, this.#thenRelease(sessionId, token, (err, reply) => {
      const r = reply as unknown[]
      if (err !== null || r[1] !== 'OK') {
        if (token !== undefined) (cache as SessionCache).abandon(sessionId, token)
        if (err !== null) { callback(err); return }
        if (r[1] === 'CORRUPT') this.#corrupt(sessionId, 'the key is not a hash', undefined)
        callback(null, null)
        return
      }
      const read = this.#split(sessionId, r[2] as string)
      const values = read === null ? null : this.#parseAll(sessionId, read.keys, read.raws)
      if (read === null || values === null) {
        if (token !== undefined) (cache as SessionCache).abandon(sessionId, token)
        callback(null, null)
        return
      }
      let source: CachedSession | undefined
      if (token !== undefined) {
        if (r[3] === undefined) {
          (cache as SessionCache).abandon(sessionId, token) // a reply of a read sent without the cache's argument
        } else {
          // The arrays go to the cache as they are (the snapshot copies them before its first change); the values
          // are parsed for the cache at its first hit, so a session that is only ever written costs nothing more.
          const entry = this.#entry(read.keys, read.raws, read.meta, Number(r[3]), sent)
          if ((cache as SessionCache).fill(sessionId, token, entry)) source = entry
        }
      }
      callback(null, this.#build(sessionId, read.keys, read.raws, values, read.meta, undefined, source))
    }))
  }

  /**
   * A miss while a read or a refilling write of the session is on its way (requests of one user arriving together,
   * or the next one while its write travels): wait for that operation and be served from the entry it leaves, rather
   * than send a read that Redis would answer right after it. The wait ends with that operation, within its deadline.
   */
  #join (sessionId: string, callback: GetCallback): void {
    const waiting = this.#joined.get(sessionId)
    if (waiting === undefined) this.#joined.set(sessionId, [callback])
    else waiting.push(callback)
  }

  /** `done`, then the release of the requests that waited on the operation: only one holding a token is waited on. */
  #thenRelease (sessionId: string, token: FillToken | undefined, done: Pending['done']): Pending['done'] {
    if (token === undefined) return done
    return (err, reply) => {
      done(err, reply)
      this.#release(sessionId, err)
    }
  }

  /**
   * An operation of `sessionId` ended: the requests that waited on it are served from the entry it left, or wait for
   * the next one, or send a read of their own (`get` again). Redis being unavailable fails them at once, as their own
   * read would have.
   */
  #release (sessionId: string, err: Error | null): void {
    const waiting = this.#joined.get(sessionId)
    if (waiting === undefined) return
    this.#joined.delete(sessionId)
    const unavailable = err instanceof RedisUnavailableError
    for (const callback of waiting) {
      if (unavailable) callback(err)
      else this.get(sessionId, callback)
    }
  }

  /**
   * Stale-while-revalidate (nginx's `proxy_cache_use_stale updating` with `proxy_cache_background_update`): the
   * entry is due, for its TTL slide or because `ttl` passed since the read, yet no invalidation came, so it still
   * holds the session as stored. One read slides the TTL and refills the entry in the background, while requests go
   * on being served from it; that read's failure drops the entry, so the next request asks Redis itself. Before, a
   * due entry was dropped, and every request for the session until a read came back paid a round trip of its own.
   */
  #refresh (sessionId: string, stale: CachedSession, sent: number): void {
    const cache = this.#cache as SessionCache
    const token = cache.beginRefresh(sessionId)
    if (token === undefined) return // a read or a write of this session is already on its way
    const args = [this.#prefix + sessionId, this.#rollingArg, this.#cacheTtlArg]
    this.#call(COMMANDS.get, args, this.#thenRelease(sessionId, token, (err, reply) => {
      const r = reply as unknown[]
      const read = err === null && r[1] === 'OK' && r[3] !== undefined ? this.#split(sessionId, r[2] as string) : null
      // Changed data (a write whose invalidation is still on its way) must parse, as on any read.
      const same = read !== null && sameStrings(read.keys, stale.keys) && sameStrings(read.raws, stale.raws)
      if (read === null || (!same && this.#parseAll(sessionId, read.keys, read.raws) === null)) {
        cache.abandon(sessionId, token)
        return
      }
      const entry = this.#entry(read.keys, read.raws, read.meta, Number(r[3]), sent)
      if (same) entry.values = stale.values
      entry.signedId = stale.signedId
      cache.fill(sessionId, token, entry)
    }))
  }

  /**
   * How long a read may be served from the cache. A rolling session is due for a refresh `ttl` after its TTL was
   * last slid (the remaining PTTL tells when, measured from when the read was sent: an early estimate); any other,
   * `ttl` after the read. It is served while its refresh travels, for `timeout` at most (the refresh has failed by
   * then), and never beyond the key's own expiry.
   */
  #entry (keys: string[], raws: string[], meta: string, left: number, sent: number): CachedSession {
    const ttl = (this.options.clientSideCache as { ttl: number }).ttl
    const m1 = meta.indexOf(':')
    const slideMs = this.options.rolling ? Number(meta.slice(m1 + 1, meta.indexOf(':', m1 + 1))) || 0 : 0
    let refreshAt = slideMs > 0 ? sent - (slideMs - left) + ttl : sent + ttl
    if (sent + ttl < refreshAt) refreshAt = sent + ttl
    let validUntil = refreshAt + this.options.timeout
    if (left >= 0 && sent + left < validUntil) validUntil = sent + left
    return { keys, raws, values: undefined, meta, refreshAt, validUntil, signedId: undefined }
  }

  /**
   * `@fastify/session` contract: persist `session`. Writes only the top-level keys that changed since `get` (or since
   * the last `set` of this object); creates a new id only if it is free. Calls back exactly once.
   */
  set (sessionId: string, sessionObject: object, callback: StoreCallback): void {
    const session = sessionObject as SessionData
    // When a save fails, Fastify answers with the error, which runs `onSend` again, and @fastify/session saves the
    // same session again: without this, a request would wait `timeout` twice before its 503.
    if (this.#lastFailureAt !== 0 && Date.now() - this.#lastFailureAt < this.options.timeout) {
      const failure = this.#failures.get(session)
      if (failure !== undefined && Date.now() - failure.at < this.options.timeout) { callback(failure.err); return }
    }
    // The marker of a loaded session first (a property read); the WeakMap holds the snapshots of created ones.
    const marker = session[SNAPSHOT_KEY]
    let snapshot = marker instanceof Snapshot && marker.id === sessionId ? marker : this.#snapshots.get(session)
    // A session object saved under another id (a copy made by hand) is a new session, not an update of that one.
    if (snapshot !== undefined && snapshot.id !== sessionId) snapshot = undefined

    let plan: ExpiryPlan | null
    try {
      plan = planExpiry(session, this.options.ttl, Date.now())
    } catch (err) {
      callback(err)
      return
    }
    if (plan === null) {
      // connect-redis semantics: an expiry in the past deletes instead of writing.
      this.#snapshots.delete(session)
      this.destroy(sessionId, callback)
      return
    }
    const signedId = this.#signedIds?.learn(sessionId, session)
    if (snapshot === undefined) this.#create(sessionId, session, plan, signedId, callback)
    else this.#update(sessionId, session, snapshot, plan, signedId, callback)
  }

  /** `@fastify/session` contract: remove the session, leaving a tombstone that keeps the id reserved. */
  destroy (sessionId: string, callback: StoreCallback): void {
    this.#cache?.invalidate(sessionId)
    this.#call(COMMANDS.destroy, [this.#prefix + sessionId, this.options.tombstoneTime], (err) => {
      if (err !== null) callback(err)
      else callback()
    })
  }

  /** express-session's `touch`: slide the TTL (and stored expiry) of an existing session without writing data. */
  touch (sessionId: string, session: object, callback: StoreCallback): void {
    let plan: ExpiryPlan | null
    try {
      plan = planExpiry(session as SessionData, this.options.ttl, Date.now())
    } catch (err) {
      callback(err)
      return
    }
    if (plan === null) { callback(); return }
    const args = [this.#prefix + sessionId, this.#updateHeader('', plan, 0, 0)]
    this.#cache?.invalidate(sessionId)
    this.#call(COMMANDS.update, args, (err, reply) => {
      if (err !== null) { callback(err); return }
      if ((reply as unknown[])[1] !== 'OK') this.#writeStatus(reply as unknown[])
      callback()
    })
  }

  /** The app's client ended: close ours too (see the constructor). */
  readonly #onClientEnd = (): void => {
    this.#tracking?.close()
    this.#conn.disconnect()
  }

  /**
   * Stops waiting operations, closes the store's own connections and, with `closeClient: true`, the client. Call it
   * from Fastify's `onClose`.
   */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#conn.off('ready', this.#onReady)
    this.client.off('end', this.#onClientEnd)
    this.#tracking?.close()
    for (const pending of this.#waiting) this.#settle(pending, new RedisUnavailableError('the store is closed'), undefined)
    this.#waiting.clear()
    const closing: Array<Promise<unknown>> = []
    if (this.#conn !== this.client) closing.push(quit(this.#conn))
    if (this.options.closeClient) closing.push(quit(this.client))
    await Promise.all(closing)
  }

  #create (sessionId: string, session: SessionData, plan: ExpiryPlan, signedId: string | undefined, callback: StoreCallback): void {
    const args: string[] = [this.#prefix + sessionId, this.#deadline() + ':' + plan.ttlMs + ':' + plan.slideMs + ':' +
      plan.maxAgeMs + ':' + plan.expiresAt]
    const keys: string[] = []
    const raws: string[] = []
    const values: SessionData = {}
    try {
      for (const key in session) {
        if (key === SNAPSHOT_KEY || key === '__proto__') continue
        const value = session[key]
        const storable = key === 'cookie' ? storableCookie(value) : value
        const raw = this.#serialize(key, storable)
        if (raw === undefined) continue
        args.push(fieldOf(key), raw)
        keys.push(key)
        raws.push(raw)
        values[key] = storable
      }
    } catch (err) {
      callback(err)
      return
    }
    const size = byteSize(keys, raws, [], 2, this.options.maxSize)
    if (size > this.options.maxSize) { callback(new SessionTooLargeError(size, this.options.maxSize)); return }

    const sent = Date.now()
    const token = this.#beginWrite(sessionId, true) // a new id: nobody else can have written it
    const pristine = token === undefined ? undefined : this.#pristine(raws, keys.map((key) => copyPlainJson(values[key])))
    this.#call(COMMANDS.create, args, this.#thenRelease(sessionId, token, (err, reply) => {
      if (err !== null) { this.#abandonWrite(sessionId, token); this.#failed(session, err); callback(err); return }
      const r = reply as unknown[]
      if (r[1] === 'OK') {
        const meta = '1:' + plan.slideMs + ':' + plan.maxAgeMs + ':' + plan.expiresAt
        const source = this.#fillAfterWrite(sessionId, token, { keys, raws, values: pristine }, meta, r[4], sent, signedId)
        this.#snapshots.set(session, new Snapshot(
          sessionId, '1', keys, raws, values, plan.slideMs, plan.maxAgeMs, plan.expiresAt, true, undefined, source))
        callback()
      } else if (r[1] === 'EXISTS') {
        this.#abandonWrite(sessionId, token)
        callback(new SessionIdConflictError())
      } else {
        this.#abandonWrite(sessionId, token)
        this.#writeStatus(r)
        callback()
      }
    }))
  }

  /**
   * A write of ours is about to be sent: cached reads of the session are stale, and the write may refill the cache
   * if \`fresh\`: a new session, or an update whose session was loaded from the entry the cache still holds (no
   * invalidation arrived since the load, so the session as loaded plus this write's changes is the whole of it).
   */
  #beginWrite (sessionId: string, fresh: boolean): FillToken | undefined {
    const cache = this.#cache
    if (cache === undefined) return undefined
    cache.invalidate(sessionId)
    return fresh ? cache.begin(sessionId) : undefined
  }

  /** A write that refills nothing ended (failed, refused, or someone else wrote meanwhile). */
  #abandonWrite (sessionId: string, token: FillToken | undefined): undefined {
    if (token !== undefined) this.#cache?.abandon(sessionId, token)
    return undefined
  }

  /**
   * A write succeeded and nobody else wrote the session since this process loaded it: this process knows the stored
   * session entirely (\`written\`; \`meta\` as the script wrote it), and the cache takes it, so that the next request
   * here needs no read. Exact because Redis still tracks the key for us: the script ended with a read, and NOLOOP
   * spares us the invalidation of our own write, while any later write by someone else is announced. Returns the
   * entry when the cache took it (the arrays are then shared with it).
   */
  #fillAfterWrite (
    sessionId: string, token: FillToken | undefined, written: Written, meta: string, left: unknown, sent: number,
    signedId: string | undefined
  ): CachedSession | undefined {
    const cache = this.#cache
    if (token === undefined || cache === undefined) return undefined
    if (typeof left !== 'number') return this.#abandonWrite(sessionId, token)
    const entry = this.#entry(written.keys, written.raws, meta, left, sent)
    entry.values = written.values
    entry.signedId = signedId
    return cache.fill(sessionId, token, entry) ? entry : undefined
  }

  /**
   * The session as an update leaves it in Redis, for the cache: the loaded keys it did not touch, then the keys it
   * sets. Untouched values come from the cache's own parse when the session was a hit, else are copied.
   */
  #written (
    snapshot: Snapshot, session: SessionData, sets: string[] | undefined, dels: string[] | undefined, cookie: unknown
  ): Written {
    const keys: string[] = []
    const raws: string[] = []
    const valueOf: unknown[] = []
    for (let i = 0; i < snapshot.keys.length; i++) {
      const key = snapshot.keys[i] as string
      if (hasKey(sets, 3, key) || hasKey(dels, 2, key)) continue
      keys.push(key)
      raws.push(snapshot.raws[i] as string)
      const pristine = snapshot.pristine?.[i]
      // A loaded cookie carries the expiry @fastify/session needs; the stored one does not.
      valueOf.push(snapshot.pristine !== undefined
        ? pristine
        : copyPlainJson(key === 'cookie' ? storableCookie(snapshot.values.cookie) : snapshot.values[key]))
    }
    if (sets !== undefined) {
      for (let i = 0; i < sets.length; i += 3) {
        const key = sets[i] as string
        keys.push(key)
        raws.push(sets[i + 1] as string)
        valueOf.push(copyPlainJson(key === 'cookie' ? cookie : session[key]))
      }
    }
    return { keys, raws, values: this.#pristine(raws, valueOf) }
  }

  /**
   * The parsed values a write leaves in the cache, parallel to \`raws\`: \`copies\`, where \`NOT_PLAIN\` ones are parsed
   * from the stored text instead. Undefined with a serializer other than JSON: hits parse then.
   */
  #pristine (raws: string[], copies: unknown[]): unknown[] | undefined {
    if (this.options.serializer !== JSON) return undefined
    for (let i = 0; i < copies.length; i++) if (copies[i] === NOT_PLAIN) copies[i] = JSON.parse(raws[i] as string)
    return copies
  }

  #update (
    sessionId: string, session: SessionData, snapshot: Snapshot, plan: ExpiryPlan, signedId: string | undefined,
    callback: StoreCallback
  ): void {
    // Changed keys as (key, value, fingerprint of the loaded value) triples; removed keys as (key, fingerprint) pairs.
    let sets: string[] | undefined
    let dels: string[] | undefined
    let cookieStorable: unknown
    let present = 0
    try {
      for (const key in session) {
        if (key === SNAPSHOT_KEY || key === '__proto__') continue
        const value = session[key]
        const index = snapshot.indexOf(key)
        const old = index === -1 ? undefined : snapshot.raws[index]
        // Unchanged primitives need no serialization; objects may have been mutated in place, so they always do,
        // except the cookie, whose attributes are compared directly (its expiry changes on every rolling request).
        if (old !== undefined && value === snapshot.values[key] && isPrimitive(value)) { present++; continue }
        let storable = value
        if (key === 'cookie') {
          const json = cookieJson(value)
          if (old !== undefined && sameCookie(json, snapshot.values.cookie)) { present++; continue }
          storable = withoutExpiry(json)
        } else if (old !== undefined && snapshot.pristine !== undefined && sameJson(value, snapshot.pristine[index])) {
          present++
          continue
        }
        const raw = this.#serialize(key, storable)
        if (raw === undefined) {
          if (old !== undefined) (dels ??= []).push(key, fingerprint(old))
          continue
        }
        if (old !== undefined) present++
        if (raw === old) continue
        ;(sets ??= []).push(key, raw, fingerprint(old))
        if (key === 'cookie') cookieStorable = storable
      }
    } catch (err) {
      callback(err)
      return
    }
    // Keys deleted from the session object (`delete session.x`): loaded but no longer there.
    if (present + (dels === undefined ? 0 : dels.length / 2) < snapshot.keys.length) {
      for (let i = 0; i < snapshot.keys.length; i++) {
        const key = snapshot.keys[i] as string
        if (session[key] === undefined && !hasKey(dels, 2, key)) (dels ??= []).push(key, fingerprint(snapshot.raws[i]))
      }
    }

    const nSet = sets === undefined ? 0 : sets.length / 3
    const nDel = dels === undefined ? 0 : dels.length / 2
    if (nSet === 0 && nDel === 0) {
      const sameMeta = plan.slideMs === snapshot.slideMs && plan.maxAgeMs === snapshot.maxAgeMs
      const covered = snapshot.refreshed
        ? plan.maxAgeMs !== 0 || plan.expiresAt === snapshot.expiresAt
        : plan.slideMs === 0 && plan.expiresAt === snapshot.expiresAt
      if (sameMeta && covered) {
        // Nothing changed and the TTL is where it should be: the read-only request costs no write.
        this.stats.skippedWrites++
        // Usually known already: the entry this session was loaded from keeps it.
        if (signedId !== undefined && snapshot.source?.signedId !== signedId) {
          const entry = this.#cache?.current(sessionId)
          if (entry !== undefined) entry.signedId = signedId
        }
        this.#remember(session, snapshot)
        callback()
        return
      }
    } else {
      // The whole session after this write: kept values, minus removed and replaced ones, plus the new ones.
      const raws: Array<string | undefined> = snapshot.raws.slice()
      if (dels !== undefined) for (let i = 0; i < dels.length; i += 2) raws[snapshot.indexOf(dels[i] as string)] = undefined
      if (sets !== undefined) {
        for (let i = 0; i < sets.length; i += 3) {
          const index = snapshot.indexOf(sets[i] as string)
          if (index !== -1) raws[index] = undefined
        }
      }
      const size = byteSize(snapshot.keys, raws, sets ?? [], 3, this.options.maxSize)
      if (size > this.options.maxSize) { callback(new SessionTooLargeError(size, this.options.maxSize)); return }
    }

    const args: string[] = [this.#prefix + sessionId, this.#updateHeader(snapshot.version, plan, nSet, nDel)]
    if (sets !== undefined) {
      for (let i = 0; i < sets.length; i += 3) args.push(fieldOf(sets[i] as string), sets[i + 1] as string, sets[i + 2] as string)
    }
    if (dels !== undefined) for (let i = 0; i < dels.length; i += 2) args.push(fieldOf(dels[i] as string), dels[i + 1] as string)
    const sent = Date.now()
    const token = this.#beginWrite(sessionId, snapshot.source !== undefined && this.#cache?.current(sessionId) === snapshot.source)
    // Taken now, not at the reply: the request may still change its objects meanwhile.
    const written = token === undefined ? undefined : this.#written(snapshot, session, sets, dels, cookieStorable)
    this.#call(COMMANDS.update, args, this.#thenRelease(sessionId, token, (err, reply) => {
      if (err !== null) { this.#abandonWrite(sessionId, token); this.#failed(session, err); callback(err); return }
      const r = reply as unknown[]
      if (r[1] === 'OK') {
        // Nobody else wrote in between: the version moved by our write alone (or not at all, for a TTL refresh).
        const alone = Number(r[2]) === Number(snapshot.version) + (nSet + nDel > 0 ? 1 : 0)
        // Adopt the new version only then: otherwise keys this object did not write are older than that version,
        // and a second save of it must still compare fingerprints.
        if (alone) snapshot.version = String(r[2])
        const conflicts = Number(r[3])
        if (conflicts > 0) this.stats.conflicts += conflicts
        if (sets !== undefined) {
          for (let i = 0; i < sets.length; i += 3) {
            const key = sets[i] as string
            snapshot.put(key, sets[i + 1] as string)
            snapshot.values[key] = key === 'cookie' ? cookieStorable : session[key]
          }
        }
        if (dels !== undefined) {
          for (let i = 0; i < dels.length; i += 2) {
            snapshot.remove(dels[i] as string)
            snapshot.values[dels[i] as string] = undefined
          }
        }
        snapshot.slideMs = plan.slideMs
        snapshot.maxAgeMs = plan.maxAgeMs
        snapshot.expiresAt = plan.expiresAt
        snapshot.refreshed = true
        const meta = snapshot.version + ':' + plan.slideMs + ':' + plan.maxAgeMs + ':' + plan.expiresAt
        snapshot.source = alone && written !== undefined
          ? this.#fillAfterWrite(sessionId, token, written, meta, r[4], sent, signedId)
          : this.#abandonWrite(sessionId, token)
        this.#remember(session, snapshot)
      } else {
        this.#abandonWrite(sessionId, token)
        this.#writeStatus(r)
      }
      callback()
    }))
  }

  /** Keeps `snapshot` for the next save of `session`: its marker says it already, unless the snapshot is a new one. */
  #remember (session: SessionData, snapshot: Snapshot): void {
    if (session[SNAPSHOT_KEY] !== snapshot) this.#snapshots.set(session, snapshot)
  }

  #updateHeader (version: string, plan: ExpiryPlan, nSet: number, nDel: number): string {
    return this.#deadline() + ':' + version + ':' + nSet + ':' + nDel + ':' + plan.ttlMs + ':' + plan.slideMs + ':' +
      plan.maxAgeMs + ':' + plan.expiresAt
  }

  #failed (session: SessionData, err: Error): void {
    if (!(err instanceof RedisUnavailableError)) return
    const at = Date.now()
    this.#failures.set(session, { err, at })
    this.#lastFailureAt = at
  }

  /** Counts a write the script refused because the session ended while this request ran (GONE, MISSING, CORRUPT). */
  #writeStatus (reply: unknown[]): void {
    if (reply[1] !== 'LATE') this.stats.droppedWrites++
  }

  #serialize (key: string, value: unknown): string | undefined {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined
    let raw: unknown
    try {
      raw = this.options.serializer.stringify(value)
    } catch (err) {
      throw new SerializeError(key, { cause: err })
    }
    if (raw !== undefined && typeof raw !== 'string') throw new SerializeError(key)
    return raw
  }

  /** Splits a read: fields and values come as one cjson-encoded flat array. */
  #split (sessionId: string, encoded: string): { keys: string[], raws: string[], meta: string } | null {
    let flat: string[]
    try {
      flat = JSON.parse(encoded) as string[]
    } catch (err) {
      this.#corrupt(sessionId, 'the stored hash could not be read', err)
      return null
    }
    const keys: string[] = []
    const raws: string[] = []
    let meta = ''
    for (let i = 0; i < flat.length; i += 2) {
      const field = flat[i] as string
      const raw = flat[i + 1] as string
      let key = field
      if (field.charCodeAt(0) === HASH) {
        if (field.charCodeAt(1) !== HASH) {
          if (field === '#') meta = raw
          continue // '#' metadata, or a field of a later version: not session data
        }
        key = field.slice(1)
      }
      if (key === '__proto__') continue
      keys.push(key)
      raws.push(raw)
    }
    return { keys, raws, meta }
  }

  /** The session a read stands for: its values parsed, its cookie expiry restored, its snapshot attached. */
  #build (
    sessionId: string, keys: string[], raws: string[], values: unknown[], meta: string,
    pristine: readonly unknown[] | undefined, source: CachedSession | undefined
  ): SessionData {
    const data: SessionData = {}
    for (let i = 0; i < keys.length; i++) data[keys[i] as string] = values[i]
    return this.#loaded(sessionId, keys, raws, data, meta, pristine, source)
  }

  /**
   * A session from the client-side cache: copies of the parsed values (each request may modify its own), or a fresh
   * parse with a serializer other than JSON. A value that parsed once parses again, so this never fails.
   */
  #fromCache (sessionId: string, hit: CachedSession): SessionData {
    const keys = hit.keys as string[]
    const raws = hit.raws as string[]
    let pristine = hit.values
    let values: unknown[]
    if (pristine !== undefined) {
      values = pristine.map(copyJson)
    } else {
      values = this.#parseAll(sessionId, keys, raws) as unknown[]
      if (this.options.serializer === JSON) {
        pristine = values.map(copyJson)
        hit.values = pristine
      }
    }
    const data = this.#build(sessionId, keys, raws, values, hit.meta, pristine, hit)
    if (hit.signedId !== undefined) this.#signedIds?.attach(data, sessionId, hit.signedId)
    return data
  }

  /** Finishes a read: restores the cookie expiry and attaches the snapshot `set` will diff against. */
  #loaded (
    sessionId: string, keys: string[], raws: string[], data: SessionData, meta: string,
    pristine: readonly unknown[] | undefined, source: CachedSession | undefined
  ): SessionData {
    // meta: "<version>:<slide>:<maxAge>:<expiresAt>"
    const m1 = meta.indexOf(':')
    const m2 = meta.indexOf(':', m1 + 1)
    const m3 = meta.indexOf(':', m2 + 1)
    const version = m1 === -1 ? '0' : meta.slice(0, m1)
    const slideMs = Number(meta.slice(m1 + 1, m2)) || 0
    const maxAgeMs = Number(meta.slice(m2 + 1, m3)) || 0
    const expiresAt = Number(meta.slice(m3 + 1)) || 0

    const cookie = data.cookie
    if (cookie !== null && typeof cookie === 'object') {
      const at = restoredExpiresAt({ maxAgeMs, expiresAt }, this.options.rolling, Date.now())
      // A Date, not its JSON string: @fastify/session passes it to `new Date()` either way, and this skips a parse.
      ;(cookie as Record<string, unknown>).expires = at === 0 ? null : new Date(at)
    }
    // `data` doubles as the loaded values: @fastify/session copies from it and never writes to it.
    const snapshot = new Snapshot(
      sessionId, version, keys, raws, data, slideMs, maxAgeMs, expiresAt, this.options.rolling && slideMs > 0, pristine, source)
    data[SNAPSHOT_KEY] = snapshot
    return data
  }

  /** Parses every stored value, or reports the session corrupted. With JSON, one parse for all of them. */
  #parseAll (sessionId: string, keys: string[], raws: string[]): unknown[] | null {
    const { serializer } = this.options
    if (serializer === JSON && raws.length > 1) {
      try {
        const all = JSON.parse('[' + raws.join(',') + ']') as unknown[]
        // A corrupted value holding a top-level comma would shift the others: the count must match.
        if (all.length === raws.length) return all
      } catch { /* find the culprit below, value by value */ }
    }
    const values: unknown[] = []
    for (let i = 0; i < raws.length; i++) {
      try {
        values.push(serializer.parse(raws[i] as string))
      } catch (err) {
        this.#corrupt(sessionId, `the value of "${keys[i] as string}" could not be parsed`, err)
        return null
      }
    }
    return values
  }

  /** A stored session that cannot be decoded is logged, deleted, and treated as missing: never a 500 on every request. */
  #corrupt (sessionId: string, reason: string, cause: unknown): void {
    this.stats.corrupted++
    this.options.logger.warn(
      { sessionKey: this.#prefix + sessionId, reason, err: cause },
      '@switchyard/session-redis: corrupted session treated as missing and deleted')
    this.destroy(sessionId, () => { /* best effort: the key also expires by itself */ })
  }

  /** Deadline of a write, in Redis time: when our own timer gives up on it. */
  #deadline (): number {
    return Math.max(1, Math.round(Date.now() + this.#offset + this.options.timeout))
  }

  #call (command: string, args: Array<string | number>, done: Pending['done']): void {
    const pending: Pending = { command, args, done, deadline: Date.now() + this.options.timeout, sent: false, settled: false }
    if (this.#closed) { this.#settle(pending, new RedisUnavailableError('the store is closed'), undefined); return }
    const status = this.#conn.status
    if (status === 'end') {
      this.#settle(pending, new RedisUnavailableError('the Redis client is closed'), undefined)
      return
    }
    this.#deadlines.push(pending)
    if (this.#deadlineTimer === undefined) this.#armDeadline(this.options.timeout)
    if (status === 'ready') {
      this.#send(pending)
      return
    }
    // Not connected: wait for 'ready' ourselves, within the deadline, instead of queueing inside ioredis where the
    // command would outlive its request and be replayed after the reconnect.
    if (status === 'wait') this.#conn.connect().catch(() => { /* reported through 'error' and our deadline */ })
    this.#waiting.add(pending)
  }

  /**
   * Runs the operation's script. Like ioredis' own scripts: EVAL the first time on a connection (which loads it into
   * Redis' script cache), EVALSHA after, and EVAL again after a NOSCRIPT (SCRIPT FLUSH, a restarted Redis).
   */
  #send (pending: Pending): void {
    pending.sent = true
    const script = SCRIPT_BY_NAME.get(pending.command) as Script
    const conn = this.#conn as unknown as ScriptClient
    const stream = conn.stream // undefined with a Cluster: EVALSHA, and EVAL after a NOSCRIPT
    const bySha = stream === undefined || script.loadedOn.has(stream)
    const onReply = (reply: unknown): void => {
      if (!bySha && stream !== undefined) script.loadedOn.add(stream)
      this.#settle(pending, null, reply as unknown[])
    }
    const onError = (err: unknown): void => {
      if (bySha && err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        conn.eval(script.lua, 1, ...pending.args).then(onReply, (err: unknown) => { this.#settle(pending, classify(err), undefined) })
        return
      }
      this.#settle(pending, classify(err), undefined)
    }
    const sent = bySha ? conn.evalsha(script.sha, 1, ...pending.args) : conn.eval(script.lua, 1, ...pending.args)
    sent.then(onReply, onError)
  }

  #settle (pending: Pending, err: Error | null, reply: unknown[] | undefined): void {
    if (reply !== undefined) {
      this.#observeClock(reply[0])
      // Counted here, not by the caller: a refused late write usually replies after its caller was answered.
      if (reply[1] === 'LATE') this.stats.lateWrites++
    }
    if (pending.settled) return
    if (reply !== undefined && reply[1] === 'LATE') {
      // Redis ran it after the deadline (our clock estimate was a little off): it did not happen, and says so.
      err = new RedisTimeoutError(this.options.timeout)
      reply = undefined
    }
    pending.settled = true
    // Replies come back in the order commands were sent, which is the deadline order: release settled entries from
    // the head at once, so finished operations (and the sessions their callbacks hold) are not kept until the sweep.
    const queue = this.#deadlines
    let head = this.#deadlineHead
    while (head < queue.length) {
      const first = queue[head]
      if (first !== undefined && !first.settled) break
      queue[head++] = undefined
    }
    if (head === queue.length) {
      queue.length = 0
      head = 0
    }
    this.#deadlineHead = head
    pending.done(err, reply)
  }

  #armDeadline (ms: number): void {
    this.#deadlineTimer = setTimeout(this.#sweepDeadlines, Math.max(1, ms))
    this.#deadlineTimer.unref()
  }

  readonly #sweepDeadlines = (): void => {
    this.#deadlineTimer = undefined
    const now = Date.now()
    let expired: Pending[] | undefined
    for (;;) {
      const head = this.#deadlineHead
      const pending = this.#deadlines[head]
      if (pending === undefined || (!pending.settled && pending.deadline > now)) break
      this.#deadlines[head] = undefined
      this.#deadlineHead = head + 1
      if (!pending.settled) (expired ??= []).push(pending)
    }
    // Failed after this turn's poll phase (setImmediate runs after it), not now: after an event-loop stall longer
    // than \`timeout\` (a CPU-bound request, a long GC), this timer fires before the poll phase has read the replies
    // that arrived meanwhile, and an operation Redis did answer must not fail as a timeout.
    if (expired !== undefined) setImmediate(this.#expireAll, expired)
    const queue = this.#deadlines
    if (this.#deadlineHead >= queue.length) {
      queue.length = 0
      this.#deadlineHead = 0
    } else if (this.#deadlineHead > 1024 && this.#deadlineHead * 2 > queue.length) {
      this.#deadlines = queue.slice(this.#deadlineHead)
      this.#deadlineHead = 0
    }
    // A callback above may have armed a timer for a later deadline than the oldest one left: re-arm for the oldest.
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer)
    this.#deadlineTimer = undefined
    const next = this.#deadlines[this.#deadlineHead]
    if (next !== undefined) this.#armDeadline(next.deadline - now)
  }

  /**
   * One TIME per (re)connection, so that the first write after it already has a deadline in Redis time (reads do not
   * report the clock; writes refine the estimate). A clock jump on either side is picked up by the following writes.
   */
  #calibrate (): void {
    const sent = Date.now()
    this.#conn.time().then((time) => {
      const now = Date.now()
      const redisNow = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000)
      // Redis read its clock somewhere between send and reply: assume the middle.
      this.#offset = redisNow - (sent + now) / 2
      this.#calibrated = true
    }, () => { /* not connected after all: writes calibrate later */ })
  }

  #observeClock (redisNow: unknown): void {
    if (typeof redisNow !== 'number' || redisNow === 0) return // reads do not report the clock
    // Redis' clock when the script ran minus ours at the reply: a slight underestimate (latency), so deadlines err
    // early, never late. Smoothed so one delayed reply does not move it much.
    const sample = redisNow - Date.now()
    if (!this.#calibrated) {
      this.#offset = sample
      this.#calibrated = true
    } else {
      this.#offset += (sample - this.#offset) / 8
    }
  }

  readonly #expireAll = (expired: Pending[]): void => {
    // Settling runs the caller's callback, which may start new operations: each one is checked when its turn comes.
    for (const pending of expired) if (!pending.settled) this.#expire(pending)
  }

  #expire (pending: Pending): void {
    this.stats.timeouts++
    if (!pending.sent) {
      this.#waiting.delete(pending)
      this.#settle(pending, new RedisUnavailableError(
        `not connected to Redis within ${this.options.timeout} ms (client status: ${this.#conn.status})`), undefined)
    } else {
      this.#settle(pending, new RedisTimeoutError(this.options.timeout), undefined)
    }
  }

  readonly #onReady = (): void => {
    this.#calibrate()
    if (this.#waiting.size === 0) return
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const pending of waiting) if (!pending.settled) this.#send(pending)
  }
}

async function quit (client: RedisClient): Promise<void> {
  await client.quit().catch(() => { /* already closed or disconnected: nothing left to release */ })
}

function classify (err: unknown): Error {
  if (err instanceof RedisUnavailableError || err instanceof StoreCommandError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(message)) {
    return new StoreCommandError(message, { cause: err })
  }
  return new RedisUnavailableError(message, { cause: err })
}
