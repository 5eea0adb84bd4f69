/**
 * Graceful shutdown on a real process: SIGTERM → readiness 503 within 100 ms, liveness and real traffic keep
 * answering 200 through the drain delay, a request in flight when the server closes still completes with 200,
 * and the process exits 0. A second signal forces exit 1.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { exited, killChild, waitFor } from '@switchyard/test-harness'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'

const FIXTURE = fileURLToPath(new URL('./fixtures/sigterm-app.ts', import.meta.url))

interface Started { child: ChildProcess, url: string, messages: Array<{ type: string }> }

async function startApp (t: Test, drainDelay: number): Promise<Started> {
  const child = fork(FIXTURE, [], {
    execArgv: ['--import', 'tsx', '--conditions=@switchyard/source'],
    env: { ...process.env, DRAIN_DELAY: String(drainDelay) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  t.teardown(async () => { await killChild(child, 'SIGKILL') })
  const messages: Array<{ type: string, port?: number }> = []
  child.on('message', (message) => { messages.push(message as { type: string, port?: number }) })
  const listening = await waitFor(() => messages.find((m) => m.type === 'listening'), { timeout: 20_000, message: 'the child to listen' })
  return { child, url: `http://127.0.0.1:${listening.port ?? 0}`, messages }
}

t.test('SIGTERM: readiness 503 within 100 ms, traffic served during the drain, in-flight request completes, exit 0', async (t) => {
  const DRAIN = 1500
  const { child, url, messages } = await startApp(t, DRAIN)
  const dispatcher = new Agent()
  t.teardown(async () => { await dispatcher.destroy() })
  const get = async (path: string): Promise<{ status: number, text: string }> => {
    const res = await request(url + path, { dispatcher })
    return { status: res.statusCode, text: await res.body.text() }
  }
  t.equal((await get('/health/ready')).status, 200, 'ready before the signal')

  // A request that is still in flight when the drain delay ends and the server closes.
  const slow = get(`/slow?ms=${DRAIN + 1000}`)
  await waitFor(() => messages.some((m) => m.type === 'slow-started'), { message: 'the slow request to reach the handler' })

  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => { child.once('exit', (code, signal) => { resolve([code, signal]) }) })
  const signalled = performance.now()
  child.kill('SIGTERM')
  await waitFor(async () => (await get('/health/ready')).status === 503, { interval: 2, timeout: 2000, message: 'readiness 503' })
  const toUnready = performance.now() - signalled
  t.ok(toUnready < 100, `readiness answered 503 ${toUnready.toFixed(1)} ms after SIGTERM`)

  // During the drain delay: liveness and real traffic are still served.
  const during = await Promise.all([get('/'), get('/'), get('/health/live'), get('/'), get('/health/live')])
  t.same(during.map((r) => r.status), [200, 200, 200, 200, 200], 'new requests during the drain all answer 200')
  t.ok(performance.now() - signalled < DRAIN, 'and they were made within the drain delay')

  const slowResult = await slow
  t.same(slowResult, { status: 200, text: 'slow done' }, 'the in-flight request completed')
  t.ok(performance.now() - signalled > DRAIN, 'it finished after the close began')

  t.same(await exit, [0, null], 'the process exited 0 by itself')
})

t.test('a second signal during the drain forces exit 1 at once', async (t) => {
  const { child, url } = await startApp(t, 30_000)
  child.kill('SIGTERM')
  await waitFor(async () => {
    const res = await request(`${url}/health/ready`)
    await res.body.dump()
    return res.statusCode === 503
  }, { message: 'draining' })
  const exit = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  const signalled = performance.now()
  child.kill('SIGTERM')
  t.equal(await exit, 1)
  await exited(child)
  t.ok(performance.now() - signalled < 2000, 'without waiting for the 30 s drain delay')
})
