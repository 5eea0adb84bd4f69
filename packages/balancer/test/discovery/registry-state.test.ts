import t from 'tap'
import { type RegistryEntry, type RegistrySnapshot, RegistryState, normaliseUrl } from '../../src/discovery/registry-state.js'

const SERVER = 1_000_000 // Redis server time at the first read: unrelated to local time on purpose (skew)
const meta = (ttl = 3000, extra: object = {}): string => JSON.stringify({ id: 'x', weight: 1, ttl, ...extra })
const live = (port: number, expiresIn: number, serverNow: number, m = meta()): RegistryEntry =>
  ({ url: `http://127.0.0.1:${port}`, expiresAt: serverNow + expiresIn, meta: m })
const snap = (serverNow: number, entries: RegistryEntry[], left: string[] = [], epoch = 'e1'): RegistrySnapshot =>
  ({ serverNow, epoch, live: entries, left })
const urls = (state: RegistryState): string[] => state.members.map((x) => x.url)

t.test('live registrations are members; their expiry is translated to local time', async (t) => {
  const state = new RegistryState({ staleAfter: 2000 })
  const members = state.apply(snap(SERVER, [live(2, 3000, SERVER), live(1, 2000, SERVER, meta(3000, { weight: 4, name: 'one' }))]), 50)
  t.same(members, [
    { url: 'http://127.0.0.1:1', weight: 4, backup: false, name: 'one' },
    { url: 'http://127.0.0.1:2', weight: 1, backup: false, name: 'http://127.0.0.1:2' }
  ])
  t.equal(state.nextExpiry(), 2050, 'local now + (expiry - server now)')
})

t.test('a tombstone removes at once; absence alone waits for the expiry seen last', async (t) => {
  const state = new RegistryState({ staleAfter: 5000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER), live(2, 3000, SERVER)]), 0)
  t.same(urls(state), ['http://127.0.0.1:1', 'http://127.0.0.1:2'])
  state.apply(snap(SERVER + 1000, [live(1, 3000, SERVER + 1000)], ['http://127.0.0.1:2']), 1000)
  t.same(urls(state), ['http://127.0.0.1:1'], 'deregistered: gone at once')
  state.apply(snap(SERVER + 2000, []), 2000)
  t.same(urls(state), ['http://127.0.0.1:1'], 'absent but its expiry (local 4000) is ahead: kept')
  state.apply(snap(SERVER + 4000, []), 4000)
  t.same(urls(state), [], 'expiry reached: dropped')
})

t.test('a live registration wins over a stale tombstone of the same url', async (t) => {
  const state = new RegistryState({ staleAfter: 5000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER)], ['http://127.0.0.1:1']), 0)
  t.same(urls(state), ['http://127.0.0.1:1'])
})

t.test('Redis lost its data (epoch changed): absent members get a fresh TTL, replicas re-register meanwhile', async (t) => {
  const state = new RegistryState({ staleAfter: 5000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER), live(2, 3000, SERVER)]), 0)
  // Restart without persistence at local 2900: the registry is empty and the epoch token is gone.
  state.apply(snap(50, [], [], ''), 2900)
  t.same(urls(state), ['http://127.0.0.1:1', 'http://127.0.0.1:2'], 'kept')
  state.apply(snap(1000, [live(1, 3000, 1000)], [], 'e2'), 3900)
  t.same(urls(state), ['http://127.0.0.1:1', 'http://127.0.0.1:2'], 'still inside the grace TTL (2900 + 3000)')
  state.apply(snap(3000, [live(1, 3000, 3000)], [], 'e2'), 5900)
  t.same(urls(state), ['http://127.0.0.1:1'], 'the replica that never came back is dropped one TTL after the gap')
})

t.test('a new epoch token (Redis restarted and a replica re-registered before our read) is a gap too', async (t) => {
  const state = new RegistryState({ staleAfter: 5000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER), live(2, 3000, SERVER)]), 0)
  state.apply(snap(100, [live(1, 3000, 100)], [], 'e2'), 2900)
  t.same(urls(state), ['http://127.0.0.1:1', 'http://127.0.0.1:2'], '2 gets one TTL from the gap to come back')
  state.apply(snap(3100, [live(1, 3000, 3100)], [], 'e2'), 5900)
  t.same(urls(state), ['http://127.0.0.1:1'])
})

t.test('failed reads change nothing; the next success closes the gap with a grace TTL', async (t) => {
  const state = new RegistryState({ staleAfter: 5000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER)]), 0)
  state.failed()
  state.failed()
  t.same(urls(state), ['http://127.0.0.1:1'])
  // Back after 10 s with the same epoch (persistence on): the old registration is long expired in Redis.
  state.apply(snap(SERVER + 10_000, []), 10_000)
  t.same(urls(state), ['http://127.0.0.1:1'], 'kept for one TTL after Redis answers again')
  state.apply(snap(SERVER + 13_000, []), 13_000)
  t.same(urls(state), [])
})

t.test('reads that stopped for longer than staleAfter count as a gap', async (t) => {
  const state = new RegistryState({ staleAfter: 2000 })
  state.apply(snap(SERVER, [live(1, 3000, SERVER)]), 0)
  state.apply(snap(SERVER + 9000, []), 9000)
  t.same(urls(state), ['http://127.0.0.1:1'], 'a read 9 s after the previous one: grace')
  state.apply(snap(SERVER + 10_000, []), 10_000)
  t.same(urls(state), ['http://127.0.0.1:1'])
  state.apply(snap(SERVER + 12_000, []), 12_000)
  t.same(urls(state), [], 'dropped at 9000 + 3000')
})

t.test('invalid registrations are skipped and reported once', async (t) => {
  const reports: string[] = []
  const state = new RegistryState({ staleAfter: 5000, onInvalid: (url, reason) => { reports.push(`${url}: ${reason}`) } })
  const bad: RegistryEntry[] = [
    { url: 'ftp://x', expiresAt: SERVER + 1000, meta: '' },
    { url: 'http://127.0.0.1:3/path', expiresAt: SERVER + 1000, meta: '' },
    { url: 'http://127.0.0.1:4', expiresAt: SERVER + 1000, meta: '{nope' },
    { url: 'http://127.0.0.1:5', expiresAt: SERVER + 1000, meta: '[1]' },
    { url: 'http://127.0.0.1:6', expiresAt: SERVER + 1000, meta: meta(3000, { weight: 0 }) },
    { url: 'http://127.0.0.1:7', expiresAt: SERVER + 1000, meta: meta(3000, { name: '' }) },
    { url: 'http://127.0.0.1:8', expiresAt: SERVER + 1000, meta: '' }
  ]
  state.apply(snap(SERVER, bad), 0)
  state.apply(snap(SERVER, bad), 10)
  t.same(urls(state), ['http://127.0.0.1:8'], 'missing meta: defaults')
  t.equal(reports.length, 6, 'each reported once')
  t.match(reports.join('\n'), /ftp:\/\/x: url is not an http\(s\) origin/)
  t.match(reports.join('\n'), /weight must be an integer/)
})

t.test('normaliseUrl', async (t) => {
  t.equal(normaliseUrl('http://127.0.0.1:80/'), 'http://127.0.0.1')
  t.equal(normaliseUrl('https://[::1]:8443'), 'https://[::1]:8443')
  t.equal(normaliseUrl('http://u:p@h:1'), null)
  t.equal(normaliseUrl('http://h:1?x'), null)
  t.equal(normaliseUrl('nope'), null)
})
