/**
 * The gateway process of the chaos benchmark: @switchyard/balancer over GATEWAY_UPSTREAMS with GATEWAY_OPTIONS,
 * plus `GET /__gateway/stats` (the engine's per-upstream counters and the transitions it went through), so the
 * benchmark can count upstream attempts and retries from outside. Reports `{ type: 'listening', port }` over IPC,
 * like the harness backends.
 */
import Fastify from 'fastify'
import balancer, { BALANCER_EVENTS } from '@switchyard/balancer'

const upstreams = JSON.parse(process.env.GATEWAY_UPSTREAMS ?? '[]') as string[]
const options = JSON.parse(process.env.GATEWAY_OPTIONS ?? '{}') as Record<string, unknown>

const app = Fastify({ logger: false })
await app.register(balancer, { upstreams, ...options })
const transitions: Record<string, number> = {}
for (const name of BALANCER_EVENTS) {
  app.balancer.events.on(name, () => { transitions[name] = (transitions[name] ?? 0) + 1 })
}
// A static route wins over the proxy's wildcard, so this is answered by the gateway itself.
app.get('/__gateway/stats', async () => ({ upstreams: app.balancer.stats(), transitions }))
await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ type: 'listening', port: (app.server.address() as { port: number }).port })
process.on('disconnect', () => process.exit(0))
