import t from 'tap'
import balancer, { UpstreamFlag } from '@switchyard/balancer'
import { startBackends, startGateway, waitFor } from '@switchyard/test-harness'

// Generous slack for a loaded 2-core CI box: timers and process start-up are not real-time.
const SLACK = 750

t.test('a backend killed with no traffic is marked down, then back after restart (active checks)', async (t) => {
  const interval = 100
  const timeout = 300
  const unhealthyThreshold = 3
  const healthyThreshold = 2
  const backends = await startBackends(t, 3)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls,
    healthCheck: { interval, timeout, jitter: 0, unhealthyThreshold, healthyThreshold }
  }))
  const engine = gateway.app.balancer
  const seen: Array<{ event: string, url: string, at: number }> = []
  engine.events.on('down', (e) => { seen.push({ event: 'down', url: e.upstream.url, at: Date.now() }) })
  engine.events.on('up', (e) => { seen.push({ event: 'up', url: e.upstream.url, at: Date.now() }) })
  await waitFor(() => engine.upstreams.every((u) => u.available), { timeout: 5000, message: 'all healthy after the first probes' })
  t.equal(engine.set.state, 'normal')

  await backends.kill(1, 'SIGKILL')
  const killedAt = Date.now()
  const victim = engine.upstreams[1]!
  await waitFor(() => victim.has(UpstreamFlag.FAILED_ACTIVE_HC), { timeout: 10_000, interval: 5, message: 'marked down' })
  const down = seen.find((s) => s.event === 'down' && s.url === victim.url)!
  const detect = down.at - killedAt
  const downBound = interval * unhealthyThreshold + timeout
  t.ok(detect <= downBound + SLACK, `marked down ${detect} ms after the kill (bound ${downBound} ms + ${SLACK} ms slack)`)
  t.same(engine.set.eligible.map((u) => u.url).sort(), [backends.url(0), backends.url(2)].sort())

  await backends.restart(1)
  const restartedAt = Date.now()
  await waitFor(() => victim.available, { timeout: 10_000, interval: 5, message: 'back up' })
  const up = seen.find((s) => s.event === 'up' && s.url === victim.url && s.at >= restartedAt)!
  const recover = up.at - restartedAt
  const upBound = interval * healthyThreshold
  t.ok(recover <= upBound + SLACK, `back ${recover} ms after the restart (bound ${upBound} ms + ${SLACK} ms slack)`)
  t.equal(engine.set.eligible.length, 3)
  t.comment(`detection ${detect} ms (bound ${downBound}), recovery ${recover} ms (bound ${upBound})`)
})

t.test('a failing health endpoint (503, health+json fail) on the configured path takes a backend out and back', async (t) => {
  const backends = await startBackends(t, 2)
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.urls,
    healthCheck: { interval: 50, timeout: 300, unhealthyThreshold: 2, path: '/health/live' }
  }))
  const engine = gateway.app.balancer
  await waitFor(() => engine.upstreams.every((u) => u.available), { timeout: 5000 })
  await backends.setBehaviour(0, { healthStatus: 503 })
  await waitFor(() => engine.upstreams[0]!.has(UpstreamFlag.FAILED_ACTIVE_HC), { timeout: 5000, message: 'down on 503' })
  await backends.setBehaviour(0, {})
  await waitFor(() => engine.upstreams[0]!.available, { timeout: 5000, message: 'up again' })
  t.ok(engine.upstreams[0]!.available && !engine.upstreams[0]!.has(UpstreamFlag.FAILED_ACTIVE_HC), 'down on a failing health endpoint, up when it passes again')
})

t.test('onClose stops every probe, timer and probe connection', async (t) => {
  const Fastify = (await import('fastify')).default
  const backends = await startBackends(t, 2, { behaviour: (i) => (i === 1 ? { hang: true } : {}) })
  const handles = (): Record<string, number> => {
    const counts: Record<string, number> = {}
    for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
    return counts
  }
  const before = handles()
  const app = Fastify()
  await app.register(balancer, {
    upstreams: backends.urls,
    healthCheck: { interval: 50, timeout: 2000 },
    outlierDetection: { baseEjectionTime: 60_000 },
    slowStart: { window: 10_000 }
  })
  await app.ready()
  // one probe hangs on the frozen backend while we close
  await waitFor(() => app.balancer.upstreams[0]!.available, { timeout: 5000 })
  await app.close()
  const after = await waitFor(() => {
    const now = handles()
    return ['TCPSocketWrap', 'Timeout'].every((k) => (now[k] ?? 0) <= (before[k] ?? 0)) ? now : false
  }, { timeout: 5000, message: 'handles back to the baseline' })
  t.ok((after.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0) && (after.Timeout ?? 0) <= (before.Timeout ?? 0), 'nothing left running')
})
