/**
 * Status aggregation: how check results become the service's `pass` / `warn` / `fail` and its HTTP status.
 * Pure (no Fastify, no I/O; enforced by ESLint).
 *
 * - A critical check's status counts as is: critical `fail` → `fail`, critical `warn` → `warn`.
 * - A non-critical check can degrade the service but never fail it: its `warn` or `fail` → `warn`.
 * - A draining service is `fail` whatever its checks say (readiness must drop first, before the close).
 * Draft §3.1: `pass` and `warn` answer 2xx, `fail` answers 4xx–5xx; we use 200 and 503 (as terminus and Spring).
 */
import type { CheckResult, CheckStatus } from './types.js'

const RANK: Readonly<Record<CheckStatus, number>> = { pass: 0, warn: 1, fail: 2 }

export function worst (a: CheckStatus, b: CheckStatus): CheckStatus {
  return RANK[b] > RANK[a] ? b : a
}

/** What one check contributes to the service status. */
export function contribution (critical: boolean, status: CheckStatus): CheckStatus {
  if (critical || status === 'pass') return status
  return 'warn'
}

export function aggregateStatus (results: readonly Pick<CheckResult, 'critical' | 'status'>[], draining = false): CheckStatus {
  if (draining) return 'fail'
  let status: CheckStatus = 'pass'
  for (let i = 0; i < results.length; i++) {
    const result = results[i]
    if (result === undefined) continue
    status = worst(status, contribution(result.critical, result.status))
    if (status === 'fail') break
  }
  return status
}

export const HTTP_STATUS: Readonly<Record<CheckStatus, number>> = Object.freeze({ pass: 200, warn: 200, fail: 503 })

export function httpStatusFor (status: CheckStatus): number {
  return HTTP_STATUS[status]
}
