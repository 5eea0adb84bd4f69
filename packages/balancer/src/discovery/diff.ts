/**
 * Membership as discovery sources see it, and the diff between what is wanted and what is there.
 *
 * Every discovery source (DNS, the Redis registry) produces the *desired* member list; `diffMembers()` turns
 * "desired vs current" into adds, removes and updates, which the engine applies one by one (remove = drain, then
 * drop). Pure: no Fastify, no network, no timers, so it is unit-tested alone.
 */

/** One upstream as a discovery source describes it. `url` is its identity. */
export interface Member {
  /** Normalised origin, `http://10.0.0.7:8080` (IPv6 in brackets). The member's identity. */
  readonly url: string
  /** Positive integer share of traffic. */
  readonly weight: number
  /** Only used when no primary is eligible (SRV records of a higher priority than the lowest). */
  readonly backup: boolean
  /** Name in logs, metrics and the admin API. */
  readonly name: string
}

export interface MembershipDiff {
  /** In `desired`, not in `current`. */
  readonly added: readonly Member[]
  /** In `current`, not in `desired` (the member as it was). */
  readonly removed: readonly Member[]
  /** In both, with a different weight, backup flag or name: the desired version. */
  readonly updated: readonly Member[]
}

/** What a discovery source reports each time its desired list changes. */
export interface MembershipChange extends MembershipDiff {
  /** The complete desired list, sorted by url. */
  readonly members: readonly Member[]
}

/** Compares two member lists by url; neither is modified. Duplicate urls: the last one wins. */
export function diffMembers (current: readonly Member[], desired: readonly Member[]): MembershipDiff {
  const before = new Map<string, Member>()
  for (const member of current) before.set(member.url, member)
  const after = new Map<string, Member>()
  for (const member of desired) after.set(member.url, member)

  const added: Member[] = []
  const updated: Member[] = []
  for (const [url, member] of after) {
    const previous = before.get(url)
    if (previous === undefined) added.push(member)
    else if (!sameMember(previous, member)) updated.push(member)
  }
  const removed: Member[] = []
  for (const [url, member] of before) {
    if (!after.has(url)) removed.push(member)
  }
  return { added, removed, updated }
}

export function isEmptyDiff (diff: MembershipDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.updated.length === 0
}

export function sameMember (a: Member, b: Member): boolean {
  return a.url === b.url && a.weight === b.weight && a.backup === b.backup && a.name === b.name
}

/**
 * One member per url, sorted by url so that equal sets compare equal and logs are stable. When a url appears more
 * than once (two SRV records pointing at the same address and port, a repeated A record), a primary beats a backup
 * and the larger weight is kept: traffic to one socket address is one member, never counted twice.
 */
export function mergeMembers (members: readonly Member[]): Member[] {
  const byUrl = new Map<string, Member>()
  for (const member of members) {
    const seen = byUrl.get(member.url)
    if (seen === undefined || preferred(member, seen)) byUrl.set(member.url, member)
  }
  return [...byUrl.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
}

function preferred (candidate: Member, seen: Member): boolean {
  if (candidate.backup !== seen.backup) return !candidate.backup
  return candidate.weight > seen.weight
}

/** A `MembershipChange` from the previous and the new desired lists, or null when nothing changed. */
export function membershipChange (current: readonly Member[], desired: readonly Member[]): MembershipChange | null {
  const diff = diffMembers(current, desired)
  if (isEmptyDiff(diff)) return null
  return { members: desired, added: diff.added, removed: diff.removed, updated: diff.updated }
}
