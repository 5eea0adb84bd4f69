/**
 * Session store benchmark: @switchyard/session-redis vs connect-redis 8 (the last line that takes an ioredis
 * client), both under @fastify/session 11 with its defaults (`rolling: true`), on the same redis-server, in the same
 * run. Read-only and modifying requests are measured separately, alternating the stores round by round to cancel
 * drift, and Redis work per request is counted twice: every command Redis ran (INFO commandstats deltas, commands
 * inside scripts included) and client round trips (MONITOR, in a short separate phase since MONITOR slows Redis).
 * CPU time per request of the app process and of redis-server is printed too: on a shared machine it is steadier
 * than req/s, which moves with whatever else runs. A third app with @fastify/session's in-memory store (no Redis)
 * runs alongside: the ceiling that any store's ratio here can be read against.
 *
 *   node --import tsx bench/session-store.ts          (from the repo root; BENCH_DURATION=s BENCH_ROUNDS=n to change)
 *
 * Each store's app runs in its own child process so that autocannon (this process) does not share its event loop.
 * Everything listens on loopback and stops by itself (about 90 s with the defaults). Prints ratios, never pass/fail.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { startRedis, type TeardownHost } from '@switchyard/test-harness'

/**
 * `memory` is @fastify/session's own in-process store: no Redis at all. It is the ceiling of this setup, the
 * throughput of the same app when the store costs next to nothing, so the ratios of the Redis stores can be read
 * against the most any store could reach here.
 */
const STORES = ['session-redis', 'connect-redis', 'memory'] as const
type StoreName = typeof STORES[number]
const REDIS_STORES = ['session-redis', 'connect-redis'] as const
type RedisStoreName = typeof REDIS_STORES[number]
const ROUTES = ['read', 'modify'] as const
type Route = typeof ROUTES[number]

const SECRET = 'benchmark-secret-with-at-least-32-characters'

export interface BenchOptions {
  /** Seconds per measured autocannon run. Default 1.5. */
  duration?: number
  /** Rounds; each round runs every store on every route once, in fresh app processes. Default 6. */
  rounds?: number
  /** Concurrent connections, each with its own session. Default 16. */
  connections?: number
  /** Sequential requests per store and route in the MONITOR phase. Default 100. */
  monitorRequests?: number
}

export interface RouteResult {
  /** Requests per second of each round. */
  rps: number[]
  /** Median of `rps`. */
  median: number
  p50: number
  p99: number
  /** Redis commands executed per request (INFO commandstats; script-internal commands included). */
  commandsPerRequest: number
  /** Client round trips per request (MONITOR). */
  roundTripsPerRequest: number
  /** CPU time of the app process per request, µs (user + system). */
  appCpuPerRequest: number
  /** CPU time of redis-server per request, µs (INFO cpu). */
  redisCpuPerRequest: number
  /** Non-2xx answers and transport errors over all rounds (should be 0). */
  failures: number
}

export type BenchResult = Record<Route, Record<StoreName, RouteResult> & {
  /** session-redis / connect-redis, median req/s. */
  ratio: number
  /** memory / connect-redis: the most any store could show in this setup. */
  ceiling: number
}> & {
  /** Keys kept out of 200 concurrent distinct writes on one session. */
  kept: Record<RedisStoreName, number>
}

// ---------------------------------------------------------------------------------------------------------------
// Server role: one Fastify app per store, in a child process.

async function serve (storeName: StoreName, redisPort: number): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyCookie } = await import('@fastify/cookie')
  const { default: fastifySession } = await import('@fastify/session')
  let store: unknown // undefined: @fastify/session's in-memory store
  if (storeName === 'session-redis') {
    const { RedisStore } = await import('@switchyard/session-redis')
    store = new RedisStore({ client: new Redis(redisPort, '127.0.0.1'), prefix: 'swy:' })
  } else if (storeName === 'connect-redis') {
    const { RedisStore } = await import('connect-redis')
    store = new RedisStore({ client: new Redis(redisPort, '127.0.0.1'), prefix: 'cr:' })
  }
  const app = Fastify({ logger: false })
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    cookie: { secure: false, maxAge: 86_400_000 },
    saveUninitialized: false,
    store: store as never
  })
  const session = (req: { session: unknown }): { get (k: string): unknown, set (k: string, v: unknown): void } =>
    req.session as { get (k: string): unknown, set (k: string, v: unknown): void }
  app.post('/login', async (req) => {
    // A typical login session: a user record, preferences, a CSRF token.
    session(req).set('user', { id: 4242, name: 'Benchmark User', email: 'bench@example.com', roles: ['reader', 'writer'] })
    session(req).set('prefs', { theme: 'dark', locale: 'en-GB', tz: 'Europe/London' })
    session(req).set('csrf', 'f3a9c1d2e4b5a6978877665544332211')
    return { ok: true }
  })
  app.get('/read', async (req) => ({ id: (session(req).get('user') as { id: number } | undefined)?.id ?? null }))
  // Lost-update probe: concurrent requests with one cookie, each setting its own key.
  app.get('/put', async (req) => {
    session(req).set('k' + (req.query as { i: string }).i, true)
    return { ok: true }
  })
  app.get('/count', async (req) => ({ keys: Object.keys(req.session as object).filter((k) => /^k\d+$/.test(k)).length }))
  app.get('/modify', async (req) => {
    const views = ((session(req).get('views') as number | undefined) ?? 0) + 1
    session(req).set('views', views)
    return { views }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() })
  })
  const address = app.server.address()
  process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 })
  // The parent going away (normal end or a crash) ends this process too.
  process.on('disconnect', () => { process.exit(0) })
}

