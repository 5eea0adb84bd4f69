/**
 * The gateway side of the heartbeat registry: learns a service's replicas from Redis (layout in registry-keys.ts).
 *
 * - Joins and leaves arrive as pub/sub notices on `{prefix:service}:events`, on a connection of our own made with
 *   `client.duplicate()` (a subscribed connection can do nothing else). A notice only triggers a read: the
 *   registry itself is the truth, the notice is a hint that it changed.
 * - A periodic read every `interval` reconciles, so a lost notice (subscriber reconnecting, a cluster node
 *   failing over) cannot leave the view wrong for longer than one interval. A read is also scheduled for the
 *   earliest member expiry, so a replica that died without deregistering is dropped when its TTL lapses.
 * - While Redis does not answer, the last known members stay (RegistryState explains how a restart is told apart
 *   from replicas leaving).
 *
 * Consul's blocking queries + anti-entropy and Eureka's heartbeats with lease expiry follow the same shape: a
 * push for speed, a periodic pull for correctness, a lease for crashed members.
 */
import { InvalidOptionError } from '../errors.js'
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js'
import { type Member, membershipChange } from './diff.js'
import {
  DEFAULT_REGISTRY_PREFIX, READ_SCRIPT, type RegistryKeys, registryKeys, type RegistryRedisClient, type RegistrySubscriber,
  runScript, validServiceName
} from './registry-keys.js'
import { type RegistryEntry, type RegistrySnapshot, RegistryState } from './registry-state.js'
import { type Discovery, type DiscoveryLogger, errorText, type MembershipListener, silentDiscoveryLogger } from './types.js'

/** Milliseconds between two reconciling reads (and the announcers' default renewal interval). */
export const DEFAULT_REGISTRY_INTERVAL = 1000
/** A read still unanswered after this many intervals counts as failed (a new one may start). */
const READ_TIMEOUT_INTERVALS = 3
/** A read is made this long after the earliest expiry, so the member is really gone from Redis' view too. */
const EXPIRY_SLACK = 5

export interface RegistryDiscoveryOptions {
  /** An ioredis client (`Redis` or `Cluster`). Not closed by the balancer; a duplicate is made for pub/sub. */
  redis: RegistryRedisClient
  /** The service name the replicas announce under. */
  service: string
  /** Milliseconds between reconciling reads. Default 1000. */
  interval?: number
  /** First part of the hash tag of every key. Default `switchyard`. */
  prefix?: string
}

export interface ResolvedRegistryDiscoveryOptions {
  readonly redis: RegistryRedisClient
  readonly service: string
  readonly interval: number
  readonly prefix: string
}

const KEYS = ['redis', 'service', 'interval', 'prefix']

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

