/**
 * The drain lifecycle, in one place: `starting → serving → draining → closing → closed`.
 *
 * `drain()` turns readiness `fail` at once (state `draining`), runs the `onDrain` hooks while the server keeps
 * serving for `drainDelay` ms, then calls `close` (Fastify's `close()`, which lets in-flight requests finish).
 * Kubernetes removes a terminating pod from its EndpointSlices concurrently with SIGTERM, and load balancers
 * notice a failing readiness probe only after their next probe, so closing at once would refuse requests
 * still being routed here (terminus' `beforeShutdown`, lightship's `shutdownDelay`).
 *
 * Extension point: `onDrain(hook)` hooks start with the drain and are awaited (up to `hookTimeout`) before the
 * close; `on('state', fn)` reports every transition. A registry heartbeat can deregister in an `onDrain` hook.
 * Fastify-free; time comes from the injected `Clock`.
 */
import type { Clock, Logger, TimerHandle } from './clock.js'
import { silentLogger } from './clock.js'

export type LifecycleState = 'starting' | 'serving' | 'draining' | 'closing' | 'closed'

export interface DrainInfo {
  /** Why: `'drain()'` for an explicit call, else the signal name (`'SIGTERM'`). */
  readonly reason: string
  /** Milliseconds until the close. */
  readonly delay: number
  /** Clock time the drain began. */
  readonly startedAt: number
}

export type DrainHook = (info: DrainInfo) => unknown
export type StateListener = (state: LifecycleState, previous: LifecycleState) => void

export interface DrainOptions {
  /** Override `shutdown.drainDelay` for this drain (ms). */
  delay?: number
  reason?: string
}

export interface LifecycleOptions {
  clock: Clock
  drainDelay: number
  hookTimeout: number
  /** Closes the server (the plugin passes `() => fastify.close()`). */
  close: () => Promise<unknown>
  log?: Logger
}

export class Lifecycle {
  readonly #clock: Clock
  readonly #drainDelay: number
  readonly #hookTimeout: number
  readonly #close: () => Promise<unknown>
  readonly #log: Logger
  readonly #hooks: DrainHook[] = []
  readonly #listeners = new Set<StateListener>()
  readonly #timers = new Set<{ handle: TimerHandle, wake: () => void }>()
  #state: LifecycleState = 'starting'
  #drain: Promise<void> | undefined = undefined
  #drainInfo: DrainInfo | undefined = undefined
  readonly #closed: Promise<void>
  #resolveClosed: () => void = () => {}

  constructor (options: LifecycleOptions) {
    this.#clock = options.clock
    this.#drainDelay = options.drainDelay
    this.#hookTimeout = options.hookTimeout
    this.#close = options.close
    this.#log = options.log ?? silentLogger
    this.#closed = new Promise((resolve) => { this.#resolveClosed = resolve })
  }

  get state (): LifecycleState { return this.#state }

  /** True from the start of a drain (or of a close) on: readiness must answer `fail`. */
  get draining (): boolean { return this.#state !== 'starting' && this.#state !== 'serving' }

  get drainInfo (): DrainInfo | undefined { return this.#drainInfo }

  on (event: 'state', listener: StateListener): void {
    if (event === 'state') this.#listeners.add(listener)
  }

  off (event: 'state', listener: StateListener): void {
    if (event === 'state') this.#listeners.delete(listener)
  }

  /** Registers work to do when a drain begins (e.g. deregister from a service registry). */
  onDrain (hook: DrainHook): void {
    this.#hooks.push(hook)
  }

  /** The server is ready (Fastify `onReady`). */
  markServing (): void {
    if (this.#state === 'starting') this.#set('serving')
  }

  /** `fastify.close()` has begun, whether through `drain()` or called directly (Fastify `preClose`). */
  markClosing (): void {
    if (this.#state !== 'closing' && this.#state !== 'closed') this.#set('closing')
  }

  /** Fastify `onClose`: wakes a drain still waiting and clears every timer. */
  markClosed (): void {
    if (this.#state === 'closed') return
    this.#set('closed')
    for (const timer of [...this.#timers]) timer.wake()
    this.#resolveClosed()
  }

  /**
   * Starts draining (idempotent: a second call returns the same promise). Resolves once the server has closed;
   * rejects if the close fails.
   */
  async drain (options: DrainOptions = {}): Promise<void> {
    if (this.#drain !== undefined) return await this.#drain
    if (this.#state === 'closing' || this.#state === 'closed') return await this.#closed
    const info: DrainInfo = Object.freeze({
      reason: options.reason ?? 'drain()',
      delay: options.delay ?? this.#drainDelay,
      startedAt: this.#clock.now()
    })
    this.#drainInfo = info
    this.#set('draining')
    this.#drain = this.#run(info)
    return await this.#drain
  }

  async #run (info: DrainInfo): Promise<void> {
    this.#log.info({ reason: info.reason, drainDelay: info.delay }, 'health: draining, readiness now fails')
    await Promise.all([this.#sleep(info.delay), this.#runHooks(info)])
    // Someone called fastify.close() directly while we waited: it is already closing.
    if (this.#state === 'closing' || this.#state === 'closed') { await this.#closed; return }
    this.#log.info({ reason: info.reason }, 'health: drain delay over, closing')
    this.markClosing()
    await this.#close()
  }

  async #runHooks (info: DrainInfo): Promise<void> {
    if (this.#hooks.length === 0) return
    const settled = Promise.allSettled(this.#hooks.map(async (hook) => { await hook(info) })).then((results) => {
      for (const result of results) {
        if (result.status === 'rejected') this.#log.error({ err: result.reason }, 'health: onDrain hook failed')
      }
    })
    let timedOut = false
    await Promise.race([settled, this.#sleep(this.#hookTimeout).then(() => { timedOut = true })])
    if (timedOut) this.#log.warn({ hookTimeout: this.#hookTimeout }, 'health: onDrain hooks still running at hookTimeout, closing anyway')
  }

  /**
   * A clock timer that `markClosed()` can cut short, so no timer outlives the plugin. Ref'd, unlike our other
   * timers: it is bounded (drain delay or hook timeout) and the close it leads to must happen; unref'd, a
   * process with nothing else pending would exit mid-drain without running its `onClose` hooks.
   */
  async #sleep (ms: number): Promise<void> {
    if (ms <= 0 || this.#state === 'closed') return
    await new Promise<void>((resolve) => {
      const timer = {
        handle: null as TimerHandle,
        wake: () => {
          this.#clock.clearTimeout(timer.handle)
          this.#timers.delete(timer)
          resolve()
        }
      }
      timer.handle = this.#clock.setTimeout(timer.wake, ms, true)
      this.#timers.add(timer)
    })
  }

  #set (state: LifecycleState): void {
    const previous = this.#state
    this.#state = state
    for (const listener of [...this.#listeners]) {
      try { listener(state, previous) } catch (err) { this.#log.error({ err }, 'health: state listener threw') }
    }
  }
}
