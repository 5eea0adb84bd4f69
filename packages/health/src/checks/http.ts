/**
 * HTTP dependency check (undici): requests `url` and expects a status (default: any 2xx). The request is
 * aborted when the check times out. Reports the response time in ms.
 */
import { request, type Dispatcher } from 'undici'
import { InvalidOptionError } from '../errors.js'
import type { HealthCheckFunction } from '../types.js'
import { judge, round2, validateThresholds, type Thresholds } from './threshold.js'

export interface HttpCheckOptions extends Thresholds {
  /** Default `GET`. */
  method?: 'GET' | 'HEAD' | 'POST' | 'OPTIONS'
  headers?: Record<string, string>
  /** A status or list of statuses that mean healthy. Default: any 2xx. */
  expectedStatus?: number | number[]
  /** An undici dispatcher (Agent, Pool) to use instead of the global one. */
  dispatcher?: Dispatcher
}

function expectation (expected: HttpCheckOptions['expectedStatus']): { accepts: (status: number) => boolean, text: string } {
  if (expected === undefined) return { accepts: (status) => status >= 200 && status < 300, text: '2xx' }
  const list = Array.isArray(expected) ? expected : [expected]
  if (list.length === 0 || !list.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    throw new InvalidOptionError('httpCheck({ expectedStatus }) must be an HTTP status or an array of them')
  }
  const set = new Set(list)
  return { accepts: (status) => set.has(status), text: list.join(' or ') }
}

export function httpCheck (url: string | URL, options: HttpCheckOptions = {}): HealthCheckFunction {
  let target: URL
  try {
    target = new URL(url)
  } catch {
    throw new InvalidOptionError(`httpCheck(url): ${String(url)} is not an absolute URL`)
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new InvalidOptionError(`httpCheck(url): ${target.href} must be an http: or https: URL`)
  }
  const thresholds = validateThresholds(options, 'httpCheck', 'milliseconds')
  const { accepts, text } = expectation(options.expectedStatus)
  const method = options.method ?? 'GET'
  const href = target.href
  return async function httpDependency ({ signal }) {
    const started = performance.now()
    const response = await request(href, {
      method,
      signal,
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.dispatcher !== undefined ? { dispatcher: options.dispatcher } : {})
    })
    // Drain the body so the connection goes back to the pool.
    await response.body.dump()
    const elapsed = round2(performance.now() - started)
    if (!accepts(response.statusCode)) {
      return { status: 'fail', componentType: 'component', observedValue: elapsed, observedUnit: 'ms', output: `unexpected status ${response.statusCode} (expected ${text})` }
    }
    return judge(elapsed, 'ms', 'component', thresholds)
  }
}
