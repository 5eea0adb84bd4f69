/**
 * A health view shared by several gateways over Redis pub/sub (opt-in `sharedHealth`).
 *
 * Each gateway publishes its own verdicts: an ejection or a failed active check as `fail`, a restore or a passed
 * check as `ok`. A gateway that hears another's `fail` about an upstream it also balances sets one flag on it,
 * `REMOTE_FAILED`, for a short hold (the ejection time the other gateway chose, capped by `hold`): it stops sending
 * new requests there within a pub/sub hop, long before its own outlier detector would have counted the failures.
 *
 * Trust is asymmetric on purpose. A remote `ok` only clears the flag a remote `fail` set; it never clears this
 * gateway's own ejection or failed health check (a peer cannot vouch for a path it does not use). And a remote
 * `fail` is doubt, not a wall: a remotely flagged upstream is "in doubt" like any other, so the last-resort rule
 * (DESIGN.md principle 5) and panic mode still reach it, and the flag lapses on its own if the peer goes quiet.
 *
 * Remote flags emit no transition event, so verdicts never echo between gateways. Fastify-free; the client is the
 * user's (a duplicate is made for the subscription and closed here).
 */
import type { BalancerEvents, BalancerEventName, BalancerListener, UpstreamEvent } from '../events.js'
import { InvalidOptionError } from '../errors.js'
import { type Upstream, UpstreamFlag } from '../upstream/upstream.js'
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js'
import { randomToken, type RegistrySubscriber } from './registry-keys.js'
import { type DiscoveryLogger, errorText, silentDiscoveryLogger } from './types.js'

/** Longest a remote `fail` keeps an upstream out, unless the peer's ejection time is shorter. */
export const DEFAULT_SHARED_HEALTH_HOLD = 10_000
export const DEFAULT_SHARED_HEALTH_CHANNEL = 'switchyard:health'

/** The part of an ioredis client shared health uses. */
export interface SharedHealthRedis {
  publish (channel: string, message: string): Promise<unknown>
  duplicate (): RegistrySubscriber
}

export interface SharedHealthOptions {
  /** An ioredis client (`Redis` or `Cluster`); not closed by the balancer. */
  redis: SharedHealthRedis
  /** Pub/sub channel; gateways of one fleet share it. Default `switchyard:health`. */
  channel?: string
  /** Longest a remote failure keeps an upstream out, in ms. Default 10 000. */
  hold?: number
}

export interface ResolvedSharedHealthOptions {
  readonly redis: SharedHealthRedis
  readonly channel: string
  readonly hold: number
}

export function resolveSharedHealthOptions (raw: unknown, path = 'sharedHealth'): ResolvedSharedHealthOptions {
  const fail = (message: string): never => { throw new InvalidOptionError(message) }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`${path} must be an object like { redis }`)
  const config = raw as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!['redis', 'channel', 'hold'].includes(key)) fail(`${path}.${key} is not a sharedHealth option (use redis, channel, hold)`)
  }
  const redis = config.redis as Partial<SharedHealthRedis> | null | undefined
  if (redis === null || typeof redis !== 'object' || typeof redis.publish !== 'function' || typeof redis.duplicate !== 'function') {
    fail(`${path}.redis must be an ioredis client (Redis or Cluster)`)
  }
  const channel = config.channel ?? DEFAULT_SHARED_HEALTH_CHANNEL
  if (typeof channel !== 'string' || channel === '') fail(`${path}.channel must be a non-empty string`)
  const hold = config.hold ?? DEFAULT_SHARED_HEALTH_HOLD
  if (typeof hold !== 'number' || !Number.isFinite(hold) || hold <= 0) fail(`${path}.hold must be a positive number of milliseconds (got ${String(hold)})`)
  return Object.freeze({ redis: redis as SharedHealthRedis, channel: channel as string, hold: hold as number })
}

/** A verdict on the wire. */
export interface HealthNotice {
  /** Sender id: a gateway ignores its own notices. */
  from: string
  url: string
  state: 'fail' | 'ok'
  /** For `fail`: how long the sender keeps it out, ms. */
  for?: number
  /** The sender's transition reason, for logs. */
  reason?: string
}

/** What shared health needs from the engine. */
export interface SharedHealthTarget {
  readonly events: BalancerEvents
  find (url: string): Upstream | undefined
  /** Flags changed: rebuild the lists. */
  changed (): void
}

export interface SharedHealthDeps {
  clock?: Clock
  log?: DiscoveryLogger
}

