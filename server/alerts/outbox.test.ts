import { describe, expect, it } from 'vitest'
import { RETRY_MAX_MS, retryDelay } from './outbox.ts'

describe('the outbox backoff', () => {
  it('waits about 1 s after the first failure, twice as long after each next one, in the upper half of each step, up to 5 min', () => {
    expect([1, 2, 3, 4].map((n) => [retryDelay(n, 0), retryDelay(n, 1)])).toEqual([
      [500, 1000],
      [1000, 2000],
      [2000, 4000],
      [4000, 8000],
    ])
    expect(retryDelay(9, 0.5)).toBe(192_000)
    expect([retryDelay(10, 0), retryDelay(10, 1), retryDelay(40, 1)]).toEqual([150_000, RETRY_MAX_MS, RETRY_MAX_MS])
  })
})
