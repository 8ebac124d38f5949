import type { RedisClientType } from 'redis'
import { Script } from '../bus/index.ts'

/** Which hub holds a host's agent, and which machine that agent runs on. */
export interface HostHolder {
  hub: string
  machineId: string | null
}

export type ClaimResult = { ok: true; previous: HostHolder | null } | { ok: false; holder: HostHolder }

/**
 * Claims a host for a hub: granted when no hub holds it, when this hub does, or when the same machine's agent
 * held it at another hub (it moved: that hub's hold is taken over). Refused, with the holder, when another
 * machine's agent holds it. KEYS: host key. ARGV: value, ttl ms.
 */
const CLAIM = new Script(`
local cur = redis.call('GET', KEYS[1])
local new = cjson.decode(ARGV[1])
if cur then
  local held = cjson.decode(cur)
  if held.hub ~= new.hub and held.machineId ~= cjson.null and new.machineId ~= cjson.null and held.machineId ~= new.machineId then
    return {0, cur}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, cur or ''}
`)

/**
 * Renews (ttl) or releases (0) a hold only if this hub still has it: a hub never drops another's. Answers 1 when
 * it had it, 0 when no hub has, 2 when another hub has. KEYS: host key. ARGV: hub, ttl ms or 0.
 */
const KEEP = new Script(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur).hub ~= ARGV[1] then return 2 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

/**
 * The cluster's shared host state on Redis: which hub holds each host's agent. A hold lives `ttlMs` unless the
 * hub renews it (each heartbeat of the agent's session), so a dead hub's hosts come free by themselves.
 */
export class HostDirectory {
  readonly #redis: RedisClientType
  readonly #prefix: string
  readonly #ttlMs: number

  constructor(redis: RedisClientType, opts: { prefix?: string; ttlMs: number }) {
    this.#redis = redis
    this.#prefix = opts.prefix ?? 'vigil:host:'
    this.#ttlMs = opts.ttlMs
  }

  async claim(host: string, holder: HostHolder): Promise<ClaimResult> {
    const [ok, raw] = await CLAIM.run<[number, string]>(
      this.#redis,
      [this.#prefix + host],
      [JSON.stringify(holder), String(this.#ttlMs)],
    )
    if (ok === 1) return { ok: true, previous: raw === '' ? null : (JSON.parse(raw) as HostHolder) }
    return { ok: false, holder: JSON.parse(raw) as HostHolder }
  }

  /** Extends this hub's hold; false when it no longer has it (expired, or taken over by another hub). */
  async renew(host: string, hub: string): Promise<boolean> {
    return (await this.#keep(host, hub, this.#ttlMs)) === 1
  }

  /** Drops this hub's hold (its agent went away); another hub's is left alone. True when another hub holds it. */
  async release(host: string, hub: string): Promise<boolean> {
    return (await this.#keep(host, hub, 0)) === 2
  }

  async holder(host: string): Promise<HostHolder | null> {
    const raw = await this.#redis.get(this.#prefix + host)
    return raw === null ? null : (JSON.parse(raw) as HostHolder)
  }

  /** Which of these hosts some hub holds, in one round trip. */
  async held(hosts: readonly string[]): Promise<Set<string>> {
    if (hosts.length === 0) return new Set()
    const raw = await this.#redis.mGet(hosts.map((h) => this.#prefix + h))
    return new Set(hosts.filter((_, i) => raw[i] !== null))
  }

  async #keep(host: string, hub: string, ttlMs: number): Promise<number> {
    return Number(await KEEP.run<number>(this.#redis, [this.#prefix + host], [hub, String(ttlMs)]))
  }
}
