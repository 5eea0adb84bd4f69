/**
 * Options: validated once, at registration (DESIGN.md principle 6). `validateOptions(raw)` returns a frozen,
 * fully defaulted object, or throws `InvalidOptionError` (`SWY_HEALTH_INVALID_OPTION`) naming the option path.
 * Nothing downstream checks for `undefined` again.
 */
import { constants as osConstants } from 'node:os'
import { InvalidOptionError } from './errors.js'
import type { ReportMeta } from './report/types.js'
import type { CheckDefinition, HealthCheckFunction } from './types.js'

/** Per-check timeout (ms). Kubernetes' probe `timeoutSeconds` defaults to 1 s: keep checks below it. */
export const DEFAULT_TIMEOUT = 1000
/** How long a completed run of the checks is reused (ms). 0 = no reuse (concurrent probes still share a run). */
export const DEFAULT_CACHE_TTL = 1000
/** Background refresh period (ms); 0 = off (checks run when a probe finds the cache stale). */
export const DEFAULT_REFRESH_INTERVAL = 0
export const DEFAULT_CRITICAL = true
export const DEFAULT_PREFIX = '/health'
export const DEFAULT_PATHS = Object.freeze({ live: '/live', ready: '/ready', startup: '/startup', report: '' })
export const DEFAULT_CACHE_CONTROL = 'no-store'
/** Readiness fails this long before the server closes (ms); terminus' README and lightship both use 5 s. */
export const DEFAULT_DRAIN_DELAY = 5000
/** After the drain delay, how long `close()` may take before a signal-initiated shutdown exits with 1 (ms). */
export const DEFAULT_CLOSE_TIMEOUT = 10_000
/** How long the drain waits for `onDrain` hooks, counted from the start of the drain (ms). */
export const DEFAULT_HOOK_TIMEOUT = 5000
/** Signal handling is opt-in: `shutdown.signals: true` means these. */
export const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = Object.freeze(['SIGTERM', 'SIGINT'])

export type ProbeKind = 'live' | 'ready' | 'startup' | 'report'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
const LOG_LEVELS: ReadonlySet<unknown> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

export interface ShutdownOptions {
  /** Milliseconds between readiness turning `fail` and `fastify.close()`. Default 5000. */
  drainDelay?: number
  /** `true` handles SIGTERM and SIGINT; or a list of signals. Default false (no handlers installed). */
  signals?: boolean | NodeJS.Signals[]
  /** After a signal: milliseconds `close()` may take after the drain delay before exiting with 1. Default 10 000. */
  closeTimeout?: number
  /** Milliseconds the drain waits for `onDrain` hooks. Default 5000. */
  hookTimeout?: number
  /** After a signal-initiated close, `process.exit(0)` (1 if close failed). Default true. */
  exit?: boolean
}

export interface HealthOptions<Request = unknown> {
  /** Keyed `component:measurement` (draft §4): a check function or a `CheckDefinition`. */
  checks?: Record<string, HealthCheckFunction | CheckDefinition>
  cacheTtl?: number
  refreshInterval?: number
  /** Prepended to every path. Default `/health`. */
  prefix?: string
  /** Path of each route under `prefix`; `false` removes the route. Defaults `/live`, `/ready`, `/startup`, `''`. */
  paths?: Partial<Record<ProbeKind, string | false>>
  /** Show check details to every caller. Default false: the body is `{"status": …}` alone. */
  exposeDetails?: boolean
  /** Show details to callers this predicate accepts (a throw or rejection means no). */
  authorize?: (request: Request) => boolean | Promise<boolean>
  /** `Cache-Control` of every health response; `false` sends none. Default `no-store`. */
  cacheControl?: string | false
  /** Fastify log level of the health routes, e.g. `'warn'` to keep probes out of the request log. */
  logLevel?: LogLevel
  version?: string
  releaseId?: string
  serviceId?: string
  description?: string
  notes?: string[]
  links?: Record<string, string>
  shutdown?: ShutdownOptions
  /**
   * Announce this replica in the Redis heartbeat registry that `@switchyard/balancer` gateways watch
   * (`upstreams: { redis, service }`): registered while readiness passes, renewed every `interval`, deregistered
   * when readiness fails or a drain starts. Needs `@switchyard/balancer` installed.
   */
  announce?: AnnounceOptions
}

