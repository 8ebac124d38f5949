import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { sqliteTokenAdmin } from '../auth/index.ts'
import type { HealthResponse, Role } from '../protocol/index.ts'
import { openDb } from '../store/index.ts'
import { type ServeProcess, spawnServe } from './process.ts'

/**
 * `vigil serve` child processes for tests that kill or measure the hub itself: each test gets fresh data dirs,
 * and whatever hub it last started is SIGKILLed after it, with the dirs removed.
 */
export function useChildHubs() {
  let current: ServeProcess | null = null
  const dirs: string[] = []
  afterEach(async () => {
    current?.child.kill('SIGKILL')
    await current?.exited
    current = null
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  /** Another token made in a data dir before (or between) the hubs that run there. */
  async function tokenIn(dir: string, role: Role, name: string): Promise<string> {
    const admin = sqliteTokenAdmin(openDb(dir))
    try {
      return (await admin.create(role, name)).token
    } finally {
      await admin.close()
    }
  }
  return {
    /** A fresh data dir with a token of `role` made in it before any hub runs there. */
    async dataDir(role: Role, name: string): Promise<{ dir: string; token: string }> {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-child-'))
      dirs.push(dir)
      return { dir, token: await tokenIn(dir, role, name) }
    },
    tokenIn,
    async start(args: string[]): Promise<ServeProcess> {
      current = await spawnServe(args)
      return current
    },
  }
}

/** `GET /api/health` of a hub. */
export async function healthOf(url: string): Promise<HealthResponse> {
  return (await (await fetch(`${url}/api/health`)).json()) as HealthResponse
}
