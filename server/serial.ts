/**
 * Runs work keyed by a string one piece after another per key, pieces of different keys side by side: for a
 * read-then-write that two requests for one key must not interleave. A key's entry goes once its queue drains.
 * @example const serially = keyedSerial(); await serially(jobId, () => readThenWrite(jobId))
 */
export function keyedSerial(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const queues = new Map<string, Promise<unknown>>()
  return (key, fn) => {
    const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn)
    const settled = run.catch(() => {})
    queues.set(key, settled)
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key)
    })
    return run
  }
}
