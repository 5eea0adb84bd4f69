/**
 * The replica side of the heartbeat registry (layout in registry-keys.ts): a backend announces its own URL for a
 * service, renews the registration every `interval` while `isReady()` says yes, and deregisters when it stops
 * being ready or shuts down. A replica that dies without a word disappears when its TTL (`ttl`, default three
 * intervals) lapses: the gateways' watchers drop it then (and failover covers its requests meanwhile).
 *
 * Fastify-free on purpose: @switchyard/health drives it from its readiness state and its shutdown sequence
 * (deregister first, then let the drain delay run while gateways stop sending), and any process can use it alone.
 * The Redis client is the user's; the announcer never connects, disconnects or closes it.
 */
import { InvalidOptionError } from '../errors.js'
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js'
import {
  DEFAULT_REGISTRY_PREFIX, DEREGISTER_SCRIPT, randomToken, REGISTER_SCRIPT, REGISTRY_KEY_IDLE_TTL, type RegistryKeys,
  registryKeys, type RegistryRedis, runScript, validServiceName
} from './registry-keys.js'
import { MAX_MEMBER_WEIGHT, normaliseUrl } from './registry-state.js'
import { type DiscoveryLogger, errorText, silentDiscoveryLogger } from './types.js'

/** Milliseconds between renewals. */
export const DEFAULT_ANNOUNCE_INTERVAL = 1000
/** The registration lives this many intervals without a renewal (Eureka's lease is 3 heartbeats too). */
export const DEFAULT_ANNOUNCE_TTL_INTERVALS = 3

export interface RegistryAnnouncerOptions {
  /** An ioredis client (`Redis` or `Cluster`); never closed by the announcer. */
  redis: RegistryRedis
  /** Service name the gateways watch (`upstreams: { redis, service }`). */
  service: string
  /** This replica's origin as gateways reach it, e.g. `http://10.0.0.7:3000`. */
  url: string
  /** Share of traffic, an integer from 1. Default 1. */
  weight?: number
  /** Name in the gateways' logs and admin API. Default: the URL. */
  name?: string
  /** Milliseconds between renewals. Default 1000. */
  interval?: number
  /** Milliseconds the registration outlives the last renewal. Default 3 × interval. */
  ttl?: number
  /** First part of the hash tag of every key. Default `switchyard`. */
  prefix?: string
  /** Asked before each renewal: register while true, deregister when it turns false. Default: always ready. */
  isReady?: () => boolean | Promise<boolean>
}

export interface ResolvedAnnouncerOptions {
  readonly redis: RegistryRedis
  readonly service: string
  readonly url: string
  readonly weight: number
  readonly name: string
  readonly interval: number
  readonly ttl: number
  readonly prefix: string
  readonly isReady: () => boolean | Promise<boolean>
}

const KEYS = ['redis', 'service', 'url', 'weight', 'name', 'interval', 'ttl', 'prefix', 'isReady']

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

const alwaysReady = (): boolean => true

