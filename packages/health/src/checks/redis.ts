/**
 * Redis check: `PING` through a client the user passes (an ioredis `Redis` or `Cluster`; anything with `ping()`).
 * The client is never connected, disconnected or closed by us.
 *
 * When the client reports a `status` other than `ready` the check fails at once instead of sending a PING:
 * ioredis would queue it in its offline queue (up to ~10 s with v5 defaults) and replay it after reconnecting,
 * so the check would only ever say "timed out" and a stale PING would hit Redis later.
 */
import { InvalidOptionError } from '../errors.js'
import type { HealthCheckFunction } from '../types.js'
import { judge, round2, validateThresholds, type Thresholds } from './threshold.js'

/** The part of an ioredis client the check uses. */
export interface RedisLike {
  ping (): Promise<unknown>
  /** ioredis: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  readonly status?: string
}

export interface RedisCheckOptions extends Thresholds {}

export function redisCheck (client: RedisLike, options: RedisCheckOptions = {}): HealthCheckFunction {
  if (client === null || typeof client !== 'object' || typeof client.ping !== 'function') {
    throw new InvalidOptionError('redisCheck(client): client must be an ioredis client (an object with ping())')
  }
  const thresholds = validateThresholds(options, 'redisCheck', 'milliseconds')
  return async function redisPing () {
    const status = client.status
    if (status !== undefined && status !== 'ready') {
      return { status: 'fail', componentType: 'datastore', output: `redis connection is ${status}` }
    }
    const started = performance.now()
    const reply = await client.ping()
    const elapsed = round2(performance.now() - started)
    if (reply !== 'PONG') {
      return { status: 'fail', componentType: 'datastore', observedValue: elapsed, observedUnit: 'ms', output: `unexpected PING reply ${JSON.stringify(reply)}` }
    }
    return judge(elapsed, 'ms', 'datastore', thresholds)
  }
}
