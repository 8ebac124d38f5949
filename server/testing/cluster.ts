import { afterAll, beforeAll } from 'vitest'
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
