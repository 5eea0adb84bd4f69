/**
 * What every discovery source shares: the logger subset it writes to and the lifecycle it offers the plugin.
 * Fastify-free: the plugin hands in `fastify.log`, tests a recording logger.
 */
import type { Member, MembershipChange } from './diff.js'

/** The subset of a pino/Fastify logger the discovery sources use. */
export interface DiscoveryLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** Receives each change of the desired member list. Exceptions are caught and logged, never break the loop. */
export type MembershipListener = (change: MembershipChange) => void

/** A source of upstreams that changes over time (DNS, the Redis registry). */
export interface Discovery {
  /** The last desired list (empty until the first successful read). */
  readonly members: readonly Member[]
  /**
   * First read, then the refresh loop. Resolves after the first attempt, successful or not: a source that is
   * down at start keeps retrying in the background.
   */
  start (): Promise<void>
  /** Stops every timer and closes what the source created (never a client the user passed in). */
  close (): Promise<void>
}

export const silentDiscoveryLogger: DiscoveryLogger = { info () {}, warn () {} }

/** `err.code` or `err.message`, for logs. */
export function errorText (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const { code, message } = err as { code?: unknown, message?: unknown }
    if (typeof code === 'string' && typeof message === 'string' && !message.includes(code)) return `${code}: ${message}`
    if (typeof message === 'string') return message
  }
  return String(err)
}
