/**
 * Applies a discovery source's membership changes to the engine, one upstream at a time, through the engine's own
 * `addUpstream` / `removeUpstream` (remove = drain, then drop) / `setWeight`. So the set and the pickers are
 * rebuilt by the same code path as for an admin change, and a pick never sees a half-applied list.
 *
 * Changes to one url are serialised: a member that leaves and comes back while still draining is added again only
 * once the drain and removal have finished (the engine refuses two upstreams with the same url). Changes to
 * different urls run independently, so one slow drain does not hold back a join. Fastify-free.
 */
import type { Member, MembershipChange } from './diff.js'
import { type DiscoveryLogger, errorText, silentDiscoveryLogger } from './types.js'

/** What the applier needs from the engine (`Balancer` provides it). */
export interface MembershipTarget {
  /** The upstream with this url, if any. */
  find (url: string): { readonly weight: number, readonly backup: boolean } | undefined
  addUpstream (member: { url: string, weight: number, backup: boolean, name: string }): unknown
  /** Drains, then drops; false when there was no such upstream. */
  removeUpstream (url: string): Promise<boolean>
  /** False when there was no such upstream. */
  setWeight (url: string, weight: number): boolean
}

export class MembershipApplier {
  private readonly chains = new Map<string, Promise<void>>()

  constructor (private readonly target: MembershipTarget, private readonly log: DiscoveryLogger = silentDiscoveryLogger) {}

  apply (change: MembershipChange): void {
    for (const member of change.removed) this.enqueue(member.url, async () => { await this.remove(member) })
    for (const member of change.added) this.enqueue(member.url, async () => { this.add(member) })
    for (const member of change.updated) this.enqueue(member.url, async () => { await this.update(member) })
  }

  /** Resolves once every queued change has been applied (drains included). */
  async idle (): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()])
  }

  private enqueue (url: string, step: () => Promise<void>): void {
    const previous = this.chains.get(url) ?? Promise.resolve()
    const next = previous.then(step).catch((err: unknown) => {
      this.log.warn({ url, err: errorText(err) }, 'discovery: could not apply a membership change')
    })
    this.chains.set(url, next)
    next.then(() => { if (this.chains.get(url) === next) this.chains.delete(url) }, /* c8 ignore next: caught above */ () => {})
  }

  private add (member: Member): void {
    if (this.target.find(member.url) !== undefined) {
      // Already there (added by the admin API, or still listed from before): leave it as it is.
      this.log.info({ url: member.url }, 'discovery: upstream already present, not added twice')
      return
    }
    this.target.addUpstream({ url: member.url, weight: member.weight, backup: member.backup, name: member.name })
  }

  private async remove (member: Member): Promise<void> {
    await this.target.removeUpstream(member.url)
  }

  private async update (member: Member): Promise<void> {
    const existing = this.target.find(member.url)
    if (existing === undefined) {
      this.add(member)
      return
    }
    if (existing.backup !== member.backup) {
      // Primary ↔ backup (an SRV priority change) is a different upstream to the set: drain it, then add it anew.
      await this.target.removeUpstream(member.url)
      this.add(member)
      return
    }
    if (existing.weight !== member.weight) this.target.setWeight(member.url, member.weight)
  }
}