/** `announce`: the replica side of @switchyard/balancer's Redis registry. */
export interface AnnounceOptions {
  /** An ioredis client (`Redis` or `Cluster`); never closed by the plugin. */
  redis: object
  /** The service name gateways watch. */
  service: string
  /** This replica's origin as gateways reach it. Default: the address the server listens on (not 0.0.0.0/::). */
  url?: string
  /** Milliseconds between renewals. Default 1000. */
  interval?: number
  /** Milliseconds the registration outlives the last renewal. Default 3 × interval. */
  ttl?: number
  /** Share of traffic. Default 1. */
  weight?: number
  /** Name in the gateways' logs. Default: the url. */
  name?: string
  /** First part of the registry keys' hash tag. Default `switchyard`. */
  prefix?: string
}

export interface ResolvedCheck {
  readonly name: string
  readonly check: HealthCheckFunction
  readonly critical: boolean
  readonly timeout: number
  readonly componentType: string | undefined
  readonly componentId: string | undefined
  readonly affectedEndpoints: readonly string[] | undefined
  readonly links: Readonly<Record<string, string>> | undefined
}

export interface ResolvedShutdown {
  readonly drainDelay: number
  readonly signals: readonly NodeJS.Signals[]
  readonly closeTimeout: number
  readonly hookTimeout: number
  readonly exit: boolean
}

export interface ResolvedOptions<Request = unknown> {
  readonly checks: readonly ResolvedCheck[]
  readonly cacheTtl: number
  readonly refreshInterval: number
  /** Full URL of each route, or null when disabled. */
  readonly routes: Readonly<Record<ProbeKind, string | null>>
  readonly exposeDetails: boolean
  readonly authorize: ((request: Request) => boolean | Promise<boolean>) | null
  readonly cacheControl: string | null
  readonly logLevel: LogLevel | null
  readonly meta: ReportMeta
  readonly shutdown: ResolvedShutdown
  /** null when the replica does not announce itself (checked in full by @switchyard/balancer at registration). */
  readonly announce: Readonly<AnnounceOptions> | null
}

const TOP_LEVEL_KEYS = new Set([
  'checks', 'cacheTtl', 'refreshInterval', 'prefix', 'paths', 'exposeDetails', 'authorize', 'cacheControl', 'logLevel',
  'version', 'releaseId', 'serviceId', 'description', 'notes', 'links', 'shutdown', 'announce',
  // Fastify's own register options, passed through to every plugin.
  'logSerializers'
])
const CHECK_KEYS = new Set(['check', 'critical', 'timeout', 'componentType', 'componentId', 'affectedEndpoints', 'links'])
const SHUTDOWN_KEYS = new Set(['drainDelay', 'signals', 'closeTimeout', 'hookTimeout', 'exit'])
const PROBE_KINDS: readonly ProbeKind[] = ['live', 'ready', 'startup', 'report']
/** Draft §4: `{componentName}:{measurementName}`, "no colons inside either part"; we also refuse whitespace. */
const CHECK_NAME = /^[^\s:]+(?::[^\s:]+)?$/
/** Signals a process cannot catch, or that Node reserves. */
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function rejectUnknown (value: Record<string, unknown>, known: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) fail(`${path}${JSON.stringify(key)} is not a known option`)
  }
}

function milliseconds (value: unknown, fallback: number, path: string, allowZero: boolean): number {
  if (value === undefined) return fallback
  const ok = typeof value === 'number' && Number.isFinite(value) && (allowZero ? value >= 0 : value > 0)
  if (!ok) fail(`${path} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`)
  return value
}

function optionalString (value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') fail(`${path} must be a non-empty string`)
  return value
}

