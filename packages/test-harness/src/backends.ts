import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { exited, killChild } from './child.js'
import type { TeardownHost } from './teardown.js'

/** What a harness backend does with each request (see backend-server.mjs). */
export interface Behaviour {
  /** Milliseconds before answering. */
  delay?: number
  /** Status of every answer. Default 200. */
  status?: number
  /** Never answer (the connection stays open). */
  hang?: boolean
  /** Every n-th request answers `failStatus` (default 503) instead. */
  failEvery?: number
  failStatus?: number
  /** Seconds put in `Retry-After` on failed answers. */
  retryAfter?: number
  /** Status of `/health*` routes. Default 200. */
  healthStatus?: number
}

export interface StartBackendsOptions {
  /** Names of the replicas; default `backend-0`, `backend-1`, … */
  names?: string[]
  /** Initial behaviour, for all replicas or per index. */
  behaviour?: Behaviour | ((index: number) => Behaviour)
  /** A different server script; it must send `{ type: 'listening', port }` over IPC once listening. */
  script?: string
  /** Node arguments for the script, e.g. `['--import', 'tsx']`. */
  execArgv?: string[]
  /** Extra environment for every replica (PORT and BACKEND_NAME are set by the harness). */
  env?: Record<string, string>
  /** Milliseconds to wait for a replica to listen. Default 15 000. */
  readyTimeout?: number
}

export interface Backend {
  readonly index: number
  readonly name: string
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly pid: number
  readonly process: ChildProcess
  readonly running: boolean
}

const defaultScript = fileURLToPath(new URL('./backend-server.mjs', import.meta.url))

class BackendProcess implements Backend {
  port = 0
  child!: ChildProcess
  constructor (readonly index: number, readonly name: string, private readonly options: StartBackendsOptions) {}

  get url (): string { return `http://127.0.0.1:${this.port}` }
  get pid (): number { return this.child.pid ?? -1 }
  get process (): ChildProcess { return this.child }
  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  async start (behaviour: Behaviour): Promise<void> {
    const { options } = this
    this.child = fork(options.script ?? defaultScript, [], {
      execArgv: options.execArgv ?? [],
      env: {
        ...process.env,
        ...options.env,
        BACKEND_NAME: this.name,
        PORT: String(this.port),
        BACKEND_BEHAVIOUR: JSON.stringify(behaviour)
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const child = this.child
    const timeout = options.readyTimeout ?? 15_000
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`backend ${this.name} did not listen within ${timeout} ms`)) }, timeout)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`backend ${this.name} exited before listening (code ${code}, signal ${signal})`))
      })
      child.on('message', (message: { type?: string, port?: number }) => {
        if (message?.type === 'listening' && typeof message.port === 'number') {
          clearTimeout(timer)
          resolve(message.port)
        }
      })
    })
    child.removeAllListeners('exit')
  }
}

/** A group of real backend replicas (child processes) on loopback, each answering with its own name. */
export class Backends {
  readonly list: BackendProcess[]

  constructor (list: BackendProcess[], private readonly options: StartBackendsOptions) {
    this.list = list
  }

  get urls (): string[] { return this.list.map((b) => b.url) }
  get names (): string[] { return this.list.map((b) => b.name) }
  at (i: number): Backend { return this.get(i) }
  url (i: number): string { return this.get(i).url }

  /** Sends `signal` (SIGKILL by default: a crash) to replica `i` and waits for its exit. */
  async kill (i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await killChild(this.get(i).child, signal)
  }

  /** Graceful stop: SIGTERM, in-flight requests finish, the process exits. */
  async stop (i: number): Promise<void> { await this.kill(i, 'SIGTERM') }

  /** Freezes replica `i` (SIGSTOP): its sockets stay open but nothing answers. */
  freeze (i: number): void { this.get(i).child.kill('SIGSTOP') }
  thaw (i: number): void { this.get(i).child.kill('SIGCONT') }

  /** Starts replica `i` again on the same port, after a kill or stop. */
  async restart (i: number, behaviour: Behaviour = {}): Promise<void> {
    const backend = this.get(i)
    if (backend.running) await killChild(backend.child, 'SIGKILL')
    await exited(backend.child)
    await backend.start(behaviour)
  }

  /** Replaces replica `i`'s behaviour at run time. */
  async setBehaviour (i: number, behaviour: Behaviour): Promise<void> {
    const { statusCode, body } = await request(`${this.url(i)}/__backend/behaviour`, {
      method: 'POST', body: JSON.stringify(behaviour)
    })
    await body.dump()
    if (statusCode !== 204) throw new Error(`setBehaviour(${i}) answered ${statusCode}`)
  }

  /** Requests replica `i` has served (direct count, not through the gateway). */
  async served (i: number): Promise<number> {
    const { body } = await request(`${this.url(i)}/__backend/stats`)
    return ((await body.json()) as { requests: number }).requests
  }

  async closeAll (): Promise<void> {
    await Promise.all(this.list.map(async (b) => { await killChild(b.child, 'SIGKILL') }))
  }

  private get (i: number): BackendProcess {
    const backend = this.list[i]
    if (backend === undefined) throw new RangeError(`no backend ${i} (there are ${this.list.length})`)
    return backend
  }
}

/** Starts `n` backend replicas as child processes and registers their teardown (SIGKILL) on `t`. */
export async function startBackends (t: TeardownHost, n: number, options: StartBackendsOptions = {}): Promise<Backends> {
  const list: BackendProcess[] = []
  for (let i = 0; i < n; i++) {
    list.push(new BackendProcess(i, options.names?.[i] ?? `backend-${i}`, options))
  }
  const backends = new Backends(list, options)
  t.teardown(async () => { await backends.closeAll() })
  const behaviourOf = (i: number): Behaviour =>
    typeof options.behaviour === 'function' ? options.behaviour(i) : options.behaviour ?? {}
  await Promise.all(list.map(async (b, i) => { await b.start(behaviourOf(i)) }))
  return backends
}
