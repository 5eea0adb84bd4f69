/**
 * Issue 2: kill -9 one of 3 backends at t = 3 s of a 10 s load at 50 connections, through each gateway in turn.
 * Prints failed requests and the p99 latency in the second after the kill. The peers are measured in the same
 * run: bare @fastify/http-proxy (round robin by getUpstream) and node-http-proxy. Target for the balancer: 0 failed.
 */
import { percentile, runLoad, startBackends } from '@switchyard/test-harness'
import { benchSeconds, type GatewayKind, isMain, startGatewayProcess, table, Teardown, verdict } from './lib.js'

async function scenario (kind: GatewayKind, seconds: number, killAt: number): Promise<Record<string, string | number>> {
  const t = new Teardown()
  try {
    const backends = await startBackends(t, 3)
    const gateway = await startGatewayProcess(t, kind, backends.urls)
    await runLoad({ url: gateway.url, connections: 10, durationMs: 500 }) // warm-up
    const load = runLoad({ url: gateway.url, connections: 50, durationMs: seconds * 1000, recordSamples: true, timeout: 10_000 })
    const killer = new Promise<void>((resolve) => {
      setTimeout(() => { backends.kill(1, 'SIGKILL').then(resolve, resolve) }, killAt * 1000)
    })
    const [result] = await Promise.all([load, killer])
    const afterKill = result.samples.filter((s) => s.start >= killAt * 1000 && s.start < (killAt + 1) * 1000)
    const latencies = afterKill.map((s) => s.latency).sort((a, b) => a - b)
    const failedAfterKill = result.samples.filter((s) => s.start >= killAt * 1000 && (s.status < 200 || s.status >= 300)).length
    return {
      gateway: kind === 'balancer' ? '@switchyard/balancer' : kind === 'http-proxy' ? '@fastify/http-proxy' : 'http-proxy (node)',
      requests: result.total,
      failed: result.failed,
      'failed after kill': failedAfterKill,
      'failed share': `${((result.failed / result.total) * 100).toFixed(2)} %`,
      'p99 ms (1 s after kill)': latencies.length > 0 ? percentile(latencies, 0.99).toFixed(1) : '-',
      'p99 ms (whole run)': result.latency.p99.toFixed(1),
      'req/s': Math.round(result.rps)
    }
  } finally {
    await t.close()
  }
}

export async function main (): Promise<{ failed: number }> {
  const seconds = benchSeconds(10)
  const killAt = Math.min(3, Math.round(seconds * 3) / 10)
  console.log(`\n## Failover: kill -9 one of 3 backends at t=${killAt} s of a ${seconds} s load, 50 connections`)
  const rows = []
  for (const kind of ['balancer', 'http-proxy', 'http-proxy-lib'] as const) rows.push(await scenario(kind, seconds, killAt))
  table(rows)
  const failed = Number(rows[0]!.failed)
  console.log(`\n@switchyard/balancer failed requests: ${failed}  target 0: ${verdict(failed === 0)}`)
  return { failed }
}

if (isMain(import.meta.url)) await main()
