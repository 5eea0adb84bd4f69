/**
 * Redis server-assisted client-side caching for the session cache (Redis 6+ `CLIENT TRACKING`, RESP2 flavour):
 * the store's own connection (store.ts; the app's client is left alone) is switched to tracking with NOLOOP,
 * redirected to a second connection of ours that subscribes to `__redis__:invalidate`.
 * - Redis remembers every session key the store reads on that connection, sends one invalidation when the key then
 *   changes (another replica's write or logout, an edit by hand, an expiry, FLUSHALL), and forgets the key until it
 *   is read again: every script of the store ends with a read, so a key the store holds stays tracked.
 * - NOLOOP: no invalidation for the store's own writes (Redis 7.0 honours it inside scripts in this mode, not in
 *   BCAST mode), so a write of ours can refill the cache instead of evicting it. The store evicts locally before
 *   it writes.
 *
 * The cache is active only while both connections are up and tracking is confirmed: any disconnect of either
 * deactivates (and empties) it, because invalidations may have been lost, and the next `ready` of both re-enables it.
 * Not used with Redis Cluster (tracking is per node).
 */
import type { Redis } from 'ioredis'
import type { SessionCache } from './session-cache.js'
import type { StoreLogger } from './options.js'

const CHANNEL = '__redis__:invalidate'

export class InvalidationTracking {
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #cache: SessionCache
  /** The full key prefix (ioredis `keyPrefix` + the store's `prefix`): tracking and messages see real key names. */
  readonly #prefix: string
  readonly #logger: StoreLogger
  readonly #onInvalidate: () => void
  /** CLIENT ID of the subscriber connection, once it is subscribed. */
  #subscriberId: number | undefined
  /** Bumped by every disconnect: an enable that started before it must not activate the cache. */
  #generation = 0
  #warned = false
  #closed = false

  /** `client`: the store's own connection, whose reads are tracked. */
  constructor (client: Redis, prefix: string, cache: SessionCache, logger: StoreLogger, onInvalidate: () => void) {
    this.#client = client
    this.#cache = cache
    this.#prefix = (client.options.keyPrefix ?? '') + prefix
    this.#logger = logger
    this.#onInvalidate = onInvalidate
    // Same server and options as the store's connection; we subscribe again ourselves after a reconnect, once we know
    // the connection's new id, and nothing is queued while it is down.
    this.#subscriber = client.duplicate({
      lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false, connectionName: 'swy-session-invalidations'
    })
    this.#subscriber.on('error', () => { /* reconnects by itself; the cache stays off meanwhile */ })
    this.#subscriber.on('messageBuffer', this.#onMessage)
    this.#subscriber.on('ready', this.#onSubscriberReady)
    this.#subscriber.on('close', this.#onSubscriberClose)
    client.on('ready', this.#onClientReady)
    client.on('close', this.#deactivate)
    // The store's connection was closed for good (close(), or the app's client ended): the subscriber must not keep
    // the process alive.
    client.on('end', this.#onClientEnd)
    // Connect only once the store's connection has: a store never used opens no connection for invalidations.
    if (client.status === 'ready') this.#onClientReady()
  }

  /** Stops tracking and closes the subscriber connection. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#deactivate()
    this.#client.off('ready', this.#onClientReady)
    this.#client.off('close', this.#deactivate)
    this.#client.off('end', this.#onClientEnd)
    this.#subscriber.disconnect()
    if (this.#client.status === 'ready') {
      this.#client.client('TRACKING', 'OFF').catch(() => { /* the connection is closing too: nothing to turn off */ })
    }
  }

  readonly #onClientEnd = (): void => { this.close() }

  readonly #onClientReady = (): void => {
    if (this.#subscriber.status === 'wait') {
      this.#subscriber.connect().catch(() => { /* retried by ioredis' retryStrategy */ })
    }
    this.#enable()
  }

  readonly #onSubscriberReady = (): void => {
    const generation = this.#generation
    const subscriber = this.#subscriber
    subscriber.client('ID').then(async (id) => {
      await subscriber.subscribe(CHANNEL)
      if (generation !== this.#generation || this.#closed) return
      this.#subscriberId = Number(id)
      this.#enable()
    }).catch((err: unknown) => { this.#refused(err) })
  }

  readonly #onSubscriberClose = (): void => {
    this.#subscriberId = undefined
    this.#deactivate()
  }

  readonly #deactivate = (): void => {
    this.#generation++
    this.#cache.deactivate()
  }

  /**
   * Turns tracking on for the store's connection, redirected to the subscriber. OFF first: after a subscriber reconnect
   * the redirect id has changed, and tracking must restart with it.
   */
  readonly #enable = (): void => {
    const id = this.#subscriberId
    if (this.#closed || id === undefined || this.#client.status !== 'ready') return
    const generation = this.#generation
    const client = this.#client
    client.client('TRACKING', 'OFF').then(() =>
      client.client('TRACKING', 'ON', 'REDIRECT', id, 'NOLOOP')
    ).then(() => {
      // A disconnect while this ran may have lost invalidations: the next `ready` enables again.
      if (generation === this.#generation && !this.#closed) this.#cache.activate()
    }, (err: unknown) => { this.#refused(err) })
  }

  /** `messageBuffer`: the keys as Buffers, or null when Redis invalidates everything (FLUSHALL, FLUSHDB). */
  readonly #onMessage = (channel: Buffer, message: Buffer[] | Buffer | null): void => {
    if (channel.toString() !== CHANNEL) return
    this.#onInvalidate()
    if (message === null || !Array.isArray(message)) {
      this.#cache.clear()
      return
    }
    const prefix = this.#prefix
    for (const key of message) {
      const name = key.toString()
      if (name.startsWith(prefix)) this.#cache.invalidate(name.slice(prefix.length))
    }
  }

  /**
   * Redis refused a tracking command (Redis < 6, an ACL without CLIENT): the store runs on without a cache, and says
   * so once. A dropped connection is not a refusal: the next `ready` tries again.
   */
  #refused (err: unknown): void {
    if (!(err instanceof Error) || err.name !== 'ReplyError') return
    if (this.#warned || this.#closed) return
    this.#warned = true
    this.#logger.warn({ err }, '@switchyard/session-redis: client-side cache disabled, CLIENT TRACKING failed')
  }
}
