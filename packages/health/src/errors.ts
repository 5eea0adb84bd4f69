/**
 * Errors of @switchyard/health, made with @fastify/error: a stable `SWY_HEALTH_*` code each.
 * `InvalidOptionError` fails `register`; the other two are the abort reasons a check's `signal` carries.
 */
import createError from '@fastify/error'

/** Bad options: the message names the option path, e.g. `checks["redis:ping"].timeout must be …`. */
export const InvalidOptionError = createError('SWY_HEALTH_INVALID_OPTION', '%s', 500, TypeError)

/** A check did not settle within its `timeout`: its result is `fail` with output "timed out after N ms". */
export const CheckTimeoutError = createError('SWY_HEALTH_CHECK_TIMEOUT', 'health check %s timed out after %d ms', 503)

/** The plugin closed while a check was still running. */
export const CheckAbortedError = createError('SWY_HEALTH_CHECK_ABORTED', 'health check %s aborted: the health plugin is closing', 503)
