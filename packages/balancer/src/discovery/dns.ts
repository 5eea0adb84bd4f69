/**
 * DNS discovery: upstreams from A/AAAA records (DNS round robin: one member per address, on `port`) or from SRV
 * records (`_http._tcp.api.internal`: one member per target address and port; the lowest priority are the
 * primaries, higher priorities are backups; the record's weight is the member's weight), re-resolved when the
 * answer's TTL runs out, clamped to `refresh.min`…`refresh.max`.
 *
 * Peers: nginx `server api.internal resolve` (re-resolves on TTL, keeps serving the old addresses when the resolver
 * fails), Envoy `STRICT_DNS` with `respect_dns_ttl` and `dns_min_refresh_rate`, HAProxy `server-template` with
 * `resolvers` (SRV priority/weight → server state/weight, `hold valid`).
 *
 * A failed resolution (timeout, SERVFAIL, NXDOMAIN, or an empty answer) never empties the pool: the last good set
 * stays, the failure is logged, and the name is asked again after a backoff from `refresh.min` to `refresh.max`.
 *
 * Queries go through a node:dns `Resolver` (c-ares) so a custom server list (`servers`) can be set. As nginx and
 * Envoy, this asks DNS servers only: `/etc/hosts` is not read. Timers come from the injected `Clock`, unref'd.
 */
import { promises as dnsPromises } from 'node:dns'
import { isIP } from 'node:net'
import { InvalidOptionError } from '../errors.js'
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js'
import { type Member, type MembershipChange, mergeMembers, membershipChange } from './diff.js'
import { type Discovery, type DiscoveryLogger, errorText, type MembershipListener, silentDiscoveryLogger } from './types.js'

/** Shortest wait between two resolutions, whatever the TTL says (TTL 0 answers included). */
export const DEFAULT_DNS_REFRESH_MIN = 1000
/** Longest wait between two resolutions, whatever the TTL says, and the cap of the failure backoff. */
export const DEFAULT_DNS_REFRESH_MAX = 60_000
/** Per-query timeout (c-ares doubles it on its one retry). */
export const DEFAULT_DNS_TIMEOUT = 2000
/** `0`: A records, or AAAA when a name has no A record (Envoy `V4_PREFERRED`). */
export const DEFAULT_DNS_FAMILY = 0

export type DnsFamily = 0 | 4 | 6

export interface DnsDiscoveryOptions {
  /**
   * The name to resolve: a host name for A/AAAA records (`api.internal`, needs `port`), or an SRV name in RFC 2782
   * form (`_http._tcp.api.internal`, ports come from the records).
   */
  dns: string
  /** Port of every address of an A/AAAA name. Not allowed with SRV. */
  port?: number
  /** `4`: A only. `6`: AAAA only. `0` (default): A, or AAAA when there is no A record. */
  family?: DnsFamily
  /** Bounds of the wait between resolutions, in ms: the TTL is clamped to them. */
  refresh?: { min?: number, max?: number }
  /** DNS servers to ask instead of the system's (`['10.0.0.2', '127.0.0.1:53535', '[::1]:53']`). */
  servers?: string[]
  /** Scheme of the upstream URLs. Default `http`. */
  protocol?: 'http' | 'https'
  /** Milliseconds before a query is given up (then retried once by c-ares). */
  timeout?: number
}

export interface ResolvedDnsDiscoveryOptions {
  readonly dns: string
  /** True for an SRV name (it starts with `_`). */
  readonly srv: boolean
  /** 0 with SRV. */
  readonly port: number
  readonly family: DnsFamily
  readonly refresh: { readonly min: number, readonly max: number }
  /** null: the system's servers. */
  readonly servers: readonly string[] | null
  readonly protocol: 'http' | 'https'
  readonly timeout: number
}

const KEYS = ['dns', 'port', 'family', 'refresh', 'servers', 'protocol', 'timeout']

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

