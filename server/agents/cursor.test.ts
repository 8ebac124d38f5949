import { describe, expect, it } from 'vitest'
import { SeqCursor } from './cursor.ts'

describe('a spool cursor', () => {
  it('moves its mark only over contiguous numbers, holding what is stored above until the hole fills', () => {
    const c = new SeqCursor(3)
    expect([c.has(3), c.has(4)]).toEqual([true, false])
    expect(c.preview([6, 7])).toBe(3)
    c.commit([6, 7], 3)
    expect([c.through, c.has(6), c.has(5)]).toEqual([3, true, false])
    expect(c.preview([4, 5])).toBe(7)
    c.commit([4, 5], 7)
    expect([c.through, c.has(7), c.has(8)]).toEqual([7, true, false])
  })

  it('passes over numbers the agent reported lost, once the mark reaches them', () => {
    const c = new SeqCursor(10)
    c.lose(12, 20)
    expect(c.preview([])).toBe(10)
    expect(c.preview([11])).toBe(20)
    c.commit([11], 20)
    expect(c.preview([21, 22])).toBe(22)
    // A loss below the mark changes nothing
    c.lose(1, 5)
    expect(c.preview([])).toBe(20)
  })
})
