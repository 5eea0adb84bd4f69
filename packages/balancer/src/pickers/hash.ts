/**
 * Affinity keys for `consistent-hash` (and their hash), and the cookie helpers `sticky` needs. Pure: the plugin
 * hands in a request-shaped object; nothing here imports Fastify.
 */
import type { Random } from '../util/random.js'

/**
 * 32-bit FNV-1a over the key's UTF-16 code units, finished with murmur3's `fmix32` avalanche (FNV-1a alone
 * leaves the low bits of near-identical keys such as `10.0.0.1` / `10.0.0.2` correlated, and the Maglev
 * table is indexed by `hash % size`). Unsigned. Stable across processes and versions: every gateway of a fleet
 * maps a key to the same upstream. A non-zero `seed` gives an independent hash of the same key (Maglev needs
 * two per upstream).
 */
export function hash32 (key: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h)
}

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The parts of a request an affinity key is read from (a `FastifyRequest` fits). */
export interface AffinityRequest {
  /** Client address (Fastify's `request.ip`, which honours `trustProxy`). */
  readonly ip: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/**
 * Where `consistent-hash` reads its key:
 * - `'ip'`: the client address (nginx `ip_hash` / `hash $remote_addr consistent`, HAProxy `balance source`);
 * - `{ header: 'x-user-id' }`: a request header (HAProxy `hdr(<name>)`; name matched case-insensitively);
 * - `{ cookie: 'session' }`: a cookie value (Envoy hash policy `cookie`);
 * - a function of the request returning the key, or `undefined` when the request has none.
 *
 * A request without a key (no such header or cookie) is balanced at random, as Envoy does when a hash policy
 * yields no hash.
 */
export type HashKeySource =
  | 'ip'
  | { readonly header: string }
  | { readonly cookie: string }
  | ((request: AffinityRequest) => string | undefined)

/** The key `source` selects from `request`, or `undefined` when the request has none. */
export function affinityKey (request: AffinityRequest, source: HashKeySource): string | undefined {
  if (source === 'ip') return request.ip
  if (typeof source === 'function') return source(request)
  if ('header' in source) {
    const value = request.headers[source.header.toLowerCase()]
    return Array.isArray(value) ? value[0] : value
  }
  const header = request.headers.cookie
  return readCookie(Array.isArray(header) ? header.join('; ') : header, source.cookie)
}

/**
 * `ctx.hash` for a request: `hash32` of its affinity key, or a random 32-bit value when it has none (so
 * keyless requests spread evenly instead of all landing on the upstream of the empty key).
 */
export function requestHash (request: AffinityRequest, source: HashKeySource, random: Random): number {
  const key = affinityKey(request, source)
  return key === undefined ? Math.floor(random.next() * 0x100000000) >>> 0 : hash32(key)
}

/**
 * The value of cookie `name` in a `Cookie` request header, or `undefined` (RFC 6265 §5.4: `name=value` pairs
 * separated by `;`; the first occurrence wins; surrounding double quotes are removed). No decoding: cookie
 * values we read are the ones we set, which are already cookie-safe.
 */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length === 0) return undefined
  let start = 0
  while (start < header.length) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    const eq = header.indexOf('=', start)
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      return value
    }
    start = end + 1
  }
  return undefined
}
