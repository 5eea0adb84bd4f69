/**
 * A gateway process for the benchmarks. GATEWAY_KIND picks what proxies:
 * - `balancer`: @switchyard/balancer (round robin unless GATEWAY_OPTIONS says otherwise)
 * - `http-proxy`: bare @fastify/http-proxy with a round-robin `getUpstream`, its documented way to use many upstreams
 * - `http-proxy-lib`: node-http-proxy (`http-proxy` on npm) with a round-robin target, as its balancer example
 * Reports `{ type: 'listening', port }` over IPC, like the harness backends.
 */
import { createServer } from 'node:http'
import httpProxy from '@fastify/http-proxy'
import Fastify from 'fastify'
import nodeHttpProxy from 'http-proxy'
import balancer from '@switchyard/balancer'

const kind = process.env.GATEWAY_KIND
const upstreams = JSON.parse(process.env.GATEWAY_UPSTREAMS ?? '[]') as string[]
const options = JSON.parse(process.env.GATEWAY_OPTIONS ?? '{}') as Record<string, unknown>
let next = 0

function report (port: number): void {
  process.send?.({ type: 'listening', port })
}

if (kind === 'http-proxy-lib') {
  const proxy = nodeHttpProxy.createProxyServer({ agent: new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 128 }) })
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502)
    res.end()
  })
  const server = createServer((req, res) => { proxy.web(req, res, { target: upstreams[next++ % upstreams.length] }) })
  server.listen(0, '127.0.0.1', () => { report((server.address() as { port: number }).port) })
} else {
  const app = Fastify({ logger: false })
  if (kind === 'balancer') {
    await app.register(balancer, { upstreams, ...options })
  } else {
    await app.register(httpProxy, {
      upstream: '',
      replyOptions: { getUpstream: () => upstreams[next++ % upstreams.length]! }
    })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  report((app.server.address() as { port: number }).port)
}
process.on('disconnect', () => process.exit(0))
