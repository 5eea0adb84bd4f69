/**
 * The upstreams of one balancer and the lists pickers read.
 *
 * Flags change rarely; requests are many. So the set rebuilds its `eligible` list when told that something
 * changed (`changed()`), never per request (DESIGN.md principle 3). Panic mode and backup fallback are decided
 * here, once per change. Pure: no Fastify, no network.
 */
import { Upstream, UpstreamFlag } from './upstream.js'

export interface UpstreamSetOptions {
  /**
   * Percent of primaries that must be available; below it the set balances over all non-draining primaries
   * (Envoy `healthy_panic_threshold`), because health state may be wrong and refusing traffic is worse.
   * 0 disables panic mode.
   */
  panicThreshold: number
}

export type SetState = 'normal' | 'panic' | 'backup' | 'none'

export interface SetChange {
  readonly previous: SetState
  readonly state: SetState
  readonly eligible: readonly Upstream[]
}

export class UpstreamSet {
  /** What pickers see. Replaced (not mutated) on each rebuild, so a picker may keep a reference. */
  eligible: readonly Upstream[] = []
  state: SetState = 'none'
  private members: Upstream[]
  private readonly listeners: Array<(change: SetChange) => void> = []

  constructor (upstreams: Upstream[], private readonly options: UpstreamSetOptions) {
    this.members = upstreams.slice()
    this.rebuild()
  }

  get all (): readonly Upstream[] { return this.members }

  /** Called with the new lists after every rebuild. */
  onChange (listener: (change: SetChange) => void): void { this.listeners.push(listener) }

  add (upstream: Upstream): void {
    this.members = [...this.members, upstream]
    this.changed()
  }

  remove (upstream: Upstream): boolean {
    const next = this.members.filter((u) => u !== upstream)
    if (next.length === this.members.length) return false
    this.members = next
    this.changed()
    return true
  }

  find (urlOrName: string): Upstream | undefined {
    let origin: string | undefined
    try { origin = new URL(urlOrName).origin } catch { origin = undefined }
    return this.members.find((u) => u.url === origin || u.name === urlOrName)
  }

  /** Flags or weights changed somewhere: rebuild the lists and tell the listeners. */
  changed (): void {
    const previous = this.state
    this.rebuild()
    const change: SetChange = { previous, state: this.state, eligible: this.eligible }
    for (const listener of this.listeners) listener(change)
  }

  /**
   * Upstreams whose health is in doubt (pending, ejected, failed a check, held by Retry-After) but not draining:
   * the last resort when nothing is eligible, tried before answering 503 (DESIGN.md principle 5).
   */
  inDoubt (): Upstream[] {
    return this.members.filter((u) => !u.available && !u.has(UpstreamFlag.DRAINING))
  }

  private rebuild (): void {
    const primaries: Upstream[] = []
    const availablePrimaries: Upstream[] = []
    const availableBackups: Upstream[] = []
    for (const u of this.members) {
      if (u.has(UpstreamFlag.DRAINING)) continue
      if (u.backup) {
        if (u.available) availableBackups.push(u)
        continue
      }
      primaries.push(u)
      if (u.available) availablePrimaries.push(u)
    }
    const { panicThreshold } = this.options
    const belowThreshold = primaries.length > 0 &&
      availablePrimaries.length * 100 < panicThreshold * primaries.length
    if (availablePrimaries.length > 0 && !belowThreshold) {
      this.eligible = availablePrimaries
      this.state = 'normal'
    } else if (availableBackups.length > 0) {
      // Active-passive: backups take the traffic only when the primaries cannot (nginx/HAProxy `backup`).
      this.eligible = availablePrimaries.length > 0 ? [...availablePrimaries, ...availableBackups] : availableBackups
      this.state = 'backup'
    } else if (belowThreshold && primaries.length > 0) {
      // Panic: too few primaries look healthy; trust none of the verdicts and use them all (Envoy).
      this.eligible = primaries
      this.state = 'panic'
    } else {
      this.eligible = availablePrimaries
      this.state = availablePrimaries.length > 0 ? 'normal' : 'none'
    }
  }
}
