import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request a receiver got. */
export interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  /** The status it was answered with. */
  answered: number
  /** When it arrived (`Date.now()`). */
  at: number
}

/**
 * A real HTTP server on a free loopback port that records every request and answers with `status()` (200 unless
 * changed): the webhook, Slack, Discord and ntfy endpoints of the alert tests, never the real services.
 */
export class Receiver {
  readonly requests: Received[] = []
  status: () => number = () => 200
  readonly #server: Server

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(): Promise<Receiver> {
    const server = createServer()
    const r = new Receiver(server)
    server.on('request', (req, res) => {
      const chunks: Buffer[] = []
      const at = Date.now()
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const answered = r.status()
        r.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
          at,
        })
        res.writeHead(answered).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return r
  }

  /** The URL of `path` on this receiver. */
  url(path = '/'): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
