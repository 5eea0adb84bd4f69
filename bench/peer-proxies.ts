/**
 * nginx and HAProxy as peers in the gateway's seat: the same backends, the same load generator, the same rate. Used
 * by the slow-backend benchmark to show what least-request balancing in C does on this machine, rather than quoting
 * figures measured elsewhere. Each peer runs as one worker process (one thread), as a Node gateway does, with
 * keep-alive to the backends. Needs the `nginx` and `haproxy` binaries (Debian: `apt-get install nginx-light
 * haproxy`); a peer whose binary is missing is skipped.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, killChild, waitFor } from '@switchyard/test-harness'

export interface PeerProxy {
  /** As its users would write it, e.g. `nginx least_conn`. */
  label: string
  binary: 'nginx' | 'haproxy'
  /** The balancing directive: nginx's `upstream` method, or HAProxy's `balance` argument. */
  method: string
}

/** Least-request balancing in nginx and HAProxy, the peers of `least-connections` and `p2c`. */
export const PEER_PROXIES: PeerProxy[] = [
  { label: 'nginx least_conn', binary: 'nginx', method: 'least_conn' },
  { label: 'nginx random two least_conn', binary: 'nginx', method: 'random two least_conn' },
  { label: 'HAProxy leastconn', binary: 'haproxy', method: 'leastconn' },
  { label: 'HAProxy random(2)', binary: 'haproxy', method: 'random(2)' }
]

/** Which of the peer binaries are on PATH, with their version line (e.g. `nginx/1.22.1`). */
export function peerVersions (): Map<PeerProxy['binary'], string> {
  const found = new Map<PeerProxy['binary'], string>()
  for (const binary of ['nginx', 'haproxy'] as const) {
    const run = spawnSync(binary, ['-v'], { encoding: 'utf8' })
    if (run.error !== undefined || run.status !== 0) continue
    const text = `${run.stdout}${run.stderr}`
    const version = binary === 'nginx' ? /nginx\/[\d.]+/.exec(text)?.[0] : /HAProxy version [\d.]+/.exec(text)?.[0]
    found.set(binary, version ?? binary)
  }
  return found
}

function nginxConfig (dir: string, port: number, method: string, backends: string[]): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream backends {
    ${method};
    ${backends.map((b) => `server ${b};`).join('\n    ')}
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`
}

function haproxyConfig (port: number, method: string, backends: string[]): string {
  return `global
  maxconn 4096
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend gateway
  bind 127.0.0.1:${port}
  default_backend backends
backend backends
  balance ${method}
  http-reuse always
${backends.map((b, i) => `  server s${i} ${b}`).join('\n')}
`
}

/**
 * Starts `peer` on a free loopback port in front of `upstreams` (`http://127.0.0.1:port` URLs) and waits until it
 * answers. `stop()` ends it by its PID (SIGTERM: nginx's master then stops its worker) and removes its directory.
 */
export async function startPeerProxy (peer: PeerProxy, upstreams: string[]): Promise<{ url: string, stop: () => Promise<void> }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${peer.binary}-`))
  const backends = upstreams.map((u) => new URL(u).host)
  let args: string[]
  if (peer.binary === 'nginx') {
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, peer.method, backends))
    args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]
  } else {
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConfig(port, peer.method, backends))
    args = ['-db', '-f', join(dir, 'haproxy.cfg')]
  }
  // No inherited pipes: a worker that outlived its master would otherwise hold this process' output open.
  const child = spawn(peer.binary, args, { stdio: 'ignore' })
  const stop = async (): Promise<void> => {
    await killChild(child, 'SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`${peer.binary} exited with ${child.exitCode}`)
      const res = await fetch(url)
      await res.arrayBuffer()
      return res.ok
    }, { timeout: 10_000, message: `${peer.label} answering on ${url}` })
  } catch (err) {
    await stop()
    throw err
  }
  return { url, stop }
}