/** Validates `upstreams: { redis, service }` once, at registration; messages name the option path. */
export function resolveRegistryDiscoveryOptions (raw: unknown, path = 'upstreams'): ResolvedRegistryDiscoveryOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${path} must be an object like { redis, service }`)
  const config = raw as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!KEYS.includes(key)) fail(`${path}.${key} is not a registry discovery option (use ${KEYS.join(', ')})`)
  }
  const redis = config.redis as Partial<RegistryRedisClient> | null | undefined
  if (redis === null || typeof redis !== 'object' || typeof redis.evalsha !== 'function' || typeof redis.eval !== 'function' ||
    typeof redis.duplicate !== 'function') {
    fail(`${path}.redis must be an ioredis client (Redis or Cluster)`)
  }
  if (!validServiceName(config.service)) fail(`${path}.service must be a non-empty name without braces or spaces (got ${JSON.stringify(config.service)})`)
  const prefix = config.prefix ?? DEFAULT_REGISTRY_PREFIX
  if (!validServiceName(prefix)) fail(`${path}.prefix must be a non-empty string without braces or spaces (got ${JSON.stringify(prefix)})`)
  const interval = config.interval ?? DEFAULT_REGISTRY_INTERVAL
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 10) {
    fail(`${path}.interval must be a number of milliseconds, at least 10 (got ${String(interval)})`)
  }
  return Object.freeze({ redis: redis as RegistryRedisClient, service: config.service, interval, prefix })
}

export interface RegistryWatcherDeps {
  onChange: MembershipListener
  clock?: Clock
  log?: DiscoveryLogger
}

export class RegistryWatcher implements Discovery {
  readonly keys: RegistryKeys
  private readonly state: RegistryState
  private readonly clock: Clock
  private readonly log: DiscoveryLogger
  private current: readonly Member[] = []
  private subscriber: RegistrySubscriber | null = null
  private timer: TimerHandle | null = null
  private reading: Promise<void> | null = null
  /** Another read was asked for while one was running. */
  private again = false
  private closed = false
  /** Consecutive failed reads (logged on the first, and on recovery). */
  private failures = 0
  /** Reads completed successfully (for status and tests). */
  reads = 0

  constructor (readonly options: ResolvedRegistryDiscoveryOptions, private readonly deps: RegistryWatcherDeps) {
    this.keys = registryKeys(options.service, options.prefix)
    this.clock = deps.clock ?? systemClock
    this.log = deps.log ?? silentDiscoveryLogger
    this.state = new RegistryState({
      staleAfter: 2 * options.interval,
      onInvalid: (url, reason) => {
        this.log.warn({ service: options.service, url, reason }, 'registry discovery: ignoring an invalid registration')
      }
    })
  }

  get members (): readonly Member[] { return this.current }

  /** Subscribes, then reads once. Neither blocks longer than the read timeout when Redis is down. */
  async start (): Promise<void> {
    if (this.closed || this.subscriber !== null) return
    const subscriber = this.options.redis.duplicate()
    this.subscriber = subscriber
    subscriber.on('message', (channel: string) => {
      if (channel === this.keys.channel) this.reconcile()
    })
    // After a reconnect ioredis re-subscribes by itself; notices sent meanwhile are lost, so read now.
    subscriber.on('ready', () => { this.reconcile() })
    // Without a listener ioredis prints every connection error; the read failures are logged already.
    subscriber.on('error', () => {})
    const subscribed = subscriber.subscribe(this.keys.channel).then(() => true, (err: unknown) => {
      if (!this.closed) this.log.warn({ service: this.options.service, err: errorText(err) }, 'registry discovery: subscribe failed, relying on periodic reads')
      return false
    })
    await Promise.all([this.bounded(subscribed), this.read()])
  }

  /** Reads the registry now (coalesced with a read in flight). */
  reconcile (): void {
    if (this.closed) return
    if (this.reading !== null) {
      this.again = true
      return
    }
    this.read().catch(/* c8 ignore next: read() catches everything */ () => {})
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.cancelTimer()
    const subscriber = this.subscriber
    this.subscriber = null
    if (subscriber !== null) {
      subscriber.removeAllListeners('message')
      subscriber.removeAllListeners('ready')
      subscriber.disconnect()
    }
  }

  private async read (): Promise<void> {
    this.cancelTimer()
    const attempt = this.readOnce()
    this.reading = attempt
    try {
      await attempt
    } finally {
      this.reading = null
    }
    if (this.closed) return
    if (this.again) {
      this.again = false
      return await this.read()
    }
    this.schedule()
  }

  private async readOnce (): Promise<void> {
    const { redis } = this.options
    const keys = this.keys
    let snapshot: RegistrySnapshot
    try {
      const reply = await this.bounded(runScript(redis, READ_SCRIPT, [keys.members, keys.meta, keys.left, keys.epoch], []))
      if (reply === undefined) throw new Error(`no answer within ${READ_TIMEOUT_INTERVALS * this.options.interval} ms`)
      snapshot = parseSnapshot(reply)
    } catch (err) {
      if (this.closed) return
      this.state.failed()
      if (this.failures++ === 0) {
        this.log.warn({ service: this.options.service, err: errorText(err), keeping: this.current.length },
          'registry discovery: Redis read failed, keeping the last known members')
      }
      return
    }
    if (this.closed) return
    if (this.failures > 0) {
      this.log.info({ service: this.options.service, failedReads: this.failures }, 'registry discovery: Redis answers again')
      this.failures = 0
    }
    this.reads++
    const desired = this.state.apply(snapshot, this.clock.now())
    const change = membershipChange(this.current, desired)
    if (change === null) return
    this.current = desired
    this.log.info({
      service: this.options.service,
      added: change.added.map((m) => m.name),
      removed: change.removed.map((m) => m.name),
      updated: change.updated.map((m) => m.name)
    }, 'registry discovery: members changed')
    try {
      this.deps.onChange(change)
    } catch (err) {
      this.log.warn({ service: this.options.service, err: errorText(err) }, 'registry discovery: the membership listener threw')
    }
  }

  /** The promise's value, or undefined when it does not settle within the read timeout. */
  private async bounded<T> (promise: Promise<T>): Promise<T | undefined> {
    let timer: TimerHandle | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = this.clock.setTimeout(() => { resolve(undefined) }, READ_TIMEOUT_INTERVALS * this.options.interval)
    })
    try {
      return await Promise.race([promise, timeout])
    } finally {
      timer?.cancel()
    }
  }

  private schedule (): void {
    if (this.closed) return
    const untilExpiry = this.state.nextExpiry() - this.clock.now() + EXPIRY_SLACK
    const delay = Math.max(EXPIRY_SLACK, Math.min(this.options.interval, untilExpiry))
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.reconcile()
    }, delay)
  }

  private cancelTimer (): void {
    if (this.timer !== null) {
      this.timer.cancel()
      this.timer = null
    }
  }
}

/** Parses the READ_SCRIPT reply; throws on a shape it does not know. */
export function parseSnapshot (reply: unknown): RegistrySnapshot {
  if (!Array.isArray(reply) || reply.length !== 4) throw new Error('unexpected registry read reply')
  const [now, epoch, flat, left] = reply as [unknown, unknown, unknown, unknown]
  if (typeof now !== 'number' || !Array.isArray(flat) || !Array.isArray(left)) throw new Error('unexpected registry read reply')
  const live: RegistryEntry[] = []
  for (let i = 0; i + 2 < flat.length; i += 3) {
    live.push({ url: String(flat[i]), expiresAt: Number(flat[i + 1]), meta: flat[i + 2] === null ? '' : String(flat[i + 2]) })
  }
  return { serverNow: now, epoch: epoch === null ? '' : String(epoch), live, left: left.map(String) }
}