// ---------------------------------------------------------------------------------------------------------------
// Driver role.

interface AutocannonResult {
  requests: { total: number }
  duration: number
  latency: { p50: number, p99: number }
  non2xx: number
  errors: number
  timeouts: number
}
interface AutocannonRequest { method: string, path: string, headers?: Record<string, string> }
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

interface Server { url: string, cpu: () => Promise<number>, stop: () => void }

async function startServer (host: TeardownHost, store: StoreName, redisPort: number): Promise<Server> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', store, String(redisPort)], {
    execArgv: [...process.execArgv, '--conditions=@switchyard/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  host.teardown(() => { child.kill('SIGKILL') })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${store} server did not start within 20 s`)) }, 20_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${store} server exited (${code})`)) })
    child.on('message', (m: { type?: string, port?: number }) => {
      if (m.type === 'listening' && typeof m.port === 'number') { clearTimeout(timer); resolve(m.port) }
    })
  })
  child.removeAllListeners('exit')
  /** The app process' CPU time so far, in µs. */
  const cpu = async (): Promise<number> => await new Promise((resolve) => {
    const onMessage = (m: { type?: string, usage?: NodeJS.CpuUsage }): void => {
      if (m.type !== 'cpu' || m.usage === undefined) return
      child.off('message', onMessage)
      resolve(m.usage.user + m.usage.system)
    }
    child.on('message', onMessage)
    child.send({ type: 'cpu' })
  })
  return { url: `http://127.0.0.1:${port}`, cpu, stop: () => { child.kill('SIGKILL') } }
}

/** One app process per store, each with `connections` logged-in sessions. */
async function startApps (host: TeardownHost, redisPort: number, connections: number):
Promise<{ servers: Record<StoreName, Server>, urls: Record<StoreName, string>, cookies: Record<StoreName, string[]> }> {
  const servers = {} as Record<StoreName, Server>
  const urls = {} as Record<StoreName, string>
  const cookies = {} as Record<StoreName, string[]>
  for (const store of STORES) {
    servers[store] = await startServer(host, store, redisPort)
    urls[store] = servers[store].url
    cookies[store] = await Promise.all(Array.from({ length: connections }, async () => await login(urls[store])))
  }
  return { servers, urls, cookies }
}

/** redis-server's CPU time so far, in µs. */
async function redisCpu (admin: Redis): Promise<number> {
  const info = await admin.info('cpu')
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0)
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0)
  return (user + sys) * 1e6
}

async function login (url: string): Promise<string> {
  const res = await request(url + '/login', { method: 'POST' })
  await res.body.dump()
  const setCookie = res.headers['set-cookie']
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie
  if (res.statusCode !== 200 || first === undefined) throw new Error(`login on ${url} answered ${res.statusCode}`)
  return first.split(';', 1)[0] as string
}

async function commandCalls (admin: Redis): Promise<number> {
  const info = await admin.info('commandstats')
  let calls = 0
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (match !== null && match[1] !== 'info') calls += Number(match[2])
  }
  return calls
}

async function load (url: string, route: Route, cookies: string[], connections: number, duration: number): Promise<AutocannonResult> {
  let assigned = 0
  return await autocannon({
    url,
    connections,
    duration,
    pipelining: 1,
    requests: [{
      method: 'GET',
      path: '/' + route,
      // One session per connection: concurrent users, not one user hammering one session.
      setupRequest: (req: AutocannonRequest, context: { cookie?: string }) => {
        if (context.cookie === undefined) context.cookie = cookies[assigned++ % cookies.length] as string
        return { ...req, headers: { ...req.headers, cookie: context.cookie } }
      }
    }]
  })
}

