import Fastify from 'fastify'
import t from 'tap'
import balancer, { type Balancer, type UpstreamStats } from '@switchyard/balancer'

// Type-level checks run under `tsc` (part of the test command); the runtime part proves the same facts.
t.test('fastify.balancer is the typed engine after register', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(balancer, { upstreams: ['http://127.0.0.1:1'], algorithm: 'round-robin', retry: { tries: 2 } })
  await app.ready()
  const engine: Balancer = app.balancer
  const stats: UpstreamStats[] = engine.stats()
  t.equal(stats[0]?.url, 'http://127.0.0.1:1')
  // @ts-expect-error algorithm names are checked at compile time too
  const wrong: Parameters<typeof balancer>[1] = { upstreams: [], algorithm: 'fastest' }
  t.ok(wrong)
})
