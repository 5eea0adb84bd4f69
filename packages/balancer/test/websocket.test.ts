import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import balancer from '@switchyard/balancer'
import { startGateway } from '@switchyard/test-harness'

async function startWsBackend (t: { teardown (fn: () => unknown): void }, name: string): Promise<{ url: string, connections: () => number }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  let connections = 0
  server.on('connection', (socket) => {
    connections++
    socket.on('message', (data) => { socket.send(`${name}:${data.toString()}`) })
  })
  t.teardown(async () => {
    for (const client of server.clients) client.terminate()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections }
}

async function roundTrip (url: string, message: string): Promise<string> {
  const socket = new WebSocket(url)
  await once(socket, 'open')
  socket.send(message)
  const [data] = await once(socket, 'message') as [Buffer]
  socket.close()
  await once(socket, 'close')
  return data.toString()
}

t.test('WebSocket upgrades are balanced per connection', async (t) => {
  const a = await startWsBackend(t, 'a')
  const b = await startWsBackend(t, 'b')
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: [a.url, b.url], websocket: true }))
  const wsUrl = gateway.url.replace('http:', 'ws:')
  const replies: string[] = []
  for (let i = 0; i < 4; i++) replies.push(await roundTrip(`${wsUrl}/chat`, `hello${i}`))
  t.same(replies.map((r) => r.split(':')[1]), ['hello0', 'hello1', 'hello2', 'hello3'], 'messages are relayed both ways')
  t.same(replies.map((r) => r.split(':')[0]).sort(), ['a', 'a', 'b', 'b'], 'connections alternate between upstreams')
  t.equal(a.connections() + b.connections(), 4)
})
