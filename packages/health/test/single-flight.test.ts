/**
 * A probe storm runs each check at most once: 1,000 concurrent probes on real sockets share one run
 * (single flight), and within cacheTtl later probes reuse its result (cache).
 */
import { waitFor } from '@switchyard/test-harness'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { Pool } from 'undici'
import health, { type FastifyHealthOptions } from '../src/index.js'

const PROBES = 1000

async function listen (t: Test, options: FastifyHealthOptions): Promise<{ app: FastifyInstance, pool: Pool, seen: () => number }> {
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close() })
  let seen = 0
  app.addHook('onRequest', async () => { seen++ })
  await app.register(health, options)
  // 1,000 simultaneous connects: a backlog above Node's default 511 avoids SYN retransmits (1 s each).
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 2048 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: PROBES, pipelining: 1 })
  t.teardown(async () => { await pool.destroy() })
  return { app, pool, seen: () => seen }
}

async function probe (pool: Pool): Promise<number> {
  const res = await pool.request({ path: '/health/ready', method: 'GET' })
  await res.body.dump()
  return res.statusCode
}

t.test(`${PROBES} concurrent probes during a run → each check runs once (cacheTtl 0: single flight alone)`, async (t) => {
  let redisRuns = 0
  let httpRuns = 0
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const { pool, seen } = await listen(t, {
    cacheTtl: 0,
    checks: {
      // Both checks stay in progress until every probe has reached the server.
      'redis:ping': async () => { redisRuns++; await gate },
      'orders:responseTime': { check: async () => { httpRuns++; await gate }, critical: false }
    }
  })
  const responses = Array.from({ length: PROBES }, async () => await probe(pool))
  await waitFor(() => seen() === PROBES, { timeout: 20_000, message: `${PROBES} probes in flight` })
  release()
  const statuses = await Promise.all(responses)
  t.equal(statuses.filter((s) => s === 200).length, PROBES, 'every probe answered 200')
  t.equal(redisRuns, 1, 'redis:ping ran once')
  t.equal(httpRuns, 1, 'orders:responseTime ran once')
})

t.test(`${PROBES} probes within cacheTtl → each check runs once (cache)`, async (t) => {
  let runs = 0
  const { pool } = await listen(t, { cacheTtl: 60_000, checks: { 'redis:ping': () => { runs++ } } })
  for (let batch = 0; batch < 10; batch++) {
    const statuses = await Promise.all(Array.from({ length: PROBES / 10 }, async () => await probe(pool)))
    t.ok(statuses.every((s) => s === 200), `batch ${batch} all 200`)
  }
  t.equal(runs, 1)
})
