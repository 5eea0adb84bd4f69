/**
 * Benchmark: `/health/ready` of @switchyard/health (cached checks) against a bare Fastify route answering 200,
 * measured in the same run on loopback. Target: health ≥ 0.9 × bare.
 *
 *   node --import tsx bench/health-endpoint.ts          (from the repository root; uses packages/health/dist)
 *   node --import tsx --conditions=@switchyard/source bench/health-endpoint.ts   (runs the TypeScript source)
 *   SWITCHYARD_BENCH_SECONDS=4 …                        (measured seconds per target; default 12)
 *
 * Both servers run in one forked child process, so the load generator (autocannon, in this process) does not
 * share an event loop with them. The two targets are loaded alternately in many short rounds after a warm-up,
 * and the headline ratio is the median of the per-round ratios: a burst of other work on a shared machine
 * spoils one or two rounds, not the result. Latencies are autocannon's per-request histograms (no
 * coordinated-omission correction). Server CPU time per request (from the child's `process.cpuUsage()` around
 * each load) is printed as well: it is far less sensitive to other processes than req/s.
 * The run is bounded (~30 s by default) and stops by itself.
 * Results are printed, never asserted.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface BenchOptions {
  /** Measured rounds; each loads both targets once. Default 12. */
  rounds?: number
  /** Milliseconds of load per target per round. Default 1000. */
  durationMs?: number
  /** Milliseconds of unmeasured load per target before the rounds. Default 1000. */
  warmupMs?: number
  /** Concurrent connections. Default 50. */
  connections?: number
}

export interface TargetResult {
  name: 'health' | 'bare'
  requests: number
  seconds: number
  rps: number
  /** Medians over the rounds of autocannon's per-round percentiles, in ms. */
  p50: number
  p99: number
  non2xx: number
  errors: number
  rounds: number[]
  /** Server CPU time (user + system) per request, in µs. */
  cpuPerRequest: number
}

export interface BenchResult {
  health: TargetResult
  bare: TargetResult
  /** Median over the rounds of health req/s ÷ bare req/s (the headline figure). */
  ratio: number
  /** Total health requests/s ÷ total bare requests/s. */
  pooledRatio: number
  roundRatios: number[]
}

/** The part of autocannon's API used here (it ships no TypeScript types). */
interface AutocannonResult {
  requests: { total: number }
  latency: { p50: number, p99: number }
  duration: number
  non2xx: number
  errors: number
  timeouts: number
}
type Autocannon = (options: { url: string, connections: number, duration: number, pipelining?: number }) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

interface Ports { health: number, bare: number }

