/**
 * SessionCache, pure: hits and expiry with a fixed clock, the token rules that keep a fill from caching a reply older
 * than an invalidation or a later command, bounded size, and an inactive cache that holds and hands out nothing.
 */
import t from 'tap'
import { SessionCache, type CachedSession } from '../src/session-cache.js'

const entry = (meta: string, validUntil: number, refreshAt = validUntil): CachedSession =>
  ({ keys: ['user'], raws: ['"ann"'], values: undefined, meta, refreshAt, validUntil, signedId: undefined })

function active (max = 10): SessionCache {
  const cache = new SessionCache(max)
  cache.activate()
  return cache
}

t.test('a fill is served until validUntil, then dropped', async (t) => {
  const cache = active()
  const token = cache.begin('a')
  t.ok(token, 'an active cache hands out a token')
  t.equal(cache.fill('a', token as object, entry('1:0:0:0', 1500)), true)
  t.equal(cache.lookup('a', 1000)?.meta, '1:0:0:0', 'hit before validUntil')
  t.equal(cache.lookup('a', 1499)?.meta, '1:0:0:0')
  t.equal(cache.lookup('a', 1500), undefined, 'miss at validUntil')
  t.equal(cache.size, 0, 'and the stale entry is gone')
})

t.test('an invalidation revokes the read in flight: its reply is not cached', async (t) => {
  const cache = active()
  const token = cache.begin('a') as object
  cache.invalidate('a') // another replica wrote while our read travelled
  t.equal(cache.fill('a', token, entry('1:0:0:0', 9e15)), false)
  t.equal(cache.lookup('a', 0), undefined)
})

t.test('only the latest read fills: an earlier reply predates whatever came between', async (t) => {
  const cache = active()
  const first = cache.begin('a') as object
  const second = cache.begin('a') as object
  t.equal(cache.fill('a', first, entry('1:0:0:0', 9e15)), false, 'the older read is refused')
  t.equal(cache.fill('a', second, entry('2:0:0:0', 9e15)), true)
  t.equal(cache.lookup('a', 0)?.meta, '2:0:0:0')
  t.equal(cache.fill('a', second, entry('3:0:0:0', 9e15)), false, 'a token fills once')
})

t.test('in flight: from begin to its fill or abandon, and not once an invalidation revoked it', async (t) => {
  const cache = active()
  t.equal(cache.inFlight('a'), false)
  const read = cache.begin('a') as object
  t.equal(cache.inFlight('a'), true, 'a request that misses now can wait for this read')
  cache.fill('a', read, entry('1:0:0:0', 9e15))
  t.equal(cache.inFlight('a'), false)
  cache.abandon('a', cache.begin('a') as object)
  t.equal(cache.inFlight('a'), false, 'abandoned')
  cache.begin('a')
  cache.invalidate('a')
  t.equal(cache.inFlight('a'), false, 'revoked: its reply will fill nothing, so nothing to wait for')
  cache.begin('b')
  cache.deactivate()
  t.equal(cache.inFlight('b'), false, 'an inactive cache has nothing in flight')
})

t.test('a refresh keeps serving the due entry until its read fills the new one', async (t) => {
  const cache = active()
  cache.fill('a', cache.begin('a') as object, entry('1:0:0:0', 2000, 1000))
  t.equal(cache.lookup('a', 1500)?.meta, '1:0:0:0', 'due at 1000, still served until 2000')
  const token = cache.beginRefresh('a') as object
  t.ok(token)
  t.equal(cache.beginRefresh('a'), undefined, 'one refresh at a time')
  t.equal(cache.lookup('a', 1600)?.meta, '1:0:0:0', 'served while the refresh travels')
  t.equal(cache.fill('a', token, entry('2:0:0:0', 4000, 3000)), true)
  t.equal(cache.lookup('a', 2500)?.meta, '2:0:0:0', 'the refill replaces it')
  t.equal(cache.lookup('a', 4000), undefined, 'never served at or past validUntil')
})

