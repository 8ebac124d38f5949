import pg from 'pg'
import { TOKENS_CHANNEL } from './tokens.ts'

export interface RevocationWatchOptions {
  url: string
  /**
   * Tokens revoked anywhere in the cluster (by any hub, or by `vigil token revoke`): each id as its notification
   * arrives, and after every (re)connection all revoked ids, since notifications sent while the connection was
   * down are lost. Closing a revoked token's streams twice must be harmless.
   */
  onRevoked(ids: readonly number[]): void
  /** The current fault (the database unreachable), or null once listening again. */
  onFault?(message: string | null): void
  /** Wait before reconnecting after a failure. */
  retryMs?: number
}

/**
 * Listens on the tokens channel on a connection of its own, so a revocation committed anywhere reaches this hub
 * within the notification's delivery time (milliseconds), and re-reads the revoked set after every reconnection.
 */
export class RevocationWatch {
  readonly #opts: RevocationWatchOptions
  #client: pg.Client | null = null
  #closed = false
  #timer: NodeJS.Timeout | null = null
  #connecting: Promise<void> = Promise.resolve()

  constructor(opts: RevocationWatchOptions) {
    this.#opts = opts
  }

  /** Connects and listens; resolves once the first connection is listening (or has failed and will retry). */
  start(): Promise<void> {
    this.#connecting = this.#connect()
    return this.#connecting
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#opts.url, application_name: 'vigil revocations' })
    this.#client = client
    client.on('error', (err) => this.#failed(client, err))
    client.on('notification', (n) => {
      const id = Number(n.payload)
      if (n.channel === TOKENS_CHANNEL && Number.isSafeInteger(id)) this.#opts.onRevoked([id])
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${TOKENS_CHANNEL}`)
      // Listening first, then reading: a revocation committed in between is heard, read, or both; never missed
      const r = await client.query<{ id: string }>('SELECT id FROM tokens WHERE revoked_at IS NOT NULL')
      if (this.#client !== client) return
      this.#opts.onFault?.(null)
      this.#opts.onRevoked(r.rows.map((row) => Number(row.id)))
    } catch (err) {
      this.#failed(client, err as Error)
    }
  }

  #failed(client: pg.Client, err: Error): void {
    if (client !== this.#client || this.#closed) return
    this.#client = null
    client.end().catch(() => {})
    this.#opts.onFault?.(`token revocations not heard from PostgreSQL (${err.message}); retrying`)
    this.#timer = setTimeout(() => {
      this.#connecting = this.#connect()
    }, this.#opts.retryMs ?? 1000)
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#connecting
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => {})
  }
}
