/**
 * Dynamic membership: the discovery sources that feed upstreams to a balancer (DNS, the Redis heartbeat registry),
 * the replica side of the registry (`RegistryAnnouncer`), and the pure diff between member lists.
 */
export { diffMembers, mergeMembers, membershipChange, isEmptyDiff, type Member, type MembershipDiff, type MembershipChange } from './diff.js'
export { type Discovery, type DiscoveryLogger, type MembershipListener } from './types.js'
export {
  DnsDiscovery, resolveDnsDiscoveryOptions, type DnsDiscoveryOptions, type ResolvedDnsDiscoveryOptions, type DnsFamily,
  type DnsResolver, DEFAULT_DNS_REFRESH_MIN, DEFAULT_DNS_REFRESH_MAX, DEFAULT_DNS_TIMEOUT, DEFAULT_DNS_FAMILY
} from './dns.js'
export {
  RegistryWatcher, resolveRegistryDiscoveryOptions, type RegistryDiscoveryOptions, type ResolvedRegistryDiscoveryOptions,
  DEFAULT_REGISTRY_INTERVAL
} from './redis-registry.js'
export {
  RegistryAnnouncer, resolveAnnouncerOptions, type RegistryAnnouncerOptions, type ResolvedAnnouncerOptions,
  DEFAULT_ANNOUNCE_INTERVAL, DEFAULT_ANNOUNCE_TTL_INTERVALS
} from './announcer.js'
export {
  registryKeys, DEFAULT_REGISTRY_PREFIX, type RegistryKeys, type RegistryRedis, type RegistryRedisClient, type RegistrySubscriber
} from './registry-keys.js'
