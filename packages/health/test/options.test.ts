import Fastify from 'fastify'
import t from 'tap'
import health from '../src/index.js'
import {
  DEFAULT_CACHE_CONTROL, DEFAULT_CACHE_TTL, DEFAULT_CLOSE_TIMEOUT, DEFAULT_DRAIN_DELAY, DEFAULT_HOOK_TIMEOUT,
  DEFAULT_REFRESH_INTERVAL, DEFAULT_SIGNALS, DEFAULT_TIMEOUT, validateOptions, type HealthOptions
} from '../src/options.js'

const ok = (): void => {}

t.test('defaults: frozen, fully defaulted', async (t) => {
  const options = validateOptions({ checks: { 'redis:ping': ok } })
  t.ok(Object.isFrozen(options))
  t.ok(Object.isFrozen(options.checks))
  t.ok(Object.isFrozen(options.checks[0]))
  t.ok(Object.isFrozen(options.shutdown))
  t.match(options.checks[0], { name: 'redis:ping', check: ok, critical: true, timeout: DEFAULT_TIMEOUT })
  t.equal(options.cacheTtl, DEFAULT_CACHE_TTL)
  t.equal(options.refreshInterval, DEFAULT_REFRESH_INTERVAL)
  t.same(options.routes, { live: '/health/live', ready: '/health/ready', startup: '/health/startup', report: '/health' })
  t.equal(options.exposeDetails, false)
  t.equal(options.authorize, null)
  t.equal(options.cacheControl, DEFAULT_CACHE_CONTROL)
  t.same(options.shutdown, { drainDelay: DEFAULT_DRAIN_DELAY, signals: [], closeTimeout: DEFAULT_CLOSE_TIMEOUT, hookTimeout: DEFAULT_HOOK_TIMEOUT, exit: true })
  t.same(validateOptions(undefined).checks, [])
})

t.test('shorthand and full check definitions; prefix and paths; signals', async (t) => {
  const options = validateOptions({
    checks: { 'orders-api:responseTime': { check: ok, critical: false, timeout: 250, componentType: 'component', affectedEndpoints: ['/orders'] }, db: ok },
    prefix: '/_',
    paths: { live: '/alive', startup: false, report: '/all' },
    cacheControl: false,
    shutdown: { signals: true, drainDelay: 0 }
  })
  t.match(options.checks[0], { critical: false, timeout: 250, affectedEndpoints: ['/orders'] })
  t.equal(options.checks[1]?.name, 'db', 'a name without a measurement is allowed')
  t.same(options.routes, { live: '/_/alive', ready: '/_/ready', startup: null, report: '/_/all' })
  t.equal(options.cacheControl, null)
  t.same(options.shutdown.signals, DEFAULT_SIGNALS)
  t.equal(options.shutdown.drainDelay, 0)
  t.same(validateOptions({ prefix: '', paths: { report: '' } }).routes.report, '/', 'empty prefix and path → /')
  t.same(validateOptions({ shutdown: { signals: ['SIGTERM', 'SIGTERM', 'SIGUSR2'] } }).shutdown.signals, ['SIGTERM', 'SIGUSR2'])
})

const invalid: Array<[string, unknown, RegExp]> = [
  ['options not an object', 'x', /^options must be an object$/],
  ['unknown top-level option', { cachettl: 5 }, /^"cachettl" is not a known option$/],
  ['checks not an object', { checks: [] }, /^checks must be an object/],
  ['name with two colons', { checks: { 'a:b:c': ok } }, /^checks\["a:b:c"\]: a check name is "component:measurement"/],
  ['name with empty part', { checks: { 'redis:': ok } }, /^checks\["redis:"\]: a check name/],
  ['name with whitespace', { checks: { 'redis ping': ok } }, /^checks\["redis ping"\]: a check name/],
  ['check not a function', { checks: { 'redis:ping': 'PING' } }, /^checks\["redis:ping"\] must be a check function or/],
  ['definition without function', { checks: { 'redis:ping': { check: 42 } } }, /^checks\["redis:ping"\]\.check must be a function$/],
  ['negative timeout', { checks: { 'redis:ping': { check: ok, timeout: -1 } } }, /^checks\["redis:ping"\]\.timeout must be a positive number of milliseconds$/],
  ['zero timeout', { checks: { 'redis:ping': { check: ok, timeout: 0 } } }, /^checks\["redis:ping"\]\.timeout must be a positive number of milliseconds$/],
  ['NaN timeout', { checks: { 'redis:ping': { check: ok, timeout: Number.NaN } } }, /timeout must be a positive number/],
  ['critical not boolean', { checks: { 'redis:ping': { check: ok, critical: 'yes' } } }, /^checks\["redis:ping"\]\.critical must be a boolean$/],
  ['typo in a check definition', { checks: { 'redis:ping': { check: ok, timout: 5 } } }, /^checks\["redis:ping"\]\."timout" is not a known option$/],
  ['negative cacheTtl', { cacheTtl: -5 }, /^cacheTtl must be a non-negative number of milliseconds$/],
  ['Infinity refreshInterval', { refreshInterval: Infinity }, /^refreshInterval must be a non-negative/],
  ['prefix without slash', { prefix: 'health' }, /^prefix must be/],
  ['prefix ending with slash', { prefix: '/health/' }, /^prefix must be/],
  ['path with query', { paths: { ready: '/ready?x' } }, /^paths\.ready must be/],
  ['unknown path kind', { paths: { readyz: '/readyz' } }, /^paths\."readyz" is not a known option$/],
  ['two routes on one path', { paths: { live: '/x', ready: '/x' } }, /^paths\.ready and paths\.live both resolve to \/health\/x$/],
  ['authorize not a function', { authorize: true }, /^authorize must be a function/],
  ['exposeDetails not boolean', { exposeDetails: 'yes' }, /^exposeDetails must be a boolean$/],
  ['cacheControl header injection', { cacheControl: 'no-store\r\nx: y' }, /^cacheControl must not contain line breaks$/],
  ['logLevel unknown', { logLevel: 'loud' }, /^logLevel must be one of/],
  ['notes not strings', { notes: [1] }, /^notes must be an array of strings$/],
  ['version empty', { version: '' }, /^version must be a non-empty string$/],
  ['negative drainDelay', { shutdown: { drainDelay: -1 } }, /^shutdown\.drainDelay must be a non-negative number of milliseconds$/],
  ['SIGKILL', { shutdown: { signals: ['SIGKILL'] } }, /^shutdown\.signals\[0\] must be the name of a catchable signal/],
  ['not a signal', { shutdown: { signals: ['SIGTERM', 'TERM'] } }, /^shutdown\.signals\[1\] must be the name/],
  ['unknown shutdown option', { shutdown: { delay: 5 } }, /^shutdown\."delay" is not a known option$/]
]

t.test('invalid options throw InvalidOptionError naming the option path', async (t) => {
  for (const [label, raw, message] of invalid) {
    t.throws(() => validateOptions(raw as HealthOptions), { code: 'SWY_HEALTH_INVALID_OPTION', message }, label)
  }
})

t.test('invalid options fail register with SWY_HEALTH_INVALID_OPTION', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close() })
  await t.rejects(async () => {
    await app.register(health, { checks: { 'redis:ping': { check: ok, timeout: -1 } } })
  }, { code: 'SWY_HEALTH_INVALID_OPTION', message: 'checks["redis:ping"].timeout must be a positive number of milliseconds' })
})
