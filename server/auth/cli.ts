import { parseArgs } from 'node:util'
import { tokenStoreFrom } from '../config.ts'
import { Role } from '../protocol/index.ts'
import { openDb, openPgDb, pgSql } from '../store/index.ts'
import { sqliteTokenAdmin, type TokenAdmin, TokenError, Tokens, tokenAdmin } from './tokens.ts'

const TOKEN_HELP = `Usage:
  vigil token create --role <viewer|operator|admin|reporter|agent> [--name N] [--data-dir D | --database-url U]
      Creates a token and prints it once on stdout. Only its hash is stored.
  vigil token list [--data-dir D | --database-url U]
  vigil token revoke <name> [--data-dir D | --database-url U]
      Revokes at once, also on a running hub: its streams end and its sockets close.

Tokens live in PostgreSQL when --database-url or VIGIL_DATABASE_URL names one (postgres://…), else in
the data dir: --data-dir, else VIGIL_DATA_DIR, else ./data. Works with the hub running or stopped.
`

function formatTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
}

/** Opens where the tokens live: PostgreSQL (migrated first) or the data dir's SQLite file. */
async function openTokenAdmin(store: ReturnType<typeof tokenStoreFrom>): Promise<TokenAdmin> {
  if ('databaseUrl' in store) {
    const db = await openPgDb(store.databaseUrl, { maxConnections: 1 })
    return tokenAdmin(new Tokens(await pgSql(db)), () => db.close())
  }
  return sqliteTokenAdmin(openDb(store.dataDir))
}

/**
 * `vigil token create|list|revoke`: works on the database directly, with the hub running or stopped. Exit 0 on
 * success, 1 when the command could not be done (a taken name, no such token), 2 on bad usage or an unreachable
 * database.
 */
export async function tokenCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined || sub === '--help' || sub === '-h' || rest.includes('--help')) {
    process.stdout.write(TOKEN_HELP)
    return sub === undefined ? 2 : 0
  }
  let parsed: ReturnType<typeof parseTokenArgs>
  try {
    parsed = parseTokenArgs(rest)
  } catch (err) {
    process.stderr.write(`vigil token: ${(err as Error).message}\n\n${TOKEN_HELP}`)
    return 2
  }
  const { values, positionals } = parsed
  let tokens: TokenAdmin
  try {
    tokens = await openTokenAdmin(tokenStoreFrom(env, values))
  } catch (err) {
    process.stderr.write(`vigil token: ${(err as Error).message}\n`)
    return 2
  }
  try {
    if (sub === 'create') {
      const role = Role.safeParse(values.role)
      if (!role.success) {
        process.stderr.write(`vigil token: --role must be one of viewer, operator, admin, reporter, agent\n`)
        return 2
      }
      const created = await tokens.create(role.data, values.name)
      process.stderr.write(`Created ${created.role} token "${created.name}". It is shown only this once:\n`)
      process.stdout.write(`${created.token}\n`)
      return 0
    }
    if (sub === 'list') {
      const rows = await tokens.list()
      const lines = [['NAME', 'ROLE', 'CREATED', 'LAST USED', 'STATUS']]
      for (const t of rows) {
        lines.push([
          t.name,
          t.role,
          formatTime(t.createdAt),
          formatTime(t.lastUsedAt),
          t.revokedAt ? `revoked ${formatTime(t.revokedAt)}` : 'active',
        ])
      }
      const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? []
      for (const l of lines)
        process.stdout.write(
          `${l
            .map((cell, i) => cell.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
        )
      return 0
    }
    if (sub === 'revoke') {
      const name = positionals[0]
      if (!name) {
        process.stderr.write(`vigil token: revoke needs a token name\n`)
        return 2
      }
      if (!(await tokens.revoke(name))) {
        process.stderr.write(`vigil token: no active token named "${name}"\n`)
        return 1
      }
      process.stdout.write(`Revoked "${name}"\n`)
      return 0
    }
    process.stderr.write(`vigil token: unknown subcommand ${JSON.stringify(sub)}\n\n${TOKEN_HELP}`)
    return 2
  } catch (err) {
    if (!(err instanceof TokenError)) throw err
    process.stderr.write(`vigil token: ${err.message}\n`)
    return 1
  } finally {
    await tokens.close()
  }
}

function parseTokenArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  })
}
