/**
 * The public shape of a health check: what a user writes and what the built-in checks return.
 */
import type { CheckStatus } from './report/types.js'

export interface CheckContext {
  /** The check's key, `component:measurement`. */
  readonly name: string
  /** Aborted when the check's `timeout` elapses or the plugin closes: pass it to whatever I/O the check does. */
  readonly signal: AbortSignal
}

/** What a check may resolve to. Anything the check throws or rejects with makes it `fail`. */
export interface CheckOutcome {
  /** Default `pass`. */
  status?: CheckStatus
  observedValue?: unknown
  observedUnit?: string
  /** Shown to authorised callers when the status is not `pass`. */
  output?: string
  /** Overridden by the check definition's `componentType` when that is set. */
  componentType?: string
  componentId?: string
  affectedEndpoints?: string[]
  links?: Record<string, string>
}

/**
 * `undefined`, `true` or any non-object value (e.g. `'PONG'`) mean `pass`; `false` means `fail`;
 * a `CheckOutcome` object says exactly what to report.
 */
export type CheckReturn = CheckOutcome | boolean | string | number | null | undefined | void

export interface HealthCheckFunction {
  (context: CheckContext): CheckReturn | Promise<CheckReturn>
  /** Called once when the plugin starts (Fastify `onReady`): e.g. enable an event-loop monitor. */
  start?: () => void
  /** Called once in `onClose`: release whatever `start` created. */
  stop?: () => void
}

export interface CheckDefinition {
  check: HealthCheckFunction
  /** A failing critical check fails readiness (503); a failing non-critical one degrades it to `warn` (200). Default true. */
  critical?: boolean
  /** Milliseconds before the check is reported `fail` ("timed out after N ms"). Default 1000. */
  timeout?: number
  /** Draft §4.2: `component`, `datastore`, `system` or a URI. Default: what the check says, else `component`. */
  componentType?: string
  componentId?: string
  /** Draft §4.6: endpoints that this dependency's failure affects (reported when not `pass`). */
  affectedEndpoints?: string[]
  links?: Record<string, string>
}