/** Validates announcer options; `path` prefixes every message (`announce.url must be …`). */
export function resolveAnnouncerOptions (raw: unknown, path = 'announce'): ResolvedAnnouncerOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${path} must be an object like { redis, service, url }`)
  const config = raw as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!KEYS.includes(key)) fail(`${path}.${key} is not an announce option (use ${KEYS.join(', ')})`)
  }
  const redis = config.redis as Partial<RegistryRedis> | null | undefined
  if (redis === null || typeof redis !== 'object' || typeof redis.evalsha !== 'function' || typeof redis.eval !== 'function') {
    fail(`${path}.redis must be an ioredis client (Redis or Cluster)`)
  }
  if (!validServiceName(config.service)) fail(`${path}.service must be a non-empty name without braces or spaces (got ${JSON.stringify(config.service)})`)
  const url = typeof config.url === 'string' ? normaliseUrl(config.url) : null
  if (url === null) fail(`${path}.url must be an http(s) origin like "http://10.0.0.7:3000" (got ${JSON.stringify(config.url)})`)
  const weight = config.weight ?? 1
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > MAX_MEMBER_WEIGHT) {
    fail(`${path}.weight must be an integer from 1 to ${MAX_MEMBER_WEIGHT} (got ${String(weight)})`)
  }
  const name = config.name ?? url
  if (typeof name !== 'string' || name === '') fail(`${path}.name must be a non-empty string`)
  const interval = config.interval ?? DEFAULT_ANNOUNCE_INTERVAL
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 10) {
    fail(`${path}.interval must be a number of milliseconds, at least 10 (got ${String(interval)})`)
  }
  const ttl = config.ttl ?? DEFAULT_ANNOUNCE_TTL_INTERVALS * interval
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= interval) {
    fail(`${path}.ttl must be a number of milliseconds greater than ${path}.interval (${interval}), e.g. 3 intervals (got ${String(ttl)})`)
  }
  const prefix = config.prefix ?? DEFAULT_REGISTRY_PREFIX
  if (!validServiceName(prefix)) fail(`${path}.prefix must be a non-empty string without braces or spaces`)
  const isReady = config.isReady ?? alwaysReady
  if (typeof isReady !== 'function') fail(`${path}.isReady must be a function`)
  return Object.freeze({
    redis: redis as RegistryRedis,
    service: config.service,
    url,
    weight,
    name,
    interval,
    ttl: Math.round(ttl),
    prefix,
    isReady: isReady as () => boolean | Promise<boolean>
  })
}

export interface RegistryAnnouncerDeps {
  clock?: Clock
  log?: DiscoveryLogger
}

export class RegistryAnnouncer {
  readonly options: ResolvedAnnouncerOptions
  readonly keys: RegistryKeys
  /** Random per instance: only this instance may deregister its registration. */
  readonly id = randomToken()
  private readonly clock: Clock
  private readonly log: DiscoveryLogger
  private readonly meta: string
  private timer: TimerHandle | null = null
  private ticking: Promise<void> | null = null
  private running = false
  private stopped = false
  private failures = 0
  private isRegistered = false
  /** A registration was sent at least once. */
  private attempted = false

  constructor (options: RegistryAnnouncerOptions | ResolvedAnnouncerOptions, deps: RegistryAnnouncerDeps = {}) {
    this.options = resolveAnnouncerOptions(options)
    this.keys = registryKeys(this.options.service, this.options.prefix)
    this.clock = deps.clock ?? systemClock
    this.log = deps.log ?? silentDiscoveryLogger
    const { weight, name, ttl } = this.options
    // Fixed key order: the register script compares it with what is stored to decide whether to publish a join.
    this.meta = JSON.stringify({ id: this.id, weight, name, ttl })
  }

  /** True after a successful registration or renewal, false after deregistering (or before the first). */
  get registered (): boolean { return this.isRegistered }

  /** Registers now (when ready), then renews every interval. */
  start (): void {
    if (this.running || this.stopped) return
    this.running = true
    this.refresh().catch(/* c8 ignore next: tick() catches everything */ () => {})
  }

  /**
   * Runs one renewal now: register when ready, deregister when not. Call it when readiness changes, so a replica
   * joins (or leaves) at once instead of at the next interval. Resolves to the registration state.
   */
  async refresh (): Promise<boolean> {
    if (this.stopped) return false
    if (this.ticking !== null) {
      await this.ticking
      return this.isRegistered
    }
    this.cancelTimer()
    this.ticking = this.tick().finally(() => { this.ticking = null })
    await this.ticking
    this.schedule()
    return this.isRegistered
  }

  /**
   * Leaves now and stops renewing for good (graceful shutdown): gateways drop this replica on the `leave` notice,
   * before its in-flight requests end. Safe to call twice.
   */
  async deregister (): Promise<void> {
    const wasStopped = this.stopped
    this.stopped = true
    this.running = false
    this.cancelTimer()
    if (this.ticking !== null) await this.ticking
    // Also after a failed registration: its reply may be what was lost, not the write.
    if (wasStopped || !this.attempted) return
    await this.leave()
  }

  /** Same as `deregister()`. */
  async close (): Promise<void> {
    await this.deregister()
  }

  private async tick (): Promise<void> {
    let ready: boolean
    try {
      ready = await this.options.isReady()
    } catch (err) {
      this.log.warn({ service: this.options.service, err: errorText(err) }, 'registry announce: isReady() threw, counting as not ready')
      ready = false
    }
    if (this.stopped) return
    if (ready) await this.register()
    else if (this.isRegistered) await this.leave()
  }

  private async register (): Promise<void> {
    const { keys, options } = this
    this.attempted = true
    try {
      const joined = await runScript(options.redis, REGISTER_SCRIPT, [keys.members, keys.meta, keys.left, keys.epoch],
        [options.url, this.meta, options.ttl, keys.channel, randomToken(), Math.max(REGISTRY_KEY_IDLE_TTL, options.ttl)])
      if (this.failures > 0) {
        this.log.info({ service: options.service, url: options.url, failedRenewals: this.failures }, 'registry announce: Redis answers again')
        this.failures = 0
      }
      if (!this.isRegistered || joined === 1) {
        this.log.info({ service: options.service, url: options.url, ttl: options.ttl }, 'registry announce: registered')
      }
      this.isRegistered = true
    } catch (err) {
      if (this.failures++ === 0) {
        this.log.warn({ service: options.service, url: options.url, err: errorText(err) },
          'registry announce: renewal failed, retrying every interval')
      }
    }
  }

  private async leave (): Promise<void> {
    const { keys, options } = this
    try {
      await runScript(options.redis, DEREGISTER_SCRIPT, [keys.members, keys.meta, keys.left],
        [options.url, this.id, options.ttl, keys.channel])
      this.log.info({ service: options.service, url: options.url }, 'registry announce: deregistered')
    } catch (err) {
      // The registration lapses with its TTL anyway.
      this.log.warn({ service: options.service, url: options.url, err: errorText(err) },
        'registry announce: deregistration failed; the registration will lapse with its TTL')
    }
    this.isRegistered = false
  }

  private schedule (): void {
    if (!this.running || this.stopped || this.timer !== null) return
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.refresh().catch(/* c8 ignore next: tick() catches everything */ () => {})
    }, this.options.interval)
  }

  private cancelTimer (): void {
    if (this.timer !== null) {
      this.timer.cancel()
      this.timer = null
    }
  }
}
