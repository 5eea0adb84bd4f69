import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// These run the BUILT package (dist/), as a user installs it: `require` and `import`, by the package name.
const packageDir = fileURLToPath(new URL('..', import.meta.url))

function run (args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }).trim()
}

t.test('the build exists', async (t) => {
  t.ok(existsSync(new URL('../dist/commonjs/index.js', import.meta.url)), 'dist/ is missing: run the README test command, which builds first')
})

t.test('CommonJS require: default, named and the pickers subpath', async (t) => {
  const out = run(['-e', `
    const m = require('@switchyard/balancer')
    const p = require('@switchyard/balancer/pickers')
    console.log(JSON.stringify([typeof m.default, m.default === m.balancer, typeof m.validateOptions,
      m.default[Symbol.for('fastify.display-name')], typeof p.RoundRobinPicker, typeof p.pickers['round-robin']]))
  `])
  t.same(JSON.parse(out), ['function', true, 'function', '@switchyard/balancer', 'function', 'function'])
})

t.test('ESM import: default, named and the pickers subpath', async (t) => {
  const out = run(['--input-type=module', '-e', `
    import balancer, { balancer as named, BadGatewayError } from '@switchyard/balancer'
    import { RoundRobinPicker } from '@switchyard/balancer/pickers'
    console.log(JSON.stringify([typeof balancer, balancer === named, new BadGatewayError('x').statusCode, typeof RoundRobinPicker]))
  `])
  t.same(JSON.parse(out), ['function', true, 502, 'function'])
})
