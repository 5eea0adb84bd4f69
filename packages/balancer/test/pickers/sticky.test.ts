import t from 'tap'
import {
  STICKY_VALUE_LENGTH, StickyPicker, constantTimeEqual, readCookie, serializeStickyCookie, stickyValue,
  validatePickerOptions
} from '@switchyard/balancer/pickers'
import { build, context, sequence, upstreams } from './helpers.js'

const SECRET = 'a-secret-of-at-least-32-characters!!'
const OLD_SECRET = 'the-previous-secret-also-32-chars-long'

function sticky (list = upstreams(3), options: Record<string, unknown> = {}, seed = 1): StickyPicker {
  return build('sticky', list, { secret: SECRET, ...options }, seed).picker as StickyPicker
}

t.test('a request carrying a valid cookie goes back to its upstream', async (t) => {
  const list = upstreams(3)
  const picker = sticky(list)
  for (const u of list) {
    const value = picker.cookieFor(u)
    t.equal(value.length, STICKY_VALUE_LENGTH)
    t.match(value, /^[A-Za-z0-9_-]+$/, 'base64url: safe in a cookie without encoding')
    t.equal(sequence(picker, 5, context({ affinity: value })), u.name.repeat(5))
    t.equal(picker.needsCookie(value, u), false, 'nothing to set')
  }
})

t.test('the value is an HMAC of the URL: never the address, stable across gateways and restarts', async (t) => {
  const list = upstreams([{ url: 'http://10.1.2.3:8080' }, { url: 'http://backend.internal:9000' }])
  const a = sticky(list)
  const b = sticky([...list].reverse(), {}, 42)
  for (const u of list) {
    const value = a.cookieFor(u)
    t.equal(b.cookieFor(u), value, 'same value on another gateway, any order, any seed')
    t.equal(value, stickyValue(SECRET, u.url))
    for (const leak of ['10.1.2.3', '8080', 'backend', 'internal', '9000']) t.notOk(value.includes(leak), `does not contain ${leak}`)
    t.notOk(Buffer.from(value, 'base64url').toString('latin1').includes('10.1.2.3'), 'not the address encoded either')
  }
  t.not(stickyValue('another-secret-of-32-characters-xx', list[0]!.url), a.cookieFor(list[0]!), 'depends on the secret')
  t.not(a.cookieFor(list[0]!), a.cookieFor(list[1]!))
})

t.test('tampered, foreign, stale or ineligible cookies fall back to the base algorithm and are re-set', async (t) => {
  const list = upstreams(3)
  const picker = sticky(list)
  const good = picker.cookieFor(list[1]!)
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
  const cases: Array<{ name: string, value: string | undefined }> = [
    { name: 'no cookie', value: undefined },
    { name: 'empty', value: '' },
    { name: 'first character changed', value: flip(good, 0) },
    { name: 'last character changed', value: flip(good, STICKY_VALUE_LENGTH - 1) },
    { name: 'truncated', value: good.slice(0, -1) },
    { name: 'extended', value: good + 'A' },
    { name: 'the upstream URL in clear', value: list[1]!.url },
    { name: 'signed with another secret', value: stickyValue('someone-else-secret-32-characters!!', list[1]!.url) },
    { name: 'stale: an upstream that was removed', value: stickyValue(SECRET, 'http://10.99.99.99:8080') },
    { name: 'garbage of the right length', value: '!'.repeat(STICKY_VALUE_LENGTH) },
    { name: 'non-ASCII of the right length', value: 'é'.repeat(STICKY_VALUE_LENGTH) }
  ]
  // The base algorithm (round robin, seed 1) continues b, c, a, … whatever the bad cookie says.
  const base = sequence(build('round-robin', upstreams(3), undefined, 1).picker, cases.length)
  let got = ''
  for (const c of cases) {
    const u = picker.pick(context({ affinity: c.value }))!
    got += u.name
    t.ok(picker.needsCookie(c.value, u), `${c.name}: the response sets the cookie`)
  }
  t.equal(got, base, 'every bad cookie was balanced by the base algorithm')
  // Removing b makes its (valid) cookie stale; it is honoured again once b is back.
  picker.refresh([list[0]!, list[2]!])
  const u = picker.pick(context({ affinity: good }))!
  t.not(u, list[1], 'ineligible upstream: fall back')
  t.ok(picker.needsCookie(good, u), 're-set to the new upstream')
  picker.refresh(list)
  t.equal(picker.pick(context({ affinity: good })), list[1], 'eligible again: honoured')
})

