import dns2 from 'dns2'
import { waitFor } from '@switchyard/test-harness'
import t, { type Test } from 'tap'
import type { MembershipChange } from '../../src/discovery/diff.js'
import {
  DnsDiscovery, type DnsDiscoveryOptions, failureDelay, membersFromAddresses, membersFromSrv, memberUrl, refreshDelay,
  resolveDnsDiscoveryOptions
} from '../../src/discovery/dns.js'
import { ManualClock, systemClock } from '../../src/util/clock.js'

const { Packet } = dns2

interface AddressRecord { address: string, ttl: number }
interface SrvAnswer { priority: number, weight: number, port: number, target: string, ttl: number }

/** A DNS server on loopback whose records and failure mode a test changes while discovery runs. */
interface Zone {
  a: Map<string, AddressRecord[]>
  aaaa: Map<string, AddressRecord[]>
  srv: Map<string, SrvAnswer[]>
  /** `answer` normally; `servfail`/`nxdomain` answer with that rcode; `silent` never answers (a timeout). */
  mode: 'answer' | 'servfail' | 'nxdomain' | 'silent'
  /** Names that answer SERVFAIL whatever the mode. */
  failing: Set<string>
  queries: Array<{ name: string, type: string }>
  /** `127.0.0.1:<port>`, for `servers`. */
  server: string
}

const TYPE_NAMES: Record<number, string> = { [Packet.TYPE.A]: 'A', [Packet.TYPE.AAAA]: 'AAAA', [Packet.TYPE.SRV]: 'SRV' }

async function startDns (t: Test): Promise<Zone> {
  const zone: Zone = { a: new Map(), aaaa: new Map(), srv: new Map(), mode: 'answer', failing: new Set(), queries: [], server: '' }
  const server = dns2.createServer({
    udp: true,
    handle (request, send) {
      const response = Packet.createResponseFromRequest(request)
      const question = request.questions[0]!
      const name = question.name.toLowerCase()
      zone.queries.push({ name, type: TYPE_NAMES[question.type] ?? String(question.type) })
      if (zone.mode === 'silent') return
      if (zone.mode === 'servfail' || zone.failing.has(name)) {
        response.header.rcode = 2
      } else if (zone.mode === 'nxdomain') {
        response.header.rcode = 3
      } else if (question.type === Packet.TYPE.A || question.type === Packet.TYPE.AAAA) {
        const v6 = question.type === Packet.TYPE.AAAA
        for (const r of (v6 ? zone.aaaa : zone.a).get(name) ?? []) {
          response.answers.push({ name, type: question.type, class: Packet.CLASS.IN, ttl: r.ttl, address: r.address } as never)
        }
      } else if (question.type === Packet.TYPE.SRV) {
        for (const r of zone.srv.get(name) ?? []) {
          response.answers.push({ name, type: Packet.TYPE.SRV, class: Packet.CLASS.IN, ...r } as never)
        }
      }
      send(response).catch(() => {})
    }
  })
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } })
  t.teardown(async () => { await server.close() })
  zone.server = `127.0.0.1:${addresses.udp!.port}`
  return zone
}

interface Recorder {
  changes: MembershipChange[]
  warnings: Array<{ obj: object, msg: string }>
  log: { info: () => void, warn: (obj: object, msg: string) => void }
  onChange: (change: MembershipChange) => void
}

function recorder (): Recorder {
  const r: Recorder = {
    changes: [],
    warnings: [],
    log: { info () {}, warn (obj, msg) { r.warnings.push({ obj, msg }) } },
    onChange (change) { r.changes.push(change) }
  }
  return r
}

function discovery (t: Test, zone: Zone, options: Omit<DnsDiscoveryOptions, 'servers'>, clock = new ManualClock()): { d: DnsDiscovery, r: Recorder, clock: ManualClock } {
  const r = recorder()
  const d = new DnsDiscovery(resolveDnsDiscoveryOptions({ timeout: 200, ...options, servers: [zone.server] }),
    { onChange: r.onChange, log: r.log, clock })
  t.teardown(async () => { await d.close() })
  return { d, r, clock }
}

/** Fires the refresh timer and waits for that resolution to finish. */
async function tick (d: DnsDiscovery, clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms)
  await d.refresh() // joins the resolution the timer started
}

const urls = (d: DnsDiscovery): string[] => d.members.map((m) => m.url)

