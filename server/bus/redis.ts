import type { RedisClientType } from 'redis'
import { Script } from './lua.ts'
import { connectRedisPair } from './redis-client.ts'

/** An event as the stream carries it: what every hub needs to re-encode the exact SSE frame. */
export interface StreamEvent {
  id: number
  ts: number
  topic: string
  event: string
  data: string
  /** The hub that appended it (absent on entries from before hubs named themselves). */
  origin?: string
}

export interface RedisEventStreamOptions {
  url: string
  /** The stream's key; the counter and clock keys are derived from it. */
  key?: string
  /** This hub's id in the cluster, written with each event it appends, so hubs tell their own events from others'. */
  origin: string
  /** How long events stay in the stream for resume (`VIGIL_REPLAY_S`); older ones are trimmed as new ones go in. */
  windowMs: number
  /** Every event appended by any hub, in id order, as the follower reads it. */
  onEvent(event: StreamEvent): void
  /**
   * Ids the follower will never see: the stream lost them (Redis restarted without them) or trimmed them before
   * they were read. Clients that resume from before `nextId` need a reset.
   */
  onGap?(afterId: number, nextId: number): void
  /** The current fault (Redis unreachable), or null once the follower reads again. */
  onFault?(message: string | null): void
}

/** How far past the last id a hub has seen the counter jumps when Redis lost it, so no id is ever issued twice. */
export const COUNTER_JUMP = 1_000_000

/**
 * Appends one event: the id from the cluster-wide counter (never below the caller's floor: after Redis lost the
 * counter it goes on past every id this hub saw, plus a jump), the stream entry id `<ms>-<id>` from Redis's own
 * clock (never going back), and the trim by time in the same XADD. Atomic, so every hub sees one order.
 * KEYS: stream, counter, clock. ARGV: floor, jump, windowMs, ts, topic, event, data, origin.
 */
const APPEND = `
local id = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[1])
if id <= floor then
  id = floor + tonumber(ARGV[2])
  redis.call('SET', KEYS[2], string.format('%d', id))
end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if ms < last then ms = last end
redis.call('SET', KEYS[3], string.format('%d', ms))
redis.call('XADD', KEYS[1], 'MINID', '~', string.format('%d', ms - tonumber(ARGV[3])), string.format('%d-%d', ms, id),
  'ts', ARGV[4], 't', ARGV[5], 'e', ARGV[6], 'd', ARGV[7], 'h', ARGV[8])
return id
`

/**
 * The events after id N, for a client resuming on any hub. Entry ids are `<ms>-<id>` with both parts increasing,
 * so the first entry past N is found by a binary search on the ms part, in Redis, in one round trip. Answers
 * {1, entries} when the replay is exact, {0} when it cannot be: N is older than the oldest entry kept, or newer
 * than any id issued. KEYS: stream, counter. ARGV: afterId, limit.
 */
const AFTER = `
local n = tonumber(ARGV[1])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > counter then return {0} end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 then
  if n == counter then return {1, {}} end
  return {0}
end
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local firstMs, oldest = parts(first[1][1])
if n < oldest - 1 then return {0} end
local lastMs = parts(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][1])
-- The smallest ms whose first entry at or after it is past n (lastMs + 1 when none is)
local lo, hi = firstMs, lastMs + 1
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local e = redis.call('XRANGE', KEYS[1], string.format('%d', mid), '+', 'COUNT', 1)
  local _, seq = parts(e[1][1])
  if seq > n then hi = mid else lo = mid + 1 end
end
local start = string.format('%d-%d', lo - 1, n + 1)
return {1, redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', tonumber(ARGV[2]))}
`

type Entry = [string, string[]]

const appendScript = new Script(APPEND)
const afterScript = new Script(AFTER)

function decode(entry: Entry): StreamEvent {
  const [sid, f] = entry
  const optional = (name: string) => {
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1] as string
    return undefined
  }
  const field = (name: string) => {
    const v = optional(name)
    if (v === undefined) throw new Error(`stream entry ${sid} has no field ${name}`)
    return v
  }
  const origin = optional('h')
  const id = Number(sid.slice(sid.indexOf('-') + 1))
  const ts = Number(field('ts'))
  if (!Number.isSafeInteger(id) || id <= 0 || !Number.isFinite(ts))
    throw new Error(`stream entry ${sid} is not an event`)
  return {
    id,
    ts,
    topic: field('t'),
    event: field('e'),
    data: field('d'),
    ...(origin === undefined ? {} : { origin }),
  }
}

/**
 * The cluster's event log and fan-out on a Redis Stream: appends with cluster-wide ids, a follower on a
 * connection of its own (`XREAD BLOCK`) that hands every hub each event once and in order, and exact resume from
 * any id inside the window.
 */
