/**
 * copyJson, copyPlainJson and sameJson, pure: copies share nothing with the original and keep `__proto__` as data; sameJson says
 * "equal" only when serializing would store the same data, and "cannot tell" (false) for anything not plain JSON.
 */
import t from 'tap'
import { copyJson, copyPlainJson, NOT_PLAIN, sameJson } from '../src/json-data.js'

t.test('copyJson: a deep copy equal to a fresh parse, sharing nothing', async (t) => {
  const text = '{"user":{"id":7,"roles":["a","b"],"nested":{"x":[1,{"y":null}]}},"n":1.5,"s":"é","t":true}'
  const parsed = JSON.parse(text) as Record<string, any>
  const copy = copyJson(parsed) as Record<string, any>
  t.same(copy, JSON.parse(text))
  t.equal(JSON.stringify(copy), text, 'same data, same key order')
  copy.user.roles.push('c')
  copy.user.nested.x[1].y = 1
  t.same(parsed, JSON.parse(text), 'changing the copy leaves the original alone')
  t.equal(copyJson('str'), 'str')
  t.equal(copyJson(null), null)
})

t.test('copyJson: an own __proto__ key stays data, as JSON.parse leaves it', async (t) => {
  const parsed = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>
  const copy = copyJson(parsed) as Record<string, unknown>
  t.equal(Object.getPrototypeOf(copy), Object.prototype, 'the prototype is untouched')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.same(Object.keys(copy), ['__proto__', 'a'])
  t.equal(JSON.stringify(copy), JSON.stringify(parsed))
})

t.test('copyPlainJson: plain data is copied, equal to a serialize-and-parse round trip', async (t) => {
  const value = { user: { id: 7, roles: ['a', 'b'], nested: { x: [1, { y: null }] } }, n: 1.5, s: 'é', t: true, z: -0 }
  const copy = copyPlainJson(value) as Record<string, any>
  t.same(copy, JSON.parse(JSON.stringify(value)))
  t.ok(Object.is(copy.z, 0), '-0 becomes 0, as in JSON')
  copy.user.roles.push('c')
  t.same(value.user.roles, ['a', 'b'], 'sharing nothing')
  const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })
  t.same(copyPlainJson(nullProto), { a: 1 })
  const own = JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>
  t.same(Object.keys(copyPlainJson(own) as object), ['__proto__'], 'an own __proto__ key stays data')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('copyPlainJson: NOT_PLAIN for anything JSON would turn into something else', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['a Date', { at: new Date(0) }],
    ['a class instance', { m: new Map() }],
    ['a toJSON', { v: { toJSON: () => 1 } }],
    ['undefined inside', { u: undefined }],
    ['undefined in an array', [1, undefined]],
    ['a hole in an array', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['a function', { f: () => 1 }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['a bigint', { b: 1n }],
    ['a symbol', Symbol('s')]
  ]
  for (const [name, value] of cases) t.equal(copyPlainJson(value), NOT_PLAIN, name)
})

t.test('sameJson: equal plain data, key order aside', async (t) => {
  const pristine = JSON.parse('{"id":7,"roles":["a","b"],"prefs":{"theme":"dark"},"none":null}')
  t.equal(sameJson({ id: 7, roles: ['a', 'b'], prefs: { theme: 'dark' }, none: null }, pristine), true)
  t.equal(sameJson({ none: null, prefs: { theme: 'dark' }, roles: ['a', 'b'], id: 7 }, pristine), true, 'key order does not matter')
  t.equal(sameJson('x', 'x'), true)
  t.equal(sameJson(3, 3), true)
})

t.test('sameJson: any change is a difference', async (t) => {
  const pristine = JSON.parse('{"id":7,"roles":["a","b"],"prefs":{"theme":"dark"}}')
  const cases: Array<[string, unknown]> = [
    ['a changed number', { id: 8, roles: ['a', 'b'], prefs: { theme: 'dark' } }],
    ['a nested change', { id: 7, roles: ['a', 'b'], prefs: { theme: 'light' } }],
    ['an added key', { id: 7, roles: ['a', 'b'], prefs: { theme: 'dark' }, more: 1 }],
    ['a removed key', { id: 7, roles: ['a', 'b'] }],
    ['an array grown', { id: 7, roles: ['a', 'b', 'c'], prefs: { theme: 'dark' } }],
    ['an array reordered', { id: 7, roles: ['b', 'a'], prefs: { theme: 'dark' } }],
    ['an object for an array', { id: 7, roles: { 0: 'a', 1: 'b' }, prefs: { theme: 'dark' } }],
    ['a string for a number', { id: '7', roles: ['a', 'b'], prefs: { theme: 'dark' } }]
  ]
  for (const [name, current] of cases) t.equal(sameJson(current, pristine), false, name)
})

t.test('sameJson: what it cannot vouch for is "not the same" (the caller serializes)', async (t) => {
  t.equal(sameJson({ a: undefined }, {}), false, 'undefined inside (JSON drops the key)')
  t.equal(sameJson({ when: new Date(0) }, { when: '1970-01-01T00:00:00.000Z' }), false, 'a Date')
  t.equal(sameJson({ toJSON: () => ({}) }, {}), false, 'a toJSON')
  t.equal(sameJson(new Map(), {}), false, 'a class instance')
  t.equal(sameJson([Number.NaN], [null]), false, 'NaN (JSON writes null)')
  t.equal(sameJson([undefined], [null]), false, 'an array hole (JSON writes null)')
  t.equal(sameJson({ f () {} }, { f: null }), false, 'a function')
})
