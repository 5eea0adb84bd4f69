/**
 * `npm run demo`: Redis + 3 backend replicas (real processes) + a gateway with @switchyard/balancer, all on
 * 127.0.0.1. Prints the URLs and things to try; Ctrl-C stops everything it started.
 * PORT sets the gateway port (default 8080; 0 = any free port).
 */
import { fileURLToPath } from 'node:url'
import { startBackends, startRedis } from '@switchyard/test-harness'
import { buildGateway } from './gateway.js'

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

try {
  const redis = await startRedis(host)
  const backends = await startBackends(host, 3, {
    names: ['replica-a', 'replica-b', 'replica-c'],
    script: fileURLToPath(new URL('./backend.ts', import.meta.url)),
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { REDIS_URL: redis.url }
  })
  const gateway = await buildGateway(backends.list.map((b) => ({ url: b.url, name: b.name })))
  host.teardown(async () => { await gateway.close() })
  await gateway.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 8080) })
  const address = gateway.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`

  console.log(`
Switchyard demo is running.

  gateway      ${url}            (@switchyard/balancer, round robin, failover on)
  upstreams    ${url}/_gateway/upstreams
  redis        ${redis.url}                 (pid ${redis.pid})
${backends.list.map((b) => `  ${b.name}    ${b.url}            (pid ${b.pid})`).join('\n')}

Try:
  curl -s ${url}/                     # repeat it: replica-a, replica-b, replica-c take turns
  kill -9 ${backends.at(1).pid}                          # crash replica-b...
  curl -s ${url}/                     # ...and every request still answers, from a and c

Ctrl-C stops everything.
DEMO_READY ${url}
`)
} catch (err) {
  console.error('the demo could not start:', err)
  await stop(1)
}
