/**
 * The Fastify adapter, and the only file of this package that imports Fastify or @fastify/http-proxy.
 * It validates options, builds the engine and the dispatcher, registers @fastify/http-proxy with them, decorates
 * the instance, and closes everything it created in `onClose`.
 */
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { AdminAnswer, AdminCaller, AdminOptions, ResolvedAdminOptions } from './admin/admin-api.js'
import { Balancer } from './balancer.js'
import type { Membership } from './discovery/membership.js'
import { BadGatewayError, findUpstreamFailure } from './errors.js'
import { HttpProbe } from './health-check/http-probe.js'
import { type BalancerOptions, DEFAULT_SATURATED_RETRY_AFTER, PROXY_PASSTHROUGH_OPTIONS, type StatusPageOptions, validateOptions } from './options.js'
import { readCookie, requestHash } from './pickers/index.js'
import { BalancerDispatcher, HASH_HEADER } from './proxy/dispatcher.js'
import { type Headers, setForwardedHeaders, stripHopByHop } from './proxy/headers.js'
import { systemClock } from './util/clock.js'
import { systemRandom } from './util/random.js'

/**
 * reply-from needs an origin to build each request's URL; the dispatcher ignores it and picks the real upstream.
 * `.invalid` is reserved (RFC 2606), so nothing could ever be reached through it by mistake.
 */
const PLACEHOLDER_ORIGIN = 'http://switchyard.invalid'

type PassthroughName = (typeof PROXY_PASSTHROUGH_OPTIONS)[number]

/** The balancer's options plus the @fastify/http-proxy routing options it passes through. */
export interface BalancerPluginOptions extends BalancerOptions, Partial<Pick<FastifyHttpProxyOptions, Exclude<PassthroughName, 'websocket' | 'wsHooks'>>> {
  /** Proxy WebSocket upgrades too; each connection is balanced when it opens. */
  websocket?: boolean
  wsHooks?: Record<string, unknown>
  /** The live status page; `authorize` gets the Fastify request. */
  statusPage?: StatusPageOptions<FastifyRequest> | boolean
  /** The admin API; `authorize` gets the Fastify request. */
  admin?: AdminOptions<FastifyRequest>
}

const noEmptyTried: never[] = []

