/**
 * Which failed attempts may be tried again on another upstream. Pure: no Fastify, no network.
 *
 * The rule is about what the upstream may already have done: nothing, when the connection was refused; maybe
 * something, once request bytes were sent. So idempotent methods (RFC 9110 §9.2.2) retry on every failure kind,
 * other methods only when the connection never opened, and only with a body we still hold (nginx
 * `proxy_next_upstream` without `non_idempotent`).
 */

/** Where an attempt failed. */
export type FailureKind =
  /** No connection: refused, unreachable, DNS, connect timeout. No request byte was sent. */
  | 'connect'
  /** The connection broke after the request started and before a response arrived. */
  | 'reset'
  /** No response headers within the per-attempt timeout. */
  | 'timeout'
  /** The upstream answered with a retryable status (502/503/504 by default). */
  | 'status'

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

export function isIdempotent (method: string): boolean {
  return IDEMPOTENT_METHODS.has(method)
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'
])
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** Classifies an error code from the HTTP client. Anything unknown counts as a reset (the cautious choice). */
export function failureKindOf (code: string | undefined): FailureKind {
  if (code !== undefined) {
    if (CONNECT_CODES.has(code)) return 'connect'
    if (TIMEOUT_CODES.has(code)) return 'timeout'
  }
  return 'reset'
}

/**
 * May a request that failed this way be sent to another upstream?
 * @param bodyReplayable the request has no body, or we hold all of it and can send it again byte for byte
 */
export function mayRetry (kind: FailureKind, method: string, bodyReplayable: boolean): boolean {
  if (!bodyReplayable) return false
  if (kind === 'connect') return true
  return isIdempotent(method)
}
