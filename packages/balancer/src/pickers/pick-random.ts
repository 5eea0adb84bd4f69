/**
 * Randomness on the pick path, allocation-free. Pure: no Fastify, no network.
 */
/**
 * The generator pickers draw from on the pick path: mulberry32 on a `Uint32Array` word, seeded once from the
 * injected `Random` (so tests with a seeded `Random` stay reproducible). Why not call the injected `Random` per
 * pick: on Node 20 (V8 11.3) `Math.random()` returns a freshly allocated 16-byte HeapNumber even in optimized
 * code (measured: 16.0 bytes per call), and so does any `Random` whose state lives in an object field that
 * outgrows a small integer. Integer state in a typed array and a result used in place allocate nothing.
 */
export class PickRandom {
  private readonly state = new Uint32Array(1)

  constructor (seed: { next (): number }) {
    this.state[0] = Math.floor(seed.next() * 0x100000000)
  }

  /** An integer in [0, n), for n ≤ 2³¹. */
  below (n: number): number {
    return Math.floor(((this.step() >>> 0) / 4294967296) * n)
  }

  /** True with probability `p`. */
  chance (p: number): boolean {
    return (this.step() >>> 0) / 4294967296 < p
  }

  /**
   * A float in [0, 1). Off the pick path only (refresh, retries): a double returned from a call V8 does not
   * inline is boxed, which is why `below` and `chance` return an integer and a boolean.
   */
  next (): number {
    return (this.step() >>> 0) / 4294967296
  }

  /** One mulberry32 step, as a signed int32 (always a small integer, never boxed). */
  private step (): number {
    const s = (this.state[0]! + 0x6D2B79F5) >>> 0
    this.state[0] = s
    let x = Math.imul(s ^ (s >>> 15), s | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return (x ^ (x >>> 14)) | 0
  }
}
