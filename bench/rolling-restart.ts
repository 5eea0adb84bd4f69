/**
 * Issue 8: a rolling restart of 3 replicas announced in the Redis registry (@switchyard/health `announce`), one at a
 * time, under a 50-connection GET load through @switchyard/balancer fed by the registry. Twice: graceful (SIGTERM:
 * deregister, drain, exit, start again) and crash (SIGKILL, start again). Prints the failed requests (target 0 in
 * both). The peer, measured in the same run: bare @fastify/http-proxy, round robin over the same 3 replicas.
 *
 * Bounded: the load runs in 1 s rounds until the restarts are done and SWITCHYARD_BENCH_SECONDS (default 12) have
 * passed; each restart step gives up after 20 s. Loopback only.
 */
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { type Backends, type LoadResult, percentile, runLoad, startBackends, startRedis, waitFor } from '@switchyard/test-harness'
import { benchSeconds, isMain, table, Teardown, verdict } from './lib.js'

const script = fileURLToPath(new URL('./announced.ts', import.meta.url))
const execArgv = ['--import', 'tsx', '--conditions=@switchyard/source']
const SERVICE = 'bench'

type Gateway = 'balancer' | 'http-proxy'
type Restart = 'graceful' | 'kill'

interface Totals { total: number, failed: number, errors: Record<string, number>, statuses: Record<string, number>, latencies: number[], ms: number }

function add (totals: Totals, r: LoadResult): void {
  totals.total += r.total
  totals.failed += r.failed
  totals.ms += r.durationMs
  for (const [code, n] of Object.entries(r.errors)) totals.errors[code] = (totals.errors[code] ?? 0) + n
  for (const [status, n] of Object.entries(r.statuses)) if (Number(status) >= 300) totals.statuses[status] = (totals.statuses[status] ?? 0) + n
  for (const s of r.samples) totals.latencies.push(s.latency)
}

/** Restarts replica `i` and waits until its new instance is registered (and, with a timeout, serving). */
async function restartOne (backends: Backends, redis: Redis, i: number, how: Restart): Promise<number> {
  const started = performance.now()
  const url = backends.url(i)
  if (how === 'graceful') await backends.stop(i) // SIGTERM: the health plugin deregisters, drains, exits 0
  else await backends.kill(i, 'SIGKILL')
  await backends.restart(i)
  await waitFor(async () => (await redis.zscore(`{switchyard:${SERVICE}}:members`, url)) !== null, { timeout: 20_000, message: `replica ${i} registered again` })
  return performance.now() - started
}

async function scenario (gatewayKind: Gateway, how: Restart, seconds: number): Promise<Record<string, string | number>> {
  const t = new Teardown()
  try {
    const redisServer = await startRedis(t)
    const redis = new Redis({ port: redisServer.port, host: '127.0.0.1' })
    t.teardown(() => { redis.disconnect() })
    const env = { REDIS_URL: redisServer.url, SERVICE, INTERVAL: '500', DRAIN_DELAY: '1000' }
    const backends = await startBackends(t, 3, { script, execArgv, env: { ...env, ROLE: 'backend' }, readyTimeout: 30_000 })
    const gateway = await startBackends(t, 1, {
      names: [gatewayKind],
      script,
      execArgv,
      env: { ...env, ROLE: gatewayKind === 'balancer' ? 'gateway' : 'http-proxy', GATEWAY_UPSTREAMS: JSON.stringify(backends.urls) },
      readyTimeout: 30_000
    })
    const url = gateway.url(0)
    await waitFor(async () => {
      const r = await runLoad({ url, connections: 3, requests: 30 })
      return Object.keys(r.backends).length === 3
    }, { timeout: 10_000, message: 'the gateway reaches all three replicas' })
    await runLoad({ url, connections: 10, durationMs: 500 }) // warm-up

    const totals: Totals = { total: 0, failed: 0, errors: {}, statuses: {}, latencies: [], ms: 0 }
    const restarts: number[] = []
    const state = { done: false }
    const rolling = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      for (let i = 0; i < 3; i++) {
        restarts.push(await restartOne(backends, redis, i, how))
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    })().finally(() => { state.done = true })
    const began = performance.now()
    // Set by the restarts running concurrently with each 1 s round of load.
    while (!state.done || performance.now() - began < seconds * 1000) {
      add(totals, await runLoad({ url, connections: 50, durationMs: 1000, recordSamples: true, timeout: 10_000 }))
    }
    await rolling
    totals.latencies.sort((a, b) => a - b)
    const causes = [...Object.entries(totals.statuses).map(([s, n]) => `${s}×${n}`), ...Object.entries(totals.errors).map(([c, n]) => `${c}×${n}`)]
    return {
      gateway: gatewayKind === 'balancer' ? '@switchyard/balancer + registry' : '@fastify/http-proxy (fixed list)',
      restart: how === 'graceful' ? 'graceful (SIGTERM)' : 'crash (SIGKILL)',
      requests: totals.total,
      failed: totals.failed,
      'failed share': `${((totals.failed / Math.max(1, totals.total)) * 100).toFixed(2)} %`,
      causes: causes.length > 0 ? causes.join(' ') : '-',
      'p99 ms': percentile(totals.latencies, 0.99).toFixed(1),
      'req/s': Math.round(totals.total / (totals.ms / 1000)),
      'restart s (each)': restarts.map((ms) => (ms / 1000).toFixed(1)).join(' / ')
    }
  } finally {
    await t.close()
  }
}

export async function main (): Promise<{ graceful: number, kill: number }> {
  const seconds = benchSeconds(12)
  console.log(`\n## Rolling restart of 3 announced replicas, one at a time, under 50-connection GET load (at least ${seconds} s)`)
  const rows = []
  for (const how of ['graceful', 'kill'] as const) {
    for (const gateway of ['balancer', 'http-proxy'] as const) rows.push(await scenario(gateway, how, seconds))
  }
  table(rows)
  const graceful = Number(rows[0]!.failed)
  const kill = Number(rows[2]!.failed)
  console.log(`\n@switchyard/balancer failed requests, graceful rolling restart: ${graceful}  target 0: ${verdict(graceful === 0)}`)
  console.log(`@switchyard/balancer failed requests, SIGKILL rolling restart (GET): ${kill}  target 0: ${verdict(kill === 0)}`)
  return { graceful, kill }
}

if (isMain(import.meta.url)) await main()
