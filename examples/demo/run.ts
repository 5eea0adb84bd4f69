/**
 * `npm run demo`: Redis + 3 backend replicas and a backup replica (real processes) + a gateway with
 * @switchyard/balancer, all on 127.0.0.1. Prints the URLs and a short script of things to try.
 *
 *   npm run demo                  traffic generator on (the status page moves by itself)
 *   npm run demo -- --chaos       also kill -9 and restart a random replica every few seconds
 *   npm run demo -- --no-traffic  no generated traffic
 *
 * While it runs, type `kill replica-b`, `stop replica-b` (graceful), `freeze replica-b`, `thaw replica-b` or
 * `restart replica-b`. Ctrl-C stops everything it started. PORT sets the gateway port (default 8080, 0 = any).
 */
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type Backends, startBackends, startRedis } from '@switchyard/test-harness'
import { startChaos } from './chaos.js'
import { buildGateway } from './gateway.js'
import { startTraffic } from './traffic.js'

const args = new Set(process.argv.slice(2))
const chaos = args.has('--chaos') || process.env.DEMO_CHAOS === '1'
const traffic = !args.has('--no-traffic') && process.env.DEMO_TRAFFIC !== '0'

const cleanups: Array<() => unknown> = []
const host = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
let stopping = false

async function stop (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  console.log('\nstopping the demo…')
  for (const fn of cleanups.reverse()) await fn()
  process.exit(code)
}
process.on('SIGINT', () => { stop(0).catch(() => process.exit(1)) })
process.on('SIGTERM', () => { stop(0).catch(() => process.exit(1)) })

const NAMES = ['replica-a', 'replica-b', 'replica-c', 'replica-d']

/** Reads commands like `kill replica-b` from the terminal. */
function listenForCommands (backends: Backends): void {
  if (!process.stdin.isTTY) return
  const rl = createInterface({ input: process.stdin })
  host.teardown(() => { rl.close() })
  rl.on('line', (line) => {
    const [command, name] = line.trim().split(/\s+/)
    if (command === undefined || command === '') return
    const index = name === undefined ? -1 : NAMES.indexOf(name)
    if (index === -1 || !['kill', 'stop', 'freeze', 'thaw', 'restart'].includes(command)) {
      console.log('commands: kill|stop|freeze|thaw|restart <replica-a|replica-b|replica-c|replica-d>')
      return
    }
    const actions: Record<string, () => Promise<void> | void> = {
      kill: async () => { await backends.kill(index, 'SIGKILL') },
      stop: async () => { await backends.stop(index) },
      freeze: () => { backends.freeze(index) },
      thaw: () => { backends.thaw(index) },
      restart: async () => { await backends.restart(index) }
    }
    Promise.resolve(actions[command]!()).then(
      () => { console.log(`${command} ${name}: done${command === 'restart' ? ` (pid ${backends.at(index).pid})` : ''}`) },
      (err: unknown) => { console.log(`${command} ${name} failed: ${String(err)}`) }
    )
  })
}

async function listen (app: Awaited<ReturnType<typeof buildGateway>>): Promise<string> {
  const wanted = Number(process.env.PORT ?? 8080)
  try {
    await app.listen({ host: '127.0.0.1', port: wanted })
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err
    console.log(`port ${wanted} is taken; using a free one`)
    await app.listen({ host: '127.0.0.1', port: 0 })
  }
  const address = app.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
}

try {
  const redis = await startRedis(host)
  const backends = await startBackends(host, NAMES.length, {
    names: NAMES,
    script: fileURLToPath(new URL('./backend.ts', import.meta.url)),
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { REDIS_URL: redis.url }
  })
  const gateway = await buildGateway(backends.list.map((b, i) => ({ url: b.url, name: b.name, backup: i === 3 })))
  host.teardown(async () => { await gateway.close() })
  const url = await listen(gateway)
  if (traffic) host.teardown(startTraffic(url))
  if (chaos) host.teardown(startChaos(backends, 3))
  listenForCommands(backends)
  const jar = '/tmp/switchyard-demo.jar'

  console.log(`
Switchyard demo is running.

  gateway       ${url}/api/…   (@switchyard/balancer: p2c, failover, health checks, outlier ejection)
  status page   ${url}/_switchyard
  metrics       ${url}/metrics
  redis         ${redis.url}              (sessions; pid ${redis.pid})
${backends.list.map((b, i) => `  ${b.name.padEnd(12)}  ${b.url}   pid ${b.pid}${i === 3 ? '   (backup: used only when the primaries cannot serve)' : ''}`).join('\n')}

Traffic generator: ${traffic ? 'on (about 20 requests/s)' : 'off'}.  Chaos: ${chaos ? 'on (a replica is killed and restarted every few seconds)' : 'off (npm run demo -- --chaos)'}.

Things to try:
  1. Open the status page: ${url}/_switchyard
  2. Log in (a cookie jar keeps your session):
       curl -s -c ${jar} -b ${jar} -X POST '${url}/api/login?user=ada'
  3. Ask who you are; note "servedBy":
       curl -s -c ${jar} -b ${jar} ${url}/api/me
  4. Kill that replica: type  kill replica-b  here (or kill -9 its pid from another terminal).
     The status page shows it down within about 2 s; requests keep answering meanwhile.
  5. Ask again: still logged in, served by another replica (the session lives in Redis).
  6. Kill all three primaries (kill replica-a, kill replica-b, kill replica-c): the backup takes over.
     restart replica-a hands the traffic back.

Ctrl-C stops everything.
DEMO_READY ${url}
`)
} catch (err) {
  console.error('the demo could not start:', err)
  await stop(1)
}
