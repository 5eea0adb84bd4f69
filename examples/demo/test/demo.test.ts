import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Pool } from 'undici'
import { exited, waitFor } from '@switchyard/test-harness'

// Runs the demo as `npm run demo` does (free port, no generated traffic), follows its "things to try" script,
// and stops it with Ctrl-C (SIGINT).
t.test('the demo: login survives the replica that served it being killed; Ctrl-C stops everything', async (t) => {
  const demo = spawn(process.execPath, ['--import', 'tsx', '--conditions=@switchyard/source', fileURLToPath(new URL('../run.ts', import.meta.url)), '--no-traffic'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (demo.exitCode === null) demo.kill('SIGKILL') })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`demo not ready within 60 s:\n${output}`)) }, 60_000)
    demo.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /DEMO_READY (\S+)/.exec(output)
      if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
    })
    demo.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited (${code}):\n${output}`)) })
  })
  const pids: Record<string, number> = {}
  for (const match of output.matchAll(/(replica-[a-d])\s+http:\S+\s+pid (\d+)/g)) pids[match[1]!] = Number(match[2])
  t.same(Object.keys(pids).sort(), ['replica-a', 'replica-b', 'replica-c', 'replica-d'], 'the demo lists its replicas with their pids')

  const pool = new Pool(url, { connections: 2 })
  t.teardown(async () => { await pool.destroy() })
  const call = async (method: 'GET' | 'POST', path: string, cookie?: string): Promise<{ status: number, body: Record<string, unknown>, setCookie?: string }> => {
    const res = await pool.request({ method, path, headers: cookie === undefined ? {} : { cookie } })
    const setCookie = res.headers['set-cookie']
    const first = Array.isArray(setCookie) ? setCookie[0] : setCookie
    return { status: res.statusCode, body: await res.body.json() as Record<string, unknown>, ...(first === undefined ? {} : { setCookie: first.split(';')[0] }) }
  }

  // The active health checks see the replicas up before traffic is spread over the three primaries.
  await waitFor(async () => {
    const seen = new Set<unknown>()
    for (let i = 0; i < 12; i++) seen.add((await call('GET', '/api/whoami')).body.replica)
    return seen.size === 3 && !seen.has('replica-d')
  }, { timeout: 20_000, message: 'three primaries serving, the backup standing by' })

  const login = await call('POST', '/api/login?user=ada')
  t.equal(login.status, 200)
  const cookie = login.setCookie
  t.ok(cookie, 'a session cookie')
  const me = await call('GET', '/api/me', cookie)
  t.equal(me.body.user, 'ada')
  const served = String(me.body.servedBy)
  t.ok(pids[served], `served by ${served}`)

  process.kill(pids[served]!, 'SIGKILL')
  for (let i = 0; i < 10; i++) {
    const again = await call('GET', '/api/me', cookie)
    t.equal(again.status, 200, 'no failed request after the kill')
    t.equal(again.body.user, 'ada', 'still logged in')
    t.not(again.body.servedBy, served, 'on another replica')
  }

  const status = await pool.request({ method: 'GET', path: '/_switchyard/status.json' })
  t.equal(status.statusCode, 200, 'the status page API answers')
  await waitFor(async () => {
    const res = await pool.request({ method: 'GET', path: '/_switchyard/status.json' })
    const text = await res.body.text()
    return text.includes(served) && /"state":\s*"(down|ejected)"/.test(text)
  }, { timeout: 10_000, message: `${served} shown down on the status page` })
  await status.body.dump()

  demo.kill('SIGINT')
  await exited(demo)
  t.equal(demo.exitCode, 0, 'Ctrl-C stops the demo cleanly')
})