export class RedisEventStream {
  readonly #opts: RedisEventStreamOptions
  readonly #key: string
  readonly #counter: string
  readonly #clock: string
  readonly #cmd: RedisClientType
  readonly #reader: RedisClientType
  #lastSeen = 0
  #cursor = '0-0'
  #closed = false
  #following: Promise<void> = Promise.resolve()
  #faulty = false

  private constructor(opts: RedisEventStreamOptions, cmd: RedisClientType, reader: RedisClientType) {
    this.#opts = opts
    this.#key = opts.key ?? 'vigil:events'
    this.#counter = `${this.#key}:id`
    this.#clock = `${this.#key}:ms`
    this.#cmd = cmd
    this.#reader = reader
  }

  /** Connects (two connections: commands, and the follower's blocking reads) and follows from the stream's end. */
  static async open(opts: RedisEventStreamOptions): Promise<RedisEventStream> {
    let s: RedisEventStream | null = null
    const onError = (err: Error) => {
      if (s) s.#fault(`Redis unreachable (${err.message})`)
    }
    // Appends fail at once while Redis is away, so the hub can fall back; the follower's reads wait for it
    const [cmd, reader] = await connectRedisPair(opts.url, onError)
    s = new RedisEventStream(opts, cmd, reader)
    const last = (await cmd.sendCommand(['XREVRANGE', s.#key, '+', '-', 'COUNT', '1'])) as Entry[]
    if (last[0]) {
      s.#cursor = last[0][0]
      s.#lastSeen = decode(last[0]).id
    } else {
      s.#lastSeen = Number((await cmd.sendCommand(['GET', s.#counter])) ?? 0)
    }
    s.#following = s.#follow()
    return s
  }

  /** The greatest id the follower has handed on. */
  get lastSeenId(): number {
    return this.#lastSeen
  }

  /**
   * Appends an event and returns its id. `floor` is the least id the caller knows was issued (its own durable
   * reservation); the id is always past it and past every id this hub has seen.
   */
  async append(ev: Omit<StreamEvent, 'id' | 'origin'>, floor = 0): Promise<number> {
    const args = [
      String(Math.max(floor, this.#lastSeen)),
      String(COUNTER_JUMP),
      String(this.#opts.windowMs),
      String(ev.ts),
      ev.topic,
      ev.event,
      ev.data,
      this.#opts.origin,
    ]
    return Number(await appendScript.run<number>(this.#cmd, [this.#key, this.#counter, this.#clock], args))
  }

  /** Events with id greater than `afterId`, oldest first, at most `limit`; null when the replay cannot be exact. */
  async after(afterId: number, limit: number): Promise<StreamEvent[] | null> {
    const reply = await afterScript.run<[number, Entry[]?]>(
      this.#cmd,
      [this.#key, this.#counter],
      [String(afterId), String(limit)],
    )
    if (reply[0] !== 1) return null
    return (reply[1] ?? []).map(decode)
  }

  async #follow(): Promise<void> {
    while (!this.#closed) {
      let entries: Entry[]
      try {
        const read = ['XREAD', 'COUNT', '1000', 'BLOCK', '1000', 'STREAMS', this.#key, this.#cursor]
        // A map of stream → entries (node-redis gives RESP's map as an object), or null when the block timed out
        const reply = (await this.#reader.sendCommand(read)) as Record<string, Entry[]> | [string, Entry[]][] | null
        entries = (Array.isArray(reply) ? reply[0]?.[1] : reply?.[this.#key]) ?? []
      } catch (err) {
        if (this.#closed) return
        this.#fault(`Redis unreachable (${(err as Error).message})`)
        await new Promise((r) => setTimeout(r, 250))
        continue
      }
      if (this.#faulty) {
        this.#faulty = false
        this.#opts.onFault?.(null)
      }
      for (const entry of entries) {
        this.#cursor = entry[0]
        let ev: StreamEvent
        try {
          ev = decode(entry)
        } catch {
          continue // not written by a hub: skipped, and the id it should have had shows as a gap
        }
        if (ev.id <= this.#lastSeen) continue
        if (ev.id !== this.#lastSeen + 1 && this.#lastSeen > 0) this.#opts.onGap?.(this.#lastSeen, ev.id)
        this.#lastSeen = ev.id
        this.#opts.onEvent(ev)
      }
    }
  }

  #fault(message: string): void {
    if (this.#closed) return
    this.#faulty = true
    this.#opts.onFault?.(message)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#reader.destroy()
    await this.#following.catch(() => {})
    await this.#cmd.close().catch(() => this.#cmd.destroy())
  }
}