function ms (value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${path} must be a positive number of milliseconds (got ${String(value)})`)
  return value
}

/** Validates `upstreams: { dns, … }` once, at registration; messages name the option path. */
export function resolveDnsDiscoveryOptions (raw: unknown, path = 'upstreams'): ResolvedDnsDiscoveryOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${path} must be an object like { dns, port }`)
  const config = raw as Record<string, unknown>
  for (const key of Object.keys(config)) {
    if (!KEYS.includes(key)) fail(`${path}.${key} is not a DNS discovery option (use ${KEYS.join(', ')})`)
  }
  const name = config.dns
  if (typeof name !== 'string' || name === '') fail(`${path}.dns must be a host name like "api.internal" or an SRV name like "_http._tcp.api.internal"`)
  if (name.includes('/') || name.includes(':') || name.includes(' ')) {
    fail(`${path}.dns must be a host name, not a URL or an address with a port (got ${JSON.stringify(name)}); put the port in ${path}.port`)
  }
  if (isIP(name) !== 0) fail(`${path}.dns must be a name to resolve, not an IP address (got ${JSON.stringify(name)}); list fixed addresses as upstreams URLs`)
  const srv = name.startsWith('_')
  let port = 0
  if (srv) {
    if (config.port !== undefined) fail(`${path}.port must not be set for an SRV name (${name}): the records carry the ports`)
  } else {
    const raw = config.port
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 65535) {
      fail(`${path}.port must be an integer from 1 to 65535 for the A/AAAA records of ${name} (got ${String(raw)}); SRV names start with _ (e.g. _http._tcp.${name})`)
    }
    port = raw
  }
  const family = config.family ?? DEFAULT_DNS_FAMILY
  if (family !== 0 && family !== 4 && family !== 6) fail(`${path}.family must be 0, 4 or 6 (got ${String(family)})`)
  const rawRefresh = config.refresh ?? {}
  if (typeof rawRefresh !== 'object' || rawRefresh === null || Array.isArray(rawRefresh)) fail(`${path}.refresh must be an object like { min: 1000, max: 60000 }`)
  const refreshConfig = rawRefresh as Record<string, unknown>
  for (const key of Object.keys(refreshConfig)) {
    if (key !== 'min' && key !== 'max') fail(`${path}.refresh.${key} is not a refresh option (use min, max)`)
  }
  const min = ms(refreshConfig.min, `${path}.refresh.min`, DEFAULT_DNS_REFRESH_MIN)
  const max = ms(refreshConfig.max, `${path}.refresh.max`, Math.max(DEFAULT_DNS_REFRESH_MAX, min))
  if (max < min) fail(`${path}.refresh.max (${max}) must not be smaller than ${path}.refresh.min (${min})`)
  let servers: readonly string[] | null = null
  if (config.servers !== undefined) {
    const list = config.servers
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string')) {
      fail(`${path}.servers must be a non-empty array of "address" or "address:port" strings`)
    }
    try {
      new dnsPromises.Resolver().setServers(list as string[])
    } catch (err) {
      fail(`${path}.servers must list IP addresses, optionally with a port ("127.0.0.1:53535", "[::1]:53"): ${errorText(err)}`)
    }
    servers = Object.freeze([...(list as string[])])
  }
  const protocol = config.protocol ?? 'http'
  if (protocol !== 'http' && protocol !== 'https') fail(`${path}.protocol must be "http" or "https" (got ${String(protocol)})`)
  return Object.freeze({
    dns: name,
    srv,
    port,
    family,
    refresh: Object.freeze({ min, max }),
    servers,
    protocol,
    timeout: ms(config.timeout, `${path}.timeout`, DEFAULT_DNS_TIMEOUT)
  })
}

/** An address and the TTL (seconds) of the record it came from. */
export interface AddressRecord {
  address: string
  ttl: number
}

/** An SRV record as node:dns returns it. */
export interface SrvRecord {
  name: string
  port: number
  priority: number
  weight: number
}

/** The part of node:dns `promises.Resolver` used here (injectable for tests). */
export interface DnsResolver {
  resolve4 (hostname: string, options: { ttl: true }): Promise<AddressRecord[]>
  resolve6 (hostname: string, options: { ttl: true }): Promise<AddressRecord[]>
  resolveSrv (hostname: string): Promise<SrvRecord[]>
  cancel (): void
}

/** One resolution's result: the members and the TTL (seconds) that bounds how long they hold. */
export interface Resolution {
  members: Member[]
  /** The smallest TTL of the records used, in seconds. */
  ttl: number
}

/** node:dns codes that mean "this name has no such record", as opposed to "could not ask". */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND'])

/** `http://10.0.0.7:8080`, `http://[fd00::7]:8080`: the origin, as `Upstream` normalises it. */
export function memberUrl (protocol: string, address: string, port: number): string {
  const host = isIP(address) === 6 ? `[${address}]` : address
  return new URL(`${protocol}://${host}:${port}`).origin
}

