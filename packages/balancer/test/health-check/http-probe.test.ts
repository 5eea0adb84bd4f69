import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '@switchyard/test-harness'
import t, { type Test } from 'tap'
import { HttpProbe } from '../../src/health-check/http-probe.js'
import { Upstream } from '../../src/upstream/upstream.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function server (t: Test, handler: Handler): Promise<string> {
  const srv = createServer(handler)
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    srv.closeAllConnections()
    await new Promise((resolve) => srv.close(resolve))
  })
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`
}
const upstream = (url: string): Upstream => new Upstream({ url, weight: 1, backup: false, name: url })
const signal = (): AbortSignal => new AbortController().signal

t.test('GETs the path, sends headers, reads application/health+json status', async (t) => {
  const seen: Array<{ url: string | undefined, auth: string | undefined, host: string | undefined }> = []
  let body = '{"status":"pass"}'
  let type = 'application/health+json'
  let status = 200
  const url = await server(t, (req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization, host: req.headers.host })
    res.writeHead(status, { 'content-type': type })
    res.end(body)
  })
  const probe = new HttpProbe({ path: '/health/ready', headers: { authorization: 'Bearer x' }, timeout: 1000 })
  t.teardown(async () => { await probe.close() })
  const u = upstream(url)
  t.same(await probe.probe(u, signal()), { status: 200, healthJsonStatus: 'pass' })
  t.equal(seen[0]!.url, '/health/ready')
  t.equal(seen[0]!.auth, 'Bearer x')
  t.equal(seen[0]!.host, new URL(url).host)
  body = '{"status":"WARN","checks":{}}'
  t.same(await probe.probe(u, signal()), { status: 200, healthJsonStatus: 'warn' })
  status = 503
  body = '{"status":"fail"}'
  t.same(await probe.probe(u, signal()), { status: 503, healthJsonStatus: 'fail' })
  status = 200
  type = 'text/plain'
  body = 'OK'
  t.same(await probe.probe(u, signal()), { status: 200 }, 'other bodies are not parsed')
  type = 'application/json'
  body = 'not json'
  t.same(await probe.probe(u, signal()), { status: 200 }, 'unparsable json: status code only')
  body = '[1,2]'
  t.same(await probe.probe(u, signal()), { status: 200 })
})

t.test('a body over the limit is not parsed', async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/health+json' })
    res.end(JSON.stringify({ status: 'fail', pad: 'x'.repeat(5000) }))
  })
  const probe = new HttpProbe({ path: '/h', timeout: 1000, maxBodyBytes: 1024 })
  t.teardown(async () => { await probe.close() })
  t.same(await probe.probe(upstream(url), signal()), { status: 200 })
})

t.test('per-upstream url override: absolute or path', async (t) => {
  const paths: string[] = []
  const main = await server(t, (req, res) => { paths.push(`main ${req.url}`); res.end() })
  const admin = await server(t, (req, res) => { paths.push(`admin ${req.url}`); res.end() })
  const probe = new HttpProbe({ path: '/health/ready', timeout: 1000 })
  t.teardown(async () => { await probe.close() })
  const u = upstream(main)
  probe.setTarget(u, `${admin}/status?full=1`)
  t.equal(probe.targetOf(u).href, `${admin}/status?full=1`)
  await probe.probe(u, signal())
  probe.setTarget(u, '/livez')
  await probe.probe(u, signal())
  probe.setTarget(u, undefined)
  await probe.probe(u, signal())
  t.same(paths, ['admin /status?full=1', 'main /livez', 'main /health/ready'])
})

t.test('transport errors and aborts come back as status 0, never thrown', async (t) => {
  const url = await server(t, () => { /* never answers */ })
  const probe = new HttpProbe({ path: '/', timeout: 5000 })
  const controller = new AbortController()
  const pending = probe.probe(upstream(url), controller.signal)
  setTimeout(() => { controller.abort() }, 50)
  const aborted = await pending
  t.equal(aborted.status, 0)
  t.ok(aborted.error)
  const refused = await probe.probe(upstream(`http://127.0.0.1:${await freePort()}`), signal()) // nobody listens
  t.equal(refused.status, 0)
  t.ok(refused.error)
  await probe.close()
  await probe.close() // twice is fine
  const closed = await probe.probe(upstream(url), signal())
  t.equal(closed.status, 0)
  t.match(closed.error?.message, /closed/)
})

t.test('undici timeout is a safety net when nobody aborts', async (t) => {
  const url = await server(t, () => { /* never answers */ })
  const probe = new HttpProbe({ path: '/', timeout: 100 })
  t.teardown(async () => { await probe.close() })
  const started = Date.now()
  const result = await probe.probe(upstream(url), signal())
  t.equal(result.status, 0)
  t.ok(Date.now() - started < 3000)
})
