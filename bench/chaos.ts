/**
 * Issue 4, chaos: 3 backends under a 50-connection load for 30 s while a script SIGKILLs, freezes (SIGSTOP),
 * thaws (SIGCONT) and restarts them every few seconds — never more than one sick at a time. Prints total and
 * failed requests (target 0 for GET), retries as a share of requests, and the share each backend served.
 *
 * Then the retry-storm run: every backend fails every second request with a 503. Prints the retry
 * amplification, upstream attempts ÷ client requests (target ≤ 1.25×), with the retry budget and, measured in
 * the same run for comparison, without it.
 *
 * Loopback only; every process is killed at the end. SWITCHYARD_BENCH_SECONDS shortens the chaos run (the
 * storm run takes a third of it, at least 3 s).
 * Run: node --import tsx --conditions=@switchyard/source bench/chaos.ts
 */
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { type Backends, runLoad, startBackends } from '@switchyard/test-harness'
import { benchSeconds, isMain, table, Teardown, verdict } from './lib.js'

const gatewayScript = fileURLToPath(new URL('./chaos-gateway.ts', import.meta.url))

interface GatewayStats {
  upstreams: Array<{ name: string, requests: number, failures: number }>
  transitions: Record<string, number>
}

/** The balancer in its own process (so the load generator does not steal its CPU), with a stats route. */
async function startGateway (t: Teardown, upstreams: string[], options: object): Promise<string> {
  const gateway = await startBackends(t, 1, {
    names: ['gateway'],
    script: gatewayScript,
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { GATEWAY_UPSTREAMS: JSON.stringify(upstreams), GATEWAY_OPTIONS: JSON.stringify(options) }
  })
  return gateway.url(0)
}

async function gatewayStats (url: string): Promise<GatewayStats> {
  const res = await request(`${url}/__gateway/stats`)
  return await res.body.json() as GatewayStats
}

const attempts = (stats: GatewayStats): number => stats.upstreams.reduce((sum, u) => sum + u.requests, 0)

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

const percent = (part: number, whole: number): string => `${whole === 0 ? '0.00' : ((part / whole) * 100).toFixed(2)} %`

/** One chaos action on the backends, logged with its time. */
type Action = [label: string, run: (b: Backends) => Promise<void> | void]

const SCRIPT: Action[] = [
  ['SIGKILL backend-0', async (b) => { await b.kill(0, 'SIGKILL') }],
  ['restart backend-0', async (b) => { await b.restart(0) }],
  ['SIGSTOP backend-1', (b) => { b.freeze(1) }],
  ['SIGCONT backend-1', (b) => { b.thaw(1) }],
  ['SIGKILL backend-2', async (b) => { await b.kill(2, 'SIGKILL') }],
  ['restart backend-2', async (b) => { await b.restart(2) }],
  ['SIGSTOP backend-0', (b) => { b.freeze(0) }],
  ['SIGCONT backend-0', (b) => { b.thaw(0) }],
  ['SIGKILL backend-1', async (b) => { await b.kill(1, 'SIGKILL') }],
  ['restart backend-1', async (b) => { await b.restart(1) }]
]

/** The options the chaos run uses: active checks every 500 ms, a 1 s per-attempt timeout for frozen backends. */
const CHAOS_OPTIONS = {
  timeout: 1000,
  healthCheck: { interval: 500, timeout: 500, unhealthyThreshold: 2, healthyThreshold: 2 },
  outlierDetection: { consecutiveFailures: 5 },
  slowStart: { window: 2000 }
}

export interface ChaosResult {
  requests: number
  failed: number
  retryShare: number
}

