import { createClient, type RedisClientType } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../errors.ts'
import { type PrivateRedis, startRedis } from '../testing/services.ts'
import { CommandRelay, HostDirectory, type RelayOptions } from './index.ts'

let redis: PrivateRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

const clients: RedisClientType[] = []
const relays: CommandRelay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
  for (const c of clients.splice(0)) c.destroy()
})

async function client(): Promise<RedisClientType> {
  const c: RedisClientType = createClient({ url: redis.url })
  c.on('error', () => {})
  await c.connect()
  clients.push(c)
  return c
}

async function relay(hub: string, handle: RelayOptions['handle'], invalid: string[] = []): Promise<CommandRelay> {
  const r = await CommandRelay.open({ hub, handle, onInvalid: (m) => invalid.push(m) }, await client(), await client())
  relays.push(r)
  return r
}

let prefixN = 0

describe('hosts held across hubs', () => {
  it('lets one hub hold a host, refuses another machine under its name, and hands it over when the same machine moves', async () => {
    const dir = new HostDirectory(await client(), { prefix: `h${++prefixN}:`, ttlMs: 10_000 })
    expect(await dir.claim('edge-1', { hub: 'A', machineId: 'm1' })).toEqual({ ok: true, previous: null })
    expect(await dir.claim('edge-1', { hub: 'B', machineId: 'm2' })).toEqual({
      ok: false,
      holder: { hub: 'A', machineId: 'm1' },
    })
    expect(await dir.claim('edge-1', { hub: 'B', machineId: 'm1' })).toEqual({
      ok: true,
      previous: { hub: 'A', machineId: 'm1' },
    })
    expect(await dir.holder('edge-1')).toEqual({ hub: 'B', machineId: 'm1' })
    // A, which lost it, can neither renew nor release B's hold
    expect(await dir.renew('edge-1', 'A')).toBe(false)
    await dir.release('edge-1', 'A')
    expect(await dir.holder('edge-1')).toEqual({ hub: 'B', machineId: 'm1' })
    expect(await dir.renew('edge-1', 'B')).toBe(true)
    await dir.release('edge-1', 'B')
    expect(await dir.holder('edge-1')).toBeNull()
  })

  it('frees the hosts of a hub that stops renewing once their hold runs out', async () => {
    const dir = new HostDirectory(await client(), { prefix: `h${++prefixN}:`, ttlMs: 300 })
    await dir.claim('edge-2', { hub: 'A', machineId: 'm1' })
    expect(await dir.renew('edge-2', 'A')).toBe(true)
    await expect.poll(() => dir.holder('edge-2'), { timeout: 5000 }).toBeNull()
    expect(await dir.claim('edge-2', { hub: 'B', machineId: 'm9' })).toEqual({ ok: true, previous: null })
  })
})

describe('commands relayed between hubs', () => {
  it('carries a command to the hub that holds the host and brings back its result once it is done', async () => {
    const seen: [string, unknown][] = []
    await relay('B', async (host, command) => {
      seen.push([host, command])
      await new Promise((r) => setTimeout(r, 50)) // the agent confirming
      return { applied: true, host }
    })
    const a = await relay('A', async () => {
      throw new Error('A holds no hosts')
    })
    const command = { type: 'sampling.set', host: 'edge-1', fastMs: 200 }
    expect(await a.send('B', 'edge-1', command, 5000)).toEqual({ applied: true, host: 'edge-1' })
    expect(seen).toEqual([['edge-1', command]])
  })

  it("answers with the holder's own error code, and unavailable for a hub that is not listening or does not answer", async () => {
    await relay('B', async (host) => {
      throw new AppError('not_found', `No host ${host}`)
    })
    await relay('slow', () => new Promise(() => {}))
    const a = await relay('A', async () => null)
    await expect(a.send('B', 'ghost', {}, 5000)).rejects.toMatchObject({ code: 'not_found', message: 'No host ghost' })
    await expect(a.send('gone', 'edge-1', {}, 5000)).rejects.toMatchObject({
      code: 'unavailable',
      message: 'Hub gone is not listening',
    })
    await expect(a.send('slow', 'edge-1', {}, 200)).rejects.toMatchObject({
      code: 'unavailable',
      message: 'Hub slow did not answer for edge-1 within 200 ms',
    })
  })

  it('drops a message from another hub that does not parse, and goes on serving', async () => {
    const invalid: string[] = []
    await relay('B', async () => 'done', invalid)
    const raw = await client()
    await raw.publish('vigil:hub:B', '{"kind":"request","id":""}')
    await raw.publish('vigil:hub:B', 'not json')
    await expect.poll(() => invalid.length).toBe(2)
    const a = await relay('A', async () => null)
    expect(await a.send('B', 'edge-1', {}, 5000)).toBe('done')
  })
})