/** Child side: the two servers. */
async function serve (): Promise<void> {
  const { default: Fastify } = await import('fastify')
  let healthModule: typeof import('@switchyard/health')
  try {
    healthModule = await import('@switchyard/health')
  } catch (err) {
    process.stderr.write('cannot import @switchyard/health: build it first (cd packages/health && ../../node_modules/.bin/tshy)\n')
    throw err
  }
  const { health, heapCheck, eventLoopDelayCheck } = healthModule

  const withHealth = Fastify({ logger: false })
  await withHealth.register(health, {
    cacheTtl: 1000,
    checks: {
      'dependency:responseTime': { check: async () => ({ observedValue: 1, observedUnit: 'ms' }), timeout: 500 },
      'heap:used': { check: heapCheck({ failAbove: 4 * 1024 ** 3 }), critical: false },
      'eventloop:delay': { check: eventLoopDelayCheck({ warnAbove: 200 }), critical: false }
    }
  })
  const bare = Fastify({ logger: false })
  bare.get('/health/ready', (_request, reply) => { reply.send('ok') })

  await withHealth.listen({ host: '127.0.0.1', port: 0 })
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const port = (app: typeof bare): number => {
    const address = app.server.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }
  const ports: Ports = { health: port(withHealth), bare: port(bare) }
  const stop = (): void => {
    Promise.all([withHealth.close(), bare.close()]).finally(() => { process.exit(0) })
  }
  process.on('disconnect', stop)
  process.on('message', (message) => {
    if ((message as { type?: string }).type === 'cpu') {
      const usage = process.cpuUsage()
      process.send?.({ type: 'cpu', micros: usage.user + usage.system })
    }
  })
  process.send?.({ type: 'ports', ...ports })
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

async function startServers (): Promise<{ child: ChildProcess, ports: Ports }> {
  const file = fileURLToPath(import.meta.url)
  // Same loader flags as this process (tsx), so the child can run this TypeScript file.
  const child = fork(file, ['serve'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ports = await new Promise<Ports>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('servers did not start within 20 s')) }, 20_000)
    const onMessage = (message: unknown): void => {
      const m = message as Partial<Ports> & { type?: string }
      if (m.type !== 'ports') return
      child.off('message', onMessage)
      clearTimeout(timer)
      resolve({ health: m.health ?? 0, bare: m.bare ?? 0 })
    }
    child.on('message', onMessage)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server process exited with ${String(code)}`)) })
  })
  return { child, ports }
}

export async function main (options: BenchOptions = {}): Promise<BenchResult> {
  const durationMs = options.durationMs ?? 1000
  // SWITCHYARD_BENCH_SECONDS (scripts/bench.sh): measured seconds per target in total.
  const envSeconds = Number(process.env.SWITCHYARD_BENCH_SECONDS)
  const rounds = options.rounds ?? (envSeconds > 0 ? Math.max(2, Math.ceil(envSeconds * 1000 / durationMs)) : 12)
  const warmupMs = options.warmupMs ?? 1000
  const connections = options.connections ?? 50
  const { child, ports } = await startServers()
  try {
    const url = { health: `http://127.0.0.1:${ports.health}/health/ready`, bare: `http://127.0.0.1:${ports.bare}/health/ready` }
    const cpu = async (): Promise<number> => await new Promise((resolve) => {
      const onMessage = (message: unknown): void => {
        const m = message as { type?: string, micros?: number }
        if (m.type !== 'cpu') return
        child.off('message', onMessage)
        resolve(m.micros ?? 0)
      }
      child.on('message', onMessage)
      child.send({ type: 'cpu' })
    })
    const cpuMicros = { health: 0, bare: 0 }
    const load = async (target: 'health' | 'bare', ms: number, measured = true): Promise<AutocannonResult> => {
      const before = await cpu()
      const result = await autocannon({ url: url[target], connections, duration: ms / 1000, pipelining: 1 })
      if (measured) cpuMicros[target] += (await cpu()) - before
      return result
    }

    console.log(`health endpoint vs bare route: ${connections} connections, ${rounds} rounds × ${durationMs / 1000} s each, warm-up ${warmupMs / 1000} s`)
    if (warmupMs > 0) { await load('health', warmupMs, false); await load('bare', warmupMs, false) }

    const runs: Record<'health' | 'bare', AutocannonResult[]> = { health: [], bare: [] }
    const roundRatios: number[] = []
    for (let round = 0; round < rounds; round++) {
      // Alternate which target goes first so any drift within a round cancels out over the rounds.
      const order: Array<'health' | 'bare'> = round % 2 === 0 ? ['health', 'bare'] : ['bare', 'health']
      for (const target of order) runs[target].push(await load(target, durationMs))
      const h = runs.health[round]
      const b = runs.bare[round]
      if (h !== undefined && b !== undefined) {
        const ratio = (h.requests.total / h.duration) / (b.requests.total / b.duration)
        roundRatios.push(ratio)
        console.log(`  round ${round + 1}: health ${(h.requests.total / h.duration).toFixed(0)} req/s, bare ${(b.requests.total / b.duration).toFixed(0)} req/s, ratio ${ratio.toFixed(3)}`)
      }
    }

    const summarise = (name: 'health' | 'bare'): TargetResult => {
      const list = runs[name]
      const requests = list.reduce((sum, r) => sum + r.requests.total, 0)
      const seconds = list.reduce((sum, r) => sum + r.duration, 0)
      return {
        name,
        requests,
        seconds,
        rps: requests / seconds,
        p50: median(list.map((r) => r.latency.p50)),
        p99: median(list.map((r) => r.latency.p99)),
        non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
        errors: list.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
        rounds: list.map((r) => r.requests.total / r.duration),
        cpuPerRequest: cpuMicros[name] / requests
      }
    }
    const health = summarise('health')
    const bare = summarise('bare')
    const ratio = median(roundRatios)
    const pooledRatio = health.rps / bare.rps

    const row = (r: TargetResult): string =>
      `${r.name.padEnd(8)} ${r.rps.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.cpuPerRequest.toFixed(1).padStart(12)} ${String(r.non2xx).padStart(7)} ${String(r.errors).padStart(7)}`
    console.log('')
    console.log(`${'target'.padEnd(8)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'CPU µs/req'.padStart(12)} ${'non2xx'.padStart(7)} ${'errors'.padStart(7)}`)
    console.log(row(health))
    console.log(row(bare))
    console.log('')
    console.log(`ratio health/bare (median of ${roundRatios.length} rounds): ${ratio.toFixed(3)}× (target ≥ 0.9×) ${ratio >= 0.9 ? 'met' : 'NOT met'}`)
    console.log(`ratio health/bare (all requests pooled): ${pooledRatio.toFixed(3)}×`)
    console.log(`server CPU per request, bare/health: ${(bare.cpuPerRequest / health.cpuPerRequest).toFixed(3)}× (the req/s ratio an idle machine would give)`)
    return { health, bare, ratio, pooledRatio, roundRatios }
  } finally {
    child.disconnect()
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return }
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
    })
  }
}

function isEntryPoint (): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  if (process.argv[2] === 'serve') {
    serve().catch((err: unknown) => { console.error(err); process.exit(1) })
  } else {
    main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
  }
}
