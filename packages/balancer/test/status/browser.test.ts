// The status page in a real headless browser (Debian's chromium driven by playwright-core): it loads, shows
// three upstreams, and a backend killed with SIGKILL turns `down` on screen within the health-check window.
// Leaves a screenshot in test-output/status-page.png.
import { accessSync, constants, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import t from 'tap'
import { request } from 'undici'
import balancer from '@switchyard/balancer'
import { startBackends, startGateway, waitFor } from '@switchyard/test-harness'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const OUTPUT = fileURLToPath(new URL('../../../../test-output/', import.meta.url))
const HEALTH = { interval: 300, timeout: 200, jitter: 0, unhealthyThreshold: 2, healthyThreshold: 1 }
/** From the kill to a `down` verdict: the failing probes, the last one's timeout. */
const HEALTH_CHECK_WINDOW = HEALTH.interval * HEALTH.unhealthyThreshold + HEALTH.timeout
/** The page polls every second; a shared 2-core machine gets some slack on top. */
const ON_SCREEN_WITHIN = HEALTH_CHECK_WINDOW + 1000 + 2000

t.test('status page in chromium: three upstreams, a SIGKILLed one turns down on screen', async (t) => {
  try {
    accessSync(CHROMIUM, constants.X_OK)
  } catch {
    t.fail(`no chromium at ${CHROMIUM}: run the bootstrap (it installs Debian's chromium) or set CHROMIUM_PATH`)
    return
  }
  const backends = await startBackends(t, 3, {
    names: ['api-1', 'api-2', 'api-3'],
    behaviour: (i) => ({ delay: [2, 6, 12][i]! })
  })
  const gateway = await startGateway(t, (app) => app.register(balancer, {
    upstreams: backends.list.map((b) => ({ url: b.url, name: b.name })),
    healthCheck: HEALTH,
    metrics: true,
    statusPage: { token: 'let-me-in' }
  }))

  // Light traffic all along, so the rows have rates, latencies and charts.
  const load = { stop: false }
  const traffic = Promise.all([0, 1, 2].map(async () => {
    while (!load.stop) {
      try {
        const res = await request(`${gateway.url}/orders`)
        await res.body.dump()
      } catch {}
    }
  }))
  t.teardown(async () => {
    load.stop = true
    await traffic
  })

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run']
  })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage({ viewport: { width: 1440, height: 400 }, deviceScaleFactor: 1 })
  const denied = await page.goto(`${gateway.url}/_switchyard`)
  t.equal(denied?.status(), 401, 'no token, no page')

  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (err) => { problems.push(err.message) })
  const external: string[] = []
  page.on('request', (req) => { if (!req.url().startsWith(gateway.url)) external.push(req.url()) })
  const response = await page.goto(`${gateway.url}/_switchyard?token=let-me-in`)
  t.equal(response?.status(), 200)

  const rows = page.locator('#rows tr')
  // Locators only: the page's CSP forbids eval, which string predicates would need.
  await page.locator('#rows tr[data-state="up"]').nth(2).waitFor({ timeout: 10_000 })
  t.same(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-upstream'))), ['api-1', 'api-2', 'api-3'], 'three upstreams')
  t.match(await page.locator('#live').textContent(), /^live/, 'the page polls its JSON')
  t.equal(await page.locator('#set-state').getAttribute('data-state'), 'normal')
  // Rates and health checks on screen.
  await waitFor(async () => (await page.locator('#rows td.rps').allTextContents()).every((text) => Number(text) > 0),
    { timeout: 10_000, message: 'req/s on every row' })
  t.match(await page.locator('tr[data-upstream="api-1"] .hc').textContent(), /HTTP 200/)

  const killedAt = Date.now()
  await backends.kill(1, 'SIGKILL')
  await page.waitForSelector('tr[data-upstream="api-2"] td.state[data-state="down"]', { timeout: ON_SCREEN_WITHIN + 5000 })
  const downAfter = Date.now() - killedAt
  t.ok(downAfter <= ON_SCREEN_WITHIN, `down on screen ${downAfter} ms after SIGKILL (health-check window ${HEALTH_CHECK_WINDOW} ms + one poll)`)
  // The active health check's verdict follows within the window too (traffic may show the refused connections first).
  await page.locator('tr[data-upstream="api-2"] .detail', { hasText: 'health check failed' }).waitFor({ timeout: ON_SCREEN_WITHIN })
  t.ok(Date.now() - killedAt <= ON_SCREEN_WITHIN + 1000, 'the health check says so as well')
  t.match(await page.locator('tr[data-upstream="api-2"] .hc').textContent(), /ECONNREFUSED/)
  t.same(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-state'))), ['up', 'down', 'up'], 'the others stay up')
  t.match(await page.locator('#eligible').textContent(), /2 \/ 3/)

  mkdirSync(OUTPUT, { recursive: true })
  await page.screenshot({ path: `${OUTPUT}status-page.png`, fullPage: true })
  t.same(problems, [], 'no script error, no CSP violation')
  t.same(external, [], 'nothing fetched from anywhere else')
})
