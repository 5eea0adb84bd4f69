/**
 * Who may see the status page: a bearer token (`Authorization: Bearer <token>` or `?token=<token>`, compared in
 * constant time) or the user's `authorize(request)` hook; a request that brings either is let in. With neither
 * configured the page is open (the README says to keep it on an internal listener then). No Fastify here.
 */
import createError from '@fastify/error'
import { createHash, timingSafeEqual } from 'node:crypto'

/** The status page or its JSON without a valid token, or refused by `authorize` (401). */
export const StatusUnauthorizedError = createError('SWY_BALANCER_STATUS_UNAUTHORIZED',
  'The status page needs a valid token (Authorization: Bearer <token> or ?token=<token>)%s', 401)

/** Sent with 401 answers (RFC 6750 §3). */
export const WWW_AUTHENTICATE = 'Bearer realm="switchyard"'

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** The token a request brings: from `Authorization: Bearer`, else from the `token` query parameter. */
export function presentedToken (authorization: unknown, queryToken: unknown): string | undefined {
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    if (match !== null) return match[1]
  }
  return typeof queryToken === 'string' && queryToken !== '' ? queryToken : undefined
}

export interface AccessRules<Request> {
  token: string | null
  authorize: ((request: Request) => boolean | Promise<boolean>) | null
}

/**
 * Answers whether the request may see the page. A throwing or rejecting `authorize` means no (and the error
 * goes to `onError`, for the log), never a 500.
 */
export async function isAllowed<Request> (
  rules: AccessRules<Request>,
  request: Request,
  authorization: unknown,
  queryToken: unknown,
  onError: (err: unknown) => void
): Promise<boolean> {
  if (rules.token === null && rules.authorize === null) return true
  if (rules.token !== null) {
    const presented = presentedToken(authorization, queryToken)
    // Hashing first gives equal lengths, so timingSafeEqual leaks neither the token nor its length.
    if (presented !== undefined && timingSafeEqual(digest(presented), digest(rules.token))) return true
  }
  if (rules.authorize !== null) {
    try {
      return (await rules.authorize(request)) === true
    } catch (err) {
      onError(err)
      return false
    }
  }
  return false
}
