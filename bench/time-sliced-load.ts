/**
 * Loads several servers one at a time, in turns of `sliceMs` each (A B C D A B C D …), and returns each one's
 * throughput over its own turns: the throughput of each server alone, measured over the same stretch of time.
 *
 * Why: on the 2-core VMs this is run on, the machine's speed drifts by up to 2× within seconds. Runs of one server
 * after the other (even mirrored, A B B A) then disagree by more than the differences measured, and loading all the
 * servers at once measures another regime (processes trading one CPU, where each wake-up costs a context switch).
 * Turns of a fraction of a second interleave the servers so finely that every drift is shared: each server still
 * has the CPU to itself while it is measured.
 *
 * Each server gets `connections` keep-alive connections (undici), each with its own cookie, that send one request
 * after another during that server's turns and wait otherwise. A request counts for its server if it started in
 * that server's turn (the last one of a turn ends a millisecond or so into the next: the same for every server).
 * Loopback only; stops by itself after `seconds` of turns per server.
 */
import { Pool } from 'undici'

export interface SlicedTarget {
  url: string
  path: string
  /** One cookie per connection. */
  cookies: string[]
}

export interface SlicedResult {
  /** Requests per second of each target over its own turns. */
  rps: number[]
  /** Non-2xx answers and transport errors per target. */
  failures: number[]
}

export async function timeSlicedLoad (
  targets: SlicedTarget[], connections: number, seconds: number, sliceMs = 200
): Promise<SlicedResult> {
  const n = targets.length
  const pools = targets.map((t) => new Pool(t.url, { connections, pipelining: 1 }))
  const counted = new Array<number>(n).fill(0)
  const failures = new Array<number>(n).fill(0)
  const activeMs = new Array<number>(n).fill(0)
  let turn = 0
  let turnStarted = performance.now()
  let finished = false
  // Workers of a server waiting for its turn.
  let wake: Array<() => void> = []
  const waitFor = async (i: number): Promise<void> => {
    for (;;) {
      if (finished || turn % n === i) return
      await new Promise<void>((resolve) => { wake.push(resolve) })
    }
  }

  const worker = async (i: number, cookie: string): Promise<void> => {
    const pool = pools[i] as Pool
    const path = (targets[i] as SlicedTarget).path
    for (;;) {
      await waitFor(i)
      if (finished) return
      const myTurn = turn
      try {
        const res = await pool.request({ path, method: 'GET', headers: { cookie } })
        await res.body.dump()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          // Started in its turn (it may end just after it).
          if (myTurn === turn || turn === myTurn + 1) counted[i] = (counted[i] as number) + 1
        } else {
          failures[i] = (failures[i] as number) + 1
        }
      } catch {
        failures[i] = (failures[i] as number) + 1
      }
    }
  }

  const turns = Math.max(1, Math.round(seconds * 1000 / sliceMs)) * n
  const workers = targets.flatMap((t, i) =>
    Array.from({ length: connections }, async (_, c) => { await worker(i, t.cookies[c % t.cookies.length] as string) }))
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now()
      activeMs[turn % n] = (activeMs[turn % n] as number) + (now - turnStarted)
      turnStarted = now
      turn++
      if (turn >= turns) {
        clearInterval(timer)
        finished = true
        resolve()
      }
      const waiting = wake
      wake = []
      for (const w of waiting) w()
    }, sliceMs)
  })
  await Promise.all(workers)
  await Promise.all(pools.map(async (p) => { await p.close() }))
  return { rps: counted.map((c, i) => c / ((activeMs[i] as number) / 1000)), failures }
}
