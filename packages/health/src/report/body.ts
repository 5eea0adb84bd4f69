/**
 * Builds the application/health+json body (IETF draft-inadarei-api-health-check-06). Pure.
 *
 * Unauthorised callers get `{"status": …}` alone: no check names, values or error text (draft §6 asks for
 * access control on details; Spring's `show-details: never` is the same default).
 */
import type { CheckResult, CheckStatus, HealthCheckEntry, HealthReport, ReportMeta } from './types.js'

export const HEALTH_CONTENT_TYPE = 'application/health+json'

/** The public body for each status; built once, sent as is. */
export const PUBLIC_BODY: Readonly<Record<CheckStatus, string>> = Object.freeze({
  pass: JSON.stringify({ status: 'pass' }),
  warn: JSON.stringify({ status: 'warn' }),
  fail: JSON.stringify({ status: 'fail' })
})

export function checkEntry (result: CheckResult): HealthCheckEntry {
  // Field order follows the draft's examples: id, type, value, unit, status, endpoints, time, output, links.
  const entry = {} as HealthCheckEntry
  if (result.componentId !== undefined) entry.componentId = result.componentId
  entry.componentType = result.componentType
  if (result.observedValue !== undefined) entry.observedValue = result.observedValue
  if (result.observedUnit !== undefined) entry.observedUnit = result.observedUnit
  entry.status = result.status
  // Draft §4.6: affectedEndpoints SHOULD be omitted on pass; §3.8: output SHOULD be omitted on pass.
  if (result.status !== 'pass' && result.affectedEndpoints !== undefined) entry.affectedEndpoints = [...result.affectedEndpoints]
  entry.time = result.time
  if (result.status !== 'pass' && result.output !== undefined) entry.output = result.output
  if (result.links !== undefined) entry.links = { ...result.links }
  return entry
}

export interface BuildReportInput {
  status: CheckStatus
  meta: ReportMeta
  /** Omit for bodies without checks (liveness). */
  results?: readonly CheckResult[] | undefined
  output?: string | undefined
}

/** The full (authorised) body. */
export function buildReport ({ status, meta, results, output }: BuildReportInput): HealthReport {
  const report: HealthReport = { status }
  if (meta.version !== undefined) report.version = meta.version
  if (meta.releaseId !== undefined) report.releaseId = meta.releaseId
  if (meta.notes !== undefined) report.notes = [...meta.notes]
  if (output !== undefined) report.output = output
  if (meta.serviceId !== undefined) report.serviceId = meta.serviceId
  if (meta.description !== undefined) report.description = meta.description
  if (results !== undefined) {
    const checks: Record<string, HealthCheckEntry[]> = {}
    for (const result of results) checks[result.name] = [checkEntry(result)]
    report.checks = checks
  }
  if (meta.links !== undefined) report.links = { ...meta.links }
  return report
}
