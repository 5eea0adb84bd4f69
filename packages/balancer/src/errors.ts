/**
 * Errors of @switchyard/balancer: `@fastify/error` classes with stable `SWY_BALANCER_*` codes and HTTP statuses,
 * so an upstream failure always reaches the client as a 502/503/504 JSON error, never a raw throw or a 500.
 * The failure that caused one is in `cause`.
 */
import createError from '@fastify/error'

export const InvalidOptionError = createError('SWY_BALANCER_INVALID_OPTION', '@switchyard/balancer: %s', 500, TypeError)

/** Parent of every upstream failure: `instanceof UpstreamFailureError` catches them all. */
export const UpstreamFailureError = createError('SWY_BALANCER_UPSTREAM_FAILURE', 'Upstream failure: %s', 502)
// @fastify/error's types only accept ErrorConstructor as a parent; its runtime takes any error class.
const UpstreamFailureBase = UpstreamFailureError as unknown as ErrorConstructor

/** Every attempt failed with a connection error, a reset, or a retryable status (502). */
export const BadGatewayError = createError('SWY_BALANCER_BAD_GATEWAY', 'Bad gateway: %s', 502, UpstreamFailureBase)

/** The last attempt timed out waiting for the upstream's response headers (504). */
export const GatewayTimeoutError = createError('SWY_BALANCER_UPSTREAM_TIMEOUT', 'Gateway timeout: %s', 504, UpstreamFailureBase)

/** No upstream could be tried at all (503). */
export const NoHealthyUpstreamError = createError('SWY_BALANCER_NO_HEALTHY_UPSTREAM', 'No upstream available: %s', 503, UpstreamFailureBase)

/**
 * Every upstream that could be tried is at `maxInFlightPerUpstream` (circuit breaking): 503, with a
 * `Retry-After` header set by the plugin from `retryAfter` (seconds).
 */
export const UpstreamsSaturatedError = createError('SWY_BALANCER_UPSTREAMS_SATURATED', 'Upstreams saturated: %s', 503, UpstreamFailureBase)

/** Any of the upstream failure errors above. */
export type UpstreamFailure = Error & { code: string, statusCode: number }

/** Finds our error in a chain of causes (reply-from wraps what the dispatcher reports). */
export function findUpstreamFailure (error: unknown): UpstreamFailure | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    if (current instanceof UpstreamFailureError) return current
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
