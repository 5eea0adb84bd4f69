import t from 'tap'
import { MembershipApplier, type MembershipTarget } from '../../src/discovery/apply.js'
import type { Member } from '../../src/discovery/diff.js'

const m = (port: number, extra: Partial<Member> = {}): Member =>
  ({ url: `http://127.0.0.1:${port}`, weight: 1, backup: false, name: `n${port}`, ...extra })

/** A target that records calls; removals finish when the test releases them (a drain in progress). */
function target (): { target: MembershipTarget, calls: string[], present: Map<string, Member>, release: (url: string) => void } {
  const present = new Map<string, Member>()
  const calls: string[] = []
  const pending = new Map<string, () => void>()
  return {
    present,
    calls,
    release: (url) => { pending.get(url)?.(); pending.delete(url) },
    target: {
      find: (url) => present.get(url),
      addUpstream (member) {
        if (present.has(member.url)) throw new TypeError(`${member.url} is already an upstream`)
        present.set(member.url, member)
        calls.push(`add ${member.url} w${member.weight}${member.backup ? ' backup' : ''}`)
      },
      async removeUpstream (url) {
        calls.push(`drain ${url}`)
        await new Promise<void>((resolve) => { pending.set(url, resolve) })
        calls.push(`remove ${url}`)
        return present.delete(url)
      },
      setWeight (url, weight) {
        const u = present.get(url)
        if (u === undefined) return false
        present.set(url, { ...u, weight })
        calls.push(`weight ${url} ${weight}`)
        return true
      }
    }
  }
}

t.test('adds, weights, and removes through the engine; a url that comes back waits for its drain', async (t) => {
  const { target: engine, calls, present, release } = target()
  const applier = new MembershipApplier(engine)
  applier.apply({ members: [m(1), m(2)], added: [m(1), m(2)], removed: [], updated: [] })
  await applier.idle()
  t.same(calls, ['add http://127.0.0.1:1 w1', 'add http://127.0.0.1:2 w1'])

  calls.length = 0
  applier.apply({ members: [m(2, { weight: 4 })], added: [], removed: [m(1)], updated: [m(2, { weight: 4 })] })
  // 1 comes back while it is still draining: the add waits for the removal.
  applier.apply({ members: [m(1), m(2, { weight: 4 })], added: [m(1)], removed: [], updated: [] })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, ['drain http://127.0.0.1:1', 'weight http://127.0.0.1:2 4'], 'the weight change of 2 does not wait for the drain of 1')
  release('http://127.0.0.1:1')
  await applier.idle()
  t.same(calls.slice(2), ['remove http://127.0.0.1:1', 'add http://127.0.0.1:1 w1'])
  t.same([...present.keys()].sort(), ['http://127.0.0.1:1', 'http://127.0.0.1:2'])
})

t.test('primary ↔ backup is drained and added anew; a name-only change is ignored', async (t) => {
  const { target: engine, calls, release } = target()
  const applier = new MembershipApplier(engine)
  applier.apply({ members: [m(1)], added: [m(1)], removed: [], updated: [] })
  await applier.idle()
  calls.length = 0
  applier.apply({ members: [m(1, { backup: true })], added: [], removed: [], updated: [m(1, { backup: true, name: 'x' })] })
  await new Promise((resolve) => setImmediate(resolve))
  release('http://127.0.0.1:1')
  await applier.idle()
  t.same(calls, ['drain http://127.0.0.1:1', 'remove http://127.0.0.1:1', 'add http://127.0.0.1:1 w1 backup'])
  calls.length = 0
  applier.apply({ members: [m(1, { backup: true, name: 'y' })], added: [], removed: [], updated: [m(1, { backup: true, name: 'y' })] })
  await applier.idle()
  t.same(calls, [])
})

t.test('an upstream already present is not added twice; an update of a missing one adds it; errors are logged', async (t) => {
  const { target: engine, calls, present } = target()
  const logs: string[] = []
  const applier = new MembershipApplier(engine, { info (_o, msg) { logs.push(msg) }, warn (_o, msg) { logs.push(msg) } })
  present.set('http://127.0.0.1:1', m(1))
  applier.apply({ members: [m(1), m(2)], added: [m(1)], removed: [], updated: [m(2, { weight: 3 })] })
  await applier.idle()
  t.same(calls, ['add http://127.0.0.1:2 w3'])
  t.match(logs, [/already present/])
  engine.setWeight = () => { throw new Error('boom') }
  applier.apply({ members: [m(2, { weight: 9 })], added: [], removed: [], updated: [m(2, { weight: 9 })] })
  await applier.idle()
  t.match(logs.at(-1), /could not apply a membership change/)
})
