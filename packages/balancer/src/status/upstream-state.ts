/**
 * One word for an upstream's state, as an operator reads it on the status page and in the `upstream_state`
 * metric, derived from the engine's flags (plus one passive signal, below). Pure: no Fastify, no network.
 */
import { type Upstream, UpstreamFlag } from '../upstream/upstream.js'
import type { SetState } from '../upstream/upstream-set.js'

export type UpstreamState =
  /** Takes traffic (DEGRADED, a health check that says `warn`, is still up). */
  | 'up'
  /**
   * Failed its active health checks, or (passive) its last connection attempt was refused and nothing answered
   * since, or another flag keeps it from traffic (e.g. another gateway reported it failing).
   */
  | 'down'
  /** Ejected by outlier detection (here, or by another gateway through `sharedHealth`), or held out by a 503 with Retry-After. */
  | 'ejected'
  /** Draining: no new requests, in-flight ones finish. */
  | 'draining'
  /** No health verdict yet (waiting for its first probe). */
  | 'pending'
  /** Up, with its weight still ramping after recovery (see `slowStartPercent`). */
  | 'slow-start'
  /** A backup standing by: up, but the primaries take the traffic. */
  | 'backup'

export const UPSTREAM_STATES: readonly UpstreamState[] = ['up', 'down', 'ejected', 'draining', 'pending', 'slow-start', 'backup']

/**
 * The state of `upstream`, most severe first: draining, down (active checks, or passive: `connectFailed`), ejected
 * (outlier, Retry-After, or another gateway's report), pending, down (any other excluding flag), slow start,
 * backup standing by, up.
 *
 * `connectFailed` is the passive signal the caller tracks from real traffic: the last attempt on this upstream
 * failed to connect and nothing answered since. It is what shows a crashed backend as down when active health
 * checks are off, and before they reach `unhealthyThreshold` when they are on.
 */
export function upstreamState (upstream: Upstream, setState: SetState, connectFailed: boolean): UpstreamState {
  const flags = upstream.flags
  if ((flags & UpstreamFlag.DRAINING) !== 0) return 'draining'
  if ((flags & UpstreamFlag.FAILED_ACTIVE_HC) !== 0 || connectFailed) return 'down'
  // REMOTE_FAILED: another gateway's ejection, shared over Redis (`sharedHealth`).
  if ((flags & (UpstreamFlag.FAILED_OUTLIER | UpstreamFlag.RETRY_AFTER | UpstreamFlag.REMOTE_FAILED)) !== 0) return 'ejected'
  if ((flags & UpstreamFlag.PENDING_ACTIVE_HC) !== 0) return 'pending'
  // Any other flag that keeps it from new requests (one added later) reads as down.
  if (!upstream.available) return 'down'
  if (upstream.effectiveWeight < upstream.weight) return 'slow-start'
  if (upstream.backup && setState !== 'backup') return 'backup'
  return 'up'
}

/** Effective weight as a percentage of the configured weight (100 unless slow start is ramping). */
export function weightPercent (upstream: Upstream): number {
  return upstream.weight > 0 ? Math.round(upstream.effectiveWeight * 100 / upstream.weight) : 100
}
