/**
 * RedisStore's contract, called directly against a real redis-server: callbacks exactly once, null for missing,
 * one key per session, TTL rules, set-if-absent creation, per-key writes, tombstones, serializer edge cases.
 */
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startRedis, waitFor } from '@switchyard/test-harness'
import { RedisStore, SNAPSHOT_KEY, type RedisStoreOptions, type SessionData } from '../src/index.js'

type Callback<T> = (err: unknown, value?: T) => void

/** Runs a callback-style store call, failing the test if the callback fires more than once. */
function once<T> (t: Test, fn: (cb: Callback<T>) => void): Promise<{ err: unknown, value: T | undefined }> {
  return new Promise((resolve) => {
    let calls = 0
    fn((err, value) => {
      calls++
      if (calls > 1) t.fail('callback called more than once')
      resolve({ err, value })
    })
  })
}

async function ok<T> (t: Test, fn: (cb: Callback<T>) => void): Promise<T | undefined> {
  const { err, value } = await once(t, fn)
  if (err !== null && err !== undefined) throw err
  return value
}

const cookie = (maxAge: number): Record<string, unknown> => ({
  originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), path: '/', httpOnly: true, secure: false
})

t.test('store contract against a real redis-server', async (t) => {
  const redis = await startRedis(t)
  const admin = new Redis(redis.url)
  const client = new Redis(redis.url)
  t.teardown(() => { admin.disconnect(); client.disconnect() })
  const make = (options: Omit<Partial<RedisStoreOptions>, 'client'> = {}): RedisStore => new RedisStore({ client, ...options })
  const store = make()

  t.test('get of a missing id is null; destroy of a missing id succeeds', async (t) => {
    t.equal(await ok(t, (cb) => { store.get('missing', cb) }), null)
    t.equal(await ok(t, (cb) => { store.destroy('missing-too', cb) }), undefined)
  })

  t.test('round trip: one hash key per session, values per top-level key', async (t) => {
    const when = new Date('2030-01-02T03:04:05.000Z')
    const session: SessionData = {
      cookie: cookie(60_000), user: { id: 7, name: 'Zoë ✓' }, when, '#hash': 'escaped', n: 0, flag: false, nothing: null
    }
    await ok(t, (cb) => { store.set('rt', session, cb) })
    t.same(await admin.keys('*rt*'), ['sess:rt'], 'exactly one key, no side keys')
    const stored = await admin.hgetall('sess:rt')
    t.equal(stored.user, '{"id":7,"name":"Zoë ✓"}')
    t.equal(stored['##hash'], '"escaped"', 'a key starting with # is escaped away from the meta fields')
    const loaded = await ok<SessionData>(t, (cb) => { store.get('rt', cb) }) as SessionData
    t.same(loaded.user, { id: 7, name: 'Zoë ✓' })
    t.equal(loaded.when, when.toISOString(), 'a Date comes back as JSON gives it (as with connect-redis)')
    t.equal(loaded['#hash'], 'escaped')
    t.equal(loaded.n, 0)
    t.equal(loaded.flag, false)
    t.equal(loaded.nothing, null)
    t.equal(JSON.stringify(loaded).includes(SNAPSHOT_KEY), false, 'the snapshot marker serializes to nothing')
    const c = loaded.cookie as Record<string, unknown>
    t.equal(c.originalMaxAge, 60_000)
    t.ok(new Date(c.expires as Date).getTime() > Date.now() + 59_000, 'cookie.expires is restored')
  })

  t.test('odd keys and values round-trip exactly', async (t) => {
    const session: SessionData = {
      cookie: cookie(60_000),
      'quote"key': 'a\\b"c',
      'slash/key': '</script>',
      2: 'two',
      10: 'ten',
      emoji: '😀 ok ✓',
      '😀': { nested: ['ü', '𝄞'] },
      '##double': 1,
      '': 'empty key',
      __proto__x: 'fine'
    }
    await ok(t, (cb) => { store.set('odd', session, cb) })
    const loaded = await ok<SessionData>(t, (cb) => { store.get('odd', cb) }) as SessionData
    for (const key of Object.keys(session)) {
      if (key !== 'cookie') t.same(loaded[key], session[key], `key ${JSON.stringify(key)}`)
    }
    // Nothing changed: the save sends nothing, which proves every stored text was sliced out exactly.
    const skipped = store.stats.skippedWrites
    loaded.cookie = cookie(60_000)
    await ok(t, (cb) => { store.set('odd', loaded, cb) })
    t.equal(store.stats.skippedWrites, skipped + 1, 'an unchanged odd session is not rewritten')
    loaded['😀'] = { nested: ['changed'] }
    await ok(t, (cb) => { store.set('odd', loaded, cb) })
    t.equal(await admin.hget('sess:odd', '😀'), '{"nested":["changed"]}')
    t.equal(await admin.hget('sess:odd', 'emoji'), '"😀 ok ✓"', 'untouched keys untouched')
  })

  t.test('only changed keys are written; removed keys are deleted', async (t) => {
    await ok(t, (cb) => { store.set('diff', { cookie: cookie(60_000), a: 1, b: [1], c: 'x', d: 4 }, cb) })
    const loaded = await ok<SessionData>(t, (cb) => { store.get('diff', cb) }) as SessionData
    // Someone else changes `c` meanwhile; this writer never touched it, so it must survive.
    await admin.hset('sess:diff', 'c', '"theirs"')
    ;(loaded.b as number[]).push(2) // in-place mutation is a change
    delete loaded.a
    loaded.d = undefined
    await ok(t, (cb) => { store.set('diff', loaded, cb) })
    const stored = await admin.hgetall('sess:diff')
    t.equal(stored.b, '[1,2]')
    t.equal(stored.c, '"theirs"')
    t.notOk('a' in stored, 'deleted key removed')
    t.notOk('d' in stored, 'undefined key removed')
    t.equal(stored['#']?.split(':')[0], '2', 'version 2')
    t.equal(store.stats.conflicts, 0, 'a key the other writer changed but we did not is no conflict')
  })

  t.test('a read-only save sends nothing when the read already slid the TTL', async (t) => {
    await ok(t, (cb) => { store.set('ro', { cookie: cookie(60_000), a: 1 }, cb) })
    const loaded = await ok<SessionData>(t, (cb) => { store.get('ro', cb) }) as SessionData
    loaded.cookie = cookie(60_000) // @fastify/session moves expires forward on every request
    const before = store.stats.skippedWrites
    await ok(t, (cb) => { store.set('ro', loaded, cb) })
    t.equal(store.stats.skippedWrites, before + 1)

    // Without rolling reads, the same save is a TTL refresh only (no data write).
    const plain = make({ rolling: false })
    await admin.pexpire('sess:ro', 5000)
    const again = await ok<SessionData>(t, (cb) => { plain.get('ro', cb) }) as SessionData
    t.ok(await admin.pttl('sess:ro') <= 5000, 'a non-rolling read does not slide')
    again.cookie = cookie(60_000)
    await ok(t, (cb) => { plain.set('ro', again, cb) })
    t.ok(await admin.pttl('sess:ro') > 59_000, 'the save slid it')
    t.equal((await admin.hget('sess:ro', '#'))?.split(':')[0], '1', 'without a data write')
  })

  t.test('same key written concurrently: last writer wins, counted', async (t) => {
    await ok(t, (cb) => { store.set('lww', { cookie: cookie(60_000), cart: [] }, cb) })
    const a = await ok<SessionData>(t, (cb) => { store.get('lww', cb) }) as SessionData
    const b = await ok<SessionData>(t, (cb) => { store.get('lww', cb) }) as SessionData
    a.cart = ['a']
    b.cart = ['b']
    const before = store.stats.conflicts
    await ok(t, (cb) => { store.set('lww', a, cb) })
    await ok(t, (cb) => { store.set('lww', b, cb) })
    t.equal(await admin.hget('sess:lww', 'cart'), '["b"]')
    t.equal(store.stats.conflicts, before + 1)
  })

  t.test('new ids are created only if free', async (t) => {
    await ok(t, (cb) => { store.set('taken', { cookie: cookie(60_000), owner: 'first' }, cb) })
    const { err } = await once(t, (cb) => { store.set('taken', { cookie: cookie(60_000), owner: 'second' }, cb) })
    t.match(err, { code: 'SWY_SESSION_ID_CONFLICT', statusCode: 500 })
    t.equal(await admin.hget('sess:taken', 'owner'), '"first"', 'the live session is untouched')

    await ok(t, (cb) => { store.destroy('taken', cb) })
    const dropped = store.stats.droppedWrites
    await ok(t, (cb) => { store.set('taken', { cookie: cookie(60_000), owner: 'third' }, cb) })
    t.same(await admin.hgetall('sess:taken'), { '#d': '1' }, 'a tombstoned id is not re-created')
    t.equal(store.stats.droppedWrites, dropped + 1)
    const pttl = await admin.pttl('sess:taken')
    t.ok(pttl > 299_000 && pttl <= 300_000, `the tombstone lives tombstoneTime (${pttl} ms)`)
  })

  t.test('a loaded session that vanished is never re-created by its save', async (t) => {
    await ok(t, (cb) => { store.set('gone', { cookie: cookie(60_000), user: 'u' }, cb) })
    const loaded = await ok<SessionData>(t, (cb) => { store.get('gone', cb) }) as SessionData
    await admin.del('sess:gone') // expired or evicted meanwhile
    loaded.more = 1
    await ok(t, (cb) => { store.set('gone', loaded, cb) })
    t.equal(await admin.exists('sess:gone'), 0)
  })

  t.test('TTL rules (connect-redis semantics)', async (t) => {
    await ok(t, (cb) => { store.set('ttl-cookie', { cookie: cookie(60_000) }, cb) })
    const p1 = await admin.pttl('sess:ttl-cookie')
    t.ok(p1 >= 59_000 && p1 <= 60_000, `maxAge 60 s → ${p1} ms`)

    await ok(t, (cb) => { store.set('ttl-default', { cookie: { path: '/' } }, cb) })
    const p2 = await admin.pttl('sess:ttl-default')
    t.ok(p2 > 86_399_000 && p2 <= 86_400_000, `no expiry → ttl option (${p2} ms)`)

    const fnStore = make({ ttl: () => 42 })
    await ok(t, (cb) => { fnStore.set('ttl-fn', { cookie: cookie(60_000) }, cb) })
    const p3 = await admin.pttl('sess:ttl-fn')
    t.ok(p3 > 41_000 && p3 <= 42_000, `a ttl function is used verbatim (${p3} ms)`)

    await ok(t, (cb) => { store.set('ttl-past', { cookie: cookie(60_000), x: 1 }, cb) })
    const past = await ok<SessionData>(t, (cb) => { store.get('ttl-past', cb) }) as SessionData
    past.cookie = { expires: new Date(Date.now() - 1000), path: '/' }
    await ok(t, (cb) => { store.set('ttl-past', past, cb) })
    t.same(await admin.hgetall('sess:ttl-past'), { '#d': '1' }, 'an expiry in the past deletes')

    const throwing = make({ ttl: () => { throw new Error('boom') } })
    const { err } = await once(t, (cb) => { throwing.set('ttl-throws', { cookie: {} }, cb) })
    t.match(err, { message: 'boom' }, 'a throwing ttl function reaches the callback once')
  })

  t.test('touch slides the TTL of an existing session and creates nothing', async (t) => {
    await ok(t, (cb) => { store.set('touch', { cookie: cookie(60_000) }, cb) })
    await admin.pexpire('sess:touch', 1000)
    await ok(t, (cb) => { store.touch('touch', { cookie: cookie(60_000) }, cb) })
    t.ok(await admin.pttl('sess:touch') > 59_000)
    const dropped = store.stats.droppedWrites
    await ok(t, (cb) => { store.touch('touch-missing', { cookie: cookie(60_000) }, cb) })
    t.equal(await admin.exists('sess:touch-missing'), 0)
    t.equal(store.stats.droppedWrites, dropped + 1, 'a touch of a missing session is counted, not applied')
    const fractional = { cookie: { originalMaxAge: 1500.5, expires: Date.now() + 1500.5 } }
    await ok(t, (cb) => { store.set('fractional', fractional, cb) })
    t.ok(await admin.pttl('sess:fractional') > 1000, 'fractional milliseconds do not break the scripts')
  })

  t.test('serializer failures and custom serializers', async (t) => {
    const { err } = await once(t, (cb) => { store.set('bigint', { cookie: {}, n: 10n }, cb) })
    t.match(err, { code: 'SWY_SESSION_SERIALIZE', message: /"n"/ })
    t.equal(await admin.exists('sess:bigint'), 0)

    const tagged = make({
      prefix: 'custom:',
      serializer: { stringify: (v) => 'J' + JSON.stringify(v), parse: (s) => JSON.parse(s.slice(1)) as unknown }
    })
    await ok(t, (cb) => { tagged.set('s', { cookie: cookie(60_000), v: { deep: [1] } }, cb) })
    t.equal(await admin.hget('custom:s', 'v'), 'J{"deep":[1]}')
    const back = await ok<SessionData>(t, (cb) => { tagged.get('s', cb) }) as SessionData
    t.same(back.v, { deep: [1] })
  })

  t.test('size limit counts the whole session, not just the change', async (t) => {
    const small = make({ maxSize: 1000 })
    await ok(t, (cb) => { small.set('size', { cookie: {}, a: 'x'.repeat(600) }, cb) })
    const loaded = await ok<SessionData>(t, (cb) => { small.get('size', cb) }) as SessionData
    loaded.b = 'y'.repeat(600)
    const { err } = await once(t, (cb) => { small.set('size', loaded, cb) })
    t.match(err, { code: 'SWY_SESSION_TOO_LARGE', statusCode: 500 })
    t.notOk(await admin.hexists('sess:size', 'b'))
  })

  t.test('close(): a passed-in client stays open unless closeClient', async (t) => {
    const own = new Redis(redis.url)
    const kept = new RedisStore({ client: own })
    await kept.close()
    t.equal(await own.ping(), 'PONG')
    const { err } = await once(t, (cb) => { kept.get('x', cb) })
    t.match(err, { code: 'SWY_SESSION_REDIS_UNAVAILABLE' }, 'a closed store answers, it does not hang')
    const owned = new RedisStore({ client: own, closeClient: true })
    await owned.close()
    await waitFor(() => own.status === 'end', { timeout: 2000, message: 'client closed' })
    t.equal(own.status, 'end', 'closeClient: true closed it')
  })

  t.test('invalid options name the option', async (t) => {
    t.throws(() => new RedisStore({} as RedisStoreOptions), { code: 'SWY_SESSION_INVALID_OPTION', message: /client/ })
    t.throws(() => make({ ttl: -1 }), { message: /ttl must be a positive number/ })
    t.throws(() => make({ timeout: 0 }), { message: /timeout must be/ })
    t.throws(() => make({ maxSize: 1.5 }), { message: /maxSize must be a positive integer/ })
    t.throws(() => make({ prefix: 3 as unknown as string }), { message: /prefix must be a string/ })
    t.throws(() => make({ serializer: {} as never }), { message: /serializer must have/ })
    t.throws(() => make({ rolling: 'yes' as unknown as boolean }), { message: /rolling must be a boolean/ })
    t.throws(() => make({ logger: {} as never }), { message: /logger must have/ })
    const resolved = make().options
    t.ok(Object.isFrozen(resolved))
    t.match(resolved, { prefix: 'sess:', ttl: 86_400, timeout: 500, maxSize: 1_048_576, rolling: true, closeClient: false })
  })
})

t.test('an event-loop stall longer than the timeout does not fail an operation Redis answered meanwhile', async (t) => {
  const redis = await startRedis(t)
  const store = new RedisStore({ client: new Redis(redis.url), closeClient: true, timeout: 100, clientSideCache: false })
  t.teardown(() => store.close())
  await ok(t, (cb) => { store.set('busy', { cookie: cookie(60_000), user: 'bo' }, cb) })

  const read = once<SessionData>(t, (cb) => { store.get('busy', cb) })
  // A CPU-bound stretch (a heavy request, a long GC pause): Redis answers meanwhile, but nothing reads the socket
  // until it ends, and then the deadline timer runs before the poll phase that reads the reply.
  const until = Date.now() + 300
  while (Date.now() < until) { /* busy */ }
  const { err, value } = await read
  t.error(err, 'the reply that arrived during the stall is used')
  t.equal(value?.user, 'bo')
  t.equal(store.stats.timeouts, 0)
})
