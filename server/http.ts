import { BlockList, isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { type HttpBindings, RequestError } from '@hono/node-server'
import { type Code, errorBody } from './errors.ts'

/** Who sent a request: the address per-address limits are keyed by, and whether it comes from this machine. */
export interface Client {
  address: string
  local: boolean
}

/** Headers a reverse proxy adds. A request with any of them came through one, whatever its socket says. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

const LOOPBACK = new Set(['localhost', '::1'])

/** True for a bind address or peer that only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (LOOPBACK.has(host)) return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/** An `Origin` may open a WebSocket when it is the hub's own (same host as the request) or listed in `allowed`. */
export function isAllowedOrigin(origin: string, host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (allowed.has(origin)) return true
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}

/** True for an IPv4 or IPv6 address, or a CIDR range of either (`10.0.0.0/8`, `fd00::/8`). */
export function isAddressOrRange(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/** The reverse proxies whose `X-Forwarded-For` is believed, from `VIGIL_TRUSTED_PROXIES` entries. */
export function trustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/')
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(address, family)
    else list.addSubnet(address, Number(prefix), family)
  }
  return list
}

const trusts = (list: BlockList, address: string) => {
  const family = isIP(address)
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4')
}

/**
 * The client behind a request. Coming from a trusted proxy, it is the right-most `X-Forwarded-For` entry that is
 * not itself a trusted proxy; from anyone else, the socket's peer. A request carrying proxy headers is local only
 * when trusted proxies vouch for a loopback client all the way: a proxy on this machine must not hand the whole
 * world the anonymous viewer that a loopback bind gives to this machine.
 */
export function identifyClient(peer: string, header: (name: string) => string | undefined, trusted: BlockList): Client {
  let address = plainAddress(peer)
  if (!PROXY_HEADERS.some((h) => header(h) !== undefined)) return { address, local: isLoopback(address) }
  const hops = header('x-forwarded-for')?.split(',') ?? []
  // Whether the address was named by a trusted hop, not just the socket peer of one
  let named = false
  while (trusts(trusted, address) && hops.length > 0) {
    const next = plainAddress((hops.pop() as string).trim())
    if (isIP(next) === 0) return { address, local: false }
    address = next
    named = true
  }
  return { address, local: named && isLoopback(address) }
}

const NO_PROXIES = new BlockList()

/** The request's client, as the app's first middleware identified it; the socket's peer, untrusted, if it did not. */
export function clientOf(c: {
  var: { client?: Client | undefined }
  env: HttpBindings
  req: { header(name: string): string | undefined }
}): Client {
  return c.var.client ?? identifyClient(c.env.incoming.socket.remoteAddress ?? '', (h) => c.req.header(h), NO_PROXIES)
}

/**
 * Answers what Node's HTTP parser refuses (a malformed request line or header, headers over 16 KiB, a bad chunk)
 * the way every other refusal is answered: a 4xx with a JSON error, then the connection closes.
 */
export function answerMalformed(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'Request headers are at most 16 KiB']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request did not arrive in time']
        : [400, 'Bad Request', 'Malformed HTTP request']
  const body = JSON.stringify(errorBody(status === 431 ? 'payload_too_large' : 'invalid', message))
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  )
}

/**
 * Passes on requests whose target is a path; answers any other target (`*`, an absolute URL, garbage the parser
 * let through) with 400 `invalid` here, where the adapter would answer a bare 400 of its own.
 */
export function pathTargetsOnly<Req extends { url?: string | undefined }, Res extends ResponseLike>(
  listener: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    if (req.url?.startsWith('/')) {
      listener(req, res)
      return
    }
    writeError(res, 400, 'invalid', 'The request target must be a path starting with /')
  }
}

/**
 * What the adapter could not turn into a `Request` (a Host that is no host name, a backslash in the path): 400
 * `invalid` with the JSON error, where the adapter would answer a bare 400. Anything else thrown before the app
 * answered is a 500 `internal`; the app's own errors never get here, its `onError` answers them.
 */
export function refuseUnreadable(err: unknown): Response {
  if (err instanceof RequestError) {
    return Response.json(errorBody('invalid', `Malformed request: ${err.message}`), { status: 400 })
  }
  return Response.json(errorBody('internal', 'Internal error'), { status: 500 })
}

/** An `Expect` other than `100-continue` (Node's `checkExpectation`): 417 with the JSON error, not Node's bare one. */
export function refuseExpectation(_req: unknown, res: ResponseLike): void {
  writeError(res, 417, 'invalid', 'The only Expect this server meets is 100-continue')
}

/** The JSON error straight onto a Node response, for answers given before the app sees the request. */
function writeError(res: ResponseLike, status: number, code: Code, message: string): void {
  const body = JSON.stringify(errorBody(code, message))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

interface ResponseLike {
  writeHead(status: number, headers: Record<string, string | number>): unknown
  end(body: string): unknown
}
