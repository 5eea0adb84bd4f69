/**
 * End to end, as a user composes the pieces: a gateway with @switchyard/balancer in front of three backend replicas,
 * each running @fastify/session with @switchyard/session-redis on one redis-server. A user logs in through the
 * gateway, the replica that served the login is SIGKILLed, and the next requests — necessarily on other replicas —
 * are still logged in, because the session lives in Redis, not in the replica.
 */
import { fileURLToPath } from 'node:url'
import t from 'tap'
import balancer from '@switchyard/balancer'
import { startBackends, startGateway, startRedis } from '@switchyard/test-harness'

const replica = fileURLToPath(new URL('../packages/session-redis/test/fixtures/replica.ts', import.meta.url))

interface Reply { status: number, body: Record<string, unknown>, cookie: string | undefined, backend: string | null }

async function call (url: string, method: 'GET' | 'POST', cookie?: string): Promise<Reply> {
  const res = await fetch(url, { method, headers: cookie === undefined ? {} : { cookie } })
  const body = await res.json() as Record<string, unknown>
  return {
    status: res.status,
    body,
    cookie: res.headers.getSetCookie()[0]?.split(';', 1)[0],
    backend: res.headers.get('x-backend')
  }
}

t.test('log in through the balancer, SIGKILL the replica that served it: still logged in on the others', async (t) => {
  const redis = await startRedis(t)
  const backends = await startBackends(t, 3, {
    script: replica,
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { REDIS_URL: redis.url }
  })
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))

  const login = await call(`${gateway.url}/login?user=lee`, 'POST')
  t.equal(login.status, 200)
  t.ok(login.cookie, 'the login sets the session cookie through the gateway')
  const servedLogin = login.backend as string
  t.ok(backends.names.includes(servedLogin), `served by ${servedLogin}`)
  const cookie = login.cookie as string

  await backends.kill(backends.names.indexOf(servedLogin), 'SIGKILL')

  const next = await call(`${gateway.url}/me`, 'GET', cookie)
  t.equal(next.status, 200)
  t.equal(next.body.user, 'lee', 'the next request is still logged in')
  t.not(next.backend, servedLogin, `and was served by another replica (${next.backend})`)

  const seen = new Set<string>()
  for (let i = 0; i < 6; i++) {
    const me = await call(`${gateway.url}/me`, 'GET', cookie)
    t.equal(me.body.user, 'lee')
    seen.add(me.backend as string)
  }
  t.same([...seen].sort(), backends.names.filter((n) => n !== servedLogin).sort(), 'both survivors know the session')
})
