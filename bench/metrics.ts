/**
 * Issue 7: what Prometheus metrics cost. The same balancer with metrics off, with `metrics: { route: '/metrics' }`,
 * and with metrics plus the status page (whose rolling windows are also fed per attempt), each in its own process
 * in front of the same 3 backends, measured in alternating rounds (the order flips every round so drift on a shared
 * machine cancels) with fresh gateway processes every round (how well V8 compiles the hot paths differs from one
 * process to the next and holds for its life: one process per variant for the whole run let that decide the
 * ratio). The headline ratio is the median of the per-round ratios (each round's variants run back to back, so
 * slow drift cancels within a pair); the ratio of the medians and the gateway CPU per request are printed too.
 * Target: metrics on / off ≥ 0.97 in req/s.
 * After the last round, one scrape checks that the metrics counted every request the load generator sent.
 */
import { request } from 'undici'
import { startBackends } from '@switchyard/test-harness'
import { benchSeconds, cannon, type CannonResult, isMain, median, startGatewayProcess, table, Teardown, verdict } from './lib.js'

const VARIANTS = [
  { name: 'metrics off', options: {} },
  { name: 'metrics on', options: { metrics: { route: '/metrics' } } },
  { name: 'metrics + status page', options: { metrics: { route: '/metrics' }, statusPage: { route: '/_switchyard' } } }
] as const

/** Sum of `switchyard_upstream_requests_total` over every upstream and status class. */
async function countedRequests (url: string): Promise<number> {
  const res = await request(`${url}/metrics`)
  const text = await res.body.text()
  let total = 0
  for (const match of text.matchAll(/^switchyard_upstream_requests_total\{[^}]*\} (\d+)$/gm)) total += Number(match[1])
  return total
}

export async function main (): Promise<{ ratio: number }> {
  const t = new Teardown()
  try {
    const seconds = benchSeconds(5)
    const rounds = Number(process.env.SWITCHYARD_BENCH_ROUNDS ?? 5)
    const backends = await startBackends(t, 3)
    console.log(`\n## Metrics overhead: 3 backends, 50 connections, ${seconds} s per run, ${rounds} alternating rounds, ` +
      'fresh gateway processes every round')
    const runs = new Map<string, CannonResult[]>(VARIANTS.map((v) => [v.name, []]))
    let sent = 0
    let counted = 0
    for (let round = 0; round < rounds; round++) {
      const gateways = []
      for (const variant of VARIANTS) gateways.push({ ...variant, ...await startGatewayProcess(t, 'balancer', backends.urls, variant.options) })
      // Warm-up: JIT and keep-alive pools.
      const warmUp = new Map<string, number>()
      for (const g of gateways) warmUp.set(g.name, (await cannon(g.url, { seconds: 1 })).total)
      const order = round % 2 === 0 ? gateways : [...gateways].reverse()
      for (const g of order) runs.get(g.name)!.push(await cannon(g.url, { seconds, pid: g.pid }))
      if (round === rounds - 1) {
        const on = gateways[1]!
        sent = warmUp.get(on.name)! + runs.get(on.name)!.at(-1)!.total
        counted = await countedRequests(on.url)
      }
      for (const g of gateways) await g.backends.kill(0)
    }
    const medianRps = (name: string): number => median(runs.get(name)!.map((r) => r.rps))
    const medianCpu = (name: string): number => median(runs.get(name)!.map((r) => r.cpuPerRequest ?? 0))
    table(VARIANTS.map((g) => {
      const list = runs.get(g.name)!
      return {
        balancer: g.name,
        'req/s': Math.round(medianRps(g.name)),
        'p50 ms': median(list.map((r) => r.p50)),
        'p99 ms': median(list.map((r) => r.p99)),
        'CPU µs/req': medianCpu(g.name).toFixed(1),
        'errors+non2xx': list.reduce((s, r) => s + r.errors + r.non2xx, 0),
        'runs req/s': list.map((r) => Math.round(r.rps)).join(' ')
      }
    }))
    // autocannon's total leaves out requests still in flight when a run ends, so counted can be a little higher.
    console.log(`\nmetrics counted ${counted} attempts for the ${sent} requests sent to the last round's metrics-on gateway ` +
      '(warm-up included)')
    const off = runs.get('metrics off')!
    const pairedRatio = (name: string): number => median(runs.get(name)!.map((r, i) => r.rps / off[i]!.rps))
    const ratio = pairedRatio('metrics on')
    const withPage = pairedRatio('metrics + status page')
    console.log(`ratio metrics on / off (req/s, median of per-round ratios): ${ratio.toFixed(3)}  target ≥ 0.97: ${verdict(ratio >= 0.97)}` +
      `  (ratio of medians ${(medianRps('metrics on') / medianRps('metrics off')).toFixed(3)})`)
    console.log(`ratio metrics + status page / off (req/s): ${withPage.toFixed(3)}  (no target; for information)`)
    console.log(`gateway CPU per request, off / on: ${(medianCpu('metrics off') / medianCpu('metrics on')).toFixed(3)} ` +
      '(the req/s ratio a CPU-bound gateway on an idle machine would show)')
    return { ratio }
  } finally {
    await t.close()
  }
}

if (isMain(import.meta.url)) await main()
