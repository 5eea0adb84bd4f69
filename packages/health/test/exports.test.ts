/**
 * The BUILT package, as users get it: `require('@switchyard/health')` and `import … from '@switchyard/health'`
 * resolve dist/ through the exports map (self-reference, cwd = packages/health, no source condition), export
 * the plugin as default and named, and register into Fastify. The .d.ts files carry the fastify augmentation.
 */
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const BUILT = ['dist/esm/index.js', 'dist/commonjs/index.js', 'dist/esm/index.d.ts', 'dist/commonjs/index.d.ts']

async function node (args: string[]): Promise<Record<string, unknown>> {
  // A clean environment: no tap loaders, no @switchyard/source condition.
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await run(process.execPath, args, { cwd: PACKAGE, env, timeout: 20_000 })
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
}

// The same probe in both module systems: shape of the exports, then a real register + inject.
const PROBE = `
  const shape = {
    resolved: RESOLVED,
    defaultIsFunction: typeof m.default === 'function',
    defaultIsNamed: m.default === m.health,
    checks: ['redisCheck', 'httpCheck', 'eventLoopDelayCheck', 'eventLoopUtilizationCheck', 'heapCheck', 'rssCheck'].filter((k) => typeof m[k] === 'function'),
    errorCode: new m.InvalidOptionError('x').code,
    defaultTimeout: m.DEFAULT_TIMEOUT
  }
  const app = Fastify()
  app.register(m.health, { exposeDetails: true, checks: { 'heap:used': m.heapCheck() } })
  app.inject('/health/ready').then(async (res) => {
    shape.status = res.statusCode
    shape.contentType = res.headers['content-type']
    shape.body = res.json().status
    shape.decorated = typeof app.health.drain
    await app.close()
    console.log(JSON.stringify(shape))
  })
`

t.test('dist/ exists (the README test command builds before testing)', async (t) => {
  const missing = BUILT.filter((file) => !existsSync(new URL(`../${file}`, import.meta.url)))
  t.same(missing, [], missing.length === 0
    ? 'built'
    : `packages/health/${missing.join(', ')} missing: run the README test command, which builds first (or: cd packages/health && ../../node_modules/.bin/tshy)`)
})

t.test('CommonJS: require() resolves dist/commonjs, default === named, plugin registers', async (t) => {
  if (!BUILT.every((file) => existsSync(new URL(`../${file}`, import.meta.url)))) {
    t.fail('dist/ missing: run the README test command, which builds first')
    return
  }
  const out = await node(['-e', `const m = require('@switchyard/health'); const Fastify = require('fastify'); const RESOLVED = require.resolve('@switchyard/health');\n${PROBE}`])
  t.match(out.resolved, /dist\/commonjs\/index\.js$/)
  t.match(out, {
    defaultIsFunction: true,
    defaultIsNamed: true,
    checks: ['redisCheck', 'httpCheck', 'eventLoopDelayCheck', 'eventLoopUtilizationCheck', 'heapCheck', 'rssCheck'],
    errorCode: 'SWY_HEALTH_INVALID_OPTION',
    defaultTimeout: 1000,
    status: 200,
    contentType: /^application\/health\+json/,
    body: 'pass',
    decorated: 'function'
  })
})

t.test('ESM: import resolves dist/esm, default === named, plugin registers', async (t) => {
  if (!BUILT.every((file) => existsSync(new URL(`../${file}`, import.meta.url)))) {
    t.fail('dist/ missing: run the README test command, which builds first')
    return
  }
  const out = await node(['--input-type=module', '-e', `import * as m from '@switchyard/health'; import health from '@switchyard/health'; import Fastify from 'fastify'; const RESOLVED = import.meta.resolve('@switchyard/health'); if (health !== m.health) throw new Error('default import is not the named export');\n${PROBE}`])
  t.match(out.resolved, /dist\/esm\/index\.js$/)
  t.match(out, { defaultIsFunction: true, defaultIsNamed: true, errorCode: 'SWY_HEALTH_INVALID_OPTION', status: 200, body: 'pass', decorated: 'function' })
  t.equal((out.checks as string[]).length, 6)
})

t.test('type declarations: both builds declare fastify.health', async (t) => {
  for (const dialect of ['esm', 'commonjs']) {
    const file = new URL(`../dist/${dialect}/plugin.d.ts`, import.meta.url)
    if (!existsSync(file)) { t.fail(`dist/${dialect}/plugin.d.ts missing: run the README test command, which builds first`); continue }
    const dts = readFileSync(file, 'utf8')
    t.match(dts, /declare module 'fastify'[\s\S]*health: HealthApi/, `${dialect} augments FastifyInstance`)
  }
})
