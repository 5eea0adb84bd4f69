import Fastify from 'fastify'
import t from 'tap'
import balancer, { DEFAULT_RETRY_TRIES, validateOptions } from '@switchyard/balancer'

const cases: Array<[string, unknown, RegExp]> = [
  ['no options', undefined, /upstreams must be a non-empty array/],
  ['no upstreams', {}, /upstreams must be a non-empty array/],
  ['empty upstreams', { upstreams: [] }, /upstreams must be a non-empty array/],
  ['a typo', { upstream: ['http://127.0.0.1:1'] }, /unknown option "upstream" \(did you mean "upstreams"\?\)/],
  ['a bad URL', { upstreams: ['not a url'] }, /upstreams\[0\] must be an absolute http\(s\) URL/],
  ['a URL with a path', { upstreams: ['http://127.0.0.1:1/api'] }, /upstreams\[0\] must be an origin without a path/],
  ['another protocol', { upstreams: ['ftp://127.0.0.1:1'] }, /upstreams\[0\] must use http: or https:/],
  ['a negative weight', { upstreams: [{ url: 'http://127.0.0.1:1', weight: -1 }] }, /upstreams\[0\]\.weight must be an integer from 1/],
  ['a fractional weight', { upstreams: [{ url: 'http://127.0.0.1:1', weight: 1.5 }] }, /upstreams\[0\]\.weight must be an integer/],
  ['an unknown upstream key', { upstreams: [{ url: 'http://127.0.0.1:1', wieght: 2 }] }, /upstreams\[0\]\.wieght is not an upstream option/],
  ['a repeated upstream', { upstreams: ['http://127.0.0.1:1', 'http://127.0.0.1:1/'] }, /upstreams\[1\] repeats/],
  ['only backups', { upstreams: [{ url: 'http://127.0.0.1:1', backup: true }] }, /at least one that is not a backup/],
  ['an unknown algorithm', { upstreams: ['http://127.0.0.1:1'], algorithm: 'fastest' }, /algorithm must be one of round-robin/],
  ['zero tries', { upstreams: ['http://127.0.0.1:1'], retry: { tries: 0 } }, /retry\.tries must be a positive integer \(got 0\)/],
  ['a negative retry timeout', { upstreams: ['http://127.0.0.1:1'], retry: { timeout: -5 } }, /retry\.timeout must be a positive number of milliseconds/],
  ['a 4xx retry status', { upstreams: ['http://127.0.0.1:1'], retry: { statuses: [404] } }, /retry\.statuses must be an array of 5xx/],
  ['a string timeout', { upstreams: ['http://127.0.0.1:1'], timeout: '30s' }, /timeout must be a positive number of milliseconds \(got "30s"\)/],
  ['a panic threshold over 100', { upstreams: ['http://127.0.0.1:1'], panicThreshold: 150 }, /panicThreshold must be a percentage/]
]

t.test('invalid options fail register with SWY_BALANCER_INVALID_OPTION naming the option', async (t) => {
  for (const [name, options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => {
      await app.register(balancer, options as never)
      await app.ready()
    }, { code: 'SWY_BALANCER_INVALID_OPTION', message }, name)
    await app.close()
  }
})

t.test('valid options are defaulted and frozen', async (t) => {
  const resolved = validateOptions({ upstreams: ['http://127.0.0.1:3001/', { url: 'http://127.0.0.1:3002', weight: 2, name: 'b' }] })
  t.equal(resolved.retry.tries, DEFAULT_RETRY_TRIES)
  t.same(resolved.upstreams.map((u) => [u.url, u.weight, u.name, u.backup]), [
    ['http://127.0.0.1:3001', 1, 'http://127.0.0.1:3001', false],
    ['http://127.0.0.1:3002', 2, 'b', false]
  ])
  t.ok(Object.isFrozen(resolved) && Object.isFrozen(resolved.upstreams[0]))
  t.equal(validateOptions({ upstreams: ['http://127.0.0.1:1'], retry: false }).retry.tries, 1, 'retry: false means one try')
  t.throws(() => validateOptions('http://127.0.0.1:1'), { code: 'SWY_BALANCER_INVALID_OPTION', message: /options must be an object/ })
})

t.test('two balancers on one instance need distinct decorator names', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(balancer, { upstreams: ['http://127.0.0.1:1'], prefix: '/a' })
  await t.rejects(async () => {
    await app.register(balancer, { upstreams: ['http://127.0.0.1:2'], prefix: '/b' })
    await app.ready()
  }, /fastify\.balancer already exists/)
  const other = Fastify()
  t.teardown(async () => { await other.close() })
  await other.register(balancer, { upstreams: ['http://127.0.0.1:1'], prefix: '/a' })
  await other.register(balancer, { upstreams: ['http://127.0.0.1:2'], prefix: '/b', decorator: 'ordersBalancer' })
  await other.ready()
  t.ok(other.hasDecorator('ordersBalancer'))
})
