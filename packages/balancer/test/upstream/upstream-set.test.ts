import t from 'tap'
import { Upstream, UpstreamFlag } from '../../src/upstream/upstream.js'
import { type SetChange, UpstreamSet } from '../../src/upstream/upstream-set.js'

const make = (i: number, backup = false): Upstream =>
  new Upstream({ url: `http://127.0.0.1:${3000 + i}`, weight: 1, backup, name: `${backup ? 'b' : 'p'}${i}` })
const names = (list: readonly Upstream[]): string[] => list.map((u) => u.name)
const down = (u: Upstream, on = true): void => { u.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, on) }

t.test('normal: eligible = available primaries; rebuilt only on changed()', async (t) => {
  const ps = [make(0), make(1), make(2)]
  const set = new UpstreamSet(ps, { panicThreshold: 50 })
  t.equal(set.state, 'normal')
  t.same(names(set.eligible), ['p0', 'p1', 'p2'])
  const before = set.eligible
  down(ps[1]!)
  t.equal(set.eligible, before, 'flags alone do not rebuild (no per-request work)')
  set.changed()
  t.same(names(set.eligible), ['p0', 'p2'])
  t.not(set.eligible, before, 'a new array: pickers keeping the old one are not disturbed')
  t.same(names(set.inDoubt()), ['p1'])
  ps[0]!.setFlag(UpstreamFlag.DEGRADED, true)
  set.changed()
  t.same(names(set.eligible), ['p0', 'p2'], 'DEGRADED stays eligible')
})

t.test('panic threshold: below it, balance over all non-draining primaries (Envoy)', async (t) => {
  const ps = [make(0), make(1), make(2), make(3)]
  const set = new UpstreamSet(ps, { panicThreshold: 50 })
  const changes: SetChange[] = []
  set.onChange((c) => { changes.push(c) })
  down(ps[0]!)
  set.changed()
  t.equal(set.state, 'normal', '3 of 4 = 75 %')
  down(ps[1]!)
  set.changed()
  t.equal(set.state, 'normal', '2 of 4 = 50 % is not below 50 %')
  t.same(names(set.eligible), ['p2', 'p3'])
  ps[2]!.setFlag(UpstreamFlag.FAILED_OUTLIER, true)
  set.changed()
  t.equal(set.state, 'panic', '1 of 4 = 25 %')
  t.same(names(set.eligible), ['p0', 'p1', 'p2', 'p3'], 'all of them, health verdicts notwithstanding')
  ps[3]!.setFlag(UpstreamFlag.DRAINING, true)
  set.changed()
  t.same(names(set.eligible), ['p0', 'p1', 'p2'], 'a draining upstream gets nothing new, even in panic')
  t.same(names(set.inDoubt()), ['p0', 'p1', 'p2'], 'draining is never in doubt')
  ps[3]!.setFlag(UpstreamFlag.DRAINING, false)
  down(ps[0]!, false)
  down(ps[1]!, false)
  set.changed()
  t.equal(set.state, 'normal')
  t.same(changes.map((c) => [c.previous, c.state]), [
    ['normal', 'normal'], ['normal', 'normal'], ['normal', 'panic'], ['panic', 'panic'], ['panic', 'normal']
  ])
})

t.test('panic threshold 0 disables panic: nothing eligible means state none', async (t) => {
  const ps = [make(0), make(1)]
  const set = new UpstreamSet(ps, { panicThreshold: 0 })
  down(ps[0]!)
  set.changed()
  t.equal(set.state, 'normal')
  down(ps[1]!)
  set.changed()
  t.equal(set.state, 'none')
  t.same(set.eligible, [])
  t.same(names(set.inDoubt()), ['p0', 'p1'], 'the last resort (DESIGN.md principle 5)')
  const all = new UpstreamSet([make(5), make(6)], { panicThreshold: 100 })
  all.all[0]!.setFlag(UpstreamFlag.PENDING_ACTIVE_HC, true)
  all.changed()
  t.equal(all.state, 'panic', 'threshold 100: any unavailable primary means panic')
})

t.test('backup: only when no primary is eligible, and handed back', async (t) => {
  const p = [make(0), make(1)]
  const b = [make(8, true), make(9, true)]
  const set = new UpstreamSet([...p, ...b], { panicThreshold: 50 })
  t.equal(set.state, 'normal')
  t.same(names(set.eligible), ['p0', 'p1'], 'backups idle while primaries are fine')
  down(p[0]!)
  set.changed()
  t.same(names(set.eligible), ['p1'], '1 of 2 is not below 50 %: no backup yet')
  down(p[1]!)
  set.changed()
  t.equal(set.state, 'backup')
  t.same(names(set.eligible), ['b8', 'b9'], 'all primaries down: backups take over')
  t.same(names(set.inDoubt()), ['p0', 'p1'])
  b[0]!.setFlag(UpstreamFlag.FAILED_OUTLIER, true)
  set.changed()
  t.same(names(set.eligible), ['b9'])
  down(p[1]!, false)
  set.changed()
  t.equal(set.state, 'normal', 'a primary is back: handed back')
  t.same(names(set.eligible), ['p1'])
})

t.test('backup vs panic: below the threshold, backups share the load with the primaries left', async (t) => {
  const p = [make(0), make(1), make(2)]
  const b = [make(9, true)]
  const set = new UpstreamSet([...p, ...b], { panicThreshold: 50 })
  down(p[0]!)
  down(p[1]!)
  set.changed()
  t.equal(set.state, 'backup')
  t.same(names(set.eligible), ['p2', 'b9'], 'as Envoy priority spill-over, rather than panic')
  b[0]!.setFlag(UpstreamFlag.FAILED_ACTIVE_HC, true)
  set.changed()
  t.equal(set.state, 'panic', 'no backup left: panic over the primaries')
  t.same(names(set.eligible), ['p0', 'p1', 'p2'])
  down(p[2]!)
  set.changed()
  t.equal(set.state, 'panic')
})

t.test('only backups configured; all unavailable; add, remove, find', async (t) => {
  const b = [make(8, true)]
  const set = new UpstreamSet(b, { panicThreshold: 50 })
  t.equal(set.state, 'backup')
  down(b[0]!)
  set.changed()
  t.equal(set.state, 'none')
  const empty = new UpstreamSet([], { panicThreshold: 50 })
  t.equal(empty.state, 'none')
  const p = make(0)
  empty.add(p)
  t.same(names(empty.eligible), ['p0'])
  t.equal(empty.find('http://127.0.0.1:3000/'), p)
  t.equal(empty.find('p0'), p)
  t.equal(empty.find('nope'), undefined)
  t.ok(empty.remove(p))
  t.notOk(empty.remove(p))
  t.same(empty.eligible, [])
  t.equal(empty.state, 'none')
})
