/**
 * The Fastify-free engine behind the routes: owns the check runner and the drain lifecycle, and answers each
 * probe with a ready-made `{ statusCode, body }`.
 *
 * Hot path: with a fresh snapshot and no details, a probe is a couple of property reads returning a response
 * object built once at startup (no serialisation, no allocation). Detailed bodies are serialised once per
 * snapshot.
 *
 * Probe semantics:
 * - live:    `pass` while the process can answer at all. Never runs checks, so a Redis blip cannot cause a
 *            restart loop (Spring docs; passmower#265); stays `pass` while draining (Spring: liveness CORRECT
 *            during graceful shutdown).
 * - ready:   the checks' aggregate; `fail` at once, without running checks, while draining.
 * - startup: `fail` until a run of the checks is not `fail`, then `pass` for good (Kubernetes stops probing
 *            startup after its first success).
 * - report:  the full report: runs the checks even while draining (the status is still `fail` then).
 */
import type { Clock, Logger } from './clock.js'
import { silentLogger } from './clock.js'
import type { DrainHook, DrainOptions, LifecycleState, StateListener } from './lifecycle.js'
import { Lifecycle } from './lifecycle.js'
import type { ProbeKind, ResolvedOptions } from './options.js'
import { buildReport, PUBLIC_BODY } from './report/body.js'
import { httpStatusFor } from './report/status.js'
import type { CheckResult, CheckStatus, HealthReport } from './report/types.js'
import type { Snapshot } from './runner.js'
import { CheckRunner } from './runner.js'

export interface ProbeResponse {
  readonly statusCode: number
  readonly status: CheckStatus
  /** Serialised application/health+json. */
  readonly body: string
}

export type ReadinessListener = (status: CheckStatus, previous: CheckStatus | undefined) => void

/** The `fastify.health` decorator. */
export interface HealthApi {
  /** `starting`, `serving`, `draining`, `closing` or `closed`. */
  readonly state: LifecycleState
  /** True from the start of a drain (or close) on. */
  readonly draining: boolean
  /**
   * Readiness turns `fail` now, traffic keeps being served for the drain delay, then `fastify.close()`.
   * Idempotent; resolves when the server has closed.
   */
  drain (options?: DrainOptions): Promise<void>
  /** Work to run when a drain starts, awaited (up to `shutdown.hookTimeout`) before the close. */
  onDrain (hook: DrainHook): void
  /** The full report (all details), from the cache when fresh, else from a run of the checks. */
  check (): Promise<HealthReport>
  /** The readiness status right now, without running checks (`undefined` before the first run). */
  readonly readiness: CheckStatus | undefined
  on (event: 'state', listener: StateListener): void
  on (event: 'readiness', listener: ReadinessListener): void
  off (event: 'state', listener: StateListener): void
  off (event: 'readiness', listener: ReadinessListener): void
}

export interface EngineDependencies {
  clock: Clock
  log?: Logger
  /** Closes the server; called at the end of a drain. */
  close: () => Promise<unknown>
}

function freeze (statusCode: number, status: CheckStatus, body: string): ProbeResponse {
  return Object.freeze({ statusCode, status, body })
}

const PUBLIC: Readonly<Record<CheckStatus, ProbeResponse>> = Object.freeze({
  pass: freeze(200, 'pass', PUBLIC_BODY.pass),
  warn: freeze(200, 'warn', PUBLIC_BODY.warn),
  fail: freeze(503, 'fail', PUBLIC_BODY.fail)
})

const DRAINING_OUTPUT = 'draining: shutting down, not accepting new traffic'

export class HealthEngine<Request = unknown> {
  readonly options: ResolvedOptions<Request>
  readonly runner: CheckRunner
  readonly lifecycle: Lifecycle
  readonly #log: Logger
  readonly #liveDetail: ProbeResponse
  readonly #readinessListeners = new Set<ReadinessListener>()
  #started = false
  #readiness: CheckStatus | undefined = undefined
  /** Detailed responses of the latest snapshot, keyed by kind + draining; rebuilt when the snapshot changes. */
  #detailOf: Snapshot | undefined = undefined
  #details = new Map<string, ProbeResponse>()

