/**
 * Randomness, injected so picks are reproducible in tests (Envoy's RandomGenerator). Pure.
 */
export interface Random {
  /** A float in [0, 1). */
  next (): number
}

export const systemRandom: Random = { next: Math.random }

/**
 * A small, fast seeded PRNG (mulberry32): the same seed gives the same sequence, so a test can assert an
 * exact pick order. Not for cryptography.
 */
export class SeededRandom implements Random {
  // Initialised as a small integer so V8 keeps the field unboxed (an uninitialised field can box each update).
  private state = 0
  constructor (seed: number) { this.state = seed >>> 0 }
  next (): number {
    this.state = (this.state + 0x6D2B79F5) >>> 0
    let x = this.state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [0, n). */
export function randomIndex (random: Random, n: number): number {
  return Math.floor(random.next() * n)
}
