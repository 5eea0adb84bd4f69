/**
 * The admin API (off by default): list the upstreams with their state, add one, remove one (drain first), drain
 * and undrain, set a weight. Like HAProxy's runtime API (`add server`, `set server … state drain`, `set weight`)
 * and nginx Plus' `/api/…/upstreams/…/servers`, but only behind a token or the user's `authorize(request)`.
 *
 * Every change is logged with who asked (the identity `authorize` returned, or "token") and what changed. No
 * Fastify here: the plugin registers the routes and hands each call its params, body and caller.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Balancer } from '../balancer.js'
import { InvalidOptionError } from '../errors.js'
import { type Upstream, UpstreamFlag } from '../upstream/upstream.js'

export const DEFAULT_ADMIN_PREFIX = '/_switchyard/admin'

export interface AdminOptions<Request = unknown> {
  /** Where the routes live. Default `/_switchyard/admin`. */
  prefix?: string
  /** Callers send `Authorization: Bearer <token>`. */
  token?: string
  /**
   * Decides for each call: `true`, or a string naming the caller (logged), lets it through. With a token too,
   * both must agree. Method syntax on purpose: the plugin narrows `Request` to FastifyRequest.
   */
  authorize? (request: Request): boolean | string | Promise<boolean | string>
}

export interface ResolvedAdminOptions<Request = unknown> {
  readonly prefix: string
  readonly token: string | null
  readonly authorize: ((request: Request) => boolean | string | Promise<boolean | string>) | null
}

export function resolveAdminOptions<Request> (raw: unknown): ResolvedAdminOptions<Request> | null {
  const fail = (message: string): never => { throw new InvalidOptionError(message) }
  if (raw === undefined || raw === false) return null
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('admin must be an object like { token } or { authorize }')
  const config = raw as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!['prefix', 'token', 'authorize'].includes(key)) fail(`admin.${key} is not an admin option (use prefix, token, authorize)`)
  }
  const prefix = config.prefix ?? DEFAULT_ADMIN_PREFIX
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || prefix.endsWith('/') || prefix.includes('*') || prefix.includes(':')) {
    fail(`admin.prefix must be a path like "/_switchyard/admin" (got ${JSON.stringify(prefix)})`)
  }
  const token = config.token ?? null
  if (token !== null && (typeof token !== 'string' || token.length < 16)) fail('admin.token must be a string of at least 16 characters')
  const authorize = config.authorize ?? null
  if (authorize !== null && typeof authorize !== 'function') fail('admin.authorize must be a function (request) => boolean | string')
  if (token === null && authorize === null) fail('admin needs a token or an authorize(request) function: it can drain and remove upstreams')
  return Object.freeze({ prefix: prefix as string, token: token as string | null, authorize: authorize as ResolvedAdminOptions<Request>['authorize'] })
}

/** What the plugin sends back. */
export interface AdminAnswer {
  status: number
  body: unknown
  headers?: Record<string, string>
}

/** The caller, once authorised: who it is (for the log) and where it came from. */
export interface AdminCaller {
  who: string
  ip: string
}

export interface AdminLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface AdminUpstream {
  name: string
  url: string
  state: string
  weight: number
  effectiveWeight: number
  backup: boolean
  available: boolean
  flags: string[]
  inFlight: number
  requests: number
  failures: number
}

const FLAG_NAMES: Array<[number, string]> = Object.entries(UpstreamFlag).map(([name, bit]) => [bit, name])

function flagNames (flags: number): string[] {
  const names: string[] = []
  for (const [bit, name] of FLAG_NAMES) if ((flags & bit) !== 0) names.push(name)
  return names
}