  constructor (options: ResolvedOptions<Request>, deps: EngineDependencies) {
    this.options = options
    this.#log = deps.log ?? silentLogger
    this.#liveDetail = this.#serialise(buildReport({ status: 'pass', meta: options.meta }))
    this.runner = new CheckRunner({
      checks: options.checks,
      cacheTtl: options.cacheTtl,
      refreshInterval: options.refreshInterval,
      clock: deps.clock,
      log: this.#log,
      onSnapshot: (snapshot, previous) => { this.#onSnapshot(snapshot, previous) }
    })
    this.lifecycle = new Lifecycle({
      clock: deps.clock,
      drainDelay: options.shutdown.drainDelay,
      hookTimeout: options.shutdown.hookTimeout,
      close: deps.close,
      log: this.#log
    })
    this.lifecycle.on('state', () => { this.#updateReadiness() })
  }

  /** Fastify `onReady`: start check monitors and background refresh. */
  start (): void {
    this.runner.start()
    this.lifecycle.markServing()
  }

  /** Fastify `onClose`: everything the engine created is released. */
  close (): void {
    this.runner.stop()
    this.lifecycle.markClosed()
  }

  get readiness (): CheckStatus | undefined { return this.#readiness }

  onReadiness (listener: ReadinessListener): void { this.#readinessListeners.add(listener) }
  offReadiness (listener: ReadinessListener): void { this.#readinessListeners.delete(listener) }

  respond (kind: ProbeKind, details: boolean): ProbeResponse | Promise<ProbeResponse> {
    switch (kind) {
      case 'live': return details ? this.#liveDetail : PUBLIC.pass
      case 'ready': return this.#ready(details)
      case 'startup': return this.#startup(details)
      case 'report': return this.#report(details)
    }
  }

  /** The full report as an object (for `fastify.health.check()`). */
  async check (): Promise<HealthReport> {
    const snapshot = await this.runner.get()
    const draining = this.lifecycle.draining
    return buildReport({
      status: draining ? 'fail' : snapshot.status,
      meta: this.options.meta,
      results: snapshot.results,
      output: draining ? DRAINING_OUTPUT : undefined
    })
  }

  #ready (details: boolean): ProbeResponse | Promise<ProbeResponse> {
    if (this.lifecycle.draining) return details ? this.#drainingDetail() : PUBLIC.fail
    const snapshot = this.runner.fresh()
    if (snapshot !== undefined) return details ? this.#detail('ready', snapshot) : PUBLIC[snapshot.status]
    return this.runner.run().then((fresh) => {
      if (this.lifecycle.draining) return details ? this.#drainingDetail() : PUBLIC.fail
      return details ? this.#detail('ready', fresh) : PUBLIC[fresh.status]
    })
  }

  #startup (details: boolean): ProbeResponse | Promise<ProbeResponse> {
    if (this.#started) return details ? this.#liveDetail : PUBLIC.pass
    const answer = (snapshot: Snapshot): ProbeResponse => {
      // #started was latched in #onSnapshot if this snapshot is not `fail`.
      if (this.#started) return details ? this.#liveDetail : PUBLIC.pass
      return details ? this.#detail('startup', snapshot) : PUBLIC.fail
    }
    const snapshot = this.runner.fresh()
    return snapshot !== undefined ? answer(snapshot) : this.runner.run().then(answer)
  }

  #report (details: boolean): ProbeResponse | Promise<ProbeResponse> {
    const answer = (snapshot: Snapshot): ProbeResponse => {
      if (this.lifecycle.draining) return details ? this.#detail('report-draining', snapshot) : PUBLIC.fail
      return details ? this.#detail('report', snapshot) : PUBLIC[snapshot.status]
    }
    const snapshot = this.runner.get()
    return 'then' in snapshot ? snapshot.then(answer) : answer(snapshot)
  }

  #drainingDetail (): ProbeResponse {
    const latest = this.runner.latest
    if (latest !== undefined) return this.#detail('ready-draining', latest)
    return this.#serialise(buildReport({ status: 'fail', meta: this.options.meta, results: [], output: DRAINING_OUTPUT }))
  }

  #detail (key: 'ready' | 'startup' | 'report' | 'ready-draining' | 'report-draining', snapshot: Snapshot): ProbeResponse {
    if (this.#detailOf !== snapshot) {
      this.#detailOf = snapshot
      this.#details = new Map()
    }
    let response = this.#details.get(key)
    if (response === undefined) {
      const draining = key.endsWith('-draining')
      response = this.#serialise(buildReport({
        status: draining ? 'fail' : snapshot.status,
        meta: this.options.meta,
        results: snapshot.results,
        output: draining ? DRAINING_OUTPUT : undefined
      }))
      this.#details.set(key, response)
    }
    return response
  }

