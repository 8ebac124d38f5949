import { afterEach, describe, expect, it } from 'vitest'
import { openPgDb } from '../store/index.ts'
import { type PrivateServer, redisCommand, startPostgres, startRedis, withPgClient } from './services.ts'

const running: PrivateServer[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()))
})

describe('private test servers', () => {
  it('starts a Redis of its own that, killed -9 and started again, answers on the same port with nothing kept', async () => {
    const redis = await startRedis()
    running.push(redis)
    expect(await redisCommand(redis.port, 'SET vigil 1')).toBe('+OK')
    await redis.kill()
    await expect(redisCommand(redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/)
    await redis.start()
    expect(await redisCommand(redis.port, 'GET vigil')).toBe('$-1')
  })

  it('starts a PostgreSQL of its own that, killed -9 and started again, keeps committed rows; a pool reports the broken idle connection and then works again', async () => {
    const server = await startPostgres()
    running.push(server)
    const idleErrors: string[] = []
    const db = await openPgDb(await server.createDatabase(), {
      maxConnections: 2,
      onIdleError: (err) => idleErrors.push(err.message),
    })
    try {
      await db.pool.query("INSERT INTO meta (key, value) VALUES ('k', 'v')")
      await server.kill()
      await expect.poll(() => idleErrors.length, { timeout: 10_000 }).toBeGreaterThan(0)
      await expect(db.pool.query('SELECT 1')).rejects.toThrow()
      await server.start()
      const r = await db.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'k'")
      expect(r.rows).toEqual([{ value: 'v' }])
    } finally {
      await db.close()
    }
  })

  it('listens on loopback only', async () => {
    const server = await startPostgres()
    running.push(server)
    const r = await withPgClient(server.url, (c) => c.query<{ listen_addresses: string }>('SHOW listen_addresses'))
    expect(r.rows[0]?.listen_addresses).toBe('127.0.0.1')
  })
})
