/**
 * Shared pieces of the benchmarks: a teardown host outside tap, gateways in their own processes, autocannon runs
 * and table printing. Every benchmark measures Switchyard and its peer in the same run and prints ratios.
 */
import autocannon from 'autocannon'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Backends, startBackends } from '@switchyard/test-harness'

/** Collects cleanups like tap's `t.teardown`, run in reverse by `close()`. */
export class Teardown {
  private readonly fns: Array<() => unknown> = []
  teardown (fn: () => unknown): void { this.fns.push(fn) }
  async close (): Promise<void> {
    for (const fn of this.fns.reverse()) await fn()
    this.fns.length = 0
  }
}

/** Seconds per measured run, overridable for a quick look: SWITCHYARD_BENCH_SECONDS=2 npm run bench. */
export function benchSeconds (fallback: number): number {
  const value = Number(process.env.SWITCHYARD_BENCH_SECONDS)
  return Number.isFinite(value) && value > 0 ? value : fallback
}

export type GatewayKind = 'balancer' | 'http-proxy' | 'http-proxy-lib'

const gatewayScript = fileURLToPath(new URL('./gateway-server.ts', import.meta.url))

/**
 * Starts a gateway of `kind` in its own process (so the load generator does not steal its CPU), in front of
 * `upstreams`. Returns its URL; killed with the teardown.
 */
export async function startGatewayProcess (t: Teardown, kind: GatewayKind, upstreams: string[], options: object = {}): Promise<{ url: string, pid: number, backends: Backends }> {
  const backends = await startBackends(t, 1, {
    names: [kind],
    script: gatewayScript,
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { GATEWAY_KIND: kind, GATEWAY_UPSTREAMS: JSON.stringify(upstreams), GATEWAY_OPTIONS: JSON.stringify(options) }
  })
  return { url: backends.url(0), pid: backends.at(0).pid, backends }
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc (Linux). */
export function cpuMicros (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

export interface CannonResult {
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  total: number
  /** Gateway CPU per request in µs, when a gateway pid was given. */
  cpuPerRequest?: number
}

/** One autocannon run (closed loop, true per-request latencies from its HDR histogram). */
export async function cannon (url: string, { connections = 50, seconds = 5, path = '/', pid = 0 } = {}): Promise<CannonResult> {
  const cpuBefore = pid > 0 ? cpuMicros(pid) : 0
  const result = await autocannon({ url: url + path, connections, duration: seconds, pipelining: 1 })
  const cpu = pid > 0 ? cpuMicros(pid) - cpuBefore : 0
  return {
    ...(pid > 0 && result.requests.total > 0 ? { cpuPerRequest: cpu / result.requests.total } : {}),
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Prints rows as an aligned text table. */
export function table (rows: Array<Record<string, string | number>>): void {
  if (rows.length === 0) return
  const headers = Object.keys(rows[0]!)
  const cells = rows.map((row) => headers.map((h) => String(row[h] ?? '')))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join('  ')
  console.log(line(headers))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const c of cells) console.log(line(c))
}

export function verdict (met: boolean): string { return met ? 'met' : 'MISSED' }

/** True when this module is the process entry point (so a benchmark file can also be imported by run.ts). */
export function isMain (metaUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(metaUrl) === process.argv[1]
}
