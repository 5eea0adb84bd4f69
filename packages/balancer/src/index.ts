/**
 * @switchyard/balancer: a reverse-proxy load balancer with failover for Fastify v5, on @fastify/http-proxy.
 */
import { balancer } from './plugin.js'

export default balancer
export { balancer, type BalancerPluginOptions } from './plugin.js'
export { Balancer, type AttemptOutcome, type EngineDeps, type UpstreamStats } from './balancer.js'
export {
  validateOptions, type BalancerOptions, type ResolvedOptions, type RetryOptions,
  DEFAULT_ALGORITHM, DEFAULT_RETRY_TRIES, DEFAULT_RETRY_TIMEOUT, DEFAULT_RETRY_STATUSES, DEFAULT_MAX_BUFFERED_BODY,
  DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_CONNECTIONS, DEFAULT_PANIC_THRESHOLD, DEFAULT_DECORATOR
} from './options.js'
export {
  InvalidOptionError, UpstreamFailureError, BadGatewayError, GatewayTimeoutError, NoHealthyUpstreamError,
  type UpstreamFailure
} from './errors.js'
export { Upstream, UpstreamFlag, type UpstreamConfig } from './upstream/upstream.js'
export type { Algorithm } from './pickers/index.js'
