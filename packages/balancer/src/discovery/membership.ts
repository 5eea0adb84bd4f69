/**
 * Wires dynamic membership into one engine: the discovery source named by `upstreams` (DNS or the Redis registry)
 * feeding `MembershipApplier`, and the opt-in shared health view. The plugin calls `setUpMembership()` once and
 * `close()` in `onClose`; with static upstreams and no `sharedHealth` it returns null and nothing runs.
 * Fastify-free.
 */
import type { Balancer } from '../balancer.js'
import type { Clock } from '../util/clock.js'
import { MembershipApplier } from './apply.js'
import { DnsDiscovery, type ResolvedDnsDiscoveryOptions } from './dns.js'
import { RegistryWatcher, type ResolvedRegistryDiscoveryOptions } from './redis-registry.js'
import { type ResolvedSharedHealthOptions, SharedHealth } from './shared-health.js'
import type { Discovery, DiscoveryLogger } from './types.js'

/** Where a balancer's upstreams come from when they are not a fixed list. */
export type ResolvedDiscovery =
  | { readonly kind: 'dns', readonly options: ResolvedDnsDiscoveryOptions }
  | { readonly kind: 'redis', readonly options: ResolvedRegistryDiscoveryOptions }

export interface MembershipOptions {
  readonly discovery: ResolvedDiscovery | null
  readonly sharedHealth: ResolvedSharedHealthOptions | null
}

export interface Membership {
  /** The discovery source, or null with static upstreams. */
  readonly discovery: Discovery | null
  readonly sharedHealth: SharedHealth | null
  readonly applier: MembershipApplier | null
  close (): Promise<void>
}

/**
 * Starts what `options` asks for and waits for the first read of the discovery source (bounded: a source that is
 * down at start keeps retrying in the background, and the balancer answers 503 until it has members).
 */
export async function setUpMembership (engine: Balancer, options: MembershipOptions, deps: { clock: Clock, log: DiscoveryLogger }): Promise<Membership | null> {
  if (options.discovery === null && options.sharedHealth === null) return null
  let discovery: Discovery | null = null
  let applier: MembershipApplier | null = null
  if (options.discovery !== null) {
    const target = {
      find: (url: string) => engine.set.find(url),
      addUpstream: (member: { url: string, weight: number, backup: boolean, name: string }) => engine.addUpstream(member),
      removeUpstream: async (url: string) => await engine.removeUpstream(url),
      setWeight: (url: string, weight: number) => engine.setWeight(url, weight)
    }
    const membershipApplier = new MembershipApplier(target, deps.log)
    applier = membershipApplier
    const onChange = membershipApplier.apply.bind(membershipApplier)
    discovery = options.discovery.kind === 'dns'
      ? new DnsDiscovery(options.discovery.options, { onChange, clock: deps.clock, log: deps.log })
      : new RegistryWatcher(options.discovery.options, { onChange, clock: deps.clock, log: deps.log })
  }
  const sharedHealth = options.sharedHealth === null
    ? null
    : new SharedHealth(options.sharedHealth, {
      events: engine.events,
      find: (url) => engine.set.find(url),
      changed: () => { engine.set.changed() }
    }, { clock: deps.clock, log: deps.log })

  const source = discovery
  const shared = sharedHealth
  const close = async (): Promise<void> => {
    await Promise.all([source?.close(), shared?.close()])
  }
  try {
    await Promise.all([source?.start(), shared?.start()])
    // The first members are in before the server listens.
    await applier?.idle()
  } catch (err) {
    await close()
    throw err
  }
  return { discovery, sharedHealth, applier, close }
}
