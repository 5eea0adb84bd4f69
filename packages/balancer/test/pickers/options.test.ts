import t from 'tap'
import {
  DEFAULT_BALANCE_FACTOR, DEFAULT_DECAY_TIME, DEFAULT_LATENCY, DEFAULT_TABLE_SIZE, PickerOptionError,
  validatePickerOptions
} from '@switchyard/balancer/pickers'

const SECRET = 'a-secret-of-at-least-32-characters!!'

t.test('defaults', async (t) => {
  t.same(validatePickerOptions('p2c', undefined, 'p2c'), { choiceCount: 2, activeRequestBias: 1 })
  t.same(validatePickerOptions('peak-ewma', {}, 'peakEwma'), { decayTime: DEFAULT_DECAY_TIME, defaultLatency: DEFAULT_LATENCY, excludeEventLoopDelay: true })
  t.same(validatePickerOptions('consistent-hash', undefined, 'consistentHash'),
    { hashKey: 'ip', tableSize: DEFAULT_TABLE_SIZE, balanceFactor: DEFAULT_BALANCE_FACTOR })
  const sticky = validatePickerOptions('sticky', { secret: SECRET }, 'sticky')
  t.same(sticky, {
    secrets: [SECRET],
    cookieName: 'swy_upstream',
    cookie: { path: '/', domain: undefined, maxAge: undefined, httpOnly: true, secure: false, sameSite: 'lax' },
    base: 'round-robin',
    baseOptions: undefined
  })
  t.ok(Object.isFrozen(sticky) && Object.isFrozen(sticky.cookie) && Object.isFrozen(sticky.secrets))
  t.equal(validatePickerOptions('round-robin', undefined, 'x'), undefined)
  t.equal(validatePickerOptions('least-connections', {}, 'x'), undefined)
  const fn = (): string => 'k'
  t.equal(validatePickerOptions('consistent-hash', { hashKey: fn }, 'h').hashKey, fn)
  t.same(validatePickerOptions('sticky', { secret: SECRET, base: 'p2c', baseOptions: { choiceCount: 3 } }, 's').baseOptions,
    { choiceCount: 3, activeRequestBias: 1 })
})