  #serialise (report: HealthReport): ProbeResponse {
    return freeze(httpStatusFor(report.status), report.status, JSON.stringify(report))
  }

  #onSnapshot (snapshot: Snapshot, previous: Snapshot | undefined): void {
    if (snapshot.status !== 'fail') this.#started = true
    this.#logTransitions(snapshot.results, previous?.results)
    this.#updateReadiness()
  }

  #updateReadiness (): void {
    const latest = this.runner.latest
    const next: CheckStatus | undefined = this.lifecycle.draining ? 'fail' : latest?.status
    const previous = this.#readiness
    if (next === previous || next === undefined) return
    this.#readiness = next
    for (const listener of [...this.#readinessListeners]) {
      try { listener(next, previous) } catch (err) { this.#log.error({ err }, 'health: readiness listener threw') }
    }
  }

  /** Logs each check whose status changed, so operators see why readiness moved without polling details. */
  #logTransitions (results: readonly CheckResult[], previous: readonly CheckResult[] | undefined): void {
    for (let i = 0; i < results.length; i++) {
      const result = results[i]
      if (result === undefined) continue
      const before = previous?.[i]?.status ?? 'pass'
      if (result.status === before) continue
      const fields = { check: result.name, status: result.status, previous: before, critical: result.critical, output: result.output }
      if (result.status === 'pass') this.#log.info(fields, `health check ${result.name} recovered`)
      else this.#log.warn(fields, `health check ${result.name} is ${result.status}`)
    }
  }
}

/** Builds the `fastify.health` decorator over an engine. */
export function createHealthApi<Request> (engine: HealthEngine<Request>): HealthApi {
  const { lifecycle } = engine
  function on (event: 'state', listener: StateListener): void
  function on (event: 'readiness', listener: ReadinessListener): void
  function on (event: 'state' | 'readiness', listener: StateListener | ReadinessListener): void {
    if (event === 'state') lifecycle.on('state', listener as StateListener)
    else engine.onReadiness(listener as ReadinessListener)
  }
  function off (event: 'state', listener: StateListener): void
  function off (event: 'readiness', listener: ReadinessListener): void
  function off (event: 'state' | 'readiness', listener: StateListener | ReadinessListener): void {
    if (event === 'state') lifecycle.off('state', listener as StateListener)
    else engine.offReadiness(listener as ReadinessListener)
  }
  return {
    get state () { return lifecycle.state },
    get draining () { return lifecycle.draining },
    get readiness () { return engine.readiness },
    drain: async (options?: DrainOptions) => { await lifecycle.drain(options) },
    onDrain: (hook: DrainHook) => { lifecycle.onDrain(hook) },
    check: async () => await engine.check(),
    on,
    off
  }
}
