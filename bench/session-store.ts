/**
 * Session store benchmark: @switchyard/session-redis vs connect-redis 8 (the last line that takes an ioredis
 * client), both under @fastify/session 11 with its defaults (`rolling: true`), on the same redis-server, in the same
 * run. Read-only and modifying requests are measured separately.
 *
 * Throughput is measured in rounds, with one app per store, all pinned to one CPU while the load generator and
 * redis-server use the other. The apps start in fresh processes every four rounds and warm up one at a time (V8 needs seconds of the
 * whole CPU to optimize the hot paths; apps warmed up together were still getting faster rounds later). Then, per
 * round and route:
 * - **alone** (the ratios judged): each app is loaded by itself, in turns of 200 ms (A B C D A B C D …, see
 *   time-sliced-load.ts). This machine's speed drifts by up to 2× within seconds: runs of one app after the other,
 *   even mirrored (A B B A), disagreed by more than the differences measured, while turns this short share every
 *   drift. The printed ratio is the median of the rounds' ratios.
 * - **together** (for information): all apps loaded at once, splitting the one CPU. Decisions 0003–0005 judged this
 *   way; it has less noise but measures another regime: four processes trading one CPU spend about twice the CPU
 *   per request (context switches, cold caches), a cost common to every store that compresses every ratio toward
 *   1 (decision 0007).
 *
 * Redis work per request is measured separately, one app at a time: every command Redis ran (INFO commandstats
 * deltas, commands inside scripts included) and Redis CPU time under the same load, and client round trips (MONITOR,
 * sequential requests).
 * `session-redis` runs with its defaults (client-side cache on); `session-redis, no cache` with
 * `clientSideCache: false`, to show what the cache does. A fourth app with @fastify/session's in-memory store (no
 * Redis) runs alongside: the ceiling that any store's ratio here can be read against.
 *
 *   npm run bench -- session-store   (builds the packages first: the apps run the built package, as users do)
 *   node --import tsx bench/session-store.ts          (from the repo root, after a build; BENCH_DURATION=s BENCH_ROUNDS=n to change)
 *
 * Everything listens on loopback and stops by itself (about 4 minutes with the defaults). Prints the ratios and whether
 * each target is met; it never fails. */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { startRedis, type TeardownHost } from '@switchyard/test-harness'
import { median } from './lib.js'
import { timeSlicedLoad } from './time-sliced-load.js'

/**
 * `memory` is @fastify/session's own in-process store: no Redis at all. It is the ceiling of this setup, the
 * throughput of the same app when the store costs next to nothing, so the ratios of the Redis stores can be read
 * against the most any store could reach here.
 */
const STORES = ['session-redis', 'session-redis, no cache', 'connect-redis', 'memory'] as const
type StoreName = typeof STORES[number]
const REDIS_STORES = ['session-redis', 'session-redis, no cache', 'connect-redis'] as const
type RedisStoreName = typeof REDIS_STORES[number]
const ROUTES = ['read', 'modify'] as const
type Route = typeof ROUTES[number]

const SECRET = 'benchmark-secret-with-at-least-32-characters'
const SOURCE_CONDITION = '--conditions=@switchyard/source'

export interface BenchOptions {
  /** Seconds each app is loaded per route and round, alone (in turns) and together. Default 2. */
  duration?: number
  /** Rounds; each loads every app alone, then all together, on each route. Fresh app processes every 4 rounds. Default 8. */
  rounds?: number
  /** Concurrent connections, each with its own session. Default 16. */
  connections?: number
  /** Sequential requests per store and route in the MONITOR phase. Default 100. */
  monitorRequests?: number
}

export interface RouteResult {
  /** Requests per second of each round, the app loaded alone. */
  rps: number[]
  /** Median of `rps`. */
  median: number
  /** Requests per second of each round, all apps loaded together on one CPU (for information). */
  rpsTogether: number[]
  /** Latency percentiles, ms, loaded together (autocannon). */
  p50: number
  p99: number
  /** Redis commands executed per request (INFO commandstats; script-internal commands included). */
  commandsPerRequest: number
  /** Client round trips per request (MONITOR). */
  roundTripsPerRequest: number
  /** CPU time of the app process per request, µs (user + system), loaded alone. */
  appCpuPerRequest: number
  /** CPU time of redis-server per request, µs (INFO cpu). */
  redisCpuPerRequest: number
  /** Non-2xx answers and transport errors over all rounds (should be 0). */
  failures: number
}