t.test('options are validated once, with the option path in each message', async (t) => {
  const ok = resolveDnsDiscoveryOptions({ dns: 'api.internal', port: 8080 })
  t.same({ ...ok, refresh: { ...ok.refresh } }, {
    dns: 'api.internal', srv: false, port: 8080, family: 0, refresh: { min: 1000, max: 60_000 }, servers: null, protocol: 'http', timeout: 2000
  })
  t.ok(Object.isFrozen(ok))
  const srv = resolveDnsDiscoveryOptions({ dns: '_http._tcp.api.internal', refresh: { min: 5, max: 10 }, servers: ['127.0.0.1:53535', '::1'] })
  t.equal(srv.srv, true)
  t.equal(srv.port, 0)
  t.same(srv.servers, ['127.0.0.1:53535', '::1'])
  const bad: Array<[unknown, RegExp]> = [
    [null, /upstreams must be an object/],
    [{ dns: 'a', port: 1, nope: 1 }, /upstreams\.nope is not a DNS discovery option/],
    [{ dns: '' }, /upstreams\.dns must be a host name/],
    [{ dns: 'http://api.internal', port: 80 }, /not a URL/],
    [{ dns: '10.0.0.1', port: 80 }, /not an IP address/],
    [{ dns: 'api.internal' }, /upstreams\.port must be an integer from 1 to 65535 .*SRV names start with _/],
    [{ dns: 'api.internal', port: 70000 }, /upstreams\.port/],
    [{ dns: '_http._tcp.api', port: 80 }, /must not be set for an SRV name/],
    [{ dns: 'a', port: 1, family: 5 }, /upstreams\.family must be 0, 4 or 6/],
    [{ dns: 'a', port: 1, refresh: 5 }, /upstreams\.refresh must be an object/],
    [{ dns: 'a', port: 1, refresh: { every: 5 } }, /upstreams\.refresh\.every is not a refresh option/],
    [{ dns: 'a', port: 1, refresh: { min: -1 } }, /upstreams\.refresh\.min must be a positive number/],
    [{ dns: 'a', port: 1, refresh: { min: 100, max: 50 } }, /upstreams\.refresh\.max \(50\) must not be smaller/],
    [{ dns: 'a', port: 1, servers: [] }, /upstreams\.servers must be a non-empty array/],
    [{ dns: 'a', port: 1, servers: ['dns.google'] }, /upstreams\.servers must list IP addresses/],
    [{ dns: 'a', port: 1, protocol: 'ftp' }, /upstreams\.protocol/],
    [{ dns: 'a', port: 1, timeout: 0 }, /upstreams\.timeout/]
  ]
  for (const [raw, message] of bad) {
    t.throws(() => resolveDnsDiscoveryOptions(raw), { code: 'SWY_BALANCER_INVALID_OPTION', message }, String(message))
  }
})

t.test('records map to members (pure)', async (t) => {
  t.equal(memberUrl('http', '10.0.0.1', 8080), 'http://10.0.0.1:8080')
  t.equal(memberUrl('http', 'fd00::1', 8080), 'http://[fd00::1]:8080')
  t.equal(memberUrl('http', '10.0.0.1', 80), 'http://10.0.0.1', 'default port dropped, as Upstream normalises')
  t.same(membersFromAddresses('api', [{ address: '10.0.0.2', ttl: 5 }, { address: '::1', ttl: 5 }, { address: '10.0.0.2', ttl: 1 }], 81), [
    { url: 'http://10.0.0.2:81', weight: 1, backup: false, name: 'api/10.0.0.2:81' },
    { url: 'http://[::1]:81', weight: 1, backup: false, name: 'api/[::1]:81' }
  ], 'one member per address, duplicates merged')
  const addressesOf = new Map([
    ['a.svc', [{ address: '10.0.0.1', ttl: 5 }]],
    ['b.svc', [{ address: '10.0.0.2', ttl: 5 }, { address: '10.0.0.3', ttl: 5 }]],
    ['c.svc', [{ address: '10.0.0.4', ttl: 5 }]]
  ])
  t.same(membersFromSrv([
    { name: 'a.svc', port: 80, priority: 10, weight: 60 },
    { name: 'b.svc', port: 81, priority: 10, weight: 0 },
    { name: 'c.svc', port: 82, priority: 20, weight: 5 },
    { name: '.', port: 0, priority: 0, weight: 0 },
    { name: 'unknown.svc', port: 83, priority: 10, weight: 1 }
  ], addressesOf), [
    { url: 'http://10.0.0.1', weight: 60, backup: false, name: 'a.svc/10.0.0.1:80' },
    { url: 'http://10.0.0.2:81', weight: 1, backup: false, name: 'b.svc/10.0.0.2:81' },
    { url: 'http://10.0.0.3:81', weight: 1, backup: false, name: 'b.svc/10.0.0.3:81' },
    { url: 'http://10.0.0.4:82', weight: 5, backup: true, name: 'c.svc/10.0.0.4:82' }
  ], 'lowest priority = primaries, higher = backups; weight 0 → 1; "." skipped; "." does not count as lowest priority')
  t.same(membersFromSrv([{ name: '.', port: 0, priority: 0, weight: 0 }], addressesOf), [])
})

