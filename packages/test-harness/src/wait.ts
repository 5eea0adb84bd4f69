/** Poll-until-true with a deadline: the harness's only way to wait for a condition (never a fixed sleep). */
export interface WaitForOptions {
  /** Give up after this many milliseconds. Default 10 000. */
  timeout?: number
  /** Milliseconds between polls. Default 20. */
  interval?: number
  /** Included in the error thrown at the deadline. */
  message?: string
}

export async function waitFor<T> (
  probe: () => T | Promise<T>,
  { timeout = 10_000, interval = 20, message = 'condition' }: WaitForOptions = {}
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeout
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, false | null | undefined>
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: ${message} not met within ${timeout} ms`, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
