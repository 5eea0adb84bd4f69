import t from 'tap'
import { failureKindOf, isIdempotent, mayRetry } from '../../src/retry/retry-policy.js'

t.test('error codes are classified by where the attempt failed', async (t) => {
  t.equal(failureKindOf('ECONNREFUSED'), 'connect')
  t.equal(failureKindOf('UND_ERR_CONNECT_TIMEOUT'), 'connect')
  t.equal(failureKindOf('UND_ERR_HEADERS_TIMEOUT'), 'timeout')
  t.equal(failureKindOf('UND_ERR_SOCKET'), 'reset')
  t.equal(failureKindOf('ECONNRESET'), 'reset')
  t.equal(failureKindOf(undefined), 'reset', 'unknown failures are treated as possibly-sent')
})

t.test('idempotent methods retry on every failure, others only before a byte was sent', async (t) => {
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
    t.ok(isIdempotent(method), method)
    for (const kind of ['connect', 'reset', 'timeout', 'status'] as const) t.ok(mayRetry(kind, method, true), `${method} ${kind}`)
  }
  for (const method of ['POST', 'PATCH']) {
    t.notOk(isIdempotent(method), method)
    t.ok(mayRetry('connect', method, true), `${method} connect`)
    for (const kind of ['reset', 'timeout', 'status'] as const) t.notOk(mayRetry(kind, method, true), `${method} ${kind}`)
  }
  t.notOk(mayRetry('connect', 'POST', false), 'a body that was streamed and not kept cannot be sent again')
  t.notOk(mayRetry('connect', 'GET', false))
})