export class SharedHealth {
  /** This gateway's id on the wire. */
  readonly id = randomToken()
  private readonly clock: Clock
  private readonly log: DiscoveryLogger
  private subscriber: RegistrySubscriber | null = null
  private readonly holds = new Map<Upstream, TimerHandle>()
  private readonly listeners: Array<[BalancerEventName, BalancerListener<'up'>]> = []
  private closed = false
  private publishFailures = 0
  /** Notices received from other gateways (for status and tests). */
  received = 0

  constructor (readonly options: ResolvedSharedHealthOptions, private readonly target: SharedHealthTarget, deps: SharedHealthDeps = {}) {
    this.clock = deps.clock ?? systemClock
    this.log = deps.log ?? silentDiscoveryLogger
  }

  async start (): Promise<void> {
    if (this.subscriber !== null || this.closed) return
    const fail = (reason: string) => (event: UpstreamEvent): void => { this.publish(event, 'fail', reason) }
    const ok = (reason: string) => (event: UpstreamEvent): void => { this.publish(event, 'ok', reason) }
    this.listen('ejected', fail('ejected'))
    this.listen('down', fail('down'))
    this.listen('restored', ok('restored'))
    this.listen('up', ok('up'))

    const subscriber = this.options.redis.duplicate()
    this.subscriber = subscriber
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.options.channel) this.receive(message)
    })
    subscriber.on('error', () => {})
    try {
      await subscriber.subscribe(this.options.channel)
    } catch (err) {
      this.log.warn({ channel: this.options.channel, err: errorText(err) }, 'shared health: subscribe failed; this gateway only hears itself')
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const [name, listener] of this.listeners) this.target.events.off(name as 'up', listener)
    this.listeners.length = 0
    for (const timer of this.holds.values()) timer.cancel()
    this.holds.clear()
    const subscriber = this.subscriber
    this.subscriber = null
    if (subscriber !== null) {
      subscriber.removeAllListeners('message')
      subscriber.disconnect()
    }
  }

  /** Applies a notice from the wire (exported for tests through `receive`). */
  receive (message: string): void {
    if (this.closed) return
    let notice: HealthNotice
    try {
      notice = JSON.parse(message) as HealthNotice
    } catch {
      return
    }
    if (notice === null || typeof notice !== 'object' || notice.from === this.id || typeof notice.url !== 'string') return
    const upstream = this.target.find(notice.url)
    if (upstream === undefined) return
    this.received++
    if (notice.state === 'fail') {
      const hold = typeof notice.for === 'number' && notice.for > 0 ? Math.min(notice.for, this.options.hold) : this.options.hold
      this.hold(upstream, hold, notice)
    } else if (notice.state === 'ok') {
      this.release(upstream, notice)
    }
  }

  private listen (name: BalancerEventName, listener: (event: UpstreamEvent) => void): void {
    this.target.events.on(name as 'up', listener)
    this.listeners.push([name, listener])
  }

  private publish (event: UpstreamEvent, state: 'fail' | 'ok', reason: string): void {
    if (this.closed) return
    const detail = event.detail
    const duration = detail?.ejectionTime ?? detail?.retryAfterMs
    const notice: HealthNotice = { from: this.id, url: event.upstream.url, state, reason: `${reason}:${event.reason}` }
    if (state === 'fail' && typeof duration === 'number') notice.for = duration
    this.options.redis.publish(this.options.channel, JSON.stringify(notice)).then(() => {
      this.publishFailures = 0
    }, (err: unknown) => {
      if (this.publishFailures++ === 0) this.log.warn({ channel: this.options.channel, err: errorText(err) }, 'shared health: publish failed')
    })
  }

  private hold (upstream: Upstream, ms: number, notice: HealthNotice): void {
    this.holds.get(upstream)?.cancel()
    this.holds.set(upstream, this.clock.setTimeout(() => {
      this.holds.delete(upstream)
      if (upstream.setFlag(UpstreamFlag.REMOTE_FAILED, false)) this.target.changed()
    }, ms))
    if (upstream.setFlag(UpstreamFlag.REMOTE_FAILED, true)) {
      this.log.info({ upstream: upstream.name, url: upstream.url, from: notice.from, reason: notice.reason, hold: ms },
        'shared health: another gateway reports a failure; avoiding this upstream for a while')
      this.target.changed()
    }
  }

  private release (upstream: Upstream, notice: HealthNotice): void {
    const timer = this.holds.get(upstream)
    if (timer === undefined) return
    timer.cancel()
    this.holds.delete(upstream)
    // Only the remote flag: this gateway's own ejection or failed check stays until its own evidence clears it.
    if (upstream.setFlag(UpstreamFlag.REMOTE_FAILED, false)) {
      this.log.info({ upstream: upstream.name, url: upstream.url, from: notice.from, reason: notice.reason },
        'shared health: another gateway reports it recovered; the remote hold is lifted')
      this.target.changed()
    }
  }
}
