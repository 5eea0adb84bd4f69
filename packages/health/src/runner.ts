/**
 * The check runner: runs every check concurrently, each bounded by its own timeout, and turns whatever a check
 * does (resolve, reject, throw, hang) into a `CheckResult`. A run's results are a `Snapshot`.
 *
 * - Cache: a snapshot is reused for `cacheTtl` ms after it completed.
 * - Single flight: probes arriving while a run is in progress share that run, so a probe storm runs each
 *   check at most once per window (IETF draft §9 worries about health checks "DDOS-ing" the service).
 * - Background refresh (`refreshInterval` > 0): runs on a timer; probes read the latest snapshot and never wait,
 *   except for the very first run.
 *
 * Time comes from an injected `Clock`. No Fastify, no network code here.
 */
import { CheckAbortedError, CheckTimeoutError } from './errors.js'
import type { Clock, Logger, TimerHandle } from './clock.js'
import { silentLogger } from './clock.js'
import type { ResolvedCheck } from './options.js'
import { aggregateStatus } from './report/status.js'
import type { CheckResult, CheckStatus } from './report/types.js'
import type { CheckOutcome, CheckReturn } from './types.js'

export interface Snapshot {
  readonly results: readonly CheckResult[]
  /** Aggregate status of the checks (draining not included). */
  readonly status: CheckStatus
  /** Clock time at which the run completed. */
  readonly completedAt: number
  /** 1 for the first run, then 2, 3, … */
  readonly run: number
}

export interface CheckRunnerOptions {
  checks: readonly ResolvedCheck[]
  cacheTtl: number
  refreshInterval: number
  clock: Clock
  log?: Logger
  /** Called with every new snapshot (before the probes waiting for it resume). */
  onSnapshot?: (snapshot: Snapshot, previous: Snapshot | undefined) => void
}

const STATUSES: ReadonlySet<unknown> = new Set(['pass', 'warn', 'fail'])

function errorText (err: unknown): string {
  if (err instanceof Error) {
    // undici and net errors sometimes carry an empty message (AggregateError of ECONNREFUSED): fall back to the code.
    const code = (err as { code?: unknown }).code
    if (err.message !== '') return err.message
    if (typeof code === 'string') return code
    return err.name
  }
  return String(err)
}

export class CheckRunner {
  readonly #checks: readonly ResolvedCheck[]
  readonly #cacheTtl: number
  readonly #refreshInterval: number
  readonly #clock: Clock
  readonly #log: Logger
  readonly #onSnapshot: CheckRunnerOptions['onSnapshot']
  #latest: Snapshot | undefined = undefined
  #inFlight: Promise<Snapshot> | undefined = undefined
  #runs = 0
  #refreshTimer: TimerHandle = null
  #started = false
  #stopped = false
  /** Abort functions of checks still running, so `stop()` can settle them and clear their timers. */
  readonly #pending = new Set<() => void>()

  constructor (options: CheckRunnerOptions) {
    this.#checks = options.checks
    this.#cacheTtl = options.cacheTtl
    this.#refreshInterval = options.refreshInterval
    this.#clock = options.clock
    this.#log = options.log ?? silentLogger
    this.#onSnapshot = options.onSnapshot
  }

