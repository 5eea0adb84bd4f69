import t from 'tap'
import { request } from 'undici'
import { runLoad, startBackends, startGateway, startRedis, waitFor } from '../src/index.js'

t.test('startRedis: a real server answering PING, killable and restartable on the same port', async (t) => {
  const redis = await startRedis(t)
  const { Redis } = await import('ioredis')
  const client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  t.teardown(() => { client.disconnect() })
  t.equal(await client.ping(), 'PONG')
  const firstPid = redis.pid
  await redis.kill('SIGKILL')
  await t.rejects(client.ping())
  await redis.restart()
  t.not(redis.pid, firstPid, 'a new process')
  t.equal(await waitFor(async () => await client.ping().catch(() => false)), 'PONG')
})

t.test('startBackends: named replicas, kill and restart on the same port', async (t) => {
  const backends = await startBackends(t, 2)
  const answer = async (i: number): Promise<string> => {
    const res = await request(backends.url(i))
    return ((await res.body.json()) as { backend: string }).backend
  }
  t.same([await answer(0), await answer(1)], ['backend-0', 'backend-1'])
  const port = backends.at(0).port
  await backends.kill(0)
  t.equal(backends.at(0).running, false)
  await t.rejects(request(backends.url(0)), { code: 'ECONNREFUSED' })
  await backends.restart(0)
  t.equal(backends.at(0).port, port)
  t.equal(await answer(0), 'backend-0')
  await backends.setBehaviour(1, { status: 503 })
  const res = await request(backends.url(1))
  await res.body.dump()
  t.equal(res.statusCode, 503)
})

t.test('runLoad: bounded by requests, counts statuses and backends', async (t) => {
  const backends = await startBackends(t, 1)
  const gateway = await startGateway(t, (app) => {
    app.get('/', async (_req, reply) => await reply.header('x-backend', 'local').send('ok'))
  })
  const result = await runLoad({ url: gateway.url, connections: 5, requests: 200 })
  t.equal(result.total, 200)
  t.equal(result.ok2xx, 200)
  t.same(result.backends, { local: 200 })
  const direct = await runLoad({ url: backends.url(0), connections: 2, requests: 20, path: '/x' })
  t.same(direct.backends, { 'backend-0': 20 })
  t.ok(result.latency.p99 >= result.latency.p50)
})

t.test('runLoad with rate: an open loop that keeps its schedule, and counts the starts it could not keep', async (t) => {
  const backends = await startBackends(t, 1, { behaviour: () => ({ delay: 100 }) })
  const url = backends.url(0)
  // 50 per second for 1 s over 10 connections that each need ~100 ms per request: capacity ~100/s, so on time.
  const paced = await runLoad({ url, connections: 10, durationMs: 1000, rate: 50 })
  t.ok(paced.total >= 45 && paced.total <= 50, `${paced.total} requests at 50/s for 1 s`)
  t.equal(paced.lateStarts, 0, 'every request started on schedule')
  t.equal(paced.failed, 0)
  // The same connections asked for 200 per second: each is busy 100 ms per request, so most slots start late.
  const behind = await runLoad({ url, connections: 2, durationMs: 1000, rate: 200 })
  t.ok(behind.total <= 25, `${behind.total} requests: at most ~2 connections × 10 per second`)
  t.ok(behind.lateStarts >= behind.total - 3, `${behind.lateStarts} of ${behind.total} started late`)
  await t.rejects(runLoad({ url, durationMs: 10, rate: 0 }), /rate must be a positive number/)
})
