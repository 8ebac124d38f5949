import { afterAll, beforeAll } from 'vitest'
import { type PrivatePostgres, type PrivateRedis, startPostgres, startRedis } from './services.ts'

/** A private PostgreSQL and Redis for one test file: started at once before its tests, stopped after them. */
export function useClusterServers(): { readonly pg: PrivatePostgres; readonly redis: PrivateRedis } {
  let pg: PrivatePostgres | undefined
  let redis: PrivateRedis | undefined
  beforeAll(async () => {
    ;[pg, redis] = await Promise.all([startPostgres(), startRedis()])
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
