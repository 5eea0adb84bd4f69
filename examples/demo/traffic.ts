/**
 * The demo's traffic generator: a steady trickle of requests through the gateway (about `rate` per second), a
 * mix of anonymous calls and a logged-in user, so the status page has something to show. Stops on teardown.
 */
import { Pool } from 'undici'

export function startTraffic (url: string, rate = 20): () => Promise<void> {
  const pool = new Pool(url, { connections: 4 })
  let cookie: string | undefined
  let n = 0
  let stopped = false
  const send = async (): Promise<void> => {
    n++
    try {
      if (cookie === undefined || n % 50 === 0) {
        const res = await pool.request({ path: '/api/login?user=traffic-bot', method: 'POST' })
        await res.body.dump()
        const setCookie = res.headers['set-cookie']
        const first = Array.isArray(setCookie) ? setCookie[0] : setCookie
        if (first !== undefined) cookie = first.split(';')[0]
        return
      }
      const path = n % 3 === 0 ? '/api/me' : '/api/whoami'
      const res = await pool.request({ path, method: 'GET', headers: path === '/api/me' && cookie !== undefined ? { cookie } : {} })
      await res.body.dump()
    } catch {
      // A demo generator: failures show on the status page, not here.
    }
  }
  const timer = setInterval(() => { if (!stopped) send().catch(() => {}) }, 1000 / rate)
  return async () => {
    stopped = true
    clearInterval(timer)
    await pool.destroy()
  }
}
