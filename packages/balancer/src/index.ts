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
  type HealthCheckOptions, type OutlierDetectionOptionsInput, type SlowStartOptionsInput, type RetryBudgetInput,
  type UpstreamOptions, type UpstreamHealthCheckOption,
  DEFAULT_HEALTH_CHECK_PATH, DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_HEALTH_CHECK_JITTER, DEFAULT_HEALTH_CHECK_TIMEOUT,
  DEFAULT_HEALTH_CHECK_INITIAL_STATE, DEFAULT_EXPECTED_STATUSES, DEFAULT_HEALTHY_THRESHOLD, DEFAULT_UNHEALTHY_THRESHOLD,
  DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_CONSECUTIVE_5XX, DEFAULT_BASE_EJECTION_TIME, DEFAULT_MAX_EJECTION_TIME,
  DEFAULT_MAX_EJECTION_PERCENT, DEFAULT_EJECTION_JITTER, DEFAULT_UNEJECT_ON_HEALTH_CHECK,
  DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_RETRY_BUDGET_MIN_PER_SECOND, DEFAULT_RETRY_BUDGET_WINDOW,
  DEFAULT_SLOW_START_WINDOW, DEFAULT_SLOW_START_MIN_WEIGHT_PERCENT, DEFAULT_SLOW_START_AGGRESSION,
  DEFAULT_MAX_IN_FLIGHT_PER_UPSTREAM, DEFAULT_SATURATED_RETRY_AFTER
} from './options.js'
export {
  BalancerEvents, BALANCER_EVENTS, type BalancerEventMap, type BalancerEventName, type BalancerListener,
  type UpstreamEvent, type PanicEvent, type TransitionReason
} from './events.js'
export {
  InvalidOptionError, UpstreamFailureError, BadGatewayError, GatewayTimeoutError, NoHealthyUpstreamError,
  UpstreamsSaturatedError, type UpstreamFailure
} from './errors.js'
export { Upstream, UpstreamFlag, type UpstreamConfig } from './upstream/upstream.js'
export type { Algorithm } from './pickers/index.js'
export {
  type MetricsOptions, type StatusPageOptions, type ResolvedMetricsOptions, type ResolvedStatusPageOptions,
  DEFAULT_METRICS_ROUTE, DEFAULT_METRICS_PREFIX, DEFAULT_METRICS_BUCKETS, DEFAULT_STATUS_PAGE_ROUTE, DEFAULT_BALANCER_LABEL
} from './options.js'
export type { StatusReport, UpstreamStatus, HealthCheckStatus, RetryBudgetStatus } from './status/report.js'
export type { UpstreamState } from './status/upstream-state.js'
export { StatusUnauthorizedError } from './status/auth.js'
export {
  type DnsDiscoveryOptions, type RegistryDiscoveryOptions, type DnsFamily, type Member, type MembershipChange,
  RegistryAnnouncer, type RegistryAnnouncerOptions, registryKeys,
  DEFAULT_DNS_REFRESH_MIN, DEFAULT_DNS_REFRESH_MAX, DEFAULT_DNS_TIMEOUT, DEFAULT_DNS_FAMILY, DEFAULT_REGISTRY_INTERVAL,
  DEFAULT_REGISTRY_PREFIX, DEFAULT_ANNOUNCE_INTERVAL, DEFAULT_ANNOUNCE_TTL_INTERVALS
} from './discovery/index.js'
export { type SharedHealthOptions, DEFAULT_SHARED_HEALTH_HOLD, DEFAULT_SHARED_HEALTH_CHANNEL } from './discovery/shared-health.js'
export { type AdminOptions, type AdminUpstream, DEFAULT_ADMIN_PREFIX } from './admin/admin-api.js'
