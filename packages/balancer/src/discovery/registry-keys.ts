/**
 * The Redis layout of the heartbeat registry, shared by the replica side (`RegistryAnnouncer`) and the gateway side
 * (`RegistryWatcher`), and the Lua scripts that read and write it.
 *
 * Per service, every key carries the hash tag `{<prefix>:<service>}`, so one service lives in one Redis Cluster slot
 * and every script touches a single slot:
 *
 * | key                             | type   | holds                                                                 |
 * |---------------------------------|--------|-----------------------------------------------------------------------|
 * | `{switchyard:orders}:members`   | ZSET   | url → expiry (ms, Redis server time); expired when the score is past  |
 * | `{switchyard:orders}:meta`      | HASH   | url → JSON `{ id, weight, name, ttl }` of the live registration       |
 * | `{switchyard:orders}:left`      | ZSET   | url → forget-at: tombstones of graceful leaves, kept one TTL          |
 * | `{switchyard:orders}:epoch`     | STRING | a random token set by the first registration: changes when Redis lost its data |
 * | `{switchyard:orders}:events`    | channel| `join`/`leave` notices (PUBLISH reaches every node of a cluster)      |
 *
 * Expiry is computed from Redis' own `TIME`, so replicas and gateways with skewed clocks agree. Scripts need Redis
 * ≥ 5 (effects replication: a script may write after calling TIME); `replicate_commands()` is called when present.
 */
import { createHash, randomBytes } from 'node:crypto'

export const DEFAULT_REGISTRY_PREFIX = 'switchyard'

/**
 * The part of an ioredis client (`Redis` or `Cluster`) the registry uses. Structural, so the balancer's types do not
 * require ioredis (an optional peer dependency).
 */
export interface RegistryRedis {
  evalsha (sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  eval (script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
}

/** A connection in subscriber mode, made with `client.duplicate()`. */
export interface RegistrySubscriber {
  subscribe (channel: string): Promise<unknown>
  on (event: string, listener: (...args: any[]) => void): unknown
  removeAllListeners (event?: string): unknown
  disconnect (): void
}

/** The gateway side also subscribes, on a connection of its own made with `duplicate()`. */
export interface RegistryRedisClient extends RegistryRedis {
  duplicate (): RegistrySubscriber
}

export interface RegistryKeys {
  readonly members: string
  readonly meta: string
  readonly left: string
  readonly epoch: string
  readonly channel: string
}

/** Service names become part of a hash tag: no braces, no whitespace. */
export function validServiceName (service: unknown): service is string {
  return typeof service === 'string' && service !== '' && service.length <= 200 && !/[{}\s]/.test(service)
}

export function registryKeys (service: string, prefix = DEFAULT_REGISTRY_PREFIX): RegistryKeys {
  const tag = `{${prefix}:${service}}`
  return Object.freeze({
    members: `${tag}:members`,
    meta: `${tag}:meta`,
    left: `${tag}:left`,
    epoch: `${tag}:epoch`,
    channel: `${tag}:events`
  })
}

/** How long (ms) the registry's keys outlive the last registration: a service nobody announces any more is dropped. */
export const REGISTRY_KEY_IDLE_TTL = 24 * 60 * 60 * 1000

const NOW = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/** Drops members whose expiry passed (and their meta) and tombstones past their forget-at time. */
const SWEEP = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, url in ipairs(expired) do redis.call('HDEL', KEYS[2], url) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
`

/**
 * Register or renew. KEYS: members, meta, left, epoch. ARGV: url, meta JSON, ttl ms, channel, epoch token, idle ttl.
 * Returns 1 when the member is new or its meta changed (a `join` was published), else 0.
 */
export const REGISTER_SCRIPT = `${NOW}${SWEEP}
redis.call('SET', KEYS[4], ARGV[5], 'NX')
local previous = redis.call('HGET', KEYS[2], ARGV[1])
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
if added == 1 or previous ~= ARGV[2] then
  redis.call('PUBLISH', ARGV[4], cjson.encode({ type = 'join', url = ARGV[1] }))
  return 1
end
return 0
`

/**
 * Deregister. KEYS: members, meta, left. ARGV: url, instance id, tombstone ttl ms, channel.
 * Only the instance that registered may deregister (a replica restarted on the same port is not removed by the
 * late goodbye of its predecessor). Leaves a tombstone so gateways drop it at once, not at its expiry.
 * Returns 1 when it was removed, 0 when another instance holds the url.
 */
export const DEREGISTER_SCRIPT = `${NOW}
local meta = redis.call('HGET', KEYS[2], ARGV[1])
if meta then
  local ok, decoded = pcall(cjson.decode, meta)
  if ok and type(decoded) == 'table' and decoded.id ~= ARGV[2] then return 0 end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], cjson.encode({ type = 'leave', url = ARGV[1] }))
return 1
`

/**
 * Read (no writes, so it also runs where only reads are allowed). KEYS: members, meta, left, epoch.
 * Returns { now, epoch or '', live { url, expiry, meta, … }, left { url, … } }.
 */
export const READ_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('GET', KEYS[4]) or ''
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
end
local left = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf')
return { now, epoch, out, left }
`

const shas = new Map<string, string>()

/** The SHA1 Redis knows a script by (computed once per script). */
export function scriptSha (source: string): string {
  let sha = shas.get(source)
  if (sha === undefined) {
    sha = createHash('sha1').update(source).digest('hex')
    shas.set(source, sha)
  }
  return sha
}

/** EVALSHA, falling back to EVAL (which caches the script) after a restart or failover emptied the script cache. */
export async function runScript (client: RegistryRedis, source: string, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(scriptSha(source), keys.length, ...keys, ...args)
  } catch (err) {
    if (!String((err as Error | undefined)?.message ?? '').startsWith('NOSCRIPT')) throw err
    return await client.eval(source, keys.length, ...keys, ...args)
  }
}

/** A random token: an epoch, or an announcer's instance id. */
export function randomToken (): string {
  return randomBytes(9).toString('base64url')
}
