import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'
import { exited, killChild } from './child.js'
import type { TeardownHost } from './teardown.js'
import { waitFor } from './wait.js'

export interface StartRedisOptions {
  /** Keep an append-only file so data survives `restart()`. Default false: no persistence at all. */
  persistence?: boolean
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[]
  /** Milliseconds to wait for PING → PONG. Default 10 000. */
  readyTimeout?: number
}

export interface RedisServer {
  readonly host: '127.0.0.1'
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** PID of the running server (changes on restart). */
  readonly pid: number
  readonly process: ChildProcess
  /** Sends a signal to the server process: SIGKILL to crash it, SIGSTOP/SIGCONT to freeze and thaw it. */
  kill (signal?: NodeJS.Signals): Promise<void>
  freeze (): void
  thaw (): void
  /** Starts the server again on the same port (after a kill or stop). */
  restart (): Promise<void>
  /** Graceful stop (SIGTERM), waits for exit. */
  stop (): Promise<void>
}

/** Answers true once the server replies +PONG to a raw RESP PING. */
async function ping (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let reply = ''
    const finish = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => { finish(false) })
    socket.once('error', () => { finish(false) })
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'))
    })
    socket.once('connect', () => { socket.write('*1\r\n$4\r\nPING\r\n') })
  })
}

/**
 * Starts a real `redis-server` on a free loopback port, waits until it answers PING, and registers its
 * teardown on `t`. Requires `redis-server` on PATH (the bootstrap installs it).
 */
export async function startRedis (t: TeardownHost, options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'))
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.persistence === true ? 'yes' : 'no',
    '--protected-mode', 'no', '--loglevel', 'warning',
    ...(options.args ?? [])
  ]
  let child: ChildProcess = undefined as unknown as ChildProcess

  const launch = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const spawnError = new Promise<never>((_resolve, reject) => {
      child.once('error', (err) => {
        reject(new Error(`could not start redis-server (${err.message}); run the README's test command, which installs it`))
      })
    })
    await Promise.race([
      spawnError,
      waitFor(async () => await ping(port), {
        timeout: options.readyTimeout ?? 10_000,
        message: `redis-server on port ${port} answering PING (${stderr.trim()})`
      })
    ])
  }

  await launch()
  t.teardown(async () => {
    child.kill('SIGCONT')
    await killChild(child, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid () { return child.pid ?? -1 },
    get process () { return child },
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (signal === 'SIGSTOP' || signal === 'SIGCONT') { child.kill(signal); return }
      await killChild(child, signal)
    },
    freeze: () => { child.kill('SIGSTOP') },
    thaw: () => { child.kill('SIGCONT') },
    restart: async () => {
      await killChild(child, 'SIGKILL')
      await exited(child)
      await launch()
    },
    stop: async () => { await killChild(child, 'SIGTERM') }
  }
}