/** Keys that survive `n` concurrent requests with one cookie, each setting a distinct key (the lost-update probe). */
async function keptKeys (url: string, n: number): Promise<number> {
  const cookie = await login(url)
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await request(`${url}/put?i=${i}`, { headers: { cookie } })
    await res.body.dump()
  }))
  const res = await request(`${url}/count`, { headers: { cookie } })
  return ((await res.body.json()) as { keys: number }).keys
}

/** Client round trips per request, from MONITOR: a script call is one; commands a script runs are tagged `lua`. */
async function roundTrips (redisPort: number, url: string, route: Route, cookie: string, n: number): Promise<number> {
  const marker = new Redis(redisPort, '127.0.0.1')
  const monitor = await marker.monitor()
  let fromClients = 0
  let done = false
  const tag = `bench-marker-${route}-${Math.random()}`
  const finished = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args[1] === tag) { done = true; resolve(); return }
      if (!done && source !== 'lua') fromClients++
    })
  })
  // MONITOR starts streaming asynchronously: a first marker, then count from zero.
  await marker.echo('start')
  await new Promise((resolve) => setTimeout(resolve, 100))
  fromClients = 0
  for (let i = 0; i < n; i++) {
    const res = await request(url + '/' + route, { headers: { cookie } })
    await res.body.dump()
  }
  await marker.echo(tag)
  await finished
  monitor.disconnect()
  marker.disconnect()
  return fromClients / n
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function pad (value: string | number, width: number): string {
  return String(value).padStart(width)
}

