import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PrivatePostgres, startPostgres, withPgClient } from '../testing/services.ts'
import { RevocationWatch } from './revocations-pg.ts'
import { describeTokenCli, vigilToken } from './token-cli.suite.ts'
import { TOKENS_CHANNEL } from './tokens.ts'

let server: PrivatePostgres
beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

describeTokenCli('PostgreSQL', () => ({
  async flags() {
    return ['--database-url', await server.createDatabase()]
  },
  storedHash: (flags, name) =>
    withPgClient(flags[1] as string, async (c) => {
      const r = await c.query<{ hash: string }>('SELECT hash FROM tokens WHERE name = $1', [name])
      return r.rows[0]?.hash
    }),
}))

describe('vigil token with VIGIL_DATABASE_URL', () => {
  it('takes the database from VIGIL_DATABASE_URL, and announces a revocation on the tokens channel once it is committed', async () => {
    const url = await server.createDatabase()
    const env = { ...process.env, VIGIL_DATABASE_URL: url }
    expect(vigilToken(['create', '--role', 'agent', '--name', 'edge-1'], env).status).toBe(0)
    const id = await withPgClient(url, async (c) => {
      const r = await c.query<{ id: string }>("SELECT id FROM tokens WHERE name = 'edge-1'")
      return r.rows[0]?.id
    })
    const listener = new pg.Client({ connectionString: url })
    await listener.connect()
    try {
      const heard: string[] = []
      listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`))
      await listener.query(`LISTEN ${TOKENS_CHANNEL}`)
      expect(vigilToken(['revoke', 'edge-1'], env).status).toBe(0)
      await expect.poll(() => heard, { timeout: 5000 }).toEqual([`${TOKENS_CHANNEL}:${id}`])
      const revokedAt = await withPgClient(url, async (c) => {
        const r = await c.query<{ revoked_at: string | null }>("SELECT revoked_at FROM tokens WHERE name = 'edge-1'")
        return r.rows[0]?.revoked_at
      })
      expect(Number(revokedAt)).toBeGreaterThan(0)
    } finally {
      await listener.end()
    }
  })

  it('exits 2 with the server named and the password hidden when PostgreSQL cannot be reached, and refuses a URL that is not postgres://', () => {
    const down = vigilToken(['list', '--database-url', 'postgres://vigil:s3cret-pw@127.0.0.1:1/vigil'])
    expect(down.status).toBe(2)
    expect(down.stderr).toMatch(/^vigil token: PostgreSQL at postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:1\/vigil: .+\n$/)
    expect(down.stderr).not.toContain('s3cret-pw')
    const wrong = vigilToken(['list'], { ...process.env, VIGIL_DATABASE_URL: 'mysql://db/vigil' })
    expect(wrong.status).toBe(2)
    expect(wrong.stderr).toBe(
      'vigil token: VIGIL_DATABASE_URL (--database-url)="mysql://db/vigil" is invalid: a postgres:// URL such as postgres://vigil@db.internal/vigil\n',
    )
  })
})

describe('revocations across hubs', () => {
  async function tokenId(url: string, name: string): Promise<number> {
    return withPgClient(url, async (c) => {
      const r = await c.query<{ id: string }>('SELECT id FROM tokens WHERE name = $1', [name])
      return Number(r.rows[0]?.id)
    })
  }

  /** A hub's watch: every call of onRevoked, and its faults. */
  async function watch(url: string) {
    const calls: number[][] = []
    const faults: (string | null)[] = []
    const w = new RevocationWatch({
      url,
      retryMs: 200,
      onRevoked: (ids) => calls.push([...ids]),
      onFault: (m) => faults.push(m),
    })
    await w.start()
    return { w, calls, faults, heard: () => new Set(calls.flat()) }
  }

  it('tells every watching hub of a revocation by the CLI, and a newly started one of every token revoked before it', async () => {
    const url = await server.createDatabase()
    const env = { ...process.env, VIGIL_DATABASE_URL: url }
    for (const name of ['a', 'b', 'c'])
      expect(vigilToken(['create', '--role', 'viewer', '--name', name], env).status).toBe(0)
    const [a, b] = [await tokenId(url, 'a'), await tokenId(url, 'b')]
    const hubA = await watch(url)
    const hubB = await watch(url)
    try {
      expect(hubA.calls).toEqual([[]])
      expect(vigilToken(['revoke', 'a'], env).status).toBe(0)
      await expect.poll(() => hubA.calls).toEqual([[], [a]])
      await expect.poll(() => hubB.calls).toEqual([[], [a]])
      // Revoked without a notification (as if it went out while no hub listened): read at start
      await withPgClient(url, (c) => c.query("UPDATE tokens SET revoked_at = 1 WHERE name = 'b'"))
      const late = await watch(url)
      try {
        expect(late.calls.map((ids) => [...ids].sort())).toEqual([[a, b].sort()])
      } finally {
        await late.w.close()
      }
    } finally {
      await hubA.w.close()
      await hubB.w.close()
    }
  })

  it('keeps listening through a PostgreSQL restart: the fault is told and cleared, the revoked set is read again, and later revocations are heard', async () => {
    const url = await server.createDatabase()
    const env = { ...process.env, VIGIL_DATABASE_URL: url }
    for (const name of ['a', 'c'])
      expect(vigilToken(['create', '--role', 'viewer', '--name', name], env).status).toBe(0)
    const [a, c] = [await tokenId(url, 'a'), await tokenId(url, 'c')]
    expect(vigilToken(['revoke', 'a'], env).status).toBe(0)
    const hub = await watch(url)
    try {
      expect(hub.calls).toEqual([[a]])
      await server.kill()
      await expect
        .poll(() => hub.faults.at(-1) ?? '')
        .toMatch(/^token revocations not heard from PostgreSQL \(.+\); retrying$/)
      await server.start()
      await expect.poll(() => hub.faults.at(-1), { timeout: 15_000 }).toBeNull()
      expect(hub.calls.at(-1)).toEqual([a])
      expect(vigilToken(['revoke', 'c'], env).status).toBe(0)
      await expect.poll(() => hub.calls.at(-1)).toEqual([c])
    } finally {
      await hub.w.close()
    }
  })
})
