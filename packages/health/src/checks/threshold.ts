/**
 * Shared by the built-in checks: validation of their factory options and `warnAbove` / `failAbove` thresholds.
 */
import { InvalidOptionError } from '../errors.js'
import type { CheckOutcome } from '../types.js'

export interface Thresholds {
  /** Report `warn` when the observed value is above this. */
  warnAbove?: number
  /** Report `fail` when the observed value is above this. */
  failAbove?: number
}

export function positiveNumber (value: unknown, path: string, unit: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(`${path} must be a positive number${unit === '' ? '' : ' of ' + unit}`)
  }
  return value
}

export function validateThresholds (options: Thresholds, factory: string, unit: string, max = Infinity): Required<{ warnAbove: number | undefined, failAbove: number | undefined }> {
  const warnAbove = positiveNumber(options.warnAbove, `${factory}({ warnAbove })`, unit)
  const failAbove = positiveNumber(options.failAbove, `${factory}({ failAbove })`, unit)
  for (const [name, value] of [['warnAbove', warnAbove], ['failAbove', failAbove]] as const) {
    if (value !== undefined && value > max) throw new InvalidOptionError(`${factory}({ ${name} }) must be at most ${max}`)
  }
  if (warnAbove !== undefined && failAbove !== undefined && warnAbove > failAbove) {
    throw new InvalidOptionError(`${factory}({ warnAbove }) must not be greater than failAbove`)
  }
  return { warnAbove, failAbove }
}

export function judge (
  observedValue: number,
  observedUnit: string,
  componentType: string,
  { warnAbove, failAbove }: { warnAbove: number | undefined, failAbove: number | undefined }
): CheckOutcome {
  if (failAbove !== undefined && observedValue > failAbove) {
    return { status: 'fail', observedValue, observedUnit, componentType, output: `${observedValue} ${observedUnit} is above ${failAbove} ${observedUnit}` }
  }
  if (warnAbove !== undefined && observedValue > warnAbove) {
    return { status: 'warn', observedValue, observedUnit, componentType, output: `${observedValue} ${observedUnit} is above ${warnAbove} ${observedUnit}` }
  }
  return { status: 'pass', observedValue, observedUnit, componentType }
}

/** Two decimals are plenty for milliseconds and percentages, and keep bodies short. */
export function round2 (value: number): number {
  return Math.round(value * 100) / 100
}
