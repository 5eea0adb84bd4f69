/**
 * TTL math, pure: how long a session lives in Redis and how its expiry slides. No ioredis, no Fastify, no sockets
 * (ESLint enforces it); time is passed in, so every rule here is unit-tested with fixed clocks.
 *
 * The rules follow connect-redis (`getTTL`) so a migration changes nothing a user can observe:
 * - a `ttl` function is used verbatim (seconds);
 * - else the cookie's `expires` decides (`@fastify/session` derives it from `maxAge`, in ms);
 * - else the `ttl` number (seconds, default one day);
 * - a TTL that is not positive means "expired": the caller deletes instead of writing.
 * Where connect-redis rounds up to whole seconds (`SET … EX`), we keep milliseconds (`PEXPIRE`), so the Redis TTL
 * never outlives the cookie.
 */

/** The part of a session cookie the TTL depends on: `@fastify/session`'s `Cookie` or its JSON form. */
export interface CookieLike {
  expires?: Date | string | number | null
  originalMaxAge?: number | null
}

/** Seconds, or a function of the session returning seconds (connect-redis' `ttl`). */
export type TtlOption = number | ((session: Record<string, unknown>) => number)

/** What a write stores next to the data so that a later read can slide the expiry without the session at hand. */
export interface ExpiryPlan {
  /** Redis TTL to set now (ms, > 0). */
  readonly ttlMs: number
  /** TTL a rolling read re-applies (ms); 0 when the expiry is a fixed date that must not move. */
  readonly slideMs: number
  /** The cookie's `originalMaxAge` (ms), 0 when it has none: a rolling read moves `expires` to now + this. */
  readonly maxAgeMs: number
  /** The cookie's `expires` as epoch ms, 0 for a browser-session cookie. */
  readonly expiresAt: number
}

/** Epoch ms of a cookie's `expires`, or 0 when it has none (or an unparsable one). */
export function expiresAtOf (cookie: CookieLike | undefined | null): number {
  const expires = cookie?.expires
  if (expires === undefined || expires === null) return 0
  const at = expires instanceof Date ? expires.getTime() : typeof expires === 'number' ? expires : Date.parse(expires)
  return Number.isFinite(at) ? at : 0
}

/** The cookie's sliding window in ms (`originalMaxAge`), 0 when it has none. */
export function maxAgeOf (cookie: CookieLike | undefined | null): number {
  const maxAge = cookie?.originalMaxAge
  return typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0 ? maxAge : 0
}

/**
 * The expiry of a session about to be written at `now`, or `null` when it is already expired (connect-redis
 * deletes in that case instead of sending Redis an invalid expire time, tj/connect-redis#321).
 */
export function planExpiry (session: Record<string, unknown>, ttl: TtlOption, now: number): ExpiryPlan | null {
  const cookie = session.cookie as CookieLike | undefined
  // Whole milliseconds: they travel to Redis as integers.
  const expiresAt = Math.floor(expiresAtOf(cookie))
  const maxAgeMs = Math.floor(maxAgeOf(cookie))
  let ttlMs: number
  if (typeof ttl === 'function') {
    ttlMs = ttl(session) * 1000
  } else if (expiresAt !== 0) {
    ttlMs = expiresAt - now
  } else {
    ttlMs = ttl * 1000
  }
  // NaN from a bad ttl function falls here too: better deleted than stored forever.
  if (!(ttlMs >= 1)) return null
  ttlMs = Math.floor(ttlMs)
  // A cookie with an absolute `expires` and no `maxAge` has a fixed end: reads must not extend it. Everything else
  // slides like connect-redis' `touch` (EXPIRE ttl): by the cookie's window, or by the ttl when there is no cookie date.
  let slideMs: number
  if (typeof ttl === 'function') slideMs = ttlMs
  else if (maxAgeMs !== 0) slideMs = maxAgeMs
  else slideMs = expiresAt !== 0 ? 0 : ttlMs
  return { ttlMs, slideMs, maxAgeMs, expiresAt }
}

/**
 * The `expires` to hand back to `@fastify/session` when a session is read at `now`. With `rolling`, the read itself
 * slid the Redis TTL, so a `maxAge` cookie now expires at now + maxAge (exactly what `@fastify/session` computes for
 * the restored cookie); `@fastify/session` checks this value, so it must not be the stale one of the last write.
 * Without `rolling` the stored expiry stands. Returns 0 for "no expiry".
 */
export function restoredExpiresAt (stored: { maxAgeMs: number, expiresAt: number }, rolling: boolean, now: number): number {
  if (rolling && stored.maxAgeMs !== 0) return now + stored.maxAgeMs
  return stored.expiresAt
}