  /** Number of runs started so far. */
  get runs (): number { return this.#runs }
  get latest (): Snapshot | undefined { return this.#latest }
  get running (): boolean { return this.#inFlight !== undefined }

  /** The snapshot a probe may use right now without waiting, if any. */
  fresh (): Snapshot | undefined {
    const latest = this.#latest
    if (latest === undefined) return undefined
    if (this.#refreshInterval > 0 && this.#started && !this.#stopped) return latest
    return this.#clock.now() - latest.completedAt < this.#cacheTtl ? latest : undefined
  }

  /** A fresh snapshot, else the run in progress, else a new run. */
  get (): Snapshot | Promise<Snapshot> {
    return this.fresh() ?? this.run()
  }

  /** Joins the run in progress or starts one (ignores the cache). */
  async run (): Promise<Snapshot> {
    if (this.#inFlight !== undefined) return await this.#inFlight
    const inFlight = this.#runAll().finally(() => { this.#inFlight = undefined })
    this.#inFlight = inFlight
    return await inFlight
  }

  /** Calls each check's `start()` and begins background refresh when configured. */
  start (): void {
    if (this.#started) return
    this.#started = true
    for (const check of this.#checks) {
      try { check.check.start?.() } catch (err) { this.#log.error({ err, check: check.name }, 'health check start() threw') }
    }
    if (this.#refreshInterval > 0) this.#refresh()
  }

  /** Stops refreshing, settles running checks as aborted, clears every timer, calls each check's `stop()`. */
  stop (): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#clock.clearTimeout(this.#refreshTimer)
    this.#refreshTimer = null
    for (const abort of [...this.#pending]) abort()
    if (!this.#started) return
    for (const check of this.#checks) {
      try { check.check.stop?.() } catch (err) { this.#log.error({ err, check: check.name }, 'health check stop() threw') }
    }
  }

  #refresh (): void {
    // Re-armed after each run completes, so runs never overlap however slow the checks are.
    this.run().then(() => {}, () => {}).finally(() => {
      if (this.#stopped) return
      this.#refreshTimer = this.#clock.setTimeout(() => { this.#refresh() }, this.#refreshInterval)
    })
  }

  async #runAll (): Promise<Snapshot> {
    const run = ++this.#runs
    const results = await Promise.all(this.#checks.map(async (check) => await this.#runOne(check)))
    const snapshot: Snapshot = Object.freeze({
      results: Object.freeze(results),
      status: aggregateStatus(results),
      completedAt: this.#clock.now(),
      run
    })
    const previous = this.#latest
    this.#latest = snapshot
    if (this.#onSnapshot !== undefined) {
      try { this.#onSnapshot(snapshot, previous) } catch (err) { this.#log.error({ err }, 'health snapshot listener threw') }
    }
    return snapshot
  }

  async #runOne (check: ResolvedCheck): Promise<CheckResult> {
    const clock = this.#clock
    const started = clock.now()
    const controller = new AbortController()
    return await new Promise<CheckResult>((resolve) => {
      let settled = false
      let timer: TimerHandle = null
      const finish = (outcome: CheckOutcome): void => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        this.#pending.delete(abort)
        resolve(this.#result(check, outcome, started))
      }
      const abort = (): void => {
        controller.abort(new CheckAbortedError(check.name))
        finish({ status: 'fail', output: 'aborted: the health plugin is closing' })
      }
      if (this.#stopped) { abort(); return }
      this.#pending.add(abort)
      timer = clock.setTimeout(() => {
        controller.abort(new CheckTimeoutError(check.name, check.timeout))
        finish({ status: 'fail', output: `timed out after ${check.timeout} ms` })
      }, check.timeout, true)

      let returned: CheckReturn | Promise<CheckReturn>
      try {
        returned = check.check({ name: check.name, signal: controller.signal })
      } catch (err) {
        finish({ status: 'fail', output: errorText(err) })
        return
      }
      if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<CheckReturn>).then === 'function') {
        // Both handlers attached: a check rejecting after its timeout is ignored, never an unhandled rejection.
        Promise.resolve(returned).then(
          (value) => { finish(this.#outcome(check, value)) },
          (err: unknown) => { finish({ status: 'fail', output: errorText(err) }) }
        )
      } else {
        finish(this.#outcome(check, returned as CheckReturn))
      }
    })
  }

  #outcome (check: ResolvedCheck, value: CheckReturn): CheckOutcome {
    if (value === false) return { status: 'fail', output: 'check returned false' }
    if (value === null || typeof value !== 'object') return { status: 'pass' }
    const outcome = value
    if (outcome.status !== undefined && !STATUSES.has(outcome.status)) {
      this.#log.warn({ check: check.name, status: outcome.status }, 'health check returned an unknown status')
      return { status: 'fail', output: `check returned an unknown status ${JSON.stringify(outcome.status)}` }
    }
    return outcome
  }

  #result (check: ResolvedCheck, outcome: CheckOutcome, started: number): CheckResult {
    const now = this.#clock.now()
    return Object.freeze({
      name: check.name,
      critical: check.critical,
      status: outcome.status ?? 'pass',
      componentType: check.componentType ?? outcome.componentType ?? 'component',
      componentId: check.componentId ?? outcome.componentId,
      observedValue: outcome.observedValue,
      observedUnit: outcome.observedUnit,
      output: typeof outcome.output === 'string' ? outcome.output : undefined,
      affectedEndpoints: check.affectedEndpoints ?? outcome.affectedEndpoints,
      links: check.links ?? outcome.links,
      time: new Date(now).toISOString(),
      durationMs: now - started
    })
  }
}
