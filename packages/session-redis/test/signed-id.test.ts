/**
 * SignedIdReuse alone: what it learns from a `Session`-shaped object, when it attaches, and what turns it off. The
 * objects carry Symbols with the descriptions `@fastify/session` 11 uses; plugin.test.ts checks the real plugin.
 */
import t from 'tap'
import { SignedIdReuse } from '../src/signed-id.js'

const signer = { sign: (v: string) => `${v}.sig`, unsign: (v: string) => ({ valid: true, renew: false, value: v.split('.')[0] ?? null }) }

/** A stand-in for @fastify/session's Session: private Symbols behind public getters, as lib/session.js has them. */
function sessionLike (id: string, signed = `${id}.sig`, cookieSigner: unknown = signer, symbols = makeSymbols()): object {
  return new (class {
    [symbols.id] = id;
    [symbols.signed] = signed;
    [symbols.signer] = cookieSigner
    user = 'ann'
    get sessionId (): unknown { return (this as Record<symbol, unknown>)[symbols.id] }
    get encryptedSessionId (): unknown { return (this as Record<symbol, unknown>)[symbols.signed] }
  })()
}

function makeSymbols (): { id: symbol, signed: symbol, signer: symbol } {
  return { id: Symbol('sessionId'), signed: Symbol('encryptedSessionId'), signer: Symbol('cookieSignerKey') }
}

t.test('learns the signed id of a Session and attaches it under the same Symbols', async (t) => {
  const symbols = makeSymbols()
  const reuse = new SignedIdReuse()
  t.equal(reuse.learn('abc', sessionLike('abc', 'abc.sig', signer, symbols)), 'abc.sig')
  const data: Record<string | symbol, unknown> = { user: 'ann' }
  reuse.attach(data, 'abc', 'abc.sig')
  t.equal(data[symbols.id], 'abc', 'the id @fastify/session compares with the one it asked for')
  t.equal(data[symbols.signed], 'abc.sig', 'the signed id it then takes instead of signing')
  t.same(Object.keys(data), ['user'], 'Symbols only: nothing JSON or for...in would see')
  t.equal(JSON.stringify(data), '{"user":"ann"}')
})

t.test('a session saved under another id teaches nothing', async (t) => {
  const reuse = new SignedIdReuse()
  t.equal(reuse.learn('other', sessionLike('abc')), undefined)
  t.ok(reuse.enabled, 'and turns nothing off')
})

t.test('plain objects are ignored, and do not turn it off', async (t) => {
  const reuse = new SignedIdReuse()
  t.equal(reuse.learn('abc', { user: 'ann' }), undefined)
  const data: Record<string | symbol, unknown> = {}
  reuse.attach(data, 'abc', 'abc.sig')
  t.same(Object.getOwnPropertySymbols(data), [], 'nothing attached before a Session was seen')
  t.ok(reuse.enabled)
  t.equal(reuse.learn('abc', sessionLike('abc')), 'abc.sig', 'a Session seen later is learned')
})

t.test('a second cookie signer (another secret on the same store) turns it off for good', async (t) => {
  const symbols = makeSymbols()
  const reuse = new SignedIdReuse()
  t.equal(reuse.learn('a', sessionLike('a', 'a.sig', signer, symbols)), 'a.sig')
  const otherSigner = { sign: (v: string) => `${v}.other`, unsign: signer.unsign }
  t.equal(reuse.learn('b', sessionLike('b', 'b.other', otherSigner, symbols)), undefined)
  t.notOk(reuse.enabled)
  t.equal(reuse.learn('a', sessionLike('a', 'a.sig', signer, symbols)), undefined, 'not even for the first signer')
  const data: Record<string | symbol, unknown> = {}
  reuse.attach(data, 'a', 'a.sig')
  t.same(Object.getOwnPropertySymbols(data), [], 'and attaches nothing')
})

t.test('Symbols that no longer match the public getters (a changed @fastify/session) turn it off', async (t) => {
  const symbols = makeSymbols()
  const odd = sessionLike('abc', 'abc.sig', signer, symbols) as Record<symbol, unknown>
  Object.defineProperty(odd, 'encryptedSessionId', { value: 'something-else' })
  const reuse = new SignedIdReuse()
  t.equal(reuse.learn('abc', odd), undefined)
  t.notOk(reuse.enabled)
  t.equal(reuse.learn('abc', sessionLike('abc')), undefined, 'and it stays off')
})