t.test('refresh delay: the TTL clamped to [min, max]; failures back off from min to max (pure)', async (t) => {
  const refresh = { min: 1000, max: 60_000 }
  t.equal(refreshDelay(5, refresh), 5000)
  t.equal(refreshDelay(0, refresh), 1000, 'TTL 0: the floor')
  t.equal(refreshDelay(86_400, refresh), 60_000, 'a day: the ceiling')
  t.equal(refreshDelay(Infinity, refresh), 1000)
  t.same([1, 2, 3, 4, 7, 100].map((n) => failureDelay(n, refresh)), [1000, 2000, 4000, 8000, 60_000, 60_000])
})

t.test('A records: one upstream per address; the pool follows the records, on the TTL', async (t) => {
  const zone = await startDns(t)
  zone.a.set('api.test', [{ address: '127.0.0.2', ttl: 5 }, { address: '127.0.0.3', ttl: 7 }])
  const { d, r, clock } = discovery(t, zone, { dns: 'api.test', port: 8080, refresh: { min: 100, max: 60_000 } })
  await d.start()
  t.same(urls(d), ['http://127.0.0.2:8080', 'http://127.0.0.3:8080'])
  t.equal(r.changes.length, 1)
  t.same(r.changes[0]!.added.map((m) => m.name), ['api.test/127.0.0.2:8080', 'api.test/127.0.0.3:8080'])
  t.equal(d.nextRefreshIn, 5000, 'the smallest TTL of the answer')

  zone.a.set('api.test', [{ address: '127.0.0.3', ttl: 2 }, { address: '127.0.0.4', ttl: 2 }])
  const asked = zone.queries.length
  clock.advance(4999)
  t.equal(zone.queries.length, asked, 'not asked again before the TTL runs out')
  await tick(d, clock, 1)
  t.equal(zone.queries.length, asked + 1, 'asked once the TTL ran out')
  t.same(urls(d), ['http://127.0.0.3:8080', 'http://127.0.0.4:8080'])
  t.same(r.changes[1]!.added.map((m) => m.url), ['http://127.0.0.4:8080'])
  t.same(r.changes[1]!.removed.map((m) => m.url), ['http://127.0.0.2:8080'])
  t.equal(d.nextRefreshIn, 2000)

  await tick(d, clock, 2000)
  t.equal(r.changes.length, 2, 'the same answer is not a change')

  zone.a.set('api.test', [{ address: '127.0.0.4', ttl: 0 }])
  await tick(d, clock, 2000)
  t.equal(d.nextRefreshIn, 100, 'TTL 0: the floor')
  zone.a.set('api.test', [{ address: '127.0.0.4', ttl: 86_400 }])
  await tick(d, clock, 100)
  t.equal(d.nextRefreshIn, 60_000, 'a day: the ceiling')
  t.equal(clock.pending, 1, 'one timer armed at a time')
  await d.close()
  t.equal(clock.pending, 0, 'close() cancels the timer')
})

t.test('with the real clock the pool follows a changed record within its TTL', async (t) => {
  const zone = await startDns(t)
  zone.a.set('live.test', [{ address: '127.0.0.2', ttl: 1 }])
  const { d } = discovery(t, zone, { dns: 'live.test', port: 3000, refresh: { min: 100, max: 1000 } }, systemClock as ManualClock)
  await d.start()
  t.same(urls(d), ['http://127.0.0.2:3000'])
  const changedAt = Date.now()
  zone.a.set('live.test', [{ address: '127.0.0.5', ttl: 1 }])
  await waitFor(() => urls(d)[0] === 'http://127.0.0.5:3000', { timeout: 3000, message: 'the new address' })
  t.ok(Date.now() - changedAt < 1500, 'seen within the 1 s TTL (+ slack)')
})

