/**
 * The demo's chaos switch: every `everySeconds`, one primary replica is killed (SIGKILL) or frozen (SIGSTOP)
 * and brought back a few seconds later, so you can watch failover and health checks work. Never more than one
 * replica down at a time. Stops on teardown.
 */
import type { Backends } from '@switchyard/test-harness'

export function startChaos (backends: Backends, primaries: number, everySeconds = 8): () => Promise<void> {
  let round = 0
  let busy = false
  const act = async (): Promise<void> => {
    if (busy) return
    busy = true
    try {
      const index = round % primaries
      const name = backends.at(index).name
      if (round % 2 === 0) {
        console.log(`chaos: kill -9 ${name}`)
        await backends.kill(index, 'SIGKILL')
        await new Promise((resolve) => setTimeout(resolve, (everySeconds / 2) * 1000))
        await backends.restart(index)
        console.log(`chaos: ${name} restarted`)
      } else {
        console.log(`chaos: freeze ${name} (SIGSTOP)`)
        backends.freeze(index)
        await new Promise((resolve) => setTimeout(resolve, (everySeconds / 2) * 1000))
        backends.thaw(index)
        console.log(`chaos: ${name} thawed`)
      }
      round++
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => { act().catch((err: unknown) => { console.log(`chaos: ${String(err)}`) }) }, everySeconds * 1000)
  return async () => { clearInterval(timer) }
}
