/**
 * Errors of @switchyard/session-redis: `@fastify/error` classes with stable `SWY_SESSION_*` codes and HTTP statuses.
 * `@fastify/session` hands a store error to Fastify's error handler (from `onRequest` for `get`, from `onSend` for
 * `set`), so the status and code here are what the client sees: Redis trouble is a 503 with a code that says so,
 * never a hang or an anonymous 500. The underlying failure is in `cause`.
 */
import createError from '@fastify/error'

export const InvalidOptionError = createError('SWY_SESSION_INVALID_OPTION', '@switchyard/session-redis: %s', 500, TypeError)

/** Parent of every "Redis cannot answer right now" failure: `instanceof RedisUnavailableError` catches them all. */
export const RedisUnavailableError = createError('SWY_SESSION_REDIS_UNAVAILABLE', 'Session store unavailable: %s', 503)
// @fastify/error's types only accept ErrorConstructor as a parent; its runtime takes any error class.
const UnavailableBase = RedisUnavailableError as unknown as ErrorConstructor

/** A command was sent but no reply came within `timeout` ms (a frozen or partitioned Redis). */
export const RedisTimeoutError = createError(
  'SWY_SESSION_REDIS_TIMEOUT', 'Session store did not answer within %d ms', 503, UnavailableBase)

/**
 * The session would exceed `maxSize` bytes once written. 500, not 413: the size is server-side state the
 * application chose to keep, and a 413 would tell the client to shrink a request it cannot change.
 */
export const SessionTooLargeError = createError(
  'SWY_SESSION_TOO_LARGE', 'Session is %d bytes, more than maxSize (%d bytes)', 500)

/** A session value the serializer could not turn into a string (a BigInt or a cycle with JSON). */
export const SerializeError = createError('SWY_SESSION_SERIALIZE', 'Session key "%s" could not be serialized', 500)

/**
 * A brand-new session id was already taken by a live session. Ids are 192 random bits, so this means a bug
 * (two sessions built with one id), never bad luck; the store refuses rather than overwrite someone's session.
 */
export const SessionIdConflictError = createError(
  'SWY_SESSION_ID_CONFLICT', 'Session id is already in use; refusing to overwrite another session', 500)

/** Redis answered with an error that is not about availability (a script or data problem). */
export const StoreCommandError = createError('SWY_SESSION_COMMAND_FAILED', 'Session store command failed: %s', 500)