t.test('a failed resolution keeps the last good set, logs, backs off, and recovers', async (t) => {
  const zone = await startDns(t)
  zone.a.set('api.test', [{ address: '127.0.0.2', ttl: 1 }, { address: '127.0.0.3', ttl: 1 }])
  const { d, r, clock } = discovery(t, zone, { dns: 'api.test', port: 80, refresh: { min: 500, max: 4000 }, timeout: 100 })
  await d.start()
  const good = urls(d)
  t.same(good, ['http://127.0.0.2', 'http://127.0.0.3'])

  const delays: number[] = []
  for (const mode of ['servfail', 'nxdomain', 'silent', 'servfail'] as const) {
    zone.mode = mode
    await tick(d, clock, d.nextRefreshIn)
    t.same(urls(d), good, `${mode}: the pool is kept`)
    delays.push(d.nextRefreshIn)
  }
  t.same(delays, [500, 1000, 2000, 4000], 'backoff from min, capped at max')
  t.equal(r.changes.length, 1, 'no change reported while failing')
  t.equal(r.warnings.length, 4)
  t.match(r.warnings[0], { obj: { dns: 'api.test', failures: 1, keeping: 2, retryIn: 500 }, msg: /keeping the last good members/ })
  t.match(r.warnings[2]!.obj, { err: /ETIMEOUT|timeout/i }, 'a server that never answers times out')
  t.ok(d.lastError instanceof Error)

  zone.mode = 'answer'
  zone.a.set('api.test', [])
  await tick(d, clock, d.nextRefreshIn)
  t.same(urls(d), good, 'an empty answer is a failure too: never an empty pool')
  t.match(r.warnings[4], { msg: /resolution failed/ })

  zone.a.set('api.test', [{ address: '127.0.0.3', ttl: 1 }])
  await tick(d, clock, d.nextRefreshIn)
  t.same(urls(d), ['http://127.0.0.3'], 'recovered')
  t.equal(d.nextRefreshIn, 1000, 'back to the TTL')
  t.equal(d.lastError, null)
})

t.test('a name that fails at start has no members yet, and is retried', async (t) => {
  const zone = await startDns(t)
  zone.mode = 'servfail'
  const { d, r, clock } = discovery(t, zone, { dns: 'late.test', port: 80, refresh: { min: 200, max: 1000 } })
  await d.start()
  t.same(urls(d), [])
  t.match(r.warnings[0], { msg: /no members yet/ })
  zone.mode = 'answer'
  zone.a.set('late.test', [{ address: '127.0.0.9', ttl: 30 }])
  await tick(d, clock, 200)
  t.same(urls(d), ['http://127.0.0.9'])
})

t.test('family: 0 prefers A and falls back to AAAA; 4 and 6 ask for one type only', async (t) => {
  const zone = await startDns(t)
  zone.aaaa.set('v6.test', [{ address: '::1', ttl: 30 }])
  zone.a.set('dual.test', [{ address: '127.0.0.2', ttl: 30 }])
  zone.aaaa.set('dual.test', [{ address: '::2', ttl: 30 }])

  const v6 = discovery(t, zone, { dns: 'v6.test', port: 81 }).d
  await v6.start()
  t.same(urls(v6), ['http://[::1]:81'], 'family 0, no A record: AAAA')

  const dual = discovery(t, zone, { dns: 'dual.test', port: 81 }).d
  await dual.start()
  t.same(urls(dual), ['http://127.0.0.2:81'], 'family 0 with both: A only, not one member per family')

  const only6 = discovery(t, zone, { dns: 'dual.test', port: 81, family: 6 }).d
  await only6.start()
  t.same(urls(only6), ['http://[::2]:81'])

  const only4 = discovery(t, zone, { dns: 'v6.test', port: 81, family: 4 })
  await only4.d.start()
  t.same(urls(only4.d), [], 'family 4 and no A record: nothing')
  t.equal(only4.r.warnings.length, 1)

  zone.failing.add('dual.test')
  const queriesBefore = zone.queries.length
  const failing = discovery(t, zone, { dns: 'dual.test', port: 81 })
  await failing.d.start()
  t.same(zone.queries.slice(queriesBefore).map((q) => q.type), ['A'], 'a SERVFAIL on A is a failure, not a reason to ask for AAAA')
})

