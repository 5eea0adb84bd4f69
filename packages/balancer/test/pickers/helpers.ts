/**
 * Shared by the picker tests (not a test file: tap runs only `*.test.ts`). Upstreams are named `a`, `b`, `c`, …
 * so expected pick sequences read as strings.
 */
import {
  type Algorithm, type AlgorithmOptions, type PickContext, type Picker, ManualClock, SeededRandom, Upstream,
  createPicker
} from '@switchyard/balancer/pickers'

export interface UpstreamSpec {
  weight?: number
  inFlight?: number
  /** Peak-EWMA state: latency (ms) and when it was sampled. */
  latency?: number
  stamp?: number
  url?: string
}

const NAMES = 'abcdefghijklmnopqrstuvwxyz'

export function nameOf (i: number): string {
  return i < NAMES.length ? NAMES[i]! : `u${i}`
}

/** `n` upstreams (or one per spec), named a, b, c… with URLs http://10.0.<i/256>.<i%256>:8080. */
export function upstreams (specs: number | ReadonlyArray<UpstreamSpec | number>): Upstream[] {
  const list = typeof specs === 'number' ? Array.from({ length: specs }, () => ({})) : specs
  return list.map((raw, i) => {
    const spec: UpstreamSpec = typeof raw === 'number' ? { weight: raw } : raw
    const u = new Upstream({
      url: spec.url ?? `http://10.0.${i >> 8}.${i & 255}:8080`,
      weight: spec.weight ?? 1,
      backup: false,
      name: nameOf(i)
    })
    u.inFlight = spec.inFlight ?? 0
    if (spec.latency !== undefined) {
      u.latencyEwma = spec.latency
      u.latencyStamp = spec.stamp ?? 0
    }
    return u
  })
}

export interface Built {
  picker: Picker
  random: SeededRandom
  clock: ManualClock
}

export function build<A extends Algorithm> (algorithm: A, list: readonly Upstream[], options?: AlgorithmOptions[A], seed = 1): Built {
  const random = new SeededRandom(seed)
  const clock = new ManualClock()
  const picker = createPicker(algorithm, { random, clock }, options)
  picker.refresh(list)
  return { picker, random, clock }
}

export function context (overrides: Partial<PickContext> = {}): PickContext {
  return { tried: [], hash: 0, now: 0, affinity: undefined, ...overrides }
}

/** `count` picks with the same context; the names as one string ("abcab…"), `-` for undefined. */
export function sequence (picker: Picker, count: number, ctx: PickContext = context()): string {
  let out = ''
  for (let i = 0; i < count; i++) out += picker.pick(ctx)?.name ?? '-'
  return out
}

/** Picks `count` times and counts picks per upstream name. */
export function tally (picker: Picker, count: number, ctx: PickContext = context()): Record<string, number> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < count; i++) {
    const name = picker.pick(ctx)?.name ?? '-'
    counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

/**
 * A closed-loop simulation: `concurrency` requests in flight; each step picks one (inFlight++, notify) and
 * finishes the oldest (inFlight--, notify), optionally calling `onFinish` (peak-EWMA's observe). One step is one
 * millisecond of `ctx.now`.
 */
export function simulate (
  picker: Picker, steps: number, concurrency: number,
  options: { ctx?: PickContext, onFinish?: (u: Upstream, step: number) => void, hold?: (u: Upstream) => number } = {}
): Record<string, number> {
  const ctx = options.ctx ?? context()
  const counts: Record<string, number> = {}
  // A request ends `hold(u)` steps after it starts (default: after `concurrency` steps, FIFO).
  const ends: Array<Upstream[]> = []
  let inFlight = 0
  for (let step = 0; step < steps; step++) {
    ctx.now = step
    const due = ends[step]
    if (due !== undefined) {
      for (const u of due) {
        u.inFlight--
        picker.inFlightChanged?.(u)
        options.onFinish?.(u, step)
        inFlight--
      }
      ends[step] = []
    }
    while (inFlight < concurrency) {
      const u = picker.pick(ctx)
      if (u === undefined) throw new Error('no upstream picked')
      u.inFlight++
      picker.inFlightChanged?.(u)
      counts[u.name] = (counts[u.name] ?? 0) + 1
      const end = step + Math.max(1, options.hold?.(u) ?? concurrency)
      ;(ends[end] ??= []).push(u)
      inFlight++
    }
  }
  return counts
}

/** Longest run of the same letter in `s`. */
export function longestRun (s: string, letter: string): number {
  let best = 0
  let run = 0
  for (const ch of s) {
    run = ch === letter ? run + 1 : 0
    if (run > best) best = run
  }
  return best
}
