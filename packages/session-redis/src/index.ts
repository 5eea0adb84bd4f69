/**
 * @switchyard/session-redis: an ioredis store for `@fastify/session` 11 that keeps sessions across replicas
 * without lost updates. See README.md for the options, the consistency model and the failover recipes.
 */
import { RedisStore } from './store.js'

export { RedisStore, SNAPSHOT_KEY, type SessionData, type StoreCallback, type GetCallback, type StoreStats } from './store.js'
export {
  validateOptions, DEFAULT_PREFIX, DEFAULT_TTL, DEFAULT_TIMEOUT, DEFAULT_MAX_SIZE, DEFAULT_TOMBSTONE_TIME, DEFAULT_ROLLING,
  DEFAULT_CACHE_TTL, DEFAULT_CACHE_MAX_ENTRIES, type ClientSideCacheOptions,
  type RedisStoreOptions, type ResolvedOptions, type Serializer, type StoreLogger, type RedisClient
} from './options.js'
export type { TtlOption, CookieLike } from './ttl.js'
export {
  InvalidOptionError, RedisUnavailableError, RedisTimeoutError, SessionTooLargeError, SerializeError,
  SessionIdConflictError, StoreCommandError
} from './errors.js'
export default RedisStore
