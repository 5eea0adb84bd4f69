import t from 'tap'
import { SeededRandom, affinityKey, fmix32, hash32, requestHash } from '@switchyard/balancer/pickers'

t.test('hash32 is FNV-1a finished with murmur3 fmix32, stable forever', async (t) => {
  // Published FNV-1a 32-bit vectors, then the finaliser.
  t.equal(hash32(''), fmix32(0x811c9dc5))
  t.equal(hash32('a'), fmix32(0xe40c292c))
  t.equal(hash32('foobar'), fmix32(0xbf9cf968))
  // Pinned outputs: changing them remaps every consistent-hash key of every deployment.
  t.same([hash32(''), hash32('a'), hash32('foobar'), hash32('10.0.0.1')], [2872998923, 444641715, 202221276, 2931590574])
  t.not(hash32('x', 1), hash32('x'), 'a seed gives another hash')
  for (const s of ['', 'a', 'é', '\u{1F600}', 'x'.repeat(1000)]) {
    const h = hash32(s)
    t.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32, `unsigned 32-bit for ${s.slice(0, 5)}`)
  }
})

t.test('similar keys spread over the low bits (the table index is hash % size)', async (t) => {
  const buckets = new Array<number>(16).fill(0)
  for (let i = 0; i < 16_000; i++) buckets[hash32(`10.0.${i >> 8}.${i & 255}`) % 16]!++
  for (const b of buckets) t.ok(Math.abs(b - 1000) < 120, `bucket ${b}`)
})

t.test('affinityKey reads the configured key source', async (t) => {
  const request = {
    ip: '203.0.113.7',
    headers: { 'x-user': 'alice', 'x-multi': ['one', 'two'], cookie: 'a=1; session=s3cr3t; b=2' }
  }
  const cases: Array<[Parameters<typeof affinityKey>[1], string | undefined]> = [
    ['ip', '203.0.113.7'],
    [{ header: 'x-user' }, 'alice'],
    [{ header: 'X-User' }, 'alice'],
    [{ header: 'x-multi' }, 'one'],
    [{ header: 'x-missing' }, undefined],
    [{ cookie: 'session' }, 's3cr3t'],
    [{ cookie: 'missing' }, undefined],
    [(r) => `${r.ip}|${String(r.headers['x-user'])}`, '203.0.113.7|alice'],
    [() => undefined, undefined]
  ]
  for (const [source, expected] of cases) t.equal(affinityKey(request, source), expected, JSON.stringify(source) ?? 'function')
  t.equal(affinityKey({ ip: '', headers: { cookie: ['a=1', 'session=x'] } }, { cookie: 'session' }), 'x', 'cookie header as an array')
  t.equal(affinityKey({ ip: '', headers: {} }, { cookie: 'session' }), undefined, 'no cookie header')
})

t.test('requestHash: the key hash, or a random one when the request has no key', async (t) => {
  const random = new SeededRandom(1)
  const request = { ip: '203.0.113.7', headers: {} }
  t.equal(requestHash(request, 'ip', random), hash32('203.0.113.7'))
  const a = requestHash(request, { header: 'x-user' }, random)
  const b = requestHash(request, { header: 'x-user' }, random)
  t.not(a, b, 'keyless requests spread at random')
  t.ok(a >= 0 && a < 2 ** 32 && Number.isInteger(a))
})