t.test('SRV records: priority → backup, weight → weight, target:port; TTL from the targets', async (t) => {
  const zone = await startDns(t)
  zone.srv.set('_http._tcp.api.test', [
    { priority: 10, weight: 3, port: 8081, target: 'a.api.test', ttl: 60 },
    { priority: 10, weight: 1, port: 8082, target: 'b.api.test', ttl: 60 },
    { priority: 20, weight: 1, port: 8083, target: 'c.api.test', ttl: 60 }
  ])
  zone.a.set('a.api.test', [{ address: '127.0.0.11', ttl: 8 }])
  zone.a.set('b.api.test', [{ address: '127.0.0.12', ttl: 4 }, { address: '127.0.0.13', ttl: 4 }])
  zone.a.set('c.api.test', [{ address: '127.0.0.14', ttl: 9 }])
  const { d, r, clock } = discovery(t, zone, { dns: '_http._tcp.api.test', refresh: { min: 100, max: 60_000 } })
  await d.start()
  t.same(d.members, [
    { url: 'http://127.0.0.11:8081', weight: 3, backup: false, name: 'a.api.test/127.0.0.11:8081' },
    { url: 'http://127.0.0.12:8082', weight: 1, backup: false, name: 'b.api.test/127.0.0.12:8082' },
    { url: 'http://127.0.0.13:8082', weight: 1, backup: false, name: 'b.api.test/127.0.0.13:8082' },
    { url: 'http://127.0.0.14:8083', weight: 1, backup: true, name: 'c.api.test/127.0.0.14:8083' }
  ])
  t.equal(d.nextRefreshIn, 4000, 'the smallest TTL among the targets (node:dns does not expose the SRV TTL)')

  // A weight change, a target moving, and the backup tier promoted.
  zone.srv.set('_http._tcp.api.test', [
    { priority: 10, weight: 5, port: 8081, target: 'a.api.test', ttl: 60 },
    { priority: 5, weight: 2, port: 8083, target: 'c.api.test', ttl: 60 }
  ])
  await tick(d, clock, 4000)
  const last = r.changes.at(-1)!
  t.same(last.removed.map((m) => m.url), ['http://127.0.0.12:8082', 'http://127.0.0.13:8082'])
  t.same(last.updated, [
    { url: 'http://127.0.0.11:8081', weight: 5, backup: true, name: 'a.api.test/127.0.0.11:8081' },
    { url: 'http://127.0.0.14:8083', weight: 2, backup: false, name: 'c.api.test/127.0.0.14:8083' }
  ])

  // One target stops resolving while the SRV answer still comes: its last addresses stay.
  zone.failing.add('c.api.test')
  await tick(d, clock, d.nextRefreshIn)
  t.same(urls(d), ['http://127.0.0.11:8081', 'http://127.0.0.14:8083'])
  t.match(r.warnings.at(-1), { obj: { target: 'c.api.test', keeping: 1 }, msg: /SRV target did not resolve/ })
  t.equal(d.nextRefreshIn, 100, 'a failing target: asked again at the floor')

  // The SRV name itself fails: the whole set is kept.
  zone.failing.add('_http._tcp.api.test')
  await tick(d, clock, d.nextRefreshIn)
  t.same(urls(d), ['http://127.0.0.11:8081', 'http://127.0.0.14:8083'])
})

t.test('SRV targets given as IP literals are used as they are', async (t) => {
  const zone = await startDns(t)
  zone.srv.set('_http._tcp.ip.test', [{ priority: 0, weight: 0, port: 9000, target: '127.0.0.20', ttl: 60 }])
  const { d } = discovery(t, zone, { dns: '_http._tcp.ip.test', refresh: { min: 300, max: 60_000 } })
  await d.start()
  t.same(urls(d), ['http://127.0.0.20:9000'])
  t.equal(d.nextRefreshIn, 300, 'no TTL known: the floor')
})

t.test('a throwing listener is logged and does not stop the loop', async (t) => {
  const zone = await startDns(t)
  zone.a.set('x.test', [{ address: '127.0.0.2', ttl: 1 }])
  const warnings: string[] = []
  const clock = new ManualClock()
  const d = new DnsDiscovery(resolveDnsDiscoveryOptions({ dns: 'x.test', port: 1, servers: [zone.server], refresh: { min: 100 } }), {
    clock,
    log: { info () {}, warn (_obj, msg) { warnings.push(msg) } },
    onChange () { throw new Error('boom') }
  })
  t.teardown(async () => { await d.close() })
  await d.start()
  t.match(warnings, [/listener threw/])
  t.equal(clock.pending, 1)
  await d.close()
  await d.refresh()
  t.equal(clock.pending, 0, 'closed: refresh() does nothing')
})
