import type { IncomingMessage } from 'node:http'
import type { MiddlewareHandler } from 'hono'
import { type WebSocket, WebSocketServer } from 'ws'
import type { AuthEnv } from './auth/index.ts'
import { refuse } from './errors.ts'
import { isAllowedOrigin } from './http.ts'

/** Takes a socket whose upgrade it checked and returns true, or returns false for one it knows nothing of. */
export type Acceptor = (ws: WebSocket, req: IncomingMessage) => boolean

/** Policy close for a socket no feature claims: its upgrade was not checked. */
const POLICY = 1008

/**
 * The one WebSocket server behind every upgrade route (the Node adapter takes one): frames up to `maxPayload`, no
 * compression. Each accepted socket goes to the first feature that checked its upgrade request; features with a
 * smaller frame limit enforce it themselves.
 */
export function websocketServer(maxPayload: number, acceptors: readonly Acceptor[]): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false })
  wss.on('connection', (ws, req) => {
    if (!acceptors.some((accept) => accept(ws, req))) ws.close(POLICY, 'not authenticated')
  })
  return wss
}

/**
 * The checks every WebSocket route starts with: a request that is not an upgrade gets 426, an `Origin` that is
 * neither the hub's own nor allowed gets 403 (clients that send none, which are not browsers, pass).
 */
export function upgradeGuard(allowedOrigins: ReadonlySet<string>): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      return c.json({ error: { code: 'invalid', message: 'This endpoint speaks WebSocket only' } }, 426)
    }
    const origin = c.req.header('origin')
    if (origin !== undefined && !isAllowedOrigin(origin, c.req.header('host'), allowedOrigins)) {
      return refuse(c, 'forbidden', `Origin ${origin} is not allowed`)
    }
    await next()
  }
}

/** A socket's side of the heartbeat: whether it answered the last ping. */
export interface Pinged {
  ws: WebSocket
  alive: boolean
}

/**
 * Pings every socket every `intervalMs` and terminates one that did not answer the previous ping, so a silent
 * peer is gone within two intervals. The sockets mark themselves alive on `pong`. Returns the stop function.
 */
export function heartbeat(intervalMs: number, sockets: () => Iterable<Pinged>): () => void {
  const timer = setInterval(() => {
    for (const s of sockets()) {
      if (!s.alive) {
        s.ws.terminate()
        continue
      }
      s.alive = false
      s.ws.ping()
    }
  }, intervalMs)
  return () => clearInterval(timer)
}
