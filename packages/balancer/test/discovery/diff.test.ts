import t from 'tap'
import { diffMembers, isEmptyDiff, type Member, membershipChange, mergeMembers, sameMember } from '../../src/discovery/diff.js'

const m = (port: number, extra: Partial<Member> = {}): Member =>
  ({ url: `http://10.0.0.1:${port}`, weight: 1, backup: false, name: `n${port}`, ...extra })

t.test('diffMembers: adds, removes and updates by url', async (t) => {
  const table: Array<{ title: string, current: Member[], desired: Member[], added: number[], removed: number[], updated: number[] }> = [
    { title: 'empty to empty', current: [], desired: [], added: [], removed: [], updated: [] },
    { title: 'first members', current: [], desired: [m(1), m(2)], added: [1, 2], removed: [], updated: [] },
    { title: 'unchanged, other order', current: [m(1), m(2)], desired: [m(2), m(1)], added: [], removed: [], updated: [] },
    { title: 'one replaced', current: [m(1), m(2)], desired: [m(1), m(3)], added: [3], removed: [2], updated: [] },
    { title: 'all gone', current: [m(1), m(2)], desired: [], added: [], removed: [1, 2], updated: [] },
    { title: 'weight changed', current: [m(1)], desired: [m(1, { weight: 5 })], added: [], removed: [], updated: [1] },
    { title: 'became a backup', current: [m(1)], desired: [m(1, { backup: true })], added: [], removed: [], updated: [1] },
    { title: 'renamed', current: [m(1)], desired: [m(1, { name: 'x' })], added: [], removed: [], updated: [1] }
  ]
  const port = (member: Member): number => Number(new URL(member.url).port)
  for (const row of table) {
    const diff = diffMembers(row.current, row.desired)
    t.same({ added: diff.added.map(port), removed: diff.removed.map(port), updated: diff.updated.map(port) },
      { added: row.added, removed: row.removed, updated: row.updated }, row.title)
    t.equal(isEmptyDiff(diff), row.added.length + row.removed.length + row.updated.length === 0, `${row.title}: isEmptyDiff`)
  }
})

t.test('diffMembers reports the desired version of an update and the old version of a removal', async (t) => {
  const diff = diffMembers([m(1), m(2, { weight: 3 })], [m(1, { weight: 7 })])
  t.same(diff.updated, [m(1, { weight: 7 })])
  t.same(diff.removed, [m(2, { weight: 3 })])
})

t.test('mergeMembers: one member per url, primary over backup, larger weight, sorted', async (t) => {
  const merged = mergeMembers([
    m(3), m(1, { backup: true, weight: 9 }), m(1, { weight: 2 }), m(2, { weight: 1 }), m(2, { weight: 4 }), m(1, { weight: 1 })
  ])
  t.same(merged, [m(1, { weight: 2 }), m(2, { weight: 4 }), m(3)])
  t.same(mergeMembers([]), [])
})

t.test('membershipChange is null when nothing changed', async (t) => {
  t.equal(membershipChange([m(1)], [m(1)]), null)
  const change = membershipChange([m(1)], [m(1), m(2)])
  t.same(change, { members: [m(1), m(2)], added: [m(2)], removed: [], updated: [] })
  t.ok(sameMember(m(1), m(1)))
  t.notOk(sameMember(m(1), m(2)))
})
