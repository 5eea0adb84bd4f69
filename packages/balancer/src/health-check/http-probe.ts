/**
 * The real active probe: `GET <path>` on each upstream (or on its own `healthCheck.url`), through a small
 * undici Agent owned by one balancer and closed with it.
 *
 * Reads at most `maxBodyBytes` of the answer, and only to find the `status` of an `application/health+json`
 * body (`pass` / `warn` / `fail`); every other body is discarded unread. Never throws: transport errors come
 * back as `{ status: 0, error }`, and the scheduler's abort signal ends a probe that outlives its timeout.
 * This is the one health-check file allowed to import undici.
 */
import { Agent } from 'undici'
import type { Upstream } from '../upstream/upstream.js'
import type { ProbeResult } from './state-machine.js'

export const DEFAULT_HEALTH_CHECK_PATH = '/health/ready'
/** Enough for any sane health report; a bigger one is not parsed (and the status code still counts). */
export const DEFAULT_HEALTH_CHECK_MAX_BODY = 64 * 1024

export interface HttpProbeOptions {
  /** Path probed on every upstream without its own URL. */
  path: string
  /** Extra request headers (e.g. an auth token the health endpoint needs). */
  headers?: Readonly<Record<string, string>>
  /** Upper bound for a probe, in ms: the scheduler aborts first; this is undici's own safety net. */
  timeout: number
  /** Bytes of body read at most. Default 64 KiB. */
  maxBodyBytes?: number
}

export class HttpProbe {
  private readonly agent: Agent
  /** Per-upstream target overrides (`healthCheck.url` on an upstream), keyed by upstream id. */
  private readonly targets = new Map<number, URL>()
  private readonly headers: Record<string, string>
  private readonly maxBodyBytes: number
  private closed = false

  constructor (private readonly options: HttpProbeOptions) {
    // One connection per upstream is enough: probes of one upstream never overlap.
    this.agent = new Agent({
      connections: 1,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      connect: { timeout: options.timeout }
    })
    this.headers = {
      accept: 'application/health+json, application/json;q=0.9, */*;q=0.1',
      'user-agent': 'switchyard-health-check',
      ...options.headers
    }
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_HEALTH_CHECK_MAX_BODY
  }

  /**
   * Sends `upstream`'s probes to `url` instead: an absolute URL (another port, e.g. an admin listener) or a
   * path on the upstream's own origin.
   */
  setTarget (upstream: Upstream, url: string | undefined): void {
    if (url === undefined) this.targets.delete(upstream.id)
    else this.targets.set(upstream.id, new URL(url, upstream.url))
  }

  /** Where `upstream` is probed. */
  targetOf (upstream: Upstream): URL {
    return this.targets.get(upstream.id) ?? new URL(this.options.path, upstream.url)
  }

  /** The `ProbeFunction` for the scheduler. */
  readonly probe = async (upstream: Upstream, signal: AbortSignal): Promise<ProbeResult> => {
    if (this.closed) return { status: 0, error: new Error('health check probe closed') }
    const target = this.targetOf(upstream)
    try {
      const res = await this.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'GET',
        headers: this.headers,
        signal,
        headersTimeout: this.options.timeout,
        bodyTimeout: this.options.timeout
      })
      const type = res.headers['content-type']
      const contentType = (Array.isArray(type) ? type[0] : type) ?? ''
      if (!isJson(contentType)) {
        await res.body.dump({ limit: this.maxBodyBytes })
        return { status: res.statusCode }
      }
      const healthJsonStatus = await readHealthStatus(res.body, this.maxBodyBytes)
      return healthJsonStatus === undefined ? { status: res.statusCode } : { status: res.statusCode, healthJsonStatus }
    } catch (err) {
      return { status: 0, error: err instanceof Error ? err : new Error(String(err)) }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    // destroy, not close: a probe hanging on a frozen upstream must not hold up the gateway's shutdown.
    await this.agent.destroy()
  }
}

function isJson (contentType: string): boolean {
  const type = contentType.toLowerCase()
  return type.startsWith('application/health+json') || type.startsWith('application/json')
}

/** Reads up to `limit` bytes and returns the report's `status`, or undefined when there is none to read. */
async function readHealthStatus (body: AsyncIterable<Buffer> & { destroy: () => unknown }, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > limit) {
      body.destroy() // too big to be a health report: the status code alone decides
      return undefined
    }
    chunks.push(chunk)
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (typeof parsed === 'object' && parsed !== null) {
      const status = (parsed as { status?: unknown }).status
      if (typeof status === 'string') return status.toLowerCase()
    }
  } catch {
    // Not JSON after all: the status code alone decides.
  }
  return undefined
}
