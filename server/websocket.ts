import type { IncomingMessage } from 'node:http'
import { type WebSocket, WebSocketServer } from 'ws'

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
