/**
 * `round-robin`: each upstream in turn. Unweighted lists take the O(1) index path (as Envoy's
 * `unweightedHostPick`); when weights differ it is nginx's smooth weighted round robin, which spreads the
 * heavy upstream's turns instead of sending them in a burst.
 *
 * Each instance starts at a random offset so a fleet of gateways does not hit the backends in lock step.
 */
import type { Upstream } from '../upstream/upstream.js'
import { randomIndex } from '../util/random.js'
import { type PickContext, type Picker, type PickerDeps, wasTried } from './picker.js'

export class RoundRobinPicker implements Picker {
  private list: readonly Upstream[] = []
  private next: number
  private weighted = false
  /** Smooth WRR state, index-aligned with `list`. */
  private current = new Float64Array(0)

  constructor (private readonly deps: PickerDeps) {
    this.next = randomIndex(deps.random, 1 << 30)
  }

  refresh (upstreams: readonly Upstream[]): void {
    this.list = upstreams
    this.current = new Float64Array(upstreams.length)
    this.weighted = false
    for (let i = 1; i < upstreams.length; i++) {
      if (upstreams[i]!.effectiveWeight !== upstreams[0]!.effectiveWeight) { this.weighted = true; break }
    }
  }

  pick (ctx: PickContext): Upstream | undefined {
    return this.weighted ? this.pickWeighted(ctx.tried) : this.pickUnweighted(ctx.tried)
  }

  private pickUnweighted (tried: readonly Upstream[]): Upstream | undefined {
    const list = this.list
    const n = list.length
    for (let k = 0; k < n; k++) {
      const upstream = list[this.next % n]!
      this.next = (this.next + 1) % 0x3fffffff
      if (tried.length === 0 || !wasTried(tried, upstream)) return upstream
    }
    return undefined
  }

  /** nginx `ngx_http_upstream_get_peer`: add each weight, take the largest, subtract the total from it. */
  private pickWeighted (tried: readonly Upstream[]): Upstream | undefined {
    const list = this.list
    const current = this.current
    let total = 0
    let best = -1
    for (let i = 0; i < list.length; i++) {
      const upstream = list[i]!
      if (tried.length !== 0 && wasTried(tried, upstream)) continue
      current[i]! += upstream.effectiveWeight
      total += upstream.effectiveWeight
      if (best === -1 || current[i]! > current[best]!) best = i
    }
    if (best === -1) return undefined
    current[best]! -= total
    return list[best]
  }
}
