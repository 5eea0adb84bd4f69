/**
 * The gateway's view of one service in the heartbeat registry, rebuilt from each read of Redis. Pure: no Redis,
 * no timers; times are passed in (`now`, local monotonic ms), so every rule below is unit-tested with plain numbers.
 *
 * Rules:
 * - A live registration (expiry in the future) is a member; its expiry is translated to local time with the
 *   server's `TIME` from the same read, so clock skew between hosts does not matter.
 * - A tombstone (graceful deregistration) removes the member at once.
 * - A member that is simply *absent* is kept until the expiry we last saw for it passes: absence alone may be Redis
 *   having lost its data (a restart without persistence, a failover to a replica that missed writes), not the
 *   replica leaving. Replicas re-register on their next renewal, well before their TTL ends.
 * - After a gap in what we know (a failed read, Redis' epoch token changed, or reads stopped for longer than
 *   `staleAfter`), absent members get a fresh TTL from now: their renewals may have failed during the gap for the
 *   same reason our reads did. So a Redis outage or restart never empties the pool; it only delays the removal of
 *   a replica that died meanwhile by one TTL.
 * - Nothing changes while Redis does not answer (`failed()` only notes the gap).
 */
import type { Member } from './diff.js'

/** One live registration as read from Redis. */
export interface RegistryEntry {
  url: string
  /** Expiry in Redis server time (ms). */
  expiresAt: number
  /** JSON `{ id, weight, name, ttl }`, or '' when missing. */
  meta: string
}

/** The result of one read. */
export interface RegistrySnapshot {
  /** Redis server time (ms) at the read. */
  serverNow: number
  /** The registry's epoch token ('' when none was ever set). */
  epoch: string
  live: RegistryEntry[]
  /** Urls that left gracefully (tombstones). */
  left: string[]
}

export interface RegistryStateOptions {
  /** A successful read this long (ms) after the previous one counts as a gap. */
  staleAfter: number
  /** Called for a registration that cannot be used (bad url or meta); it is skipped. */
  onInvalid?: (url: string, reason: string) => void
}

/** The registration meta, as the announcer writes it. */
export interface RegistrationMeta {
  id?: string
  weight?: number
  name?: string
  ttl?: number
}

interface Tracked {
  member: Member
  /** ms; the registration's TTL, used to extend an absent member after a gap. */
  ttl: number
  /** Local ms. */
  expiresAt: number
}

export const MAX_MEMBER_WEIGHT = 1_000_000

export class RegistryState {
  private readonly tracked = new Map<string, Tracked>()
  private epoch: string | null = null
  private lastSuccess = Number.NaN
  private gap = false
  private readonly invalid = new Set<string>()

  constructor (private readonly options: RegistryStateOptions) {}

  /** The desired members, sorted by url. */
  get members (): Member[] {
    return [...this.tracked.values()].map((t) => t.member).sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
  }

  /** A read failed (or timed out): the next successful one closes a gap. */
  failed (): void {
    this.gap = true
  }

  /** The earliest local expiry among the members, or Infinity. The watcher reads again then, to drop it on time. */
  nextExpiry (): number {
    let next = Infinity
    for (const t of this.tracked.values()) if (t.expiresAt < next) next = t.expiresAt
    return next
  }

  /** Applies a successful read made at local time `now`; returns the desired members. */
  apply (snapshot: RegistrySnapshot, now: number): Member[] {
    // The epoch going from none to a token is the first registration after a loss we already saw (or a first
    // registration ever): not a new gap.
    const gap = this.gap ||
      (this.epoch !== null && this.epoch !== '' && snapshot.epoch !== this.epoch) ||
      (!Number.isNaN(this.lastSuccess) && now - this.lastSuccess > this.options.staleAfter)
    this.gap = false
    this.epoch = snapshot.epoch
    this.lastSuccess = now

    const present = new Set<string>()
    for (const entry of snapshot.live) {
      const parsed = this.parse(entry, snapshot.serverNow)
      if (parsed === null) continue
      present.add(parsed.member.url)
      this.tracked.set(parsed.member.url, { member: parsed.member, ttl: parsed.ttl, expiresAt: now + (entry.expiresAt - snapshot.serverNow) })
    }
    for (const raw of snapshot.left) {
      const url = normaliseUrl(raw) ?? raw
      if (!present.has(url)) this.tracked.delete(url)
    }
    for (const [url, t] of this.tracked) {
      if (present.has(url)) continue
      if (gap) t.expiresAt = Math.max(t.expiresAt, now + t.ttl)
      if (t.expiresAt <= now) this.tracked.delete(url)
    }
    return this.members
  }

  private parse (entry: RegistryEntry, serverNow: number): { member: Member, ttl: number } | null {
    const url = normaliseUrl(entry.url)
    if (url === null) return this.reject(entry.url, 'url is not an http(s) origin')
    let meta: RegistrationMeta = {}
    if (entry.meta !== '') {
      try {
        const decoded: unknown = JSON.parse(entry.meta)
        if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) return this.reject(entry.url, 'meta is not an object')
        meta = decoded as RegistrationMeta
      } catch {
        return this.reject(entry.url, 'meta is not JSON')
      }
    }
    const weight = meta.weight ?? 1
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > MAX_MEMBER_WEIGHT) {
      return this.reject(entry.url, `weight must be an integer from 1 to ${MAX_MEMBER_WEIGHT}`)
    }
    const name = meta.name ?? url
    if (typeof name !== 'string' || name === '') return this.reject(entry.url, 'name must be a non-empty string')
    const remaining = entry.expiresAt - serverNow
    const ttl = typeof meta.ttl === 'number' && Number.isFinite(meta.ttl) && meta.ttl > 0 ? meta.ttl : remaining
    this.invalid.delete(entry.url)
    return { member: { url, weight, backup: false, name }, ttl }
  }

  private reject (url: string, reason: string): null {
    // Reported once per url until it becomes valid, not on every read.
    if (!this.invalid.has(url)) {
      this.invalid.add(url)
      this.options.onInvalid?.(url, reason)
    }
    return null
  }
}

/** The origin of an http(s) URL without path or query, or null. */
export function normaliseUrl (raw: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    return null
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '' ||
    parsed.username !== '' || parsed.password !== '') return null
  return parsed.origin
}