export type BenchResult = Record<Route, Record<StoreName, RouteResult> & {
  /** session-redis / connect-redis: median over rounds of the ratio within a round, each app loaded alone. */
  ratio: number
  /** The same, all apps loaded together on one CPU (for information). */
  ratioTogether: number
  /** session-redis without its client-side cache / connect-redis, median req/s. */
  ratioNoCache: number
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
  if (storeName === 'session-redis' || storeName === 'session-redis, no cache') {
    const { RedisStore } = await import('@switchyard/session-redis')
    // Own prefixes: the cached store's invalidations cover its prefix only, not the other store's writes.
    const cached = storeName === 'session-redis'
    store = new RedisStore({ client: new Redis(redisPort, '127.0.0.1'), prefix: cached ? 'swy:' : 'swy0:', clientSideCache: cached })
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

/**
 * CPU placement: the apps on CPU 0, the load generator (this process: undici for the turns, autocannon otherwise) and
 * redis-server on CPU 1, as with a load generator and a Redis on other machines. Unpinned, the load generator takes
 * CPU from the app in proportion to the app's throughput, which squeezes every ratio toward 1. `BENCH_PIN=0` turns it off; so does a 1-CPU machine.
 */
const PIN = process.env.BENCH_PIN !== '0' && cpus().length >= 2
const APP_CPU = 0
const DRIVER_CPU = 1

/** Pins every thread of `pid` to one CPU (util-linux `taskset`); false when that is not possible here. */
function pin (pid: number | undefined, cpu: number): boolean {
  if (!PIN || pid === undefined) return false
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function startServer (host: TeardownHost, store: StoreName, redisPort: number): Promise<Server> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', store, String(redisPort)], {
    // The apps run @switchyard/session-redis as users do, built (dist): under tsx, the TypeScript source carries
    // esbuild's keep-names helpers, a cost connect-redis (plain JavaScript) does not pay. `npm run bench` builds first.
    execArgv: process.execArgv.filter((arg) => arg !== SOURCE_CONDITION),
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
  pin(child.pid, APP_CPU)
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
  await Promise.all(STORES.map(async (store) => {
    servers[store] = await startServer(host, store, redisPort)
    urls[store] = servers[store].url
    cookies[store] = await Promise.all(Array.from({ length: connections }, async () => await login(urls[store])))
  }))
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
  // Not ioredis' monitor(): a command that reaches MONITOR in the packet of its +OK makes that reject (see the tests'
  // fixtures/monitor.ts); an own monitor connection drops that early line, and the markers below ignore it anyway.
  const monitor = new Redis(redisPort, '127.0.0.1', { monitor: true })
  monitor.on('error', () => {})
  await new Promise<void>((resolve) => { monitor.once('monitoring', () => { resolve() }) })
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

function pad (value: string | number, width: number): string {
  return String(value).padStart(width)
}

/** Redis work per request under load, one app at a time: commands (INFO commandstats) and redis-server CPU. */
async function redisWork (admin: Redis, url: string, route: Route, cookies: string[], connections: number): Promise<{ commands: number, cpu: number }> {
  const calls = await commandCalls(admin)
  const cpu = await redisCpu(admin)
  const result = await load(url, route, cookies, connections, 1.5)
  const cpuAfter = await redisCpu(admin)
  const callsAfter = await commandCalls(admin)
  const n = Math.max(1, result.requests.total)
  return { commands: (callsAfter - calls) / n, cpu: (cpuAfter - cpu) / n }
}

export async function main (options: BenchOptions = {}): Promise<BenchResult> {
  const duration = options.duration ?? Number(process.env.BENCH_DURATION ?? 2)
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 8)
  const roundsPerProcess = 4
  const connections = options.connections ?? 16
  const monitorRequests = options.monitorRequests ?? 100
  const warmup = 3
  const teardowns: Array<() => unknown> = []
  const host: TeardownHost = { teardown (fn) { teardowns.push(fn) } }
  try {
    const redis = await startRedis(host)
    const pinned = pin(process.pid, DRIVER_CPU) && pin(redis.pid, DRIVER_CPU)
    const admin = new Redis(redis.port, '127.0.0.1')
    host.teardown(() => { admin.disconnect() })
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?'

    console.log('Session store benchmark: @switchyard/session-redis vs connect-redis 8 (ioredis), @fastify/session 11, rolling: true')
    console.log(`redis-server ${version} on 127.0.0.1:${redis.port}; ${rounds} rounds; one app per store, in fresh processes ` +
      `every ${roundsPerProcess} rounds, each warmed up alone (${warmup} s per route); per round and route, each app is loaded ` +
      `alone for ${duration} s (in turns of 200 ms: A B C D A B C D …), then all of them at once for ` +
      `${duration} s (for information); ${connections} connections per app, one session per connection`)
    console.log(`${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start; ` +
      (pinned
        ? `the apps on CPU ${APP_CPU}, the load generator (this process) and redis-server on CPU ${DRIVER_CPU} (taskset; BENCH_PIN=0 to unpin)`
        : 'not pinned: autocannon, the apps and redis-server share the CPUs'))
    console.log('This machine\'s speed drifts by up to 2× within seconds: turns of 200 ms share every drift between the ' +
      'apps, each of which has the CPU to itself while it is measured; the median over rounds is printed.\n')

    // Phase 1, one app at a time: client round trips (MONITOR, sequential requests) and Redis work per request.
    const trips = {} as Record<Route, Record<StoreName, number>>
    const work = {} as Record<Route, Record<StoreName, { commands: number, cpu: number }>>
    {
      const { servers, urls, cookies } = await startApps(host, redis.port, connections)
      for (const route of ROUTES) {
        trips[route] = {} as Record<StoreName, number>
        work[route] = {} as Record<StoreName, { commands: number, cpu: number }>
        for (const store of STORES) {
          const cookie = cookies[store][0] as string
          trips[route][store] = await roundTrips(redis.port, urls[store], route, cookie, monitorRequests)
          work[route][store] = await redisWork(admin, urls[store], route, cookies[store], connections)
        }
      }
      for (const store of STORES) servers[store].stop()
    }

    // Phase 2: throughput, fresh processes every round: each app alone (judged), then all together (information).
    interface Run {
      rps: number[], p50: number[], p99: number[], requests: number, failures: number, appCpu: number, rpsTogether: number[]
    }
    const runs = {} as Record<Route, Record<StoreName, Run>>
    for (const route of ROUTES) {
      runs[route] = {} as Record<StoreName, Run>
      for (const store of STORES) runs[route][store] = { rps: [], p50: [], p99: [], requests: 0, failures: 0, appCpu: 0, rpsTogether: [] }
    }
    const kept = {} as Record<RedisStoreName, number>
    let servers = {} as Record<StoreName, Server>
    let urls = {} as Record<StoreName, string>
    let cookies = {} as Record<StoreName, string[]>
    for (let round = 0; round < rounds; round++) {
      if (round % roundsPerProcess === 0) {
        // Fresh processes every few rounds: how well V8 happens to compile the hot paths differs from one process to
        // the next and then holds for its whole life. Each app warms up alone, with the whole CPU: warmed up all at
        // once (a quarter of the CPU each, 3 s), the apps were still getting faster rounds later.
        for (const store of STORES) servers[store]?.stop()
        ;({ servers, urls, cookies } = await startApps(host, redis.port, connections))
        for (const route of ROUTES) {
          for (const store of STORES) await load(urls[store], route, cookies[store], connections, warmup)
        }
      }
      const order = round % 2 === 0 ? ROUTES : [...ROUTES].reverse()
      for (const route of order) {
        // Alone, in turns: each app has the CPU to itself in 200 ms turns, A B C D A B C D …, `duration` s in all.
        const targets = STORES.map((store) => ({ url: urls[store], path: '/' + route, cookies: cookies[store] }))
        const cpuBefore = await Promise.all(STORES.map(async (store) => await servers[store].cpu()))
        const alone = await timeSlicedLoad(targets, connections, duration)
        const cpuAfter = await Promise.all(STORES.map(async (store) => await servers[store].cpu()))
        STORES.forEach((store, i) => {
          const run = runs[route][store]
          const rps = alone.rps[i] as number
          run.rps.push(rps)
          run.appCpu += (cpuAfter[i] as number) - (cpuBefore[i] as number)
          run.requests += rps * duration
          run.failures += alone.failures[i] as number
        })
        // Together, for information: the regime earlier decisions were judged in.
        const results = await Promise.all(STORES.map(async (store) => await load(urls[store], route, cookies[store], connections, duration)))
        STORES.forEach((store, i) => {
          const result = results[i] as AutocannonResult
          const run = runs[route][store]
          run.rpsTogether.push(result.requests.total / result.duration)
          run.p50.push(result.latency.p50)
          run.p99.push(result.latency.p99)
          run.failures += result.non2xx + result.errors + result.timeouts
        })
      }
      if (round === rounds - 1) {
        for (const store of REDIS_STORES) kept[store] = await keptKeys(urls[store], 200)
        for (const store of STORES) servers[store].stop()
      }
    }

    const out = { kept: {} } as BenchResult
    console.log(`${'route'.padEnd(8)}${'store'.padEnd(25)}${pad('req/s', 7)}  ${'rounds (alone)'.padEnd(38)}${pad('together', 9)}${pad('p50 ms', 7)}${pad('p99 ms', 7)}` +
      `${pad('redis cmds/req', 15)}${pad('round trips/req', 16)}${pad('app CPU µs/req', 15)}${pad('redis CPU µs/req', 17)}${pad('failed', 7)}`)
    /** Median over rounds of a/b, each round's pair measured at the same moment. */
    const pairedRatio = (a: number[], b: number[]): number => median(a.map((x, i) => x / (b[i] as number)))
    for (const route of ROUTES) {
      const entry = {} as Record<StoreName, RouteResult>
      for (const store of STORES) {
        const run = runs[route][store]
        const result: RouteResult = {
          rps: run.rps,
          median: median(run.rps),
          rpsTogether: run.rpsTogether,
          p50: median(run.p50),
          p99: median(run.p99),
          commandsPerRequest: work[route][store].commands,
          roundTripsPerRequest: trips[route][store],
          appCpuPerRequest: run.requests === 0 ? 0 : run.appCpu / run.requests,
          redisCpuPerRequest: work[route][store].cpu,
          failures: run.failures
        }
        entry[store] = result
        console.log(`${route.padEnd(8)}${store.padEnd(25)}${pad(Math.round(result.median), 7)}  ` +
          `${result.rps.map((r) => Math.round(r)).join(', ').padEnd(38)}${pad(Math.round(median(result.rpsTogether)), 9)}` +
          `${pad(result.p50, 7)}${pad(result.p99, 7)}` +
          `${pad(result.commandsPerRequest.toFixed(2), 15)}${pad(result.roundTripsPerRequest.toFixed(2), 16)}` +
          `${pad(Math.round(result.appCpuPerRequest), 15)}${pad(result.redisCpuPerRequest.toFixed(1), 17)}${pad(result.failures, 7)}`)
      }
      out[route] = {
        ...entry,
        ratio: pairedRatio(entry['session-redis'].rps, entry['connect-redis'].rps),
        ratioTogether: pairedRatio(entry['session-redis'].rpsTogether, entry['connect-redis'].rpsTogether),
        ratioNoCache: pairedRatio(entry['session-redis, no cache'].rps, entry['connect-redis'].rps),
        ceiling: pairedRatio(entry.memory.rps, entry['connect-redis'].rps)
      }
    }

    const readRatio = out.read.ratio
    const modifyRatio = out.modify.ratio
    const readTrips = Math.max(out.read['session-redis'].roundTripsPerRequest, out.read['session-redis, no cache'].roundTripsPerRequest)
    const perRound = (route: Route): string => out[route]['session-redis'].rps
      .map((r, i) => (r / (out[route]['connect-redis'].rps[i] as number)).toFixed(2)).join(', ')
    console.log(`\nLoad average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    console.log('Ratios (session-redis / connect-redis, each app loaded alone; median over rounds of the ratio within a round):')
    console.log(`  read-only requests: ${readRatio.toFixed(2)}×   (target ≥ 1.5×: ${readRatio >= 1.5 ? 'met' : 'NOT met'}; rounds ${perRound('read')})`)
    console.log(`  modifying requests: ${modifyRatio.toFixed(2)}×   (target ≥ 1.0×: ${modifyRatio >= 1.0 ? 'met' : 'NOT met'}; rounds ${perRound('modify')})`)
    console.log(`  without the client-side cache: read-only ${out.read.ratioNoCache.toFixed(2)}×, modifying ${out.modify.ratioNoCache.toFixed(2)}× (for information)`)
    console.log(`  loaded together on one CPU (for information; the regime of decisions 0003–0005): read-only ${out.read.ratioTogether.toFixed(2)}×, ` +
      `modifying ${out.modify.ratioTogether.toFixed(2)}×`)
    console.log(`  round trips per read-only request, at most: ${readTrips.toFixed(2)} (target ≤ 1: ${readTrips <= 1.005 ? 'met' : 'NOT met'}; ` +
      '0 on a cache hit, 1 otherwise)')
    console.log(`Ceiling (@fastify/session's in-memory store, no Redis / connect-redis): read-only ${out.read.ceiling.toFixed(2)}×, ` +
      `modifying ${out.modify.ceiling.toFixed(2)}× — the most any store could show here: no Redis at all, and it keeps ` +
      'the live Session object, whose signed id @fastify/session reuses (session-redis hands it back on a cache hit)')
    out.kept = kept
    console.log(`Lost updates: 200 concurrent requests, one cookie, each setting its own key: session-redis kept ${kept['session-redis']}, ` +
      `without the cache ${kept['session-redis, no cache']}, connect-redis kept ${kept['connect-redis']}`)
    const cpuRatio = (route: Route): string =>
      (out[route]['connect-redis'].appCpuPerRequest / out[route]['session-redis'].appCpuPerRequest).toFixed(2)
    console.log(`App CPU per request alone, connect-redis / session-redis (higher is better for session-redis): read-only ${cpuRatio('read')}×, ` +
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
