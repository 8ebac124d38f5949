import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, count, eq, gt, isNotNull, isNull, lt } from 'drizzle-orm'
import type { Role } from '../protocol/index.ts'
import { type Db, isUniqueViolation, type Sql, sqliteSql } from '../store/index.ts'

/** A token as `vigil token list` shows it: never the secret. */
export interface TokenInfo {
  name: string
  role: Role
  createdAt: number
  lastUsedAt: number | null
  revokedAt: number | null
}

/** Who a credential acts as; `tokenId` ties sessions and streams to the token for revocation. */
export interface Principal {
  tokenId: number
  name: string
  role: Role
}

export class TokenError extends Error {
  override name = 'TokenError'
}

const LAST_USED_EVERY_MS = 60_000

function secret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`
}

/** SHA-256 is enough for 256-bit random secrets: there is nothing to brute-force, and lookups stay fast. */
export function hashSecret(s: string): string {
  return createHash('sha256').update(s).digest('hex')
}

/**
 * The PostgreSQL channel a revocation is announced on, with the token's id as the payload. The notification is
 * sent by the revoking statement, so a listener hears it only once the revocation is committed.
 */
export const TOKENS_CHANNEL = 'vigil_tokens'

/** A token just made: its secret is in `token`, shown this once and stored only as a hash. */
export interface CreatedToken {
  name: string
  role: Role
  token: string
  id: number
}

/** A new token's name (checked, or made up from the role), secret and hash, before either backend stores it. */
export function mintToken(role: Role, name?: string): { name: string; token: string; hash: string } {
  const chosen = name ?? `${role}-${randomBytes(3).toString('hex')}`
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(chosen)) {
    throw new TokenError('A token name is 1–64 letters, digits, dots, dashes or underscores')
  }
  const token = secret('vgl_')
  return { name: chosen, token, hash: hashSecret(token) }
}

/** The columns `vigil token list` shows, from either backend's `tokens` table: never the hash. */
export function infoColumns<T extends Record<keyof TokenInfo, unknown>>(t: T): Pick<T, keyof TokenInfo> {
  return { name: t.name, role: t.role, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt, revokedAt: t.revokedAt }
}

/** The error for a name some token (active or revoked) already has: names are never reused. */
export const nameTaken = (name: string) => new TokenError(`A token named ${name} exists already`)

/**
 * What `vigil token` needs, on either backend: the data dir's SQLite file, or PostgreSQL (`VIGIL_DATABASE_URL`).
 */
export interface TokenAdmin {
  create(role: Role, name?: string): Promise<CreatedToken>
  list(): Promise<TokenInfo[]>
  /** Revokes by name; false when no active token has that name. */
  revoke(name: string): Promise<boolean>
  close(): Promise<void>
}

/** Tokens as `vigil token` uses them; `close` closes the database. */
export function tokenAdmin(t: Tokens, close: () => Promise<void>): TokenAdmin {
  return {
    create: (role, name) => t.create(role, name),
    list: () => t.list(),
    revoke: (name) => t.revoke(name),
    close,
  }
}

/** The SQLite tokens as a `TokenAdmin`; closing it closes the database. */
export function sqliteTokenAdmin(db: Db): TokenAdmin {
  return tokenAdmin(new Tokens(sqliteSql(db)), async () => {
    db.sqlite.close()
  })
}

/**
 * Tokens, browser sessions and one-time login codes, all stored hashed, in SQLite or PostgreSQL. Works the same
 * from the hub and from `vigil token`, so either may change them while the other runs.
 */
export class Tokens {
  readonly #sql: Sql
  readonly #touched = new Map<number, number>()
  /** Revoked token ids, as last read: what `isActive` answers from. */
  #revoked = new Set<number>()
  #dataVersion: number
  /** Set when a revocation was announced (PostgreSQL): the next `changedElsewhere` says so. */
  #announced = false

  constructor(sql: Sql) {
    this.#sql = sql
    this.#dataVersion = this.#version()
  }

  /** The tokens with the revoked ones read: call once before `isActive`. */
  static async open(sql: Sql): Promise<Tokens> {
    const t = new Tokens(sql)
    await t.refreshRevoked()
    return t
  }

  #version(): number {
    return (this.#sql.sqlite?.sqlite.pragma('data_version', { simple: true }) as number | undefined) ?? 0
  }

  /**
   * True when another connection (a `vigil token` command) has written the SQLite file since the last call, or a
   * revocation was announced since (on PostgreSQL, by `RevocationWatch`).
   */
  changedElsewhere(): boolean {
    const announced = this.#announced
    this.#announced = false
    const v = this.#version()
    if (v === this.#dataVersion) return announced
    this.#dataVersion = v
    return true
  }

  /** A revocation made elsewhere was announced: `refreshRevoked` is due. */
  announced(): void {
    this.#announced = true
  }

  /** Tokens not revoked. */
  async activeCount(): Promise<number> {
    const { tokens } = this.#sql.t
    const [row] = await this.#sql.db.select({ n: count() }).from(tokens).where(isNull(tokens.revokedAt))
    return Number(row?.n ?? 0)
  }

  /** Creates a token and returns its secret: the only time it is ever shown. */
  async create(role: Role, name?: string): Promise<CreatedToken> {
    const { tokens } = this.#sql.t
    const minted = mintToken(role, name)
    try {
      const [row] = await this.#sql.db
        .insert(tokens)
        .values({ name: minted.name, role, hash: minted.hash, createdAt: Date.now() })
        .returning({ id: tokens.id })
      if (!row) throw new Error('the token was not stored')
      return { name: minted.name, role, token: minted.token, id: row.id }
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(minted.name)
      throw err
    }
  }

  /** A name for a new token that no token has used yet: `base`, else `base-<hex>`. */
  async freeName(base: string): Promise<string> {
    const { tokens } = this.#sql.t
    const taken = await this.#sql.db.select({ id: tokens.id }).from(tokens).where(eq(tokens.name, base))
    return taken.length > 0 ? `${base}-${randomBytes(3).toString('hex')}` : base
  }

  async list(): Promise<TokenInfo[]> {
    const { tokens } = this.#sql.t
    return this.#sql.db.select(infoColumns(tokens)).from(tokens).orderBy(tokens.id)
  }

  /** Revokes by name; false when no active token has that name. Its sessions end with it. */
  async revoke(name: string): Promise<boolean> {
    const { tokens } = this.#sql.t
    const { pg } = this.#sql
    const rows = pg
      ? // One statement: the announcement goes out with the commit, and only then, to every hub listening
        (
          await pg.pool.query<{ id: string }>(
            `WITH r AS (UPDATE tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL RETURNING id)
             SELECT id, pg_notify($3, id::text) FROM r`,
            [name, Date.now(), TOKENS_CHANNEL],
          )
        ).rows.map((r) => ({ id: Number(r.id) }))
      : await this.#sql.db
          .update(tokens)
          .set({ revokedAt: Date.now() })
          .where(and(eq(tokens.name, name), isNull(tokens.revokedAt)))
          .returning({ id: tokens.id })
    for (const r of rows) this.#revoked.add(r.id)
    return rows.length > 0
  }

  /** Whether a token is not revoked, as of the last `refreshRevoked`. */
  isActive(id: number): boolean {
    return !this.#revoked.has(id)
  }

  /** Reads the revoked ids again; returns those revoked since the last read. */
  async refreshRevoked(): Promise<Set<number>> {
    const { tokens } = this.#sql.t
    const rows = await this.#sql.db.select({ id: tokens.id }).from(tokens).where(isNotNull(tokens.revokedAt))
    const now = new Set(rows.map((r) => r.id))
    const fresh = new Set([...now].filter((id) => !this.#revoked.has(id)))
    this.#revoked = now
    return fresh
  }

  /**
   * The active token behind a secret, or null. The lookup is by the secret's SHA-256, so its timing depends on the
   * hash, which tells a guesser nothing about the secret; the match is then confirmed in constant time.
   */
  async verify(token: string): Promise<Principal | null> {
    const { tokens } = this.#sql.t
    const hash = hashSecret(token)
    const [row] = await this.#sql.db
      .select({ tokenId: tokens.id, name: tokens.name, role: tokens.role, hash: tokens.hash })
      .from(tokens)
      .where(and(eq(tokens.hash, hash), isNull(tokens.revokedAt)))
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return null
    this.#touch(row.tokenId)
    return { tokenId: row.tokenId, name: row.name, role: row.role }
  }

  /** Notes when a token was last used, at most once a minute; nobody waits for it, and a failed write is let go. */
  #touch(id: number): void {
    const now = Date.now()
    if (now - (this.#touched.get(id) ?? 0) < LAST_USED_EVERY_MS) return
    this.#touched.set(id, now)
    const { tokens } = this.#sql.t
    Promise.resolve(this.#sql.db.update(tokens).set({ lastUsedAt: now }).where(eq(tokens.id, id))).catch(() => {})
  }

  /** Opens a browser session acting as `tokenId`; returns the cookie's secret. */
  async openSession(tokenId: number, ttlMs: number): Promise<string> {
    const { sessions } = this.#sql.t
    const s = secret('')
    const now = Date.now()
    await this.#sql.db.insert(sessions).values({ hash: hashSecret(s), tokenId, createdAt: now, expiresAt: now + ttlMs })
    return s
  }

  /** The active token behind a session cookie, or null when expired, unknown or its token is revoked. */
  async session(cookie: string): Promise<Principal | null> {
    const { sessions, tokens } = this.#sql.t
    const [row] = await this.#sql.db
      .select({ tokenId: tokens.id, name: tokens.name, role: tokens.role })
      .from(sessions)
      .innerJoin(tokens, eq(tokens.id, sessions.tokenId))
      .where(and(eq(sessions.hash, hashSecret(cookie)), gt(sessions.expiresAt, Date.now()), isNull(tokens.revokedAt)))
    if (row) this.#touch(row.tokenId)
    return row ?? null
  }

  async closeSession(cookie: string): Promise<void> {
    const { sessions } = this.#sql.t
    await this.#sql.db.delete(sessions).where(eq(sessions.hash, hashSecret(cookie)))
  }

  /** A one-time code that opens a session as `tokenId`, for the login link printed at first start. */
  async createLoginCode(tokenId: number, ttlMs: number): Promise<string> {
    const { loginCodes } = this.#sql.t
    const code = secret('')
    await this.#sql.db.insert(loginCodes).values({ hash: hashSecret(code), tokenId, expiresAt: Date.now() + ttlMs })
    return code
  }

  /** Uses up a login code: the token id it was for, or null if unknown, used or expired. */
  async redeemLoginCode(code: string): Promise<number | null> {
    const { loginCodes } = this.#sql.t
    const [row] = await this.#sql.db
      .delete(loginCodes)
      .where(and(eq(loginCodes.hash, hashSecret(code)), gt(loginCodes.expiresAt, Date.now())))
      .returning({ tokenId: loginCodes.tokenId })
    return row?.tokenId ?? null
  }

  /** Drops expired sessions and login codes. */
  async prune(now: number): Promise<void> {
    const { sessions, loginCodes } = this.#sql.t
    await this.#sql.db.delete(sessions).where(lt(sessions.expiresAt, now))
    await this.#sql.db.delete(loginCodes).where(lt(loginCodes.expiresAt, now))
  }
}
