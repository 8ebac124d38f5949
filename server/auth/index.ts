export { tokenCommand } from './cli.ts'
export {
  type AuthEnv,
  authenticate,
  authRoutes,
  COMMAND_ROLES,
  READ_ROLES,
  type Resolved,
  requireRole,
  resolveIdentity,
  SESSION_COOKIE,
} from './http.ts'
export { hashSecret, type Principal, sqliteTokenAdmin, TokenError, type TokenInfo, Tokens } from './tokens.ts'

import type { RevocationWatch, RevocationWatchOptions } from './revocations-pg.ts'

/** Listens for revocations on PostgreSQL (see `RevocationWatch`); loaded with the pool, never on SQLite. */
export async function watchRevocations(opts: RevocationWatchOptions): Promise<RevocationWatch> {
  const watch = new (await import('./revocations-pg.ts')).RevocationWatch(opts)
  await watch.start()
  return watch
}
