import t from 'tap'
import { setForwardedHeaders, stripHopByHop } from '../../src/proxy/headers.js'

t.test('hop-by-hop headers and those named by Connection are removed', async (t) => {
  const headers = stripHopByHop({
    connection: 'keep-alive, X-Secret',
    'keep-alive': 'timeout=5',
    'x-secret': '1',
    te: 'trailers',
    upgrade: 'h2c',
    'proxy-connection': 'keep-alive',
    'transfer-encoding': 'chunked',
    'x-kept': 'yes'
  })
  t.same(headers, { 'x-kept': 'yes' })
})

t.test('X-Forwarded-* replace client values unless the proxy is trusted', async (t) => {
  const client = { remoteAddress: '10.0.0.7', protocol: 'http', host: 'api.example.com' }
  const forged = () => ({ 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil' })
  t.same(setForwardedHeaders(forged(), client, false), {
    'x-forwarded-for': '10.0.0.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'api.example.com'
  })
  t.same(setForwardedHeaders(forged(), client, true), {
    'x-forwarded-for': '1.2.3.4, 10.0.0.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil'
  })
  t.same(setForwardedHeaders({}, client, true), {
    'x-forwarded-for': '10.0.0.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'api.example.com'
  })
})
