import { createClient, type RedisClientType } from 'redis'

/** Tries before a start gives up on a Redis it cannot reach (about 1.5 s in all). */
const START_TRIES = 5

/**
 * A connected node-redis client. Once connected it reconnects for ever (50 ms doubling to 2 s), so the hub lives
 * through Redis restarting; the first connection gives up after a few tries, so a start against an unreachable
 * Redis fails at once instead of waiting without a word. `offlineQueue: false` makes commands fail at once while
 * Redis is away (callers fall back); the follower's blocking reads keep theirs and wait.
 */
export async function connectRedis(
  url: string,
  opts: { offlineQueue: boolean; onError(err: Error): void },
): Promise<RedisClientType> {
  let connected = false
  const client: RedisClientType = createClient({
    url,
    disableOfflineQueue: !opts.offlineQueue,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries: number, cause: Error) => {
        if (connected) return Math.min(50 * 2 ** retries, 2000)
        return retries < START_TRIES ? 50 * 2 ** retries : cause
      },
    },
  })
  // node-redis throws a socket error nobody listens for: it is reported instead
  client.on('error', opts.onError)
  await client.connect()
  connected = true
  return client
}

/**
 * The two connections a part of the hub needs: one for commands (failing at once while Redis is away) and one
 * for blocking reads or subscriptions (waiting for it). If either cannot connect, the other is closed too.
 */
export async function connectRedisPair(
  url: string,
  onError: (err: Error) => void,
): Promise<[commands: RedisClientType, blocking: RedisClientType]> {
  const [cmd, blocking] = await Promise.allSettled([
    connectRedis(url, { offlineQueue: false, onError }),
    connectRedis(url, { offlineQueue: true, onError }),
  ])
  if (cmd.status === 'fulfilled' && blocking.status === 'fulfilled') return [cmd.value, blocking.value]
  for (const c of [cmd, blocking]) if (c.status === 'fulfilled') c.value.destroy()
  throw (cmd.status === 'rejected' ? cmd.reason : (blocking as PromiseRejectedResult).reason) as Error
}
