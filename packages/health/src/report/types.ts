/**
 * Data types of the health report: check results as the runner produces them and the
 * application/health+json body (IETF draft-inadarei-api-health-check-06) they become. Pure: no imports.
 */

/** Draft §3.1: `pass` (2xx–3xx), `warn` (2xx–3xx, degraded), `fail` (4xx–5xx). */
export type CheckStatus = 'pass' | 'warn' | 'fail'

/** One check's reading, as produced by the runner. */
export interface CheckResult {
  /** The key in `checks`, `component:measurement`. */
  readonly name: string
  readonly critical: boolean
  readonly status: CheckStatus
  readonly componentType: string
  readonly componentId: string | undefined
  readonly observedValue: unknown
  readonly observedUnit: string | undefined
  /** Error text or explanation; shown to authorised callers only, and never on `pass` (draft §3.8). */
  readonly output: string | undefined
  readonly affectedEndpoints: readonly string[] | undefined
  readonly links: Readonly<Record<string, string>> | undefined
  /** ISO 8601 time the reading was taken (draft §4.8: it may be a cached value). */
  readonly time: string
  readonly durationMs: number
}

/** Service-level fields of the body, from the options. */
export interface ReportMeta {
  readonly version?: string
  readonly releaseId?: string
  readonly serviceId?: string
  readonly description?: string
  readonly notes?: readonly string[]
  readonly links?: Readonly<Record<string, string>>
}

/** One element of a `checks` array (draft §4). */
export interface HealthCheckEntry {
  componentId?: string
  componentType: string
  observedValue?: unknown
  observedUnit?: string
  status: CheckStatus
  affectedEndpoints?: string[]
  time: string
  output?: string
  links?: Record<string, string>
}

/** The application/health+json body (draft §3). */
export interface HealthReport {
  status: CheckStatus
  version?: string
  releaseId?: string
  notes?: string[]
  output?: string
  serviceId?: string
  description?: string
  checks?: Record<string, HealthCheckEntry[]>
  links?: Record<string, string>
}