t.test('a retry does not go back to the sticky upstream it already tried; the client is re-bound', async (t) => {
  const list = upstreams(3)
  const picker = sticky(list)
  const value = picker.cookieFor(list[0]!)
  const retry = picker.pick(context({ affinity: value, tried: [list[0]!] }))!
  t.not(retry, list[0])
  t.ok(picker.needsCookie(value, retry), 're-bound to the upstream that answered (nginx sticky)')
  t.equal(picker.pick(context({ affinity: value, tried: list })), undefined, 'all tried')
})

t.test('secret rotation: the first secret signs, older ones still verify once', async (t) => {
  const list = upstreams(3)
  const picker = sticky(list, { secret: [SECRET, OLD_SECRET] })
  const old = stickyValue(OLD_SECRET, list[2]!.url)
  const u = picker.pick(context({ affinity: old }))
  t.equal(u, list[2], 'old value honoured')
  t.ok(picker.needsCookie(old, u!), 'and re-set with the current secret')
  t.equal(picker.cookieFor(list[2]!), stickyValue(SECRET, list[2]!.url))
})

t.test('cookieFor works for an upstream outside the eligible list (last resort)', async (t) => {
  const list = upstreams(3)
  const picker = sticky(list)
  picker.refresh([list[0]!])
  t.equal(picker.cookieFor(list[2]!), stickyValue(SECRET, list[2]!.url))
})

t.test('any base algorithm, with its options; in-flight notifications reach it', async (t) => {
  const list = upstreams([{ inFlight: 5 }, { inFlight: 0 }, { inFlight: 5 }])
  const picker = sticky(list, { base: 'least-connections' })
  t.equal(picker.pick(context())?.name, 'b')
  list[1]!.inFlight = 9
  picker.inFlightChanged(list[1]!)
  t.not(picker.pick(context())?.name, 'b')
  const hashed = sticky(upstreams(3), { base: 'consistent-hash', baseOptions: { balanceFactor: 0 } })
  t.equal(hashed.pick(context({ hash: 7 })), hashed.pick(context({ hash: 7 })))
  const ewma = sticky(upstreams(2), { base: 'peak-ewma', baseOptions: { decayTime: 500 } })
  t.ok(ewma.pick(context()))
})

t.test('constantTimeEqual', async (t) => {
  t.ok(constantTimeEqual('abc', 'abc'))
  t.notOk(constantTimeEqual('abc', 'abd'))
  t.notOk(constantTimeEqual('abc', 'ab'))
  t.ok(constantTimeEqual('', ''))
})

t.test('cookie helpers: read the Cookie header, serialize Set-Cookie', async (t) => {
  const cases: Array<[string | undefined, string, string | undefined]> = [
    [undefined, 'swy_upstream', undefined],
    ['', 'swy_upstream', undefined],
    ['swy_upstream=abc', 'swy_upstream', 'abc'],
    ['a=1; swy_upstream=abc; b=2', 'swy_upstream', 'abc'],
    ['a=1;swy_upstream = abc ;b=2', 'swy_upstream', 'abc'],
    ['swy_upstream="abc"', 'swy_upstream', 'abc'],
    ['xswy_upstream=abc', 'swy_upstream', undefined],
    ['swy_upstream=first; swy_upstream=second', 'swy_upstream', 'first'],
    ['flag; swy_upstream=abc', 'swy_upstream', 'abc'],
    ['swy_upstream=', 'swy_upstream', '']
  ]
  for (const [header, name, expected] of cases) t.equal(readCookie(header, name), expected, String(header))
  const options = validatePickerOptions('sticky', { secret: SECRET }, 'sticky')
  t.equal(serializeStickyCookie(options, 'v'), 'swy_upstream=v; Path=/; HttpOnly; SameSite=Lax')
  const all = validatePickerOptions('sticky', {
    secret: SECRET, cookieName: 'srv', cookie: { path: '/api', domain: 'example.com', maxAge: 3600, httpOnly: false, secure: true, sameSite: 'none' }
  }, 'sticky')
  t.equal(serializeStickyCookie(all, 'v'), 'srv=v; Path=/api; Domain=example.com; Max-Age=3600; Secure; SameSite=None')
  const strict = validatePickerOptions('sticky', { secret: SECRET, cookie: { sameSite: 'strict' } }, 'sticky')
  t.match(serializeStickyCookie(strict, 'v'), /SameSite=Strict$/)
})
