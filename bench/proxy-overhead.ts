/**
 * Issue 2: what the balancer costs when nothing fails. Direct to one backend vs bare @fastify/http-proxy
 * (round robin by getUpstream) vs @switchyard/balancer, on the same 3 backends, in one run. The two proxies are
 * measured alternately, several rounds, and compared by their medians so that drift on a shared machine cancels.
 * Target: balancer / bare http-proxy ≥ 0.97 in req/s.
 */
import { startBackends } from '@switchyard/test-harness'
import { benchSeconds, cannon, type CannonResult, isMain, median, startGatewayProcess, table, Teardown, verdict } from './lib.js'

export async function main (): Promise<{ ratio: number }> {
  const t = new Teardown()
  try {
    const seconds = benchSeconds(5)
    const rounds = Number(process.env.SWITCHYARD_BENCH_ROUNDS ?? 3)
    const backends = await startBackends(t, 3)
    const bare = await startGatewayProcess(t, 'http-proxy', backends.urls)
    const ours = await startGatewayProcess(t, 'balancer', backends.urls)
    console.log(`\n## Proxy overhead: 3 backends, 50 connections, ${seconds} s per run, ${rounds} alternating rounds`)
    // Warm-up: JIT and keep-alive pools.
    await cannon(bare.url, { seconds: 1 })
    await cannon(ours.url, { seconds: 1 })
    await cannon(backends.url(0), { seconds: 1 })
    const runs: Record<string, CannonResult[]> = { direct: [], 'http-proxy': [], balancer: [] }
    for (let round = 0; round < rounds; round++) {
      runs['http-proxy']!.push(await cannon(bare.url, { seconds, pid: bare.pid }))
      runs.balancer!.push(await cannon(ours.url, { seconds, pid: ours.pid }))
    }
    runs.direct!.push(await cannon(backends.url(0), { seconds }))
    const summary = (name: string): Record<string, string | number> => {
      const list = runs[name]!
      return {
        target: name,
        'req/s': Math.round(median(list.map((r) => r.rps))),
        'p50 ms': median(list.map((r) => r.p50)),
        'p99 ms': median(list.map((r) => r.p99)),
        'gateway CPU µs/req': name === 'direct' ? '-' : median(list.map((r) => r.cpuPerRequest ?? 0)).toFixed(1),
        'errors+non2xx': list.reduce((s, r) => s + r.errors + r.non2xx, 0),
        'runs req/s': list.map((r) => Math.round(r.rps)).join(' ')
      }
    }
    table([summary('direct'), summary('http-proxy'), summary('balancer')])
    const ratio = median(runs.balancer!.map((r) => r.rps)) / median(runs['http-proxy']!.map((r) => r.rps))
    const cpuRatio = median(runs['http-proxy']!.map((r) => r.cpuPerRequest ?? 0)) / median(runs.balancer!.map((r) => r.cpuPerRequest ?? 1))
    console.log(`\nratio balancer / bare @fastify/http-proxy (req/s): ${ratio.toFixed(3)}  target ≥ 0.97: ${verdict(ratio >= 0.97)}`)
    console.log(`gateway CPU per request, bare / balancer: ${cpuRatio.toFixed(3)} (the req/s ratio a CPU-bound gateway on an idle machine would show)`)
    return { ratio }
  } finally {
    await t.close()
  }
}

if (isMain(import.meta.url)) await main()
