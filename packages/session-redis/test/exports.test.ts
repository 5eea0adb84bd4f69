/**
 * The BUILT package (dist/), as a user installs it: CommonJS `require` and ESM `import` by the package name
 * (self-reference from the package folder, without the source condition, so dist/ is what loads).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const built = existsSync(new URL('../dist/commonjs/index.js', import.meta.url)) &&
  existsSync(new URL('../dist/esm/index.js', import.meta.url))

function run (args: string[]): string {
  return execFileSync(process.execPath, args, {
    cwd: packageDir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }
  }).trim()
}

t.test('the build exists', async (t) => {
  t.ok(built, 'dist/ is missing: run the README test command, which builds first')
})

t.test('CommonJS require: default, named, errors, and a working store', { skip: !built && 'no dist/' }, async (t) => {
  const out = run(['-e', `
    const m = require('@switchyard/session-redis')
    const { Redis } = require('ioredis')
    const client = new Redis({ lazyConnect: true })
    const store = new m.RedisStore({ client })
    console.log(JSON.stringify([
      require.resolve('@switchyard/session-redis').includes('dist/commonjs'),
      typeof m.default, m.default === m.RedisStore, typeof store.get, typeof store.set, typeof store.destroy,
      typeof store.touch, new m.RedisUnavailableError('x').statusCode, new m.RedisTimeoutError(1).code,
      m.DEFAULT_PREFIX, Object.isFrozen(store.options)
    ]))
  `])
  t.same(JSON.parse(out), [
    true, 'function', true, 'function', 'function', 'function', 'function', 503, 'SWY_SESSION_REDIS_TIMEOUT', 'sess:', true
  ])
})

t.test('ESM import: default, named, errors', { skip: !built && 'no dist/' }, async (t) => {
  const out = run(['--input-type=module', '-e', `
    import RedisStore, { RedisStore as named, SessionTooLargeError, InvalidOptionError, validateOptions } from '@switchyard/session-redis'
    const resolved = import.meta.resolve('@switchyard/session-redis')
    let code
    try { validateOptions({}) } catch (err) { code = err instanceof InvalidOptionError && err.code }
    console.log(JSON.stringify([resolved.includes('dist/esm'), typeof RedisStore, RedisStore === named,
      new SessionTooLargeError(2, 1).code, code]))
  `])
  t.same(JSON.parse(out), [true, 'function', true, 'SWY_SESSION_TOO_LARGE', 'SWY_SESSION_INVALID_OPTION'])
})
