/**
 * `sticky`: cookie affinity (Traefik `sticky.cookie`, nginx `sticky cookie`, HAProxy `cookie SRV insert`).
 * The gateway sets a cookie naming the upstream that served the client; later requests carrying it go back to
 * that upstream while it is eligible. Everything else is the base algorithm's job.
 *
 * The cookie value is `base64url(HMAC-SHA256(secret, "switchyard.sticky.v1\0" + url))` cut to 96 bits (16
 * characters; RFC 2104 §5 allows truncation to half the hash and no less than 80 bits): a
 * stable id derived from the upstream's URL (the same on every gateway sharing the secret, across restarts and
 * configuration reorderings) that is also its own signature. It never shows the address, and without the
 * secret nobody can compute the value of another URL or recover a URL from a value (a plain hash of a private
 * `host:port` could be brute-forced).
 *
 * Verification happens in `pick` without allocating: the first four characters of the incoming value index an
 * open-addressing table built on refresh from the values of the eligible upstreams (they are HMAC output, so
 * uniformly distributed), and the candidate is then compared over its full length in constant time (the
 * XOR-accumulate `crypto.timingSafeEqual` does, over characters packed into int32 words, so that no Buffer is
 * copied per request). A value that is tampered with, signed by an unknown secret, names
 * an upstream that was removed, or one that is not eligible now (ejected, draining, failed, or already tried by
 * this request) falls back to the base algorithm. The plugin then re-sets the cookie: `needsCookie(value,
 * upstream)` is true whenever the value it received is not `cookieFor()` the upstream that finally served.
 *
 * `secret` may be a list: the first signs, all verify (rotation, as `@fastify/cookie`); a value signed by an
 * older secret is honoured once and re-set with the current one.
 */
import { createHmac } from 'node:crypto'
import type { Upstream } from '../upstream/upstream.js'
import { fmix32 } from './hash.js'
import { SlotIndex } from './heap.js'
import type { ResolvedStickyOptions } from './options.js'
import { type PickContext, type Picker, type PickerDeps, wasTried } from './picker.js'

/** Characters of a cookie value: 16 base64url characters = 96 bits of the HMAC. */
export const STICKY_VALUE_LENGTH = 16

const DOMAIN = 'switchyard.sticky.v1\0'

/** The sticky cookie value of `url` under `secret`. */
export function stickyValue (secret: string, url: string): string {
  // 12 bytes encode to exactly 16 characters; a fresh (flat) string, cheap to read char by char in `pick`.
  return createHmac('sha256', secret).update(DOMAIN + url).digest().toString('base64url', 0, (STICKY_VALUE_LENGTH / 4) * 3)
}

/** Constant-time string equality for equal-length inputs (length itself is not secret: it is fixed). */
export function constantTimeEqual (a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

export class StickyPicker implements Picker {
  private list: readonly Upstream[] = []
  private readonly secrets: readonly string[]
  /** Current cookie value of each eligible upstream (primary secret), index-aligned with `list`. */
  private values: string[] = []
  /**
   * Every accepted value (all secrets × eligible upstreams) in an open-addressing table keyed by its first
   * four characters. A slot is one row of `ROW` int32s: the value's 16 ASCII characters packed four per word,
   * then the upstream's index + 1 (0 = empty slot). A lookup reads one row per probe, not a string object.
   */
  private table = new Int32Array(0)
  private mask = 0
  private readonly slots = new SlotIndex()
  /** Values of upstreams seen before, by URL: HMACs are computed once per URL and secret. */
  private readonly cache = new Map<string, string[]>()

  constructor (_deps: PickerDeps, options: ResolvedStickyOptions, readonly base: Picker) {
    this.secrets = options.secrets
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.base.refresh(upstreams)
    this.list = upstreams
    const n = upstreams.length
    const perUpstream = this.secrets.length
    const entries = n * perUpstream
    this.values = new Array<string>(n)
    let size = 8
    while (size < entries * 2) size *= 2
    this.mask = size - 1
    const table = new Int32Array(size * ROW)
    this.table = table
    for (let i = 0; i < n; i++) {
      const all = this.valuesOf(upstreams[i]!.url)
      this.values[i] = all[0]!
      for (let s = 0; s < perUpstream; s++) {
        const value = all[s]!
        let slot = fmix32(word(value, 0)) & this.mask
        while (table[slot * ROW + 4] !== 0) slot = (slot + 1) & this.mask
        for (let w = 0; w < 4; w++) table[slot * ROW + w] = word(value, 4 * w)
        table[slot * ROW + 4] = i + 1
      }
    }
    this.slots.rebuild(upstreams)
  }

  pick (ctx: PickContext): Upstream | undefined {
    const value = ctx.affinity
    if (value !== undefined && value.length === STICKY_VALUE_LENGTH) {
      const i = this.lookup(value)
      if (i !== -1) {
        const upstream = this.list[i]!
        if (ctx.tried.length === 0 || !wasTried(ctx.tried, upstream)) return upstream
      }
    }
    return this.base.pick(ctx)
  }

  inFlightChanged (upstream: Upstream): void {
    this.base.inFlightChanged?.(upstream)
  }

  /**
   * The cookie value naming `upstream` (current secret). No allocation for eligible upstreams; others (a
   * last-resort upstream outside the eligible list) are computed once and cached.
   */
  cookieFor (upstream: Upstream): string {
    const i = this.slots.indexOf(this.list, upstream)
    return i !== -1 ? this.values[i]! : this.valuesOf(upstream.url)[0]!
  }

  /** True when the response must set the cookie: the request carried no value, or not this upstream's. */
  needsCookie (received: string | undefined, upstream: Upstream): boolean {
    return received !== this.cookieFor(upstream)
  }

  /**
   * Index in `list` of the upstream `value` (of `STICKY_VALUE_LENGTH` characters) names, or -1 (unknown,
   * tampered, stale or not eligible). Every character is read and every word compared whatever the outcome:
   * no early exit on the first differing character.
   */
  private lookup (value: string): number {
    const w0 = word(value, 0)
    const w1 = word(value, 4)
    const w2 = word(value, 8)
    const w3 = word(value, 12)
    // Any character ≥ 128 cannot be ours (base64url is ASCII) and would alias when packed into bytes.
    let high = 0
    for (let c = 0; c < STICKY_VALUE_LENGTH; c++) high |= value.charCodeAt(c)
    const ascii = high < 128
    const table = this.table
    const mask = this.mask
    for (let slot = fmix32(w0) & mask; ; slot = (slot + 1) & mask) {
      const row = slot * ROW
      const index = table[row + 4]!
      if (index === 0) return -1
      const diff = (w0 ^ table[row]!) | (w1 ^ table[row + 1]!) | (w2 ^ table[row + 2]!) | (w3 ^ table[row + 3]!)
      if (diff === 0 && ascii) return index - 1
    }
  }

  private valuesOf (url: string): string[] {
    let values = this.cache.get(url)
    if (values === undefined) {
      values = this.secrets.map((secret) => stickyValue(secret, url))
      this.cache.set(url, values)
    }
    return values
  }
}

/** Int32s per table row: four words of packed characters, then the upstream index + 1. */
const ROW = 5

/** Characters `at … at + 3` of `value` packed into one int32, one byte each. */
function word (value: string, at: number): number {
  return (value.charCodeAt(at) & 0xff) | ((value.charCodeAt(at + 1) & 0xff) << 8) |
    ((value.charCodeAt(at + 2) & 0xff) << 16) | ((value.charCodeAt(at + 3) & 0xff) << 24)
}
