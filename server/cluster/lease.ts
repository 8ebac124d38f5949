import pg from 'pg'

/** The advisory lock key of the singleton work (closing hours, retention, TTL reverts, lost jobs). */
export const SINGLETON_LEASE_KEY = 0x76_69_67_6c // "vigl"

export interface LeaseOptions {
  url: string
  key?: number
  /** How often a hub that does not hold the lease tries for it, and the holder checks its connection. */
  checkMs?: number
  /** Told each time this process gains or loses the lease. */
  onChange?(held: boolean): void
  /** A failed check or connection, for the log; the lease is then not held until a new connection wins it. */
  onError?(err: Error): void
}

/**
 * Seconds of silence after which PostgreSQL drops the holder's connection, releasing its lock: keepalive probes
 * 3 s after the last traffic, then every 2 s, 3 unanswered. With a 2 s check this bounds a takeover after the
 * holder's machine vanishes to about 3 + 2 × 3 + 2 = 11 s; a holder killed outright closes its socket, so the
 * lock goes at once and another hub has it within one check.
 */
const KEEPALIVE = { idle: 3, interval: 2, count: 3 }

/**
 * A cluster-wide lease on a PostgreSQL session-level advisory lock, held on a connection of its own: at most one
 * process holds it, and it is released by PostgreSQL itself when the holder dies or its connection breaks. The
 * holder checks its connection on every tick and gives the lease up at the first failure, so it never acts on a
 * lease it may have lost.
 */
export class Lease {
  readonly #opts: Required<Pick<LeaseOptions, 'url' | 'key' | 'checkMs'>> & LeaseOptions
  #client: pg.Client | null = null
  #held = false
  #timer: NodeJS.Timeout | null = null
  #closed = false
  #tick: Promise<void> = Promise.resolve()

  constructor(opts: LeaseOptions) {
    this.#opts = { key: SINGLETON_LEASE_KEY, checkMs: 2000, ...opts }
  }

  /** Whether this process holds the lease now. */
  get held(): boolean {
    return this.#held
  }

  /** Tries for the lease at once, then every `checkMs`. */
  start(): void {
    this.#tick = this.#check()
  }

  async #check(): Promise<void> {
    try {
      const client = this.#client ?? (await this.#connect())
      if (this.#held) {
        await client.query('SELECT 1')
      } else {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [this.#opts.key])
        if (r.rows[0]?.ok && !this.#closed) this.#set(true)
      }
    } catch (err) {
      this.#lost(err as Error, this.#client)
    }
    if (!this.#closed) this.#timer = setTimeout(() => (this.#tick = this.#check()), this.#opts.checkMs)
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#opts.url,
      application_name: 'vigil lease',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE.idle * 1000,
      connectionTimeoutMillis: this.#opts.checkMs * 2,
    })
    client.on('error', (err) => this.#lost(err, client))
    this.#client = client
    await client.connect()
    // The server's side of the same rule: it drops a holder that went silent, releasing the lock
    await client.query(
      `SET tcp_keepalives_idle = ${KEEPALIVE.idle}; SET tcp_keepalives_interval = ${KEEPALIVE.interval}; SET tcp_keepalives_count = ${KEEPALIVE.count}`,
    )
    return client
  }

  /** The connection failed: the lock may be gone with it, so the lease is given up now and sought afresh. */
  #lost(err: Error, client: pg.Client | null): void {
    // The failing query and the client's error event both tell of one failure: the first one counts
    if (client !== this.#client) return
    this.#client = null
    client?.end().catch(() => {})
    if (!this.#closed) this.#opts.onError?.(err)
    this.#set(false)
  }

  #set(held: boolean): void {
    if (held === this.#held) return
    this.#held = held
    this.#opts.onChange?.(held)
  }

  /** Releases the lease (by closing its connection) and stops trying. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#tick
    const client = this.#client
    this.#client = null
    this.#set(false)
    await client?.end().catch(() => {})
  }
}