t.test('a refresh that fails drops the entry; one revoked by a write or an invalidation fills nothing', async (t) => {
  const cache = active()
  cache.fill('a', cache.begin('a') as object, entry('1:0:0:0', 9e15, 0))
  cache.abandon('a', cache.beginRefresh('a') as object)
  t.equal(cache.lookup('a', 1), undefined, 'a failed refresh: the next request asks Redis')

  cache.fill('b', cache.begin('b') as object, entry('1:0:0:0', 9e15, 0))
  const refresh = cache.beginRefresh('b') as object
  const write = cache.begin('b') as object
  t.equal(cache.lookup('b', 1), undefined, 'a write of ours drops the entry at once')
  t.equal(cache.fill('b', refresh, entry('1:0:0:0', 9e15)), false, 'the refresh sent before the write fills nothing')
  t.equal(cache.fill('b', write, entry('2:0:0:0', 9e15)), true)

  cache.fill('c', cache.begin('c') as object, entry('1:0:0:0', 9e15, 0))
  const revoked = cache.beginRefresh('c') as object
  cache.invalidate('c')
  t.equal(cache.fill('c', revoked, entry('1:0:0:0', 9e15)), false)
  t.equal(cache.lookup('c', 1), undefined)
})

t.test('a write of our own (invalidate before sending) drops the entry and revokes reads', async (t) => {
  const cache = active()
  cache.fill('a', cache.begin('a') as object, entry('1:0:0:0', 9e15))
  const reading = cache.begin('b') as object
  cache.invalidate('a')
  cache.invalidate('b')
  t.equal(cache.lookup('a', 0), undefined)
  t.equal(cache.fill('b', reading, entry('1:0:0:0', 9e15)), false)
})

t.test('abandon releases only its own token', async (t) => {
  const cache = active()
  const first = cache.begin('a') as object
  const second = cache.begin('a') as object
  cache.abandon('a', first)
  t.equal(cache.fill('a', second, entry('1:0:0:0', 9e15)), true, 'abandoning an old token leaves the newer one')
  const third = cache.begin('b') as object
  cache.abandon('b', third)
  t.equal(cache.fill('b', third, entry('1:0:0:0', 9e15)), false, 'an abandoned token fills nothing')
})

t.test('deactivate forgets everything and refuses fills of reads sent before', async (t) => {
  const cache = active()
  cache.fill('a', cache.begin('a') as object, entry('1:0:0:0', 9e15))
  const inFlight = cache.begin('b') as object
  cache.deactivate()
  t.equal(cache.active, false)
  t.equal(cache.size, 0)
  t.equal(cache.lookup('a', 0), undefined)
  t.equal(cache.begin('c'), undefined, 'no token while inactive: the read goes to Redis uncached')
  t.equal(cache.beginRefresh('c'), undefined, 'nor for a refresh')
  cache.activate()
  t.equal(cache.fill('b', inFlight, entry('1:0:0:0', 9e15)), false, 'a read from before the gap is not cached')
  t.equal(cache.lookup('a', 0), undefined)
})

t.test('clear (FLUSHALL) drops entries and revokes reads in flight', async (t) => {
  const cache = active()
  cache.fill('a', cache.begin('a') as object, entry('1:0:0:0', 9e15))
  const inFlight = cache.begin('b') as object
  cache.clear()
  t.equal(cache.active, true, 'still active: invalidations keep arriving')
  t.equal(cache.lookup('a', 0), undefined)
  t.equal(cache.fill('b', inFlight, entry('1:0:0:0', 9e15)), false)
})

t.test('bounded: beyond maxEntries the oldest fill is evicted; a refill counts as new', async (t) => {
  const cache = active(3)
  for (const id of ['a', 'b', 'c']) cache.fill(id, cache.begin(id) as object, entry(id, 9e15))
  cache.fill('a', cache.begin('a') as object, entry('a2', 9e15)) // a is now the newest
  cache.fill('d', cache.begin('d') as object, entry('d', 9e15))
  t.equal(cache.size, 3)
  t.equal(cache.lookup('b', 0), undefined, 'b, the oldest fill, went first')
  t.same(['a', 'c', 'd'].map((id) => cache.lookup(id, 0)?.meta), ['a2', 'c', 'd'])
})
