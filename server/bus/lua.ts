import { createHash } from 'node:crypto'
import type { RedisClientType } from 'redis'

/** A Lua script run by its SHA-1 (EVALSHA), sent whole only when Redis does not have it (after a restart). */
export class Script {
  readonly #lua: string
  readonly #sha: string
  constructor(lua: string) {
    this.#lua = lua
    this.#sha = createHash('sha1').update(lua).digest('hex')
  }
  async run<T>(client: RedisClientType, keys: string[], args: string[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args]
    try {
      return (await client.sendCommand(['EVALSHA', this.#sha, ...tail])) as T
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
      return (await client.sendCommand(['EVAL', this.#lua, ...tail])) as T
    }
  }
}
