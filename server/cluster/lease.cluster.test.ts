import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../paths.ts'
import { type PrivatePostgres, startPostgres, withPgClient } from '../testing/services.ts'
import { SINGLETON_LEASE_KEY } from './index.ts'

let server: PrivatePostgres
beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  await server?.stop()
})

interface Contender {
  child: ChildProcess
  /** `held` / `lost` with the time, as the process printed them. */
  changes: { held: boolean; at: number }[]
  readonly holds: boolean
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

function contender(url: string): Contender {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/testing/lease-child.ts'), url, '300'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const changes: Contender['changes'] = []
  let buf = ''
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const [state, at] = buf.slice(0, nl).split(' ')
      buf = buf.slice(nl + 1)
      changes.push({ held: state === 'held', at: Number(at) })
    }
  })
  return {
    child,
    changes,
    get holds() {
      return changes.at(-1)?.held === true
    },
  }
}

/** Sessions holding the lease's advisory lock, as PostgreSQL sees them. */
async function lockHolders(url: string): Promise<number> {
  const r = await withPgClient(url, (c) =>
    c.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [SINGLETON_LEASE_KEY],
    ),
  )
  return Number(r.rows[0]?.n)
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('the singleton lease', () => {
  it('is held by exactly one of three hubs; when the holder is killed -9, exactly one other takes it over', async () => {
    const url = await server.createDatabase()
    const hubs = [contender(url), contender(url), contender(url)]
    await expect.poll(() => hubs.filter((h) => h.holds).length, { timeout: 15_000 }).toBe(1)
    await delay(1500) // several checks by the others, none of which may win
    expect(hubs.filter((h) => h.holds).length).toBe(1)
    expect(hubs.flatMap((h) => h.changes).filter((c) => c.held).length).toBe(1)
    expect(await lockHolders(url)).toBe(1)

    const owner = hubs.find((h) => h.holds) as Contender
    const killedAt = Date.now()
    owner.child.kill('SIGKILL')
    const rest = hubs.filter((h) => h !== owner)
    await expect.poll(() => rest.filter((h) => h.holds).length, { timeout: 15_000 }).toBe(1)
    const takeover = rest.flatMap((h) => h.changes).find((c) => c.held)
    process.stdout.write(`lease takeover after kill -9 of the holder: ${(takeover?.at ?? 0) - killedAt} ms\n`)
    await delay(1500)
    expect(rest.filter((h) => h.holds).length).toBe(1)
    expect(await lockHolders(url)).toBe(1)
  })

  it('is given up by its holder when PostgreSQL goes away, and won again by exactly one hub once it is back', async () => {
    const url = await server.createDatabase()
    const hubs = [contender(url), contender(url), contender(url)]
    await expect.poll(() => hubs.filter((h) => h.holds).length, { timeout: 15_000 }).toBe(1)
    const owner = hubs.find((h) => h.holds) as Contender

    await server.kill()
    await expect.poll(() => owner.holds, { timeout: 15_000 }).toBe(false)
    expect(hubs.filter((h) => h.holds).length).toBe(0)
    await server.start()
    await expect.poll(() => hubs.filter((h) => h.holds).length, { timeout: 15_000 }).toBe(1)
    await delay(1500)
    expect(hubs.filter((h) => h.holds).length).toBe(1)
    expect(await lockHolders(url)).toBe(1)
  })
})
