/**
 * `announce`: this replica in @switchyard/balancer's Redis heartbeat registry, driven by the health engine.
 *
 * - Registered while readiness passes (the same answer `/health/ready` gives, checks cached by `cacheTtl`),
 *   renewed every `interval`; a readiness change is acted on at once, not at the next renewal.
 * - A drain (SIGTERM with `shutdown.signals`, or `fastify.health.drain()`) deregisters first thing, in an `onDrain`
 *   hook: gateways drop the replica on the `leave` notice while it still serves for `drainDelay`, so requests
 *   already routed here finish and no new ones arrive. A direct `fastify.close()` deregisters in `preClose`.
 * - A crash needs nothing from us: the registration lapses with its TTL.
 *
 * The registry's code lives in @switchyard/balancer (`@switchyard/balancer/discovery`, Fastify-free), loaded only
 * when `announce` is set, so a replica that does not announce never loads it. Fastify-free.
 */
import type { Logger } from './clock.js'
import { InvalidOptionError } from './errors.js'
import type { AnnounceOptions } from './options.js'

/** The part of @switchyard/balancer's `RegistryAnnouncer` used here. */
export interface Announcer {
  readonly registered: boolean
  readonly options: { readonly url: string }
  start (): void
  refresh (): Promise<boolean>
  deregister (): Promise<void>
}

interface DiscoveryModule {
  RegistryAnnouncer: new (options: object, deps?: { log?: Logger }) => Announcer
  resolveAnnouncerOptions: (raw: unknown, path?: string) => object
}

/**
 * Not a string literal on purpose: TypeScript would then compile the balancer's sources into this package's
 * build. The optional peer dependency is only resolved at run time, when `announce` is set.
 */
const DISCOVERY_MODULE: string = '@switchyard/balancer/discovery'

/** Placeholder while the url is not known yet (derived from the listening address). */
const PENDING_URL = 'http://url-pending.invalid'

export interface AnnounceDeps {
  /** Readiness right now, as `/health/ready` answers it. */
  isReady: () => Promise<boolean>
  log: Logger
}

export class Announce {
  #announcer: Announcer | null = null
  #closed = false

  private constructor (private readonly module: DiscoveryModule, readonly options: Readonly<AnnounceOptions>, private readonly deps: AnnounceDeps) {}

  /** Loads the registry code and validates every option (an invalid one fails `register`). */
  static async create (options: Readonly<AnnounceOptions>, deps: AnnounceDeps): Promise<Announce> {
    let module: DiscoveryModule
    try {
      module = await import(DISCOVERY_MODULE) as DiscoveryModule
    } catch (err) {
      throw new InvalidOptionError('announce needs @switchyard/balancer installed (it holds the registry code)', { cause: err })
    }
    try {
      module.resolveAnnouncerOptions({ ...options, url: options.url ?? PENDING_URL }, 'announce')
    } catch (err) {
      // Re-thrown as this package's error, with the same message naming the option.
      throw new InvalidOptionError((err as Error).message.replace(/^@switchyard\/balancer: /, ''))
    }
    return new Announce(module, options, deps)
  }

  /** The announcer once started (null before `start()`). */
  get announcer (): Announcer | null { return this.#announcer }

  /** Starts announcing `url` (the configured one, or the listening address). */
  start (url: string): void {
    if (this.#closed || this.#announcer !== null) return
    const announcer = new this.module.RegistryAnnouncer({ ...this.options, url, isReady: this.deps.isReady }, { log: this.deps.log })
    this.#announcer = announcer
    announcer.start()
  }

  /** Readiness changed: register or deregister now instead of at the next renewal. */
  readinessChanged (): void {
    this.#announcer?.refresh().catch(/* c8 ignore next: refresh() logs and never rejects */ () => {})
  }

  /** Leaves the registry for good (drain, close). Idempotent. */
  async deregister (): Promise<void> {
    this.#closed = true
    await this.#announcer?.deregister()
  }
}
