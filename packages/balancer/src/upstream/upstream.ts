/**
 * One upstream server: its identity, configuration, live counters and health flags.
 *
 * Health checking and outlier detection only set and clear flags here (as Envoy's host health flags);
 * they never pick. Pickers read the precomputed lists of `UpstreamSet`. Pure: no Fastify, no network.
 */

/** Health flags, one bit each, set and cleared by independent units. */
export const UpstreamFlag = {
  /** The active health checker saw it fail `unhealthyThreshold` times. */
  FAILED_ACTIVE_HC: 1 << 0,
  /** The outlier detector ejected it (passive, from real traffic). */
  FAILED_OUTLIER: 1 << 1,
  /** No active health verdict yet (a new upstream that starts "pending"). */
  PENDING_ACTIVE_HC: 1 << 2,
  /** Draining: no new requests; in-flight ones finish. */
  DRAINING: 1 << 3,
  /** Healthy but reported `warn` by its health endpoint: still eligible. */
  DEGRADED: 1 << 4,
  /** Held out after a 503 with Retry-After, until the time it asked for. */
  RETRY_AFTER: 1 << 5,
  /** Another gateway reported it failing (`sharedHealth`): avoided for a short hold; only a remote "up" clears it. */
  REMOTE_FAILED: 1 << 6
} as const

/** Flags that make an upstream ineligible for new requests (DEGRADED does not). */
export const EXCLUDING_FLAGS = UpstreamFlag.FAILED_ACTIVE_HC | UpstreamFlag.FAILED_OUTLIER |
  UpstreamFlag.PENDING_ACTIVE_HC | UpstreamFlag.DRAINING | UpstreamFlag.RETRY_AFTER | UpstreamFlag.REMOTE_FAILED

export interface UpstreamConfig {
  /** Origin URL, e.g. `http://127.0.0.1:3001`. */
  url: string
  /** Relative share of traffic, a positive integer (nginx `weight=`). Default 1. */
  weight?: number
  /** Only used when no primary upstream is eligible (nginx/HAProxy `backup`). */
  backup?: boolean
  /** Name in logs, metrics and the status page. Default: the URL. */
  name?: string
}

let nextId = 0

export class Upstream {
  /** Unique for the life of the process, never reused: safe as an array key in transports. */
  readonly id: number
  /** Normalised origin: `http://host:port`. */
  readonly url: string
  /** `host:port` as sent in the `Host` header to this upstream. */
  readonly host: string
  readonly name: string
  readonly backup: boolean
  /** Configured weight. */
  weight: number
  /** Weight the pickers use: `weight` scaled by slow start (never below a small floor while ramping). */
  effectiveWeight: number
  /** Bitwise OR of `UpstreamFlag`s. */
  flags = 0
  /** Requests sent to it and not yet finished (response body fully read or aborted). */
  inFlight = 0
  /** Peak-EWMA latency in ms (0 = no sample yet), maintained by the engine for latency-aware pickers. */
  latencyEwma = 0
  /** `clock.now()` of the last latency sample. */
  latencyStamp = 0
  /** Counters for stats. */
  requests = 0
  failures = 0

  constructor (config: Readonly<Required<UpstreamConfig>>) {
    this.id = nextId++
    const parsed = new URL(config.url)
    this.url = parsed.origin
    this.host = parsed.host
    this.name = config.name
    this.backup = config.backup
    this.weight = config.weight
    this.effectiveWeight = config.weight
  }

  /** True when nothing keeps it from new requests. */
  get available (): boolean { return (this.flags & EXCLUDING_FLAGS) === 0 }

  has (flag: number): boolean { return (this.flags & flag) !== 0 }

  /** Sets or clears `flag`; answers whether anything changed. */
  setFlag (flag: number, on: boolean): boolean {
    const before = this.flags
    this.flags = on ? before | flag : before & ~flag
    return this.flags !== before
  }
}
