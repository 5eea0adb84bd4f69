/**
 * `peak-ewma`: Finagle's and Linkerd's latency-aware balancer. Draw two distinct upstreams at random and take
 * the cheaper, where
 *
 *     cost = latency × (inFlight + 1) / weight
 *
 * and `latency` is a peak-sensitive, time-decayed moving average of response times (`observeLatency`, called
 * by the engine after each response):
 *
 * - a sample above the average replaces it at once (the "peak": one slow answer is enough to back off);
 * - a lower sample is blended in with weight `1 − w`, `w = exp(−Δt / decayTime)` (time-based, so the average
 *   means the same at 10 and at 10,000 requests per second);
 * - between samples the average decays toward 0 at pick time (`latency × exp(−age / decayTime)`, as Finagle's
 *   `get()` and tower's `decay()`), so an upstream that was slow and got no traffic is tried again later.
 *
 * Not flooding newcomers (Finagle gives an upstream without history one request at a time): an upstream with
 * no sample yet, or whose last sample is older than `decayTime`, costs `defaultLatency` (or its decayed old
 * average) while idle, so it gets a probe promptly, but a prohibitive cost while that probe is in flight. Its
 * first real answer then sets its cost. Without this, a fresh or long-idle upstream looks cheapest and takes
 * every pick it is drawn for until its first response arrives, which is exactly what a slow backend must not
 * get. The same rule keeps the first ~100 ms of a run from sending a burst to a backend that turns out slow.
 *
 * Why `defaultLatency` is 1 ms and not Linkerd's 30 ms: with the probe rule it only decides how soon an idle
 * newcomer gets its first request, never how many it gets before answering. On a LAN, known upstreams cost
 * 1–5 ms under light traffic, so a 30 ms default would leave a new upstream without traffic until the others
 * are loaded enough to cost more than 30 ms; 1 ms gets it probed within a few picks, and its first answer
 * replaces the default. (Linkerd decays its default from the endpoint's creation; we keep no per-upstream
 * creation time, so a small constant does the same job.)
 *
 * Pure: the engine owns time (`ctx.now`, `now` below) and calls `observeLatency`, with samples that leave out the
 * time the gateway's own event loop was blocked during the attempt (`excludeEventLoopDelay`, util/loop-delay.ts).
 */
import type { Upstream } from '../upstream/upstream.js'
import { PickRandom } from './pick-random.js'
import type { ResolvedPeakEwmaOptions } from './options.js'
import { type PickContext, type Picker, type PickerDeps, wasTried, weightOf } from './picker.js'

/** Cost of an upstream without recent history while its probe is in flight: above any real cost. */
const PROBE_PENALTY = 1e15

/**
 * Smallest latency recorded, in ms: a sample is never 0, so `latencyEwma === 0` keeps meaning "no sample yet"
 * even with a coarse or fake clock.
 */
const MIN_LATENCY = 1e-3

/**
 * Records one response time (ms, to response headers) of `upstream` observed at `now` (`clock.now()`), with the
 * decay window `decayTime` (ms). Finagle `PeakEwma.observe`: a peak replaces the average, a lower sample is
 * blended with `w = exp(−Δt / decayTime)`.
 */
export function observeLatency (upstream: Upstream, ms: number, now: number, decayTime: number): void {
  const rtt = ms > MIN_LATENCY ? ms : MIN_LATENCY
  const previous = upstream.latencyEwma
  if (previous === 0 || rtt > previous) {
    upstream.latencyEwma = rtt
  } else {
    const elapsed = now - upstream.latencyStamp
    const w = elapsed > 0 ? Math.exp(-elapsed / decayTime) : 1
    upstream.latencyEwma = previous * w + rtt * (1 - w)
  }
  upstream.latencyStamp = now
}

/**
 * Latency recorded for a transport failure (refused, reset, timed out), in ms, unless the attempt took longer.
 * A refused connection fails in microseconds; recorded as is, it would make a dead upstream look like the
 * fastest one and draw traffic into it (the "black hole" of latency-aware balancers). One second makes it the
 * most expensive choice, decays like any sample, and a later answer replaces it.
 */
export const DEFAULT_FAILURE_LATENCY = 1000

