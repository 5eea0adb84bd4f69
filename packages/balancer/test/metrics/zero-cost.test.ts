// Deliberately no import of prom-client here: the test checks that a balancer without metrics never loads it.
import { createRequire } from 'node:module'
import t from 'tap'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { startBackends, startGateway } from '@switchyard/test-harness'

const require = createRequire(import.meta.url)
/** prom-client is CommonJS, so once loaded (even through `import()`) it sits in the CommonJS module cache. */
const promClientLoaded = (): boolean => Object.keys(require.cache).some((file) => /[/\\]prom-client[/\\]/.test(file))

t.test('off by default: no observer, no route, prom-client never loaded', async (t) => {
  const backends = await startBackends(t, 1)
  const gateway = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls }))
  t.equal(gateway.app.balancer.observer, null, 'the engine pays one null check per attempt, nothing more')
  for (const url of ['/metrics', '/_switchyard', '/_switchyard/status.json']) {
    t.notOk(gateway.app.hasRoute({ method: 'GET', url }), `no ${url} route`)
  }
  const res = await request(`${gateway.url}/metrics`)
  t.equal(res.headers['x-backend'], 'backend-0', '/metrics is just another proxied path')
  await res.body.dump()
  t.notOk(promClientLoaded(), 'prom-client is not loaded')
  t.equal(gateway.app.balancer.observer, null, 'still none after traffic')

  // Sanity check of the probe above: turning metrics on loads it and sets the observer.
  const observed = await startGateway(t, (app) => app.register(balancer, { upstreams: backends.urls, metrics: true }))
  t.ok(promClientLoaded(), 'metrics on: prom-client loaded')
  t.not(observed.app.balancer.observer, null)
  t.ok(observed.app.hasRoute({ method: 'GET', url: '/metrics' }))
  t.notOk(observed.app.hasRoute({ method: 'GET', url: '/_switchyard' }), 'the status page stays off')
  await observed.app.close()
  t.equal(observed.app.balancer.observer, null, 'closing detaches the observer')
})
