/**
 * The status page of one balancer: the tracker that feeds it, and its two routes (the HTML page and its JSON),
 * each behind the token / `authorize` check. No Fastify here: the plugin registers the routes this returns.
 */
import type { Balancer } from '../balancer.js'
import type { ResolvedStatusPageOptions } from '../options.js'
import { isAllowed, StatusUnauthorizedError, WWW_AUTHENTICATE } from './auth.js'
import { STATUS_PAGE_HEADERS, STATUS_PAGE_HTML } from './page.js'
import { buildStatusReport } from './report.js'
import { DEFAULT_STATUS_BUCKET, DEFAULT_STATUS_HISTORY, StatusTracker } from './tracker.js'

export { StatusTracker, DEFAULT_STATUS_BUCKET, DEFAULT_STATUS_HISTORY } from './tracker.js'
export { buildStatusReport, type StatusReport, type UpstreamStatus, type HealthCheckStatus, type RetryBudgetStatus } from './report.js'
export { StatusUnauthorizedError } from './auth.js'

/** A route's answer, for the plugin to send: a body, or an error for Fastify's error handler (with these headers). */
export interface RouteAnswer {
  status: number
  headers: Readonly<Record<string, string>>
  body: string
  error?: Error
}

export interface ObservabilityRoute<Request> {
  /** Path relative to where the plugin is registered. */
  readonly url: string
  /** `request` is the framework's request, handed to `authorize`; the other two are what carries a token. */
  handle (request: Request, authorization: unknown, queryToken: unknown): Promise<RouteAnswer>
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff'
})

export interface StatusPage<Request> {
  readonly tracker: StatusTracker
  readonly routes: ReadonlyArray<ObservabilityRoute<Request>>
}

export function createStatusPage<Request> (
  engine: Balancer,
  options: ResolvedStatusPageOptions<Request>,
  onAuthorizeError: (err: unknown) => void
): StatusPage<Request> {
  const tracker = new StatusTracker(engine, { bucketMs: DEFAULT_STATUS_BUCKET, historyMs: DEFAULT_STATUS_HISTORY })
  const guarded = (answer: () => RouteAnswer) => async (request: Request, authorization: unknown, queryToken: unknown): Promise<RouteAnswer> => {
    if (await isAllowed(options, request, authorization, queryToken, onAuthorizeError)) return answer()
    return {
      status: 401,
      headers: { 'www-authenticate': WWW_AUTHENTICATE, 'cache-control': 'no-store' },
      body: '',
      error: new StatusUnauthorizedError('')
    }
  }
  return {
    tracker,
    routes: [
      { url: options.route, handle: guarded(() => ({ status: 200, headers: STATUS_PAGE_HEADERS, body: STATUS_PAGE_HTML })) },
      {
        url: `${options.route}/status.json`,
        handle: guarded(() => ({
          status: 200,
          headers: JSON_HEADERS,
          body: JSON.stringify(buildStatusReport(engine, tracker, options.label, Date.now()))
        }))
      }
    ]
  }
}