/** Records a transport failure of `upstream` after `elapsed` ms: as a latency of at least `penalty` ms. */
export function observeFailure (upstream: Upstream, elapsed: number, now: number, decayTime: number,
  penalty = DEFAULT_FAILURE_LATENCY): void {
  observeLatency(upstream, elapsed > penalty ? elapsed : penalty, now, decayTime)
}

/** The decayed latency estimate of `upstream` at `now`, in ms (0 when it has never answered). For stats. */
export function latencyEstimate (upstream: Upstream, now: number, decayTime: number): number {
  const age = now - upstream.latencyStamp
  return age > 0 ? upstream.latencyEwma * Math.exp(-age / decayTime) : upstream.latencyEwma
}

export class PeakEwmaPicker implements Picker {
  private list: readonly Upstream[] = []
  private readonly random: PickRandom
  private readonly decayTime: number = 0
  private readonly defaultLatency: number = 0
  /**
   * Costs of the two candidates. `score` writes here instead of returning: a double returned from a call V8
   * does not inline is boxed into a 16-byte HeapNumber, and inlining is not guaranteed in every caller.
   */
  private readonly costs = new Float64Array(2)
  /**
   * `ctx.now` of the pick in progress, read by `score`. Passed as an argument instead, the double would be boxed
   * (16 B) at every call V8 happens not to inline, which depends on its inlining budget at compile time.
   */
  private readonly now = new Float64Array(1)

  constructor (deps: PickerDeps, options: ResolvedPeakEwmaOptions) {
    this.random = new PickRandom(deps.random)
    this.decayTime = options.decayTime
    this.defaultLatency = options.defaultLatency
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.list = upstreams
  }

  pick (ctx: PickContext): Upstream | undefined {
    const list = this.list
    const n = list.length
    const tried = ctx.tried
    if (n <= 1) return n === 1 && (tried.length === 0 || !wasTried(tried, list[0]!)) ? list[0] : undefined
    const random = this.random
    const a = list[random.below(n)]!
    let j = random.below(n - 1)
    if (list[j] === a) j = n - 1
    const b = list[j]!
    this.now[0] = ctx.now
    if (tried.length === 0) return this.cheaper(a, b)
    return this.pickExcept(tried, a, b)
  }

  /** `latency × (inFlight + 1) / weight` of `upstream` at `now` (for stats and tests; `pick` uses `score`). */
  cost (upstream: Upstream, now: number): number {
    this.now[0] = now
    this.score(upstream, 0)
    return this.costs[0]!
  }

  /** The cheaper of `a` and `b` (`a` on a tie). */
  private cheaper (a: Upstream, b: Upstream): Upstream {
    this.score(a, 0)
    this.score(b, 1)
    return this.costs[1]! < this.costs[0]! ? b : a
  }

  /** Writes `upstream`'s cost at `now[0]` into `costs[slot]`: latency decayed to then × (inFlight + 1) / weight. */
  private score (upstream: Upstream, slot: number): void {
    const inFlight = upstream.inFlight
    const ewma = upstream.latencyEwma
    if (ewma === 0) {
      // Never answered: `defaultLatency` while idle, then one probe at a time.
      this.costs[slot] = inFlight > 0 ? PROBE_PENALTY + inFlight : this.defaultLatency / weightOf(upstream)
      return
    }
    let age = this.now[0]! - upstream.latencyStamp
    if (age < 0) age = 0
    // History older than the decay window: trusted again only after a fresh answer, so one probe at a time.
    if (age > this.decayTime && inFlight > 0) {
      this.costs[slot] = PROBE_PENALTY + inFlight
      return
    }
    this.costs[slot] = ewma * Math.exp(-age / this.decayTime) * (inFlight + 1) / weightOf(upstream)
  }

  private pickExcept (tried: readonly Upstream[], a: Upstream, b: Upstream): Upstream | undefined {
    const aOk = !wasTried(tried, a)
    const bOk = !wasTried(tried, b)
    if (aOk && bOk) return this.cheaper(a, b)
    if (aOk) return a
    if (bOk) return b
    let best: Upstream | undefined
    for (let i = 0; i < this.list.length; i++) {
      const candidate = this.list[i]!
      if (wasTried(tried, candidate)) continue
      best = best === undefined ? candidate : this.cheaper(best, candidate)
    }
    return best
  }
}
