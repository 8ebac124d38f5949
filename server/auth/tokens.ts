import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, count, eq, gt, isNotNull, isNull, lt } from 'drizzle-orm'
import { loginCodes, sessions, tokens } from '../../db/schema.ts'
import type { Role } from '../protocol/index.ts'
import type { Db } from '../store/index.ts'

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

/** The SQLite tokens as a `TokenAdmin`; closing it closes the database. */
export function sqliteTokenAdmin(db: Db): TokenAdmin {
  const t = new Tokens(db)
  return {
    create: async (role, name) => t.create(role, name),
    list: async () => t.list(),
    revoke: async (name) => t.revoke(name),
    close: async () => {
      db.sqlite.close()
    },
  }
}

/**
 * Tokens, browser sessions and one-time login codes, all stored hashed in SQLite. Works the same from the hub and
 * from `vigil token`, so either may change them while the other runs.
 */
export class Tokens {
  readonly #db: Db
  readonly #touched = new Map<number, number>()
  #dataVersion: number

  constructor(db: Db) {
    this.#db = db
    this.#dataVersion = this.#version()
  }

  #version(): number {
    return this.#db.sqlite.pragma('data_version', { simple: true }) as number
  }

  /** True when another connection (a `vigil token` command) has written since the last call. */
  changedElsewhere(): boolean {
    const v = this.#version()
    if (v === this.#dataVersion) return false
    this.#dataVersion = v
    return true
  }

  /** Tokens not revoked. */
  activeCount(): number {
    return this.#db.db.select({ n: count() }).from(tokens).where(isNull(tokens.revokedAt)).get()?.n ?? 0
  }

  /** Creates a token and returns its secret: the only time it is ever shown. */
  create(role: Role, name?: string): CreatedToken {
    const minted = mintToken(role, name)
    try {
      const row = this.#db.db
        .insert(tokens)
        .values({ name: minted.name, role, hash: minted.hash, createdAt: Date.now() })
        .returning({ id: tokens.id })
        .get()
      return { name: minted.name, role, token: minted.token, id: row.id }
    } catch (err) {
      if (String(err).includes('UNIQUE')) throw nameTaken(minted.name)
      throw err
    }
  }

  /** A name for a new token that no token has used yet: `base`, else `base-<hex>`. */
  freeName(base: string): string {
    const taken = this.#db.db.select({ id: tokens.id }).from(tokens).where(eq(tokens.name, base)).get()
    return taken ? `${base}-${randomBytes(3).toString('hex')}` : base
  }

  list(): TokenInfo[] {
    return this.#db.db.select(infoColumns(tokens)).from(tokens).orderBy(tokens.id).all()
  }

  /** Revokes by name; false when no active token has that name. Its sessions end with it. */
  revoke(name: string): boolean {
    const res = this.#db.db
      .update(tokens)
      .set({ revokedAt: Date.now() })
      .where(and(eq(tokens.name, name), isNull(tokens.revokedAt)))
      .run()
    return res.changes > 0
  }

  /** Whether a token exists and is not revoked. */
  isActive(id: number): boolean {
    const row = this.#db.db.select({ revokedAt: tokens.revokedAt }).from(tokens).where(eq(tokens.id, id)).get()
    return row !== undefined && row.revokedAt === null
  }

  /** Ids of every revoked token. */
  revokedIds(): Set<number> {
    const rows = this.#db.db.select({ id: tokens.id }).from(tokens).where(isNotNull(tokens.revokedAt)).all()
    return new Set(rows.map((r) => r.id))
  }

  /**
   * The active token behind a secret, or null. The lookup is by the secret's SHA-256, so its timing depends on the
   * hash, which tells a guesser nothing about the secret; the match is then confirmed in constant time.
   */
  verify(token: string): Principal | null {
    const hash = hashSecret(token)
    const row = this.#db.db
      .select({ tokenId: tokens.id, name: tokens.name, role: tokens.role, hash: tokens.hash })
      .from(tokens)
      .where(and(eq(tokens.hash, hash), isNull(tokens.revokedAt)))
      .get()
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return null
    this.#touch(row.tokenId)
    return { tokenId: row.tokenId, name: row.name, role: row.role }
  }

  #touch(id: number): void {
    const now = Date.now()
    if (now - (this.#touched.get(id) ?? 0) < LAST_USED_EVERY_MS) return
    this.#touched.set(id, now)
    this.#db.db.update(tokens).set({ lastUsedAt: now }).where(eq(tokens.id, id)).run()
  }

  /** Opens a browser session acting as `tokenId`; returns the cookie's secret. */
  openSession(tokenId: number, ttlMs: number): string {
    const s = secret('')
    const now = Date.now()
    this.#db.db
      .insert(sessions)
      .values({ hash: hashSecret(s), tokenId, createdAt: now, expiresAt: now + ttlMs })
      .run()
    return s
  }

  /** The active token behind a session cookie, or null when expired, unknown or its token is revoked. */
  session(cookie: string): Principal | null {
    const row = this.#db.db
      .select({ tokenId: tokens.id, name: tokens.name, role: tokens.role })
      .from(sessions)
      .innerJoin(tokens, eq(tokens.id, sessions.tokenId))
      .where(and(eq(sessions.hash, hashSecret(cookie)), gt(sessions.expiresAt, Date.now()), isNull(tokens.revokedAt)))
      .get()
    if (row) this.#touch(row.tokenId)
    return row ?? null
  }

  closeSession(cookie: string): void {
    this.#db.db
      .delete(sessions)
      .where(eq(sessions.hash, hashSecret(cookie)))
      .run()
  }

  /** A one-time code that opens a session as `tokenId`, for the login link printed at first start. */
  createLoginCode(tokenId: number, ttlMs: number): string {
    const code = secret('')
    this.#db.db
      .insert(loginCodes)
      .values({ hash: hashSecret(code), tokenId, expiresAt: Date.now() + ttlMs })
      .run()
    return code
  }

  /** Uses up a login code: the token id it was for, or null if unknown, used or expired. */
  redeemLoginCode(code: string): number | null {
    const row = this.#db.db
      .delete(loginCodes)
      .where(and(eq(loginCodes.hash, hashSecret(code)), gt(loginCodes.expiresAt, Date.now())))
      .returning({ tokenId: loginCodes.tokenId })
      .get()
    return row?.tokenId ?? null
  }

  /** Drops expired sessions and login codes. */
  prune(now: number): void {
    this.#db.db.delete(sessions).where(lt(sessions.expiresAt, now)).run()
    this.#db.db.delete(loginCodes).where(lt(loginCodes.expiresAt, now)).run()
  }
}
