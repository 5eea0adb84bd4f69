import type { ChildProcess } from 'node:child_process'

/** Resolves when the child has exited (at once if it already has). */
export async function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
}

/** Sends `signal` to a child we started (by its PID) and waits for it to exit. */
export async function killChild (child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = exited(child)
  // A SIGSTOPped process only acts on SIGKILL; for any other signal wake it first.
  if (signal !== 'SIGKILL') child.kill('SIGCONT')
  child.kill(signal)
  await done
}
