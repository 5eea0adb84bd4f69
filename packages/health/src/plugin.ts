/**
 * The Fastify adapter, and the only file of this package that imports Fastify (DESIGN.md principle 1):
 * validates the options, builds the engine, registers the routes and hooks, decorates `fastify.health`,
 * and releases everything it created in `onClose`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { systemClock } from './clock.js'
import { createHealthApi, HealthEngine, type HealthApi, type ProbeResponse } from './engine.js'
import { validateOptions, type HealthOptions, type ProbeKind } from './options.js'
import { HEALTH_CONTENT_TYPE } from './report/body.js'
import { handleSignals } from './shutdown.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** @switchyard/health: drain lifecycle, readiness and the latest report. */
    health: HealthApi
  }
}

/** Plugin options, with `authorize` receiving the Fastify request. */
export type FastifyHealthOptions = HealthOptions<FastifyRequest>

const KINDS: readonly ProbeKind[] = ['live', 'ready', 'startup', 'report']
/** With the charset given, Fastify sends the header as is instead of appending it on every response. */
const CONTENT_TYPE = `${HEALTH_CONTENT_TYPE}; charset=utf-8`
/** While closing, how often connections that finished their last request are closed. */
const CLOSE_SWEEP_MS = 50

async function healthPlugin (fastify: FastifyInstance, raw: FastifyHealthOptions): Promise<void> {
  const options = validateOptions<FastifyRequest>(raw)
  const engine = new HealthEngine<FastifyRequest>(options, {
    clock: systemClock,
    log: fastify.log,
    close: async () => { await fastify.close() }
  })
  fastify.decorate('health', createHealthApi(engine))

  const { cacheControl, exposeDetails, authorize } = options

  function send (reply: FastifyReply, response: ProbeResponse): void {
    if (response.statusCode !== 200) reply.code(response.statusCode)
    reply.header('content-type', CONTENT_TYPE)
    if (cacheControl !== null) reply.header('cache-control', cacheControl)
    reply.send(response.body)
  }

  function answer (reply: FastifyReply, response: ProbeResponse | Promise<ProbeResponse>): void {
    if (response instanceof Promise) {
      response.then((r) => { send(reply, r) }, (err: unknown) => { reply.send(err) })
      return
    }
    send(reply, response)
  }

  /** `authorize` is the user's: a throw or rejection means "no details", never a failed probe. */
  async function maySee (request: FastifyRequest): Promise<boolean> {
    if (authorize === null) return exposeDetails
    try {
      return (await authorize(request)) === true
    } catch (err) {
      request.log.warn({ err }, 'health: authorize() threw; answering without details')
      return false
    }
  }

  for (const kind of KINDS) {
    const url = options.routes[kind]
    if (url === null) continue
    const route: RouteOptions = {
      method: 'GET',
      url,
      // GET and HEAD, whatever the server's exposeHeadRoutes says: some LBs (HAProxy's `option httpchk`) use HEAD.
      exposeHeadRoute: true,
      handler: exposeDetails || authorize === null
        ? function probe (_request, reply) { answer(reply, engine.respond(kind, exposeDetails)) }
        : function probe (request, reply) {
          maySee(request).then((details) => { answer(reply, engine.respond(kind, details)) }, (err: unknown) => { reply.send(err) })
        }
    }
    if (options.logLevel !== null) route.logLevel = options.logLevel
    fastify.route(route)
  }

  // Keep-alive connections would hold fastify.close() open until keepAliveTimeout (72 s by default): Fastify
  // closes the connections idle when close() starts, but one with a request in flight goes back to idle
  // keep-alive afterwards and nobody closes it. So: from the start of the drain, responses say
  // `Connection: close` (clients reconnect, usually elsewhere, as with nginx or Envoy draining), and once the
  // close has begun, connections that become idle are closed every CLOSE_SWEEP_MS. Nothing runs before a drain.
  const server = fastify.server as typeof fastify.server & { closeIdleConnections?: () => void }
  let sweep: ReturnType<typeof setInterval> | null = null
  const closeAfterResponse = (request: IncomingMessage, response: ServerResponse): void => {
    // HTTP/2 forbids the Connection header (and has GOAWAY instead).
    if (request.httpVersionMajor < 2 && !response.headersSent) response.setHeader('connection', 'close')
  }
  const onState = (state: string): void => {
    if (state === 'draining') server.prependListener('request', closeAfterResponse)
    if (state === 'closing' && sweep === null && typeof server.closeIdleConnections === 'function') {
      sweep = setInterval(() => { server.closeIdleConnections?.() }, CLOSE_SWEEP_MS)
      sweep.unref()
    }
  }
  engine.lifecycle.on('state', onState)

  // `announce` (off unless set): this replica in @switchyard/balancer's Redis registry. Deregistered first thing in
  // a drain, so gateways stop routing here while the drain delay still serves what they already sent.
  const announceOptions = options.announce
  if (announceOptions !== null) {
    const { Announce } = await import('./announce.js')
    const announce = await Announce.create(announceOptions, {
      isReady: async () => (await engine.respond('ready', false)).statusCode === 200,
      log: fastify.log
    })
    engine.lifecycle.onDrain(async () => { await announce.deregister() })
    engine.onReadiness(() => { announce.readinessChanged() })
    // The url is known once listening (port 0 included); traffic could not reach us before anyway.
    fastify.addHook('onListen', async () => {
      const url = announceOptions.url ?? listeningUrl(fastify)
      if (url === null) {
        fastify.log.error({ address: fastify.server.address() }, 'health: announce.url is needed when listening on every interface; not announcing')
        return
      }
      announce.start(url)
    })
    fastify.addHook('preClose', async () => { await announce.deregister() })
  }

  let removeSignalHandlers: (() => void) | null = null
  fastify.addHook('onReady', async () => {
    engine.start()
    const { shutdown } = options
    if (shutdown.signals.length > 0 && removeSignalHandlers === null) {
      removeSignalHandlers = handleSignals({
        signals: shutdown.signals,
        drain: async (reason) => { await engine.lifecycle.drain({ reason }) },
        exitWhenClosed: shutdown.exit,
        forceExitAfter: Math.max(shutdown.drainDelay, shutdown.hookTimeout) + shutdown.closeTimeout,
        clock: systemClock,
        log: fastify.log,
        exit: (code) => process.exit(code),
        target: process
      })
    }
  })
  // fastify.close() called directly (not through drain()): readiness fails from here on.
  fastify.addHook('preClose', async () => { engine.lifecycle.markClosing() })
  fastify.addHook('onClose', async () => {
    removeSignalHandlers?.()
    removeSignalHandlers = null
    if (sweep !== null) clearInterval(sweep)
    sweep = null
    server.removeListener('request', closeAfterResponse)
    engine.lifecycle.off('state', onState)
    engine.close()
  })
}

/** `http://127.0.0.1:3000` from the listening address, or null when bound to every interface (no single URL). */
function listeningUrl (fastify: FastifyInstance): string | null {
  const address = fastify.server.address()
  if (address === null || typeof address === 'string' || address.address === '0.0.0.0' || address.address === '::') return null
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `${fastify.initialConfig.https === undefined || fastify.initialConfig.https === false ? 'http' : 'https'}://${host}:${address.port}`
}

export const health = fp(healthPlugin, { fastify: '5.x', name: '@switchyard/health' })
export default health