async function balancerPlugin (fastify: FastifyInstance, raw: BalancerPluginOptions): Promise<void> {
  const options = validateOptions(raw)
  const { healthCheck } = options
  // Active health checks are off unless configured: then no probe, no Agent, no hook.
  const probe = healthCheck === null
    ? null
    : new HttpProbe({ path: healthCheck.path, headers: healthCheck.headers, timeout: healthCheck.timeout })
  const engine = new Balancer(options, {
    clock: systemClock, random: systemRandom, log: fastify.log, ...(probe === null ? {} : { probe })
  })
  const dispatcher = new BalancerDispatcher(engine, options)
  engine.onUpstreamRemoved((upstream) => { dispatcher.release(upstream).catch(() => {}) })
  if (probe !== null) fastify.addHook('onReady', async () => { engine.start() })

  const passthrough: Record<string, unknown> = {}
  for (const name of PROXY_PASSTHROUGH_OPTIONS) {
    if (raw[name] !== undefined) passthrough[name] = raw[name]
  }
  const userReply = raw.replyOptions ?? {}
  const userRewriteRequestHeaders = userReply.rewriteRequestHeaders
  const userRewriteHeaders = userReply.rewriteHeaders

  const replyOptions = {
    ...userReply,
    // Called once per request (and per WebSocket connection). HTTP requests get the placeholder: the dispatcher
    // picks per attempt. A WebSocket upgrade is balanced here, once, for the life of the connection.
    getUpstream (request: FastifyRequest): string {
      if (request.headers.upgrade === undefined) return PLACEHOLDER_ORIGIN
      const hash = engine.hashKey === null ? 0 : requestHash(request, engine.hashKey, systemRandom)
      const affinity = dispatcher.sticky === null ? undefined : readCookie(request.headers.cookie, dispatcher.sticky.cookieName)
      return engine.pick(noEmptyTried, hash, affinity)?.url ?? PLACEHOLDER_ORIGIN
    },
    rewriteRequestHeaders (request: FastifyRequest, headers: Headers): Headers {
      stripHopByHop(headers)
      setForwardedHeaders(headers, {
        remoteAddress: request.raw.socket.remoteAddress,
        protocol: request.protocol,
        host: request.headers.host
      }, options.trustProxy)
      // consistent-hash: the key comes from the request (IP, header, cookie, function); the dispatcher only sees
      // headers, so the hash travels in one it removes before sending.
      if (engine.hashKey !== null) headers[HASH_HEADER] = String(requestHash(request, engine.hashKey, systemRandom))
      return userRewriteRequestHeaders === undefined ? headers : userRewriteRequestHeaders(request, headers as never) as Headers
    },
    rewriteHeaders (headers: Headers, request: FastifyRequest): Headers {
      stripHopByHop(headers)
      return userRewriteHeaders === undefined ? headers : userRewriteHeaders(headers as never, request) as Headers
    },
    // Failover lives in the dispatcher. reply-from's own retries would re-send to the same URL, so a falsy
    // delay turns them off (its `retriesCount: 0` still retries GET 503s up to 10 times).
    retryDelay: () => null,
    // reply-from maps errors it does not know (ECONNREFUSED, ours) to 500; an upstream failure is never a 500.
    onError (reply: FastifyReply, { error }: { error: Error }): void {
      const failure = findUpstreamFailure(error)
      // Circuit breaking: every upstream at its cap, come back shortly (RFC 9110 §10.2.3).
      if (failure?.code === 'SWY_BALANCER_UPSTREAMS_SATURATED') reply.header('retry-after', String(DEFAULT_SATURATED_RETRY_AFTER))
      reply.send(failure ?? new BadGatewayError('the upstream request failed', { cause: error }))
    }
  }

  await fastify.register(httpProxy, {
    ...passthrough,
    upstream: '',
    // Any object with request() is accepted by reply-from as its undici instance.
    undici: dispatcher as unknown as FastifyHttpProxyOptions['undici'],
    replyOptions
  } as FastifyHttpProxyOptions)

  if (options.decorator !== false) {
    if (fastify.hasDecorator(options.decorator)) {
      throw new Error(`@switchyard/balancer: fastify.${options.decorator} already exists; give each balancer its own \`decorator\` name`)
    }
    fastify.decorate(options.decorator, engine)
  }

  // Metrics and the status page are off by default; then this imports nothing (no prom-client), sets no
  // observer and adds no route (DESIGN.md principle 9).
  if (options.metrics !== null || options.statusPage !== null) {
    const { setUpObservability } = await import('./status/observability.js')
    const observability = await setUpObservability<FastifyRequest>(engine, options, {
      scope: { key: fastify.server, prefix: fastify.prefix },
      onAuthorizeError: (err) => { fastify.log.warn({ err }, 'statusPage.authorize threw; access refused') }
    })
    for (const route of observability.routes) {
      fastify.get(route.url, async (request, reply) => {
        const answer = await route.handle(request, request.headers.authorization, (request.query as { token?: unknown } | undefined)?.token)
        reply.code(answer.status).headers(answer.headers)
        if (answer.error !== undefined) throw answer.error
        return answer.body
      })
    }
    engine.observer = observability.observer
    fastify.addHook('onClose', async () => {
      engine.observer = null
      observability.close()
    })
  }

  // Dynamic membership (DNS or the Redis registry feeding the engine) and the shared health view are off unless
  // configured: then nothing is imported, subscribed or polled. The first members are in before the server listens.
  let membership: Membership | null = null
  if (options.discovery !== null || options.sharedHealth !== null) {
    const { setUpMembership } = await import('./discovery/membership.js')
    membership = await setUpMembership(engine, options, { clock: systemClock, log: fastify.log })
  }

  if (options.admin !== null) await registerAdminRoutes(fastify, engine, options.admin as ResolvedAdminOptions<FastifyRequest>)

  fastify.addHook('onClose', async () => {
    // Discovery first, so no membership change reaches an engine that is closing.
    await membership?.close()
    engine.close()
    await Promise.all([dispatcher.close(), probe?.close()])
  })
}

/**
 * The admin API's routes under `admin.prefix`; every call is authorised (token and/or `authorize`) before it runs.
 * `:id` is an upstream's url (URL-encoded) or its name.
 */
async function registerAdminRoutes (fastify: FastifyInstance, engine: Balancer, adminOptions: ResolvedAdminOptions<FastifyRequest>): Promise<void> {
  const { AdminApi } = await import('./admin/admin-api.js')
  const admin = new AdminApi<FastifyRequest>(adminOptions, engine, fastify.log)
  const base = `${adminOptions.prefix}/upstreams`
  type Handler = (caller: AdminCaller, request: FastifyRequest<{ Params: { id: string }, Body: unknown }>) => AdminAnswer | Promise<AdminAnswer>
  const route = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, handler: Handler): void => {
    fastify.route<{ Params: { id: string }, Body: unknown }>({
      method,
      url,
      handler: async (request, reply) => {
        const caller = await admin.authenticate(request, request.headers.authorization, request.ip)
        const answer = 'who' in caller ? await handler(caller, request) : caller
        reply.code(answer.status)
        if (answer.headers !== undefined) reply.headers(answer.headers)
        return answer.body
      }
    })
  }
  route('GET', base, () => admin.list())
  route('GET', `${base}/:id`, (_caller, request) => admin.one(request.params.id))
  route('POST', base, (caller, request) => admin.add(caller, request.body))
  route('DELETE', `${base}/:id`, async (caller, request) => await admin.remove(caller, request.params.id))
  route('POST', `${base}/:id/drain`, async (caller, request) => await admin.drain(caller, request.params.id))
  route('POST', `${base}/:id/undrain`, (caller, request) => admin.undrain(caller, request.params.id))
  route('PUT', `${base}/:id/weight`, (caller, request) => admin.setWeight(caller, request.params.id, request.body))
}

export const balancer: FastifyPluginAsync<BalancerPluginOptions> = fp(balancerPlugin, {
  fastify: '5.x',
  name: '@switchyard/balancer'
})

declare module 'fastify' {
  interface FastifyInstance {
    /** The balancer engine of `@switchyard/balancer` (the default decorator name). */
    balancer: Balancer
  }
}
