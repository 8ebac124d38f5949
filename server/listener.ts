import { createServer, Server as HttpServer, type Server, type ServerOptions } from 'node:http'
import {
  createSecureServer,
  type Http2SecureServer,
  type SecureServerOptions,
  type ServerHttp2Session,
} from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import { getRequestListener, serve } from '@hono/node-server'
import type { WebSocketServer } from 'ws'
import { answerMalformed, pathTargetsOnly, refuseExpectation, refuseUnreadable } from './http.ts'
import type { TlsFiles } from './tls.ts'

export interface ListenOptions {
  fetch: Parameters<typeof serve>[0]['fetch']
  host: string
  port: number
  /** PEM certificate and key: HTTPS with HTTP/2, HTTP/1.1 alongside. */
  tls: TlsFiles | null
  /** Every WebSocket server the app upgrades to (noServer), keyed by nothing: the adapter routes by path. */
  websocket: WebSocketServer
}

/** A listening Node server and how to stop it. */
export interface Listener {
  readonly port: number
  /** `http(s)://host:port`, the host in brackets when it is IPv6. */
  readonly url: string
  /** Stops accepting, closes idle connections and HTTP/2 sessions, and destroys what is left after 500 ms. */
  close(): Promise<void>
}

/**
 * Starts the Node server for the app: with TLS, HTTP/2 for browsers (no 6-connections-per-origin limit on
 * streams) and HTTP/1.1 on the same port for WebSocket upgrades and older clients. Malformed requests, targets
 * that are not paths and unmet `Expect`s are answered with the JSON error before the app sees them.
 */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const { tls } = opts
  // The adapter's own listener, built as `serve` builds it, but with an error handler `serve` does not pass on
  const listener = pathTargetsOnly(
    getRequestListener(opts.fetch, { hostname: opts.host, errorHandler: refuseUnreadable }),
  )
  const server = serve({
    fetch: opts.fetch,
    port: opts.port,
    hostname: opts.host,
    websocket: { server: opts.websocket },
    ...(tls
      ? {
          createServer: ((options: SecureServerOptions) =>
            createSecureServer(options, listener)) as typeof createSecureServer,
          serverOptions: { cert: tls.cert, key: tls.key, allowHTTP1: true },
        }
      : {
          createServer: ((options: ServerOptions) => createServer(options, listener)) as typeof createServer,
          // A request without Host reaches the app (which answers it like any other) instead of Node's bare 400
          serverOptions: { requireHostHeader: false },
        }),
  }) as Server | Http2SecureServer
  server.on('clientError', answerMalformed)
  server.on('checkExpectation', refuseExpectation)
  const sockets = new Set<Socket>()
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const port = (server.address() as AddressInfo).port
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    port,
    url: `${tls ? 'https' : 'http'}://${host}:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      if (server instanceof HttpServer) server.closeIdleConnections()
      for (const session of sessions) session.close()
      const force = setTimeout(() => {
        for (const socket of sockets) socket.destroy()
      }, 500)
      await closed
      clearTimeout(force)
    },
  }
}
