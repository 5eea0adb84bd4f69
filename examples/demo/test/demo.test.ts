import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { request } from 'undici'
import { exited } from '@switchyard/test-harness'

// Runs the demo exactly as `npm run demo` does (on a free port), uses it, and stops it with Ctrl-C (SIGINT).
t.test('the demo starts, balances over three replicas, survives a kill and stops on SIGINT', async (t) => {
  const demo = spawn(process.execPath, ['--import', 'tsx', '--conditions=@switchyard/source', fileURLToPath(new URL('../run.ts', import.meta.url))], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (demo.exitCode === null) demo.kill('SIGKILL') })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`demo not ready within 30 s:\n${output}`)) }, 30_000)
    demo.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /DEMO_READY (\S+)/.exec(output)
      if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
    })
    demo.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited (${code}):\n${output}`)) })
  })
  const names = new Set<string>()
  for (let i = 0; i < 6; i++) {
    const res = await request(url)
    t.equal(res.statusCode, 200)
    names.add(((await res.body.json()) as { replica: string }).replica)
  }
  t.same([...names].sort(), ['replica-a', 'replica-b', 'replica-c'])
  t.match(output, /kill -9 (\d+)/, 'the demo tells the user how to crash a replica')
  const pid = Number(/kill -9 (\d+)/.exec(output)?.[1])
  process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 6; i++) {
    const res = await request(url)
    t.equal(res.statusCode, 200, 'still answering after replica-b was killed')
    t.not(((await res.body.json()) as { replica: string }).replica, 'replica-b')
  }
  demo.kill('SIGINT')
  await exited(demo)
  t.equal(demo.exitCode, 0, 'Ctrl-C stops the demo cleanly')
})
