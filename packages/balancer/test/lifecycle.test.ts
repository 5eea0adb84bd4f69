import Fastify from 'fastify'
import t from 'tap'
import { Client } from 'undici'
import balancer from '@switchyard/balancer'
import { startBackends, waitFor } from '@switchyard/test-harness'

function handles (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

t.test('onClose leaves no socket, server or timer of the balancer open', async (t) => {
  const backends = await startBackends(t, 2)
  const before = handles()

  const app = Fastify()
  await app.register(balancer, { upstreams: backends.urls })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const client = new Client(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`)
  for (let i = 0; i < 10; i++) {
    const res = await client.request({ path: '/', method: 'GET' })
    await res.body.dump()
  }
  await client.close()
  const during = handles()
  t.ok((during.TCPSocketWrap ?? 0) > (before.TCPSocketWrap ?? 0), 'the balancer held keep-alive connections to the upstreams')

  await app.close()
  const after = await waitFor(() => {
    const now = handles()
    const same = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].every((k) => (now[k] ?? 0) <= (before[k] ?? 0))
    return same ? now : false
  }, { timeout: 5000, message: 'handles back to the baseline' })
  t.equal(after.TCPServerWrap ?? 0, before.TCPServerWrap ?? 0)
  t.equal(after.TCPSocketWrap ?? 0, before.TCPSocketWrap ?? 0)
})
