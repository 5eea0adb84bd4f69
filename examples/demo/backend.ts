/**
 * A demo backend replica: an ordinary Fastify service that answers with its own name, so you can see which
 * replica served each request. Started by run.ts (REPLICA_NAME, PORT); reports readiness over IPC.
 */
import Fastify from 'fastify'

const name = process.env.BACKEND_NAME ?? 'replica'
const app = Fastify({ logger: false })

app.addHook('onSend', async (_request, reply) => { reply.header('x-backend', name) })
app.get('/', async () => ({ replica: name, pid: process.pid, message: `hello from ${name}` }))
app.get('/api/whoami', async () => ({ replica: name, pid: process.pid }))
app.get('/api/slow', async () => {
  await new Promise((resolve) => setTimeout(resolve, 200))
  return { replica: name, slow: true }
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
const address = app.server.address()
process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 })

process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
process.on('disconnect', () => process.exit(0))
