/**
 * @switchyard/health: /health/live, /health/ready, /health/startup and /health in application/health+json,
 * with per-check timeouts, cached single-flight checks and a graceful drain, as a Fastify v5 plugin.
 */
import { health } from './plugin.js'

export default health
export { health, type FastifyHealthOptions } from './plugin.js'
export {
  validateOptions,
  DEFAULT_TIMEOUT,
  DEFAULT_CACHE_TTL,
  DEFAULT_REFRESH_INTERVAL,
  DEFAULT_CRITICAL,
  DEFAULT_PREFIX,
  DEFAULT_PATHS,
  DEFAULT_CACHE_CONTROL,
  DEFAULT_DRAIN_DELAY,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HOOK_TIMEOUT,
  DEFAULT_SIGNALS,
  type HealthOptions,
  type ShutdownOptions,
  type AnnounceOptions,
  type ProbeKind,
  type LogLevel,
  type ResolvedOptions
} from './options.js'
export { InvalidOptionError, CheckTimeoutError, CheckAbortedError } from './errors.js'
export {
  redisCheck,
  httpCheck,
  eventLoopDelayCheck,
  eventLoopUtilizationCheck,
  heapCheck,
  rssCheck,
  type RedisCheckOptions,
  type RedisLike,
  type HttpCheckOptions,
  type EventLoopDelayCheckOptions,
  type EventLoopUtilizationCheckOptions,
  type Thresholds
} from './checks/index.js'
export { HEALTH_CONTENT_TYPE } from './report/body.js'
export type { CheckStatus, CheckResult, HealthReport, HealthCheckEntry, ReportMeta } from './report/types.js'
export type { CheckContext, CheckOutcome, CheckReturn, CheckDefinition, HealthCheckFunction } from './types.js'
export type { HealthApi, ReadinessListener } from './engine.js'
export type { DrainHook, DrainInfo, DrainOptions, LifecycleState, StateListener } from './lifecycle.js'
