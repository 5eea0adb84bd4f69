/**
 * Hands `@fastify/session` back the signed session id (the cookie value) it computed for a session on an earlier
 * request, so that a cache hit does not pay an HMAC to sign the same id again, as with its own in-memory store
 * (docs/decisions/0007-session-signed-id-and-benchmark-warm-up.md).
 *
 * `@fastify/session` 11 builds each request's `Session` from what the store's `get` returned, and takes the signed
 * id from it instead of signing when it carries one for the same id (lib/session.js:
 * `prevSession[sessionIdKey] === sessionId && prevSession[encryptedSessionIdKey] || cookieSigner.sign(...)`). Its
 * in-memory store returns the `Session` object itself, so it signs once per session; any other store returns plain
 * data, and the id is signed on every request.
 *
 * Those keys are module-private Symbols. They are found by their descriptions on a `Session` that `@fastify/session`
 * passed to `set`, and used only once their values match the public getters `sessionId` and `encryptedSessionId`.
 * Anything unexpected turns the reuse off, and `@fastify/session` then signs as usual: the worst case is the cost
 * this saves, never a wrong cookie. No Fastify import: it only reads the objects it is given.
 */

/** The descriptions of `@fastify/session`'s Symbols (lib/session.js). */
const ID = 'sessionId'
const SIGNED_ID = 'encryptedSessionId'
const SIGNER = 'cookieSignerKey'

type Keyed = Record<symbol, unknown> & { sessionId?: unknown, encryptedSessionId?: unknown }

export class SignedIdReuse {
  #idKey: symbol | undefined
  #signedKey: symbol | undefined
  #signerKey: symbol | undefined
  /** The cookie signer of the first `Session` seen: a signed id is only valid for the secret that made it. */
  #signer: unknown
  #off = false

  /** False once something unexpected was seen: `@fastify/session` signs every request itself. */
  get enabled (): boolean { return !this.#off }

  /**
   * The signed id of `session` (what `@fastify/session` passed to the store's `set` for `sessionId`), when it can be
   * handed back on a later `get`; undefined otherwise. A plain object (not a `Session`) is ignored.
   */
  learn (sessionId: string, session: object): string | undefined {
    if (this.#off) return undefined
    const s = session as Keyed
    if (this.#idKey === undefined && !this.#detect(s)) return undefined
    // Two session plugins with different secrets sharing this store: an id signed by one is no cookie of the other.
    if (s[this.#signerKey as symbol] !== this.#signer) { this.#off = true; return undefined }
    const signed = s[this.#signedKey as symbol]
    if (s[this.#idKey as symbol] !== sessionId || typeof signed !== 'string') return undefined
    return signed
  }

  /** Marks `data`, what `get` is about to return for `sessionId`, as carrying its signed id. */
  attach (data: object, sessionId: string, signedId: string): void {
    if (this.#off || this.#idKey === undefined) return
    const d = data as Keyed
    d[this.#idKey] = sessionId
    d[this.#signedKey as symbol] = signedId
  }

  /** Finds the three Symbols on a `Session`; false (and nothing learned) when `session` is not one. */
  #detect (session: Keyed): boolean {
    let idKey: symbol | undefined
    let signedKey: symbol | undefined
    let signerKey: symbol | undefined
    for (const key of Object.getOwnPropertySymbols(session)) {
      if (key.description === ID) idKey = key
      else if (key.description === SIGNED_ID) signedKey = key
      else if (key.description === SIGNER) signerKey = key
    }
    if (idKey === undefined || signedKey === undefined || signerKey === undefined) return false
    const signer = session[signerKey] as { sign?: unknown } | undefined
    const matches = typeof session[idKey] === 'string' && session[idKey] === session.sessionId &&
      typeof session[signedKey] === 'string' && session[signedKey] === session.encryptedSessionId &&
      typeof signer?.sign === 'function'
    if (!matches) {
      this.#off = true // a Session whose Symbols no longer mean what they did: a later @fastify/session
      return false
    }
    this.#idKey = idKey
    this.#signedKey = signedKey
    this.#signerKey = signerKey
    this.#signer = signer
    return true
  }
}
