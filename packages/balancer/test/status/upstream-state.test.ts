import t from 'tap'
import { upstreamState, weightPercent } from '../../src/status/upstream-state.js'
import { Upstream, UpstreamFlag } from '../../src/upstream/upstream.js'

const make = (flags: number, options: { backup?: boolean, effectiveWeight?: number } = {}): Upstream => {
  const u = new Upstream({ url: 'http://127.0.0.1:3000', weight: 2, backup: options.backup ?? false, name: 'u' })
  u.flags = flags
  if (options.effectiveWeight !== undefined) u.effectiveWeight = options.effectiveWeight
  return u
}

t.test('one state per upstream, most severe first', async (t) => {
  const F = UpstreamFlag
  const table: Array<[string, Upstream, boolean, string]> = [
    ['no flag', make(0), false, 'up'],
    ['degraded is still up', make(F.DEGRADED), false, 'up'],
    ['draining wins over everything', make(F.DRAINING | F.FAILED_ACTIVE_HC | F.FAILED_OUTLIER), true, 'draining'],
    ['failed active checks', make(F.FAILED_ACTIVE_HC | F.FAILED_OUTLIER), false, 'down'],
    ['passive: last connection refused', make(0), true, 'down'],
    ['passive down wins over an ejection', make(F.FAILED_OUTLIER), true, 'down'],
    ['outlier ejection', make(F.FAILED_OUTLIER), false, 'ejected'],
    ['Retry-After hold', make(F.RETRY_AFTER), false, 'ejected'],
    ['another gateway\'s report', make(F.REMOTE_FAILED), false, 'ejected'],
    ['no verdict yet', make(F.PENDING_ACTIVE_HC), false, 'pending'],
    ['a flag that does not exclude it leaves it up', make(1 << 20 | F.DEGRADED), false, 'up'],
    ['ramping weight', make(0, { effectiveWeight: 0.5 }), false, 'slow-start'],
    ['a backup standing by', make(0, { backup: true }), false, 'backup']
  ]
  for (const [what, upstream, connectFailed, state] of table) t.equal(upstreamState(upstream, 'normal', connectFailed), state, what)
  t.equal(upstreamState(make(0, { backup: true }), 'backup', false), 'up', 'a backup serving is up')
  t.equal(weightPercent(make(0, { effectiveWeight: 0.5 })), 25)
  t.equal(weightPercent(make(0)), 100)
})
