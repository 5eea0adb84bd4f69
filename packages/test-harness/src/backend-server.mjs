// A backend replica for tests, benchmarks and the demo's chaos runs: a plain node:http server (so it is
// never the bottleneck) that answers every request with its own name and an echo of what it received.
//
// Environment: BACKEND_NAME, PORT (0 = any), BACKEND_BEHAVIOUR (JSON, see Behaviour in backends.ts).
// It reports readiness to its parent over IPC: { type: 'listening', port }.
// Control (direct to the backend, not through a gateway):
//   POST /__backend/behaviour   body: Behaviour JSON, replaces the current behaviour
//   GET  /__backend/stats       { name, requests, inFlight }
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'

const name = process.env.BACKEND_NAME ?? `backend-${process.pid}`
let behaviour = JSON.parse(process.env.BACKEND_BEHAVIOUR || '{}')
let requests = 0
let inFlight = 0

function shouldFail () {
  // Deterministic share: with failEvery = 2, every second request fails.
  return behaviour.failEvery > 0 && requests % behaviour.failEvery === 0
}

function respond (req, res, body) {
  if (behaviour.hang) return // never answer: the socket stays open until the client gives up
  const fail = shouldFail()
  const status = fail ? (behaviour.failStatus ?? 503) : (behaviour.status ?? 200)
  const payload = JSON.stringify({
    backend: name,
    method: req.method,
    url: req.url,
    headers: req.headers,
    bodyLength: body.length,
    bodySha256: createHash('sha256').update(body).digest('hex'),
    body: body.length <= 65536 ? body.toString('utf8') : undefined
  })
  const headers = { 'content-type': 'application/json', 'x-backend': name, 'content-length': Buffer.byteLength(payload) }
  if (fail && behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter)
  const send = () => {
    inFlight--
    res.writeHead(status, headers)
    res.end(req.method === 'HEAD' ? undefined : payload)
  }
  const delay = behaviour.delay ?? 0
  if (delay > 0) setTimeout(send, delay)
  else send()
}

const server = createServer((req, res) => {
  if (req.url === '/__backend/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ name, requests, inFlight }))
    return
  }
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    if (req.url === '/__backend/behaviour' && req.method === 'POST') {
      behaviour = JSON.parse(body.toString() || '{}')
      res.writeHead(204)
      res.end()
      return
    }
    if (req.url.startsWith('/health') && !behaviour.hang) {
      const status = behaviour.healthStatus ?? 200
      res.writeHead(status, { 'content-type': 'application/health+json', 'x-backend': name })
      res.end(JSON.stringify({ status: status < 400 ? 'pass' : 'fail' }))
      return
    }
    requests++
    inFlight++
    respond(req, res, body)
  })
})
server.keepAliveTimeout = 5_000

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address()
  if (process.send) process.send({ type: 'listening', port })
  else console.log(`${name} listening on http://127.0.0.1:${port}`)
})

// Graceful stop on SIGTERM: finish what is in flight, then exit 0.
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
})
process.on('disconnect', () => process.exit(0)) // the parent went away: never outlive it
