/**
 * Opt-in signal handling (`shutdown.signals`): the first signal starts the drain; when the server has closed the
 * process exits 0 (1 if the close failed); if the close takes longer than its budget, or a second signal
 * arrives, it exits 1 at once (an operator pressing Ctrl-C twice, or a supervisor that lost patience).
 * The process and `exit` are injected so the sequence can be tested without killing the test runner.
 */
import type { Clock, Logger, TimerHandle } from './clock.js'

export interface SignalTarget {
  on (signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  removeListener (signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
}

export interface SignalHandlingOptions {
  signals: readonly NodeJS.Signals[]
  /** Starts the drain; resolves once the server has closed. */
  drain: (reason: string) => Promise<void>
  /** Exit after a signal-initiated close completes. */
  exitWhenClosed: boolean
  /** Milliseconds after the first signal at which the process exits 1 even though the close has not finished. */
  forceExitAfter: number
  clock: Clock
  log: Logger
  exit: (code: number) => void
  target: SignalTarget
}

/** Installs the handlers; returns the function that removes them (and any pending forced exit). */
export function handleSignals (options: SignalHandlingOptions): () => void {
  const { signals, clock, log, exit, target } = options
  let received: NodeJS.Signals | undefined
  let forceTimer: TimerHandle = null

  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== undefined) {
      log.warn({ signal, first: received }, 'health: second signal during shutdown, exiting now')
      exit(1)
      return
    }
    received = signal
    log.info({ signal }, 'health: signal received, draining')
    forceTimer = clock.setTimeout(() => {
      log.error({ signal, forceExitAfter: options.forceExitAfter }, 'health: shutdown did not finish in time, exiting')
      exit(1)
    }, options.forceExitAfter)
    options.drain(signal).then(() => {
      clock.clearTimeout(forceTimer)
      if (options.exitWhenClosed) exit(0)
    }, (err: unknown) => {
      clock.clearTimeout(forceTimer)
      log.error({ err, signal }, 'health: close failed during shutdown')
      if (options.exitWhenClosed) exit(1)
    })
  }

  for (const signal of signals) target.on(signal, onSignal)
  return () => {
    for (const signal of signals) target.removeListener(signal, onSignal)
    clock.clearTimeout(forceTimer)
  }
}
