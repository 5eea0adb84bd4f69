/**
 * Plain JSON data (what `JSON.parse` returns: objects, arrays, strings, finite numbers, booleans, null), pure. The
 * client-side cache keeps each session's values parsed once; a hit hands out a copy (cheaper than parsing the
 * stored text again), and a save compares the request's values with that pristine parse instead of serializing
 * them (cheaper than `JSON.stringify`).
 */

/** A deep copy of a value `JSON.parse` returned. Own `__proto__` keys stay data, as `JSON.parse` makes them. */
export function copyJson (value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i])
    return out
  }
  const source = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key in source) {
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: copyJson(source[key]), enumerable: true, writable: true, configurable: true })
    } else {
      out[key] = copyJson(source[key])
    }
  }
  return out
}

/** What `copyPlainJson` answers for a value whose serialization would not parse back to an equal copy. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON')

/**
 * A deep copy of `value` equal to `JSON.parse(JSON.stringify(value))`, when `value` is plain JSON data; otherwise
 * `NOT_PLAIN` (a Date, a class instance, a `toJSON`, an `undefined` or a function inside, a non-finite number),
 * and the caller parses the serialized text instead. A write fills the client-side cache with it: cheaper than a parse.
 */
export function copyPlainJson (value: unknown): unknown {
  if (value === null) return null
  switch (typeof value) {
    case 'string': case 'boolean': return value
    case 'number': return Number.isFinite(value) ? value + 0 : NOT_PLAIN // + 0 turns -0 into 0, as JSON does
    case 'object': break
    default: return NOT_PLAIN
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN
      const item = copyPlainJson(value[i])
      if (item === NOT_PLAIN) return NOT_PLAIN
      out[i] = item
    }
    return out
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN
  const source = value as Record<string, unknown>
  if (typeof source.toJSON === 'function') return NOT_PLAIN
  const out: Record<string, unknown> = {}
  for (const key in source) {
    const item = copyPlainJson(source[key])
    if (item === NOT_PLAIN) return NOT_PLAIN
    if (key === '__proto__') {
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
    } else {
      out[key] = item
    }
  }
  return out
}

/**
 * True only when `current` is plain JSON data equal to `pristine` (a `JSON.parse` result), so that serializing
 * it would store the same data (key order aside). Anything it cannot vouch for — a Date, a class instance, a
 * `toJSON`, an `undefined` or a function inside, a non-finite number — answers false: the caller then serializes
 * and compares text, which is always right.
 */
export function sameJson (current: unknown, pristine: unknown): boolean {
  if (current === null || typeof current !== 'object') {
    return current === pristine && (typeof current !== 'number' || Number.isFinite(current))
  }
  if (pristine === null || typeof pristine !== 'object') return false
  if (Array.isArray(pristine)) {
    if (!Array.isArray(current) || current.length !== pristine.length) return false
    for (let i = 0; i < pristine.length; i++) if (!sameJson(current[i], pristine[i])) return false
    return true
  }
  if (Array.isArray(current)) return false
  const proto: unknown = Object.getPrototypeOf(current)
  if (proto !== Object.prototype && proto !== null) return false
  const a = current as Record<string, unknown>
  const b = pristine as Record<string, unknown>
  if (typeof a.toJSON === 'function') return false
  let count = 0
  for (const key in a) {
    if (!Object.prototype.hasOwnProperty.call(b, key) || !sameJson(a[key], b[key])) return false
    count++
  }
  return count === Object.keys(b).length
}