function stringList (value: unknown, path: string): readonly string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail(`${path} must be an array of strings`)
  return Object.freeze([...(value as string[])])
}

function linkMap (value: unknown, path: string): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined
  if (!isPlainObject(value) || !Object.values(value).every((item) => typeof item === 'string')) {
    fail(`${path} must be an object of string URLs`)
  }
  return Object.freeze({ ...(value as Record<string, string>) })
}

function boolean (value: unknown, fallback: boolean, path: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(`${path} must be a boolean`)
  return value
}

function logLevel (value: unknown): LogLevel | null {
  if (value === undefined) return null
  if (!LOG_LEVELS.has(value)) fail(`logLevel must be one of ${[...LOG_LEVELS].join(', ')}`)
  return value as LogLevel
}

function resolveCheck (name: string, raw: unknown): ResolvedCheck {
  const path = `checks[${JSON.stringify(name)}]`
  if (!CHECK_NAME.test(name)) {
    fail(`${path}: a check name is "component:measurement" (e.g. "redis:ping"): one colon at most, no whitespace, neither part empty`)
  }
  const definition: Record<string, unknown> = typeof raw === 'function' ? { check: raw } : isPlainObject(raw) ? raw : fail(`${path} must be a check function or { check, critical, timeout }`)
  rejectUnknown(definition, CHECK_KEYS, `${path}.`)
  if (typeof definition.check !== 'function') fail(`${path}.check must be a function`)
  return Object.freeze({
    name,
    check: definition.check as HealthCheckFunction,
    critical: boolean(definition.critical, DEFAULT_CRITICAL, `${path}.critical`),
    timeout: milliseconds(definition.timeout, DEFAULT_TIMEOUT, `${path}.timeout`, false),
    componentType: optionalString(definition.componentType, `${path}.componentType`),
    componentId: optionalString(definition.componentId, `${path}.componentId`),
    affectedEndpoints: stringList(definition.affectedEndpoints, `${path}.affectedEndpoints`),
    links: linkMap(definition.links, `${path}.links`)
  })
}

