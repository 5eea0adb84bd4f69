import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TeardownHost } from './teardown.js'

export interface Gateway {
  readonly app: FastifyInstance
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
}

/**
 * A real Fastify instance listening on 127.0.0.1:0, set up by `setup` (register the balancer there), closed
 * in teardown. The harness does not import the plugins it tests, so it never depends on them.
 */
export async function startGateway (
  t: TeardownHost,
  setup: (app: FastifyInstance) => unknown,
  serverOptions: FastifyServerOptions = {}
): Promise<Gateway> {
  const app = Fastify({ logger: false, ...serverOptions })
  t.teardown(async () => { await app.close() })
  await setup(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { app, port, url: `http://127.0.0.1:${port}` }
}