function hostPort (address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`
}

/** Members for the addresses of an A/AAAA name: one each, weight 1, all primaries. Pure. */
export function membersFromAddresses (name: string, records: readonly AddressRecord[], port: number, protocol = 'http'): Member[] {
  return mergeMembers(records.map((r) => ({
    url: memberUrl(protocol, r.address, port),
    weight: 1,
    backup: false,
    name: `${name}/${hostPort(r.address, port)}`
  })))
}

/**
 * Members for SRV records whose targets are resolved: the lowest priority value are primaries, every higher one a
 * backup (nginx `service=`, HAProxy `resolvers`: one server per address, each with its record's weight). RFC 2782
 * weight 0 means "very rarely"; the balancer's weights start at 1, so 0 becomes 1. A target `.` means "no
 * service here" and is skipped. Pure.
 */
export function membersFromSrv (
  records: readonly SrvRecord[],
  addressesOf: ReadonlyMap<string, readonly AddressRecord[]>,
  protocol = 'http'
): Member[] {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.')
  if (usable.length === 0) return []
  let lowest = Infinity
  for (const r of usable) if (r.priority < lowest) lowest = r.priority
  const members: Member[] = []
  for (const r of usable) {
    for (const a of addressesOf.get(r.name) ?? []) {
      members.push({
        url: memberUrl(protocol, a.address, r.port),
        weight: Math.max(1, r.weight),
        backup: r.priority !== lowest,
        name: `${r.name}/${hostPort(a.address, r.port)}`
      })
    }
  }
  return mergeMembers(members)
}

/** The wait before the next resolution: the TTL clamped to [min, max]. Pure. */
export function refreshDelay (ttlSeconds: number, refresh: { min: number, max: number }): number {
  const wanted = Number.isFinite(ttlSeconds) && ttlSeconds > 0 ? ttlSeconds * 1000 : 0
  return Math.min(refresh.max, Math.max(refresh.min, wanted))
}

/** The wait after `failures` failures in a row: `min`, doubled each time, capped at `max`. Pure. */
export function failureDelay (failures: number, refresh: { min: number, max: number }): number {
  const exponent = Math.min(30, Math.max(0, failures - 1))
  return Math.min(refresh.max, refresh.min * 2 ** exponent)
}

export interface DnsDiscoveryDeps {
  onChange: MembershipListener
  clock?: Clock
  log?: DiscoveryLogger
  /** Replaces the node:dns resolver (tests). */
  resolver?: DnsResolver
}

export class DnsDiscovery implements Discovery {
  private current: readonly Member[] = []
  private readonly resolver: DnsResolver
  private readonly clock: Clock
  private readonly log: DiscoveryLogger
  private timer: TimerHandle | null = null
  private inFlight: Promise<void> | null = null
  private closed = false
  private failures = 0
  /** Last addresses of each SRV target, used when one target fails while the SRV answer itself came back. */
  private targetCache = new Map<string, readonly AddressRecord[]>()
  /** Milliseconds until the next resolution, as last scheduled (for status and tests). */
  nextRefreshIn = 0
  /** The last failure, or null after a success. */
  lastError: Error | null = null

  constructor (readonly options: ResolvedDnsDiscoveryOptions, private readonly deps: DnsDiscoveryDeps) {
    this.clock = deps.clock ?? systemClock
    this.log = deps.log ?? silentDiscoveryLogger
    if (deps.resolver !== undefined) {
      this.resolver = deps.resolver
    } else {
      // c-ares retries a timed-out query once, with a doubled timeout: ~3 × timeout at worst per name.
      const resolver = new dnsPromises.Resolver({ timeout: options.timeout, tries: 2 })
      if (options.servers !== null) resolver.setServers(options.servers as string[])
      this.resolver = resolver
    }
  }

  get members (): readonly Member[] { return this.current }

  async start (): Promise<void> {
    await this.refresh()
  }

  /** Resolves now (joining a resolution in flight), then re-arms the timer. */
  async refresh (): Promise<void> {
    if (this.closed) return
    if (this.inFlight !== null) return await this.inFlight
    this.cancelTimer()
    this.inFlight = this.run().finally(() => { this.inFlight = null })
    await this.inFlight
  }

  async close (): Promise<void> {
    this.closed = true
    this.cancelTimer()
    this.resolver.cancel()
    if (this.inFlight !== null) await this.inFlight
  }

  private async run (): Promise<void> {
    let delay: number
    try {
      const { members, ttl } = await this.resolve()
      if (this.closed) return
      if (members.length === 0) throw Object.assign(new Error(`no usable records for ${this.options.dns}`), { code: 'ENODATA' })
      this.failures = 0
      this.lastError = null
      delay = refreshDelay(ttl, this.options.refresh)
      this.apply(members)
    } catch (err) {
      if (this.closed) return
      this.failures++
      this.lastError = err instanceof Error ? err : new Error(String(err))
      delay = failureDelay(this.failures, this.options.refresh)
      // As nginx's `resolve`: the addresses we have keep serving while the resolver is in trouble.
      this.log.warn({ dns: this.options.dns, err: errorText(err), failures: this.failures, keeping: this.current.length, retryIn: delay },
        this.current.length > 0 ? 'dns discovery: resolution failed, keeping the last good members' : 'dns discovery: resolution failed, no members yet')
    }
    this.schedule(delay)
  }

  private apply (desired: Member[]): void {
    const change = membershipChange(this.current, desired)
    if (change === null) return
    this.current = desired
    this.log.info({
      dns: this.options.dns,
      added: change.added.map((m) => m.name),
      removed: change.removed.map((m) => m.name),
      updated: change.updated.map((m) => m.name)
    }, 'dns discovery: members changed')
    this.emit(change)
  }

  private emit (change: MembershipChange): void {
    try {
      this.deps.onChange(change)
    } catch (err) {
      this.log.warn({ dns: this.options.dns, err: errorText(err) }, 'dns discovery: the membership listener threw')
    }
  }

  private schedule (delay: number): void {
    if (this.closed) return
    this.nextRefreshIn = delay
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.refresh().catch(/* c8 ignore next: run() catches everything */ () => {})
    }, delay)
  }

  private cancelTimer (): void {
    if (this.timer !== null) {
      this.timer.cancel()
      this.timer = null
    }
  }

  private async resolve (): Promise<Resolution> {
    const { options } = this
    if (!options.srv) {
      const records = await this.addresses(options.dns)
      return { members: membersFromAddresses(options.dns, records, options.port, options.protocol), ttl: minTtl(records) }
    }
    const records = await this.resolver.resolveSrv(options.dns)
    const targets = [...new Set(records.map((r) => r.name).filter((n) => n !== '' && n !== '.'))]
    const addressesOf = new Map<string, readonly AddressRecord[]>()
    let ttl = Infinity
    await Promise.all(targets.map(async (target) => {
      if (isIP(target) !== 0) {
        // Not RFC 2782, but seen in the wild. No TTL is known for it: count it as 0, i.e. the refresh floor.
        addressesOf.set(target, [{ address: target, ttl: 0 }])
        ttl = 0
        return
      }
      try {
        const found = await this.addresses(target)
        addressesOf.set(target, found)
        ttl = Math.min(ttl, minTtl(found))
      } catch (err) {
        const cached = this.targetCache.get(target)
        this.log.warn({ dns: options.dns, target, err: errorText(err), keeping: cached?.length ?? 0 },
          'dns discovery: an SRV target did not resolve, keeping its last addresses')
        if (cached !== undefined) addressesOf.set(target, cached)
        ttl = 0
      }
    }))
    this.targetCache = new Map(addressesOf)
    // node:dns does not expose the SRV record's own TTL; the targets' address records bound how long this holds.
    return { members: membersFromSrv(records, addressesOf, options.protocol), ttl }
  }

  /** Addresses of `name` by the family rule. A "no such record" for A falls back to AAAA with family 0. */
  private async addresses (name: string): Promise<AddressRecord[]> {
    const { family } = this.options
    if (family === 6) return await this.resolver.resolve6(name, { ttl: true })
    if (family === 4) return await this.resolver.resolve4(name, { ttl: true })
    try {
      const v4 = await this.resolver.resolve4(name, { ttl: true })
      if (v4.length > 0) return v4
    } catch (err) {
      // Only "no A record" falls back; a timeout or SERVFAIL is a failure, not a reason to switch families.
      if (!NO_RECORD.has((err as { code?: string }).code ?? '')) throw err
    }
    return await this.resolver.resolve6(name, { ttl: true })
  }
}

function minTtl (records: readonly AddressRecord[]): number {
  let ttl = Infinity
  for (const r of records) if (r.ttl < ttl) ttl = r.ttl
  return ttl
}
