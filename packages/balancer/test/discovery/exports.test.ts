import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// The BUILT package, as a user installs it: the Fastify-free `./discovery` subpath (what @switchyard/health loads
// for `announce`) and the discovery types on the main entry.
const packageDir = fileURLToPath(new URL('../..', import.meta.url))

function run (args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }).trim()
}

t.test('CommonJS require of @switchyard/balancer/discovery loads no Fastify', async (t) => {
  const out = run(['-e', `
    const d = require('@switchyard/balancer/discovery')
    const fastifyLoaded = Object.keys(require.cache).some((p) => /[\\/]node_modules[\\/](fastify|@fastify[\\/]http-proxy)[\\/]/.test(p))
    const m = require('@switchyard/balancer')
    console.log(JSON.stringify([typeof d.RegistryAnnouncer, typeof d.RegistryWatcher, typeof d.DnsDiscovery, typeof d.diffMembers,
      d.registryKeys('orders').members, m.RegistryAnnouncer === d.RegistryAnnouncer, m.DEFAULT_ADMIN_PREFIX, fastifyLoaded]))
  `])
  t.same(JSON.parse(out), ['function', 'function', 'function', 'function', '{switchyard:orders}:members', true, '/_switchyard/admin', false])
})

t.test('ESM import of @switchyard/balancer/discovery', async (t) => {
  const out = run(['--input-type=module', '-e', `
    import { RegistryAnnouncer, resolveDnsDiscoveryOptions } from '@switchyard/balancer/discovery'
    console.log(JSON.stringify([typeof RegistryAnnouncer, resolveDnsDiscoveryOptions({ dns: 'a', port: 1 }).port]))
  `])
  t.same(JSON.parse(out), ['function', 1])
})
