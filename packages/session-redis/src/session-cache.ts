/**
 * The client-side session cache, pure: what a replica remembers of sessions it read, and the bookkeeping that keeps
 * it from ever holding data older than an invalidation it received. No ioredis, no sockets: `tracking.ts` feeds it
 * Redis' invalidation messages, `store.ts` reads and fills it, and time is passed in.
 *
 * The race it closes: a read is sent, another replica writes the key, and the invalidation (on the tracking
 * connection) overtakes the read's reply (on the command connection). A fill is therefore only accepted with the
 * token `begin()` handed out when the read (or our write) was sent, and an invalidation revokes that token.
 */

/** One session as read from Redis, before parsing: what a cache hit rebuilds the session from. */
export interface CachedSession {
  /** Top-level session keys and their stored (serialized) values, in parallel arrays. The cache owns them. */
  readonly keys: readonly string[]
  readonly raws: readonly string[]
  /**
   * The values as parsed, parallel to `keys`, when the serializer is JSON: set by the first hit, so that later hits
   * copy them instead of parsing again. Never handed out: the cache owns them.
   */
  values: readonly unknown[] | undefined
  /** The stored metadata field (`<version>:<slide>:<maxAge>:<expiresAt>`). */
  readonly meta: string
  /** Epoch ms from which a hit should have it read again (`beginRefresh`), while still serving it. */
  readonly refreshAt: number
  /** Epoch ms until which a hit may serve it: never past the key's own expiry, nor long past `refreshAt`. */
  readonly validUntil: number
  /**
   * The signed session id (cookie value) `@fastify/session` made for this session, once a save showed it: a hit
   * hands it back so the id is not signed again (`signed-id.ts`). It depends on the id alone, not on the data.
   */
  signedId: string | undefined
}

/** Handed out by `begin()` and `beginRefresh()`; only the latest one for a session may fill it. */
export type FillToken = object

export class SessionCache {
  readonly maxEntries: number
  #active = false
  readonly #entries = new Map<string, CachedSession>()
  readonly #pending = new Map<string, FillToken>()

  constructor (maxEntries: number) {
    this.maxEntries = maxEntries
  }

  /** True while invalidations are known to arrive (tracking on, both connections up). */
  get active (): boolean { return this.#active }
  get size (): number { return this.#entries.size }

  activate (): void { this.#active = true }

  /** Invalidations may have been missed: forget everything, and refuse fills of reads already in flight. */
  deactivate (): void {
    this.#active = false
    this.clear()
  }

  /** The session, if cached and still valid at `now`; the caller starts its refresh once `now` reaches `refreshAt`. */
  lookup (id: string, now: number): CachedSession | undefined {
    if (!this.#active) return undefined
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.validUntil > now) return entry
    this.#entries.delete(id)
    return undefined
  }

  /**
   * The entry held for `id`, valid or not: the same object as long as no invalidation, write or fill replaced it.
   * A write compares it with the entry its session was loaded from.
   */
  current (id: string): CachedSession | undefined {
    return this.#active ? this.#entries.get(id) : undefined
  }

  /**
   * A read of `id`, or a write of ours that may refill it, is about to be sent: returns the token its fill will need
   * (undefined when the cache is off). It revokes earlier tokens, so that only the latest operation fills. The
   * operation must end in `fill` or `abandon`.
   */
  begin (id: string): FillToken | undefined {
    if (!this.#active) return undefined
    this.#entries.delete(id)
    const token = {}
    this.#pending.set(id, token)
    return token
  }

  /**
   * A read or write of `id` that may fill the cache is on its way: a request that misses now can wait for it rather
   * than send a read of its own.
   */
  inFlight (id: string): boolean {
    return this.#active && this.#pending.has(id)
  }

  /**
   * A hit found the entry due for `refreshAt`: the token for one read that refills it while it goes on being served
   * (stale-while-revalidate), or undefined when the cache is off or a read or write of `id` is already on its way.
   * Unlike `begin`, it keeps the entry; anything that would make it wrong (an invalidation, a write of ours) drops it
   * as always, and so does `abandon` with this token.
   */
  beginRefresh (id: string): FillToken | undefined {
    if (!this.#active || this.#pending.has(id)) return undefined
    const token = {}
    this.#pending.set(id, token)
    return token
  }

  /** Caches what the read holding `token` returned, unless anything revoked the token since. */
  fill (id: string, token: FillToken, entry: CachedSession): boolean {
    if (this.#pending.get(id) !== token) return false
    this.#pending.delete(id)
    if (!this.#active) return false
    this.#entries.delete(id) // re-inserted last: eviction takes the oldest fill first
    this.#entries.set(id, entry)
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
    return true
  }

  /**
   * The operation holding `token` ended without anything to cache (an error, a missing session). An entry still held
   * for `id` is the one a refresh was for, and its read failed: it goes too, so the next request asks Redis itself.
   */
  abandon (id: string, token: FillToken): void {
    if (this.#pending.get(id) !== token) return
    this.#pending.delete(id)
    this.#entries.delete(id)
  }

  /** Redis said `id` changed, or this process is about to write it: its entry and in-flight reads are stale. */
  invalidate (id: string): void {
    this.#entries.delete(id)
    this.#pending.delete(id)
  }

  /** Redis said everything changed (FLUSHALL / FLUSHDB), or the cache is being turned off. */
  clear (): void {
    this.#entries.clear()
    this.#pending.clear()
  }
}