export async function main (options: BenchOptions = {}): Promise<BenchResult> {
  // Many short alternating runs rather than a few long ones: on a shared machine the load drifts within seconds.
  const duration = options.duration ?? Number(process.env.BENCH_DURATION ?? 1.5)
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 6)
  const connections = options.connections ?? 16
  const monitorRequests = options.monitorRequests ?? 100
  const teardowns: Array<() => unknown> = []
  const host: TeardownHost = { teardown (fn) { teardowns.push(fn) } }
  try {
    const redis = await startRedis(host)
    const admin = new Redis(redis.port, '127.0.0.1')
    host.teardown(() => { admin.disconnect() })
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?'
    let { servers, urls, cookies } = await startApps(host, redis.port, connections)

    console.log('Session store benchmark: @switchyard/session-redis vs connect-redis 8 (ioredis), @fastify/session 11, rolling: true')
    console.log(`redis-server ${version} on 127.0.0.1:${redis.port}; ${connections} connections (one session each); ` +
      `${rounds} rounds × ${duration} s per store and route, alternating, fresh app processes every round`)
    console.log(`${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start ` +
      '(autocannon, both apps and redis-server share them)\n')

    const trips = {} as Record<Route, Record<StoreName, number>>
    for (const route of ROUTES) {
      trips[route] = {} as Record<StoreName, number>
      for (const store of STORES) {
        trips[route][store] = await roundTrips(redis.port, urls[store], route, cookies[store][0] as string, monitorRequests)
      }
    }

    interface Run { rps: number[], p50: number[], p99: number[], requests: number, calls: number, failures: number, appCpu: number, redisCpu: number }
    const runs = {} as Record<Route, Record<StoreName, Run>>
    for (const route of ROUTES) {
      runs[route] = {} as Record<StoreName, Run>
      for (const store of STORES) {
        runs[route][store] = { rps: [], p50: [], p99: [], requests: 0, calls: 0, failures: 0, appCpu: 0, redisCpu: 0 }
      }
    }
    for (let round = 0; round < rounds; round++) {
      // Fresh processes every round: how well V8 happens to compile the hot paths differs from one process to the
      // next and then holds for its whole life, enough to move one app's CPU per request by a fifth.
      if (round > 0) {
        for (const store of STORES) servers[store].stop()
        ;({ servers, urls, cookies } = await startApps(host, redis.port, connections))
      }
      // Warm-up (JIT, connection pools, script cache), not measured.
      for (const route of ROUTES) for (const store of STORES) await load(urls[store], route, cookies[store], connections, 0.5)
      for (const route of ROUTES) {
        const order = round % 2 === 0 ? STORES : [...STORES].reverse()
        for (const store of order) {
          const before = await commandCalls(admin)
          const cpuBefore = await servers[store].cpu()
          const redisBefore = await redisCpu(admin)
          const result = await load(urls[store], route, cookies[store], connections, duration)
          const redisAfter = await redisCpu(admin)
          const cpuAfter = await servers[store].cpu()
          const after = await commandCalls(admin)
          const run = runs[route][store]
          run.appCpu += cpuAfter - cpuBefore
          run.redisCpu += redisAfter - redisBefore
          run.rps.push(result.requests.total / result.duration)
          run.p50.push(result.latency.p50)
          run.p99.push(result.latency.p99)
          run.requests += result.requests.total
          run.calls += after - before
          run.failures += result.non2xx + result.errors + result.timeouts
        }
      }
    }

    const out = { kept: {} } as BenchResult
    console.log(`${'route'.padEnd(8)}${'store'.padEnd(15)}${pad('req/s', 7)}  ${'rounds'.padEnd(20)}${pad('p50 ms', 7)}${pad('p99 ms', 7)}` +
      `${pad('redis cmds/req', 15)}${pad('round trips/req', 16)}${pad('app CPU µs/req', 15)}${pad('redis CPU µs/req', 17)}${pad('failed', 7)}`)
    for (const route of ROUTES) {
      const entry = {} as Record<StoreName, RouteResult>
      for (const store of STORES) {
        const run = runs[route][store]
        const result: RouteResult = {
          rps: run.rps,
          median: median(run.rps),
          p50: median(run.p50),
          p99: median(run.p99),
          commandsPerRequest: run.requests === 0 ? 0 : run.calls / run.requests,
          roundTripsPerRequest: trips[route][store],
          appCpuPerRequest: run.requests === 0 ? 0 : run.appCpu / run.requests,
          redisCpuPerRequest: run.requests === 0 ? 0 : run.redisCpu / run.requests,
          failures: run.failures
        }
        entry[store] = result
        console.log(`${route.padEnd(8)}${store.padEnd(15)}${pad(Math.round(result.median), 7)}  ` +
          `${result.rps.map((r) => Math.round(r)).join(', ').padEnd(20)}${pad(result.p50, 7)}${pad(result.p99, 7)}` +
          `${pad(result.commandsPerRequest.toFixed(2), 15)}${pad(result.roundTripsPerRequest.toFixed(2), 16)}` +
          `${pad(Math.round(result.appCpuPerRequest), 15)}${pad(result.redisCpuPerRequest.toFixed(1), 17)}${pad(result.failures, 7)}`)
      }
      out[route] = {
        ...entry,
        ratio: entry['session-redis'].median / entry['connect-redis'].median,
        ceiling: entry.memory.median / entry['connect-redis'].median
      }
    }

    const readRatio = out.read.ratio
    const modifyRatio = out.modify.ratio
    const readTrips = out.read['session-redis'].roundTripsPerRequest
    console.log(`\nLoad average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    console.log('Ratios (session-redis / connect-redis, median req/s):')
    console.log(`  read-only requests: ${readRatio.toFixed(2)}×   (target ≥ 1.5×: ${readRatio >= 1.5 ? 'met' : 'NOT met'})`)
    console.log(`  modifying requests: ${modifyRatio.toFixed(2)}×   (target ≥ 1.0×: ${modifyRatio >= 1.0 ? 'met' : 'NOT met'})`)
    console.log(`  round trips per read-only request: ${readTrips.toFixed(2)} (target 1: ${Math.abs(readTrips - 1) < 0.005 ? 'met' : 'NOT met'})`)
    console.log(`Ceiling (@fastify/session's in-memory store, no Redis / connect-redis): read-only ${out.read.ceiling.toFixed(2)}×, ` +
      `modifying ${out.modify.ceiling.toFixed(2)}× — the most any store could show in this setup, where Fastify and ` +
      '@fastify/session share the CPU with the store')
    const kept = {} as Record<RedisStoreName, number>
    for (const store of REDIS_STORES) kept[store] = await keptKeys(urls[store], 200)
    out.kept = kept
    console.log(`Lost updates: 200 concurrent requests, one cookie, each setting its own key: session-redis kept ${kept['session-redis']}, ` +
      `connect-redis kept ${kept['connect-redis']}`)
    const cpuRatio = (route: Route): string =>
      (out[route]['connect-redis'].appCpuPerRequest / out[route]['session-redis'].appCpuPerRequest).toFixed(2)
    console.log(`App CPU per request, connect-redis / session-redis (higher is better for session-redis): read-only ${cpuRatio('read')}×, ` +
      `modifying ${cpuRatio('modify')}×`)
    return out
  } finally {
    for (const fn of teardowns.reverse()) await fn()
  }
}

const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  if (process.argv[2] === '--serve') {
    serve(process.argv[3] as StoreName, Number(process.argv[4])).catch((err: unknown) => {
      console.error(err)
      process.exit(1)
    })
  } else {
    main().catch((err: unknown) => {
      console.error(err)
      process.exitCode = 1
    })
  }
}