async function chaosRun (seconds: number): Promise<ChaosResult> {
  const t = new Teardown()
  try {
    const backends = await startBackends(t, 3)
    t.teardown(() => { for (let i = 0; i < 3; i++) if (backends.at(i).running) backends.thaw(i) })
    const gateway = await startGateway(t, backends.urls, CHAOS_OPTIONS)
    await runLoad({ url: gateway, connections: 10, durationMs: 500 }) // warm-up: first health verdicts, connections
    const before = await gatewayStats(gateway)
    const durationMs = seconds * 1000
    const step = durationMs / (SCRIPT.length + 1)
    const started = Date.now()
    const load = runLoad({ url: gateway, path: '/items', connections: 50, durationMs, timeout: 15_000 })
    const log: Array<Record<string, string>> = []
    for (let i = 0; i < SCRIPT.length; i++) {
      await sleep(Math.max(0, started + step * (i + 1) - Date.now()))
      const [label, run] = SCRIPT[i]!
      await run(backends)
      log.push({ 't (s)': ((Date.now() - started) / 1000).toFixed(1), action: label })
    }
    const result = await load
    const after = await gatewayStats(gateway)
    const upstreamAttempts = attempts(after) - attempts(before)
    const retries = Math.max(0, upstreamAttempts - result.total)
    console.log(`\n### Chaos script (one action every ${(step / 1000).toFixed(1)} s)`)
    table(log)
    console.log(`\n### Chaos: 3 backends, 50 connections, ${seconds} s of GET /items`)
    table([{
      requests: result.total,
      failed: result.failed,
      'failed share': percent(result.failed, result.total),
      'upstream attempts': upstreamAttempts,
      retries,
      'retries / requests': percent(retries, result.total),
      'req/s': Math.round(result.rps),
      'p99 ms': result.latency.p99.toFixed(1),
      'max ms': result.latency.max.toFixed(0)
    }])
    console.log('\nshare served per backend:')
    table(Object.keys(result.backends).sort().map((name) => ({
      backend: name, requests: result.backends[name]!, share: percent(result.backends[name]!, result.total)
    })))
    if (result.failed > 0) console.log(`failures: statuses ${JSON.stringify(result.statuses)}, errors ${JSON.stringify(result.errors)}`)
    console.log(`transitions seen by the gateway: ${JSON.stringify(after.transitions)}`)
    console.log(`\nfailed GETs: ${result.failed}  target 0: ${verdict(result.failed === 0)}`)
    return { requests: result.total, failed: result.failed, retryShare: retries / Math.max(1, result.total) }
  } finally {
    await t.close()
  }
}

async function stormRun (seconds: number, budget: boolean): Promise<Record<string, string | number> & { amplification: number }> {
  const t = new Teardown()
  try {
    const backends = await startBackends(t, 3, { behaviour: { failEvery: 2 } })
    const gateway = await startGateway(t, backends.urls, budget ? {} : { retry: { budget: false } })
    const served = async (): Promise<number> => (await Promise.all([0, 1, 2].map(async (i) => await backends.served(i)))).reduce((a, b) => a + b, 0)
    const before = await served()
    const result = await runLoad({ url: gateway, connections: 50, durationMs: seconds * 1000, timeout: 15_000 })
    const upstreamAttempts = (await served()) - before
    const amplification = upstreamAttempts / result.total
    return {
      'retry budget': budget ? 'on (20 %, min 3/s)' : 'off',
      requests: result.total,
      'upstream attempts': upstreamAttempts,
      amplification,
      'attempts / request': `${amplification.toFixed(3)}×`,
      'client 2xx': percent(result.ok2xx, result.total),
      'client 503': percent(result.statuses[503] ?? 0, result.total),
      'req/s': Math.round(result.rps)
    }
  } finally {
    await t.close()
  }
}

export async function main (): Promise<{ chaos: ChaosResult, amplification: number }> {
  const seconds = benchSeconds(30)
  const chaos = await chaosRun(seconds)
  const stormSeconds = Math.max(3, Math.round(seconds / 3))
  console.log(`\n### Retry storm: every backend fails every 2nd request with 503, 50 connections, ${stormSeconds} s each`)
  const rows = [await stormRun(stormSeconds, true), await stormRun(stormSeconds, false)]
  const amplification = rows[0]!.amplification
  table(rows.map(({ amplification: _a, ...row }) => row))
  console.log(`\nretry amplification with the budget: ${amplification.toFixed(3)}×  target ≤ 1.25×: ${verdict(amplification <= 1.25)}` +
    `  (without it: ${rows[1]!.amplification.toFixed(3)}×, ratio ${(rows[1]!.amplification / amplification).toFixed(2)})`)
  return { chaos, amplification }
}

if (isMain(import.meta.url)) await main()
