import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { loadConfig } from '../config.ts'
import { type Hub, startHub } from '../hub.ts'
import { silentLogger } from '../log.ts'
import { useCleanup } from './cleanup.ts'
import { type PrivatePostgres, type PrivateRedis, startPostgres, startRedis } from './services.ts'

/** A private PostgreSQL and Redis for one test file: started at once before its tests, stopped after them. */
export function useClusterServers(): { readonly pg: PrivatePostgres; readonly redis: PrivateRedis } {
  let pg: PrivatePostgres | undefined
  let redis: PrivateRedis | undefined
  beforeAll(async () => {
    // Each kept as soon as it runs, so one that could not start (its package missing) leaves none behind
    const started = await Promise.allSettled([
      startPostgres().then((s) => {
        pg = s
      }),
      startRedis().then((s) => {
        redis = s
      }),
    ])
    for (const r of started) if (r.status === 'rejected') throw r.reason
  })
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()])
  })
  return {
    get pg() {
      if (!pg) throw new Error('PostgreSQL is not started yet: read it inside a test')
      return pg
    },
    get redis() {
      if (!redis) throw new Error('Redis is not started yet: read it inside a test')
      return redis
    },
  }
}

/**
 * In-process hubs sharing a private PostgreSQL and Redis: `cluster(n)` starts n of them on a database and Redis
 * database of their own (or on `on`, to add hubs to an earlier cluster), each closed after the test.
 */
export function useHubCluster() {
  const servers = useClusterServers()
  const cleanup = useCleanup()
  let clusters = 0

  /** A database and a Redis database of their own, for one test's hubs. */
  async function newCluster(): Promise<{ url: string; redis: string }> {
    // Each cluster its own Redis database too, so one test's stream never reaches another's hubs
    return { url: await servers.pg.createDatabase(), redis: `${servers.redis.url}/${++clusters}` }
  }

  /** Hubs sharing one database and one Redis, each with its own port, data dir and host name (`hub-<first + i>`). */
  async function cluster(
    n: number,
    env: Record<string, string> = {},
    on?: { url: string; redis: string },
    first = 0,
  ): Promise<Hub[]> {
    const { url, redis } = on ?? (await newCluster())
    return Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const dir = mkdtempSync(join(tmpdir(), 'vigil-hubs-'))
        cleanup(() => rmSync(dir, { recursive: true, force: true }))
        const hub = await startHub(
          loadConfig({
            VIGIL_PORT: '0',
            VIGIL_DATA_DIR: dir,
            VIGIL_DATABASE_URL: url,
            VIGIL_REDIS_URL: redis,
            VIGIL_SAMPLE_MS: '60000',
            VIGIL_HOSTNAME: `hub-${first + i}`,
            ...env,
          }),
          { log: silentLogger },
        )
        cleanup(() => hub.close())
        return hub
      }),
    )
  }
  return { servers, cleanup, newCluster, cluster }
}