/** One word, most severe first (the same order as the status page). */
function stateOf (u: Upstream): string {
  const f = u.flags
  if ((f & UpstreamFlag.DRAINING) !== 0) return 'draining'
  if ((f & UpstreamFlag.FAILED_ACTIVE_HC) !== 0) return 'down'
  if ((f & (UpstreamFlag.FAILED_OUTLIER | UpstreamFlag.RETRY_AFTER)) !== 0) return 'ejected'
  if ((f & UpstreamFlag.REMOTE_FAILED) !== 0) return 'ejected-by-peer'
  if ((f & UpstreamFlag.PENDING_ACTIVE_HC) !== 0) return 'pending'
  if (u.effectiveWeight < u.weight) return 'slow-start'
  return 'up'
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

const WWW_AUTHENTICATE = 'Bearer realm="switchyard-admin"'

function problem (status: number, title: string, detail: string): AdminAnswer {
  return { status, body: { type: 'about:blank', title, status, detail }, headers: { 'content-type': 'application/problem+json' } }
}

export class AdminApi<Request> {
  constructor (
    readonly options: ResolvedAdminOptions<Request>,
    private readonly engine: Balancer,
    private readonly log: AdminLogger
  ) {}

  /**
   * The caller, or the answer refusing it: 401 without a valid token (or when `authorize` says no to a caller
   * that brought none), 403 when `authorize` refuses a caller whose token was fine. `authorize` throwing is a no.
   */
  async authenticate (request: Request, authorization: unknown, ip: string): Promise<AdminCaller | AdminAnswer> {
    const { token, authorize } = this.options
    let who = 'token'
    if (token !== null) {
      const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null
      // Hashing first gives equal lengths, so timingSafeEqual leaks neither the token nor its length.
      if (match === null || !timingSafeEqual(digest(match[1]!), digest(token))) {
        this.log.warn({ admin: true, ip, reason: match === null ? 'no token' : 'wrong token' }, 'admin API: request refused')
        return { ...problem(401, 'Unauthorized', 'the admin API needs Authorization: Bearer <token>'), headers: { 'content-type': 'application/problem+json', 'www-authenticate': WWW_AUTHENTICATE } }
      }
    }
    if (authorize !== null) {
      let verdict: boolean | string
      try {
        verdict = await authorize(request)
      } catch (err) {
        this.log.warn({ admin: true, ip, err }, 'admin API: authorize() threw; access refused')
        verdict = false
      }
      if (verdict === false || verdict === '' || (verdict !== true && typeof verdict !== 'string')) {
        this.log.warn({ admin: true, ip, reason: 'authorize() said no' }, 'admin API: request refused')
        return token === null
          ? { ...problem(401, 'Unauthorized', 'not authorised for the admin API'), headers: { 'content-type': 'application/problem+json', 'www-authenticate': WWW_AUTHENTICATE } }
          : problem(403, 'Forbidden', 'not authorised for the admin API')
      }
      if (typeof verdict === 'string') who = verdict
      else if (token === null) who = 'authorize'
    }
    return { who, ip }
  }

  list (): AdminAnswer {
    return { status: 200, body: { state: this.engine.set.state, upstreams: this.engine.upstreams.map((u) => this.describe(u)) } }
  }

  one (id: string): AdminAnswer {
    const upstream = this.engine.set.find(id)
    return upstream === undefined ? this.notFound(id) : { status: 200, body: this.describe(upstream) }
  }

  add (caller: AdminCaller, body: unknown): AdminAnswer {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return problem(400, 'Bad Request', 'send { url, weight?, backup?, name? }')
    const config = body as { url?: unknown }
    if (typeof config.url === 'string' && this.engine.set.find(config.url) !== undefined) {
      return problem(409, 'Conflict', `${config.url} is already an upstream`)
    }
    let upstream: Upstream
    try {
      upstream = this.engine.addUpstream(body as { url: string })
    } catch (err) {
      return problem(400, 'Bad Request', (err as Error).message)
    }
    this.audit(caller, 'add', upstream, { weight: upstream.weight, backup: upstream.backup })
    return { status: 201, body: this.describe(upstream) }
  }

  async remove (caller: AdminCaller, id: string): Promise<AdminAnswer> {
    const upstream = this.engine.set.find(id)
    if (upstream === undefined) return this.notFound(id)
    if (this.engine.upstreams.length === 1) return problem(409, 'Conflict', 'refusing to remove the last upstream')
    this.audit(caller, 'remove', upstream, { inFlight: upstream.inFlight })
    await this.engine.removeUpstream(upstream.url)
    return { status: 200, body: { removed: upstream.url, name: upstream.name } }
  }

  async drain (caller: AdminCaller, id: string): Promise<AdminAnswer> {
    const upstream = this.engine.set.find(id)
    if (upstream === undefined) return this.notFound(id)
    this.audit(caller, 'drain', upstream, { inFlight: upstream.inFlight })
    await this.engine.drain(upstream.url)
    return { status: 200, body: this.describe(upstream) }
  }

  undrain (caller: AdminCaller, id: string): AdminAnswer {
    const upstream = this.engine.set.find(id)
    if (upstream === undefined) return this.notFound(id)
    const changed = this.engine.undrain(upstream.url)
    if (changed) this.audit(caller, 'undrain', upstream, {})
    return { status: 200, body: this.describe(upstream) }
  }

  setWeight (caller: AdminCaller, id: string, body: unknown): AdminAnswer {
    const upstream = this.engine.set.find(id)
    if (upstream === undefined) return this.notFound(id)
    const weight = (body as { weight?: unknown } | null)?.weight
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1_000_000) {
      return problem(400, 'Bad Request', 'weight must be an integer from 1 to 1000000')
    }
    const previous = upstream.weight
    this.engine.setWeight(upstream.url, weight)
    this.audit(caller, 'set-weight', upstream, { weight, previous })
    return { status: 200, body: this.describe(upstream) }
  }

  private describe (u: Upstream): AdminUpstream {
    return {
      name: u.name,
      url: u.url,
      state: stateOf(u),
      weight: u.weight,
      effectiveWeight: u.effectiveWeight,
      backup: u.backup,
      available: u.available,
      flags: flagNames(u.flags),
      inFlight: u.inFlight,
      requests: u.requests,
      failures: u.failures
    }
  }

  private notFound (id: string): AdminAnswer {
    return problem(404, 'Not Found', `no upstream ${JSON.stringify(id)} (use its url or name)`)
  }

  private audit (caller: AdminCaller, action: string, upstream: Upstream, detail: object): void {
    this.log.info({ admin: true, who: caller.who, ip: caller.ip, action, upstream: upstream.name, url: upstream.url, ...detail },
      `admin API: ${action} ${upstream.name} by ${caller.who}`)
  }
}
