/**
 * `npm run bench [name…]`: runs the benchmarks (all, or those named) one after another and prints each one's
 * table and ratios. Every figure is measured against its peer in the same run.
 */
const suites: Record<string, string> = {
  'proxy-overhead': './proxy-overhead.ts',
  failover: './failover.ts',
  pickers: './pickers.ts',
  'slow-backend': './slow-backend.ts',
  chaos: './chaos.ts',
  'health-endpoint': './health-endpoint.ts',
  'session-store': './session-store.ts',
  metrics: './metrics.ts',
  'rolling-restart': './rolling-restart.ts'
}

const { existsSync } = await import('node:fs')
const { fileURLToPath } = await import('node:url')
const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(name in suites))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(suites).join(', ')}`)
  process.exit(2)
}
for (const [name, file] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  const url = new URL(file, import.meta.url)
  if (!existsSync(fileURLToPath(url))) continue
  console.log(`\n# ${name}`)
  const mod = await import(url.href) as { main: () => Promise<unknown> }
  await mod.main()
}
