/** Why a connection was refused: which cap, and its size. */
export interface CapRefusal {
  by: 'ip' | 'token'
  max: number
}

/**
 * Counts open connections of one kind (SSE streams, or control sockets) per client IP and per token, so one
 * client can't take every file descriptor. `acquire` takes a slot or says which cap is full.
 * @example const r = caps.acquire('10.0.0.7', 3); if (typeof r === 'function') res.once('close', r)
 */
export class ConnectionCaps {
  readonly #byIp = new Map<string, number>()
  readonly #byToken = new Map<number, number>()

  constructor(
    readonly perIp: number,
    readonly perToken: number,
  ) {}

  /** A release function for the slot taken, or the refusal. Release is idempotent. */
  acquire(ip: string, tokenId: number | null): (() => void) | CapRefusal {
    const atIp = this.#byIp.get(ip) ?? 0
    if (atIp >= this.perIp) return { by: 'ip', max: this.perIp }
    const atToken = tokenId === null ? 0 : (this.#byToken.get(tokenId) ?? 0)
    if (tokenId !== null && atToken >= this.perToken) return { by: 'token', max: this.perToken }
    this.#byIp.set(ip, atIp + 1)
    if (tokenId !== null) this.#byToken.set(tokenId, atToken + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      decrement(this.#byIp, ip)
      if (tokenId !== null) decrement(this.#byToken, tokenId)
    }
  }
}

function decrement<K>(map: Map<K, number>, key: K): void {
  const n = (map.get(key) ?? 1) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}

/** Seconds a refused client is told to wait before trying again. */
export const RETRY_AFTER_S = 10

/** The refusal as an error message. */
export function refusalMessage(kind: string, r: CapRefusal): string {
  return `Too many open ${kind} for this ${r.by === 'ip' ? 'address' : 'token'}: at most ${r.max}`
}