function resolvePath (value: unknown, fallback: string, path: string): string | false {
  if (value === undefined) return fallback
  if (value === false) return false
  if (typeof value !== 'string' || (value !== '' && !value.startsWith('/')) || /[\s?#]/.test(value)) {
    fail(`${path} must be false, '' or a path starting with "/" (no query, fragment or whitespace)`)
  }
  return value
}

function resolveRoutes (prefixRaw: unknown, pathsRaw: unknown): Readonly<Record<ProbeKind, string | null>> {
  const prefix = resolvePath(prefixRaw, DEFAULT_PREFIX, 'prefix')
  if (prefix === false || prefix.endsWith('/')) fail('prefix must be \'\' or a path starting with "/" and not ending with "/"')
  if (pathsRaw !== undefined && !isPlainObject(pathsRaw)) fail('paths must be an object such as { ready: \'/ready\' }')
  const paths = pathsRaw ?? {}
  rejectUnknown(paths, new Set(PROBE_KINDS), 'paths.')
  const routes = {} as Record<ProbeKind, string | null>
  const seen = new Map<string, ProbeKind>()
  for (const kind of PROBE_KINDS) {
    const path = resolvePath(paths[kind], DEFAULT_PATHS[kind], `paths.${kind}`)
    if (path === false) { routes[kind] = null; continue }
    const url = prefix + path === '' ? '/' : prefix + path
    const other = seen.get(url)
    if (other !== undefined) fail(`paths.${kind} and paths.${other} both resolve to ${url}`)
    seen.set(url, kind)
    routes[kind] = url
  }
  return Object.freeze(routes)
}

function resolveSignals (value: unknown): readonly NodeJS.Signals[] {
  if (value === undefined || value === false) return Object.freeze([])
  if (value === true) return DEFAULT_SIGNALS
  if (!Array.isArray(value)) fail('shutdown.signals must be a boolean or an array of signal names such as ["SIGTERM"]')
  for (const [i, signal] of value.entries()) {
    if (typeof signal !== 'string' || !(signal in osConstants.signals) || UNCATCHABLE.has(signal)) {
      fail(`shutdown.signals[${i}] must be the name of a catchable signal such as "SIGTERM"`)
    }
  }
  return Object.freeze([...new Set(value as NodeJS.Signals[])])
}

function resolveShutdown (raw: unknown): ResolvedShutdown {
  if (raw !== undefined && !isPlainObject(raw)) fail('shutdown must be an object such as { drainDelay: 5000 }')
  const shutdown = raw ?? {}
  rejectUnknown(shutdown, SHUTDOWN_KEYS, 'shutdown.')
  return Object.freeze({
    drainDelay: milliseconds(shutdown.drainDelay, DEFAULT_DRAIN_DELAY, 'shutdown.drainDelay', true),
    signals: resolveSignals(shutdown.signals),
    closeTimeout: milliseconds(shutdown.closeTimeout, DEFAULT_CLOSE_TIMEOUT, 'shutdown.closeTimeout', false),
    hookTimeout: milliseconds(shutdown.hookTimeout, DEFAULT_HOOK_TIMEOUT, 'shutdown.hookTimeout', true),
    exit: boolean(shutdown.exit, true, 'shutdown.exit')
  })
}

export function validateOptions<Request = unknown> (raw: HealthOptions<Request> | undefined): ResolvedOptions<Request> {
  if (raw !== undefined && !isPlainObject(raw)) fail('options must be an object')
  const options = (raw ?? {}) as Record<string, unknown>
  rejectUnknown(options, TOP_LEVEL_KEYS, '')

  if (options.checks !== undefined && !isPlainObject(options.checks)) fail('checks must be an object keyed "component:measurement"')
  const checks = Object.freeze(Object.entries(options.checks ?? {}).map(([name, definition]) => resolveCheck(name, definition)))

  if (options.authorize !== undefined && typeof options.authorize !== 'function') fail('authorize must be a function (request) => boolean')
  const cacheControl = options.cacheControl === false ? null : optionalString(options.cacheControl, 'cacheControl') ?? DEFAULT_CACHE_CONTROL
  if (/[\r\n]/.test(cacheControl ?? '')) fail('cacheControl must not contain line breaks')

  const meta: ReportMeta = {}
  for (const key of ['version', 'releaseId', 'serviceId', 'description'] as const) {
    const value = optionalString(options[key], key)
    if (value !== undefined) (meta as Record<string, unknown>)[key] = value
  }
  const notes = stringList(options.notes, 'notes')
  if (notes !== undefined) (meta as Record<string, unknown>).notes = notes
  const links = linkMap(options.links, 'links')
  if (links !== undefined) (meta as Record<string, unknown>).links = links

  return Object.freeze({
    checks,
    cacheTtl: milliseconds(options.cacheTtl, DEFAULT_CACHE_TTL, 'cacheTtl', true),
    refreshInterval: milliseconds(options.refreshInterval, DEFAULT_REFRESH_INTERVAL, 'refreshInterval', true),
    routes: resolveRoutes(options.prefix, options.paths),
    exposeDetails: boolean(options.exposeDetails, false, 'exposeDetails'),
    authorize: (options.authorize as ResolvedOptions<Request>['authorize'] | undefined) ?? null,
    cacheControl,
    logLevel: logLevel(options.logLevel),
    meta: Object.freeze(meta),
    shutdown: resolveShutdown(options.shutdown),
    announce: resolveAnnounce(options.announce)
  })
}

/** The shape only; every field is checked by the balancer's `resolveAnnouncerOptions` when the plugin registers. */
function resolveAnnounce (raw: unknown): Readonly<AnnounceOptions> | null {
  if (raw === undefined || raw === false) return null
  if (!isPlainObject(raw)) fail('announce must be an object like { redis, service, url }')
  if (raw.url !== undefined && typeof raw.url !== 'string') fail('announce.url must be a string like "http://10.0.0.7:3000"')
  return Object.freeze({ ...raw }) as unknown as Readonly<AnnounceOptions>
}