t.test('invalid options name their path', async (t) => {
  const cases: Array<[Parameters<typeof validatePickerOptions>[0], unknown, RegExp]> = [
    ['round-robin', { x: 1 }, /^rr must be omitted: round-robin takes no options/],
    ['p2c', 'fast', /^rr must be an object/],
    ['p2c', { choiceCount: 1 }, /^rr\.choiceCount must be an integer ≥ 2 \(got 1\)/],
    ['p2c', { choiceCount: 2.5 }, /^rr\.choiceCount/],
    ['p2c', { activeRequestBias: -1 }, /^rr\.activeRequestBias must be a finite number ≥ 0/],
    ['p2c', { choices: 2 }, /^rr\.choices is not an option/],
    ['peak-ewma', { decayTime: 0 }, /^rr\.decayTime must be a positive number of milliseconds \(got 0\)/],
    ['peak-ewma', { decayTime: '10s' }, /^rr\.decayTime .*got "10s"/],
    ['peak-ewma', { excludeEventLoopDelay: 'yes' }, /^rr\.excludeEventLoopDelay must be a boolean \(got "yes"\)/],
    ['peak-ewma', { defaultLatency: -1 }, /^rr\.defaultLatency must be a positive number/],
    ['consistent-hash', { tableSize: 65536 }, /^rr\.tableSize must be a prime number ≥ 3 \(got 65536\)/],
    ['consistent-hash', { tableSize: 1 }, /^rr\.tableSize/],
    ['consistent-hash', { balanceFactor: 99 }, /^rr\.balanceFactor must be 0 \(unbounded\) or a percentage ≥ 100/],
    ['consistent-hash', { hashKey: 'cookie' }, /^rr\.hashKey must be 'ip', \{ header: name \}/],
    ['consistent-hash', { hashKey: { header: '' } }, /^rr\.hashKey/],
    ['consistent-hash', { hashKey: { header: 'a', cookie: 'b' } }, /^rr\.hashKey/],
    ['sticky', undefined, /^rr\.secret is required/],
    ['sticky', {}, /^rr\.secret must be a string or a non-empty array/],
    ['sticky', { secret: 'short' }, /^rr\.secret must be at least 32 characters long/],
    ['sticky', { secret: [SECRET, 7] }, /^rr\.secret must be at least 32/],
    ['sticky', { secret: [] }, /^rr\.secret must be a string or a non-empty array/],
    ['sticky', { secret: SECRET, cookieName: 'a b' }, /^rr\.cookieName must be a non-empty cookie name token/],
    ['sticky', { secret: SECRET, cookie: { path: 'api' } }, /^rr\.cookie\.path must be a path starting with \//],
    ['sticky', { secret: SECRET, cookie: { domain: 'a;b' } }, /^rr\.cookie\.domain/],
    ['sticky', { secret: SECRET, cookie: { maxAge: -1 } }, /^rr\.cookie\.maxAge/],
    ['sticky', { secret: SECRET, cookie: { secure: 'yes' } }, /^rr\.cookie\.secure must be a boolean/],
    ['sticky', { secret: SECRET, cookie: { sameSite: 'loose' } }, /^rr\.cookie\.sameSite must be 'strict', 'lax' or 'none'/],
    ['sticky', { secret: SECRET, cookie: { sameSite: 'none' } }, /^rr\.cookie\.sameSite 'none' requires cookie\.secure: true/],
    ['sticky', { secret: SECRET, cookie: { expires: 1 } }, /^rr\.cookie\.expires is not an option/],
    ['sticky', { secret: SECRET, base: 'sticky' }, /^rr\.base must be one of/],
    ['sticky', { secret: SECRET, base: 'p2c', baseOptions: { choiceCount: 0 } }, /^rr\.baseOptions\.choiceCount/],
    ['sticky', { secret: SECRET, baseOptions: { choiceCount: 3 } }, /^rr\.baseOptions must be omitted: round-robin takes no options/]
  ]
  for (const [algorithm, raw, message] of cases) {
    t.throws(() => validatePickerOptions(algorithm, raw, 'rr'), message, `${algorithm} ${JSON.stringify(raw)}`)
  }
  try { validatePickerOptions('p2c', { choiceCount: 0 }, 'p2c') } catch (err) {
    t.ok(err instanceof PickerOptionError && err instanceof TypeError)
    t.equal((err as PickerOptionError).code, 'SWY_BALANCER_INVALID_OPTION')
  }
})

t.test('the factories validate too', async (t) => {
  const { createPicker, ManualClock, systemRandom } = await import('@switchyard/balancer/pickers')
  const deps = { random: systemRandom, clock: new ManualClock() }
  t.throws(() => createPicker('sticky', deps), /sticky\.secret is required/)
  t.throws(() => createPicker('consistent-hash', deps, { tableSize: 100 }), /consistentHash\.tableSize/)
  t.throws(() => createPicker('peak-ewma', deps, { decayTime: -1 }), /peakEwma\.decayTime/)
  t.throws(() => createPicker('p2c', deps, { choiceCount: 1 }), /p2c\.choiceCount/)
})

t.test('buildPicker builds from resolved options without validating again', async (t) => {
  const { ALGORITHMS, buildPicker, ManualClock, SeededRandom, Upstream } = await import('@switchyard/balancer/pickers')
  const deps = { random: new SeededRandom(1), clock: new ManualClock() }
  const raw: Record<string, unknown> = { sticky: { secret: SECRET, base: 'p2c', baseOptions: { choiceCount: 3 } } }
  const list = [new Upstream({ url: 'http://10.0.0.1:80', weight: 1, backup: false, name: 'a' })]
  for (const algorithm of ALGORITHMS) {
    const resolved = validatePickerOptions(algorithm, raw[algorithm], algorithm)
    const picker = buildPicker(algorithm, deps, resolved)
    picker.refresh(list)
    t.equal(picker.pick({ tried: [], hash: 1, now: 0, affinity: undefined }), list[0], algorithm)
  }
})
