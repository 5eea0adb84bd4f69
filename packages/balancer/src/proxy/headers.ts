/**
 * Header rules of a reverse proxy: hop-by-hop headers do not cross it (RFC 9110 §7.6.1), and the upstream
 * learns who the client was from X-Forwarded-For/-Proto/-Host (the de facto headers nginx and HAProxy set).
 */

export type Headers = Record<string, string | string[] | number | undefined>

/** Connection-specific headers (RFC 9110 §7.6.1, plus the legacy Proxy-Connection and Keep-Alive). */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'] as const

/** Removes hop-by-hop headers, and any header the Connection header names, in place. */
export function stripHopByHop (headers: Headers): Headers {
  const connection = headers.connection
  if (typeof connection === 'string') {
    for (const name of connection.split(',')) {
      const trimmed = name.trim().toLowerCase()
      if (trimmed !== '') delete headers[trimmed]
    }
  }
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) delete headers[name]
  }
  return headers
}

export interface ClientInfo {
  /** The TCP peer's address. */
  remoteAddress: string | undefined
  /** `https` when the client connection is TLS, else `http`. */
  protocol: string
  /** The Host the client asked for. */
  host: string | undefined
}

function first (value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/**
 * Sets X-Forwarded-For/-Proto/-Host. Without `trustProxy`, whatever the client sent is replaced (a client could
 * otherwise forge its address); with it, the peer is appended to the incoming chain (nginx
 * `$proxy_add_x_forwarded_for`) and incoming -Proto/-Host are kept.
 */
export function setForwardedHeaders (headers: Headers, client: ClientInfo, trustProxy: boolean): Headers {
  const peer = client.remoteAddress ?? ''
  const incomingFor = trustProxy ? first(headers['x-forwarded-for']) : undefined
  headers['x-forwarded-for'] = incomingFor !== undefined && incomingFor !== '' ? `${incomingFor}, ${peer}` : peer
  const incomingProto = trustProxy ? first(headers['x-forwarded-proto']) : undefined
  headers['x-forwarded-proto'] = incomingProto ?? client.protocol
  const incomingHost = trustProxy ? first(headers['x-forwarded-host']) : undefined
  const host = incomingHost ?? client.host
  if (host !== undefined) headers['x-forwarded-host'] = host
  else delete headers['x-forwarded-host']
  return headers
}
