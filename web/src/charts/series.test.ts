import { describe, expect, it } from 'vitest'
import { SeriesBuffer } from './series.ts'

describe('SeriesBuffer', () => {
  it('drops a live point that is not newer than the last one', () => {
    const s = new SeriesBuffer()
    expect(s.push(1000, 1)).toBe(true)
    expect(s.push(1000, 2)).toBe(false)
    expect(s.push(900, 3)).toBe(false)
    expect(s.points).toEqual([{ x: 1000, y: 1 }])
  })

  it('merges history with live points that arrived while it loaded, without gap or duplicate', () => {
    const s = new SeriesBuffer()
    s.push(3000, 30) // already in history (to = 3000)
    s.push(4000, 40) // newer than history
    s.setHistory(
      [
        [1000, 10, 10, 10],
        [2000, 20, 20, 20],
        [3000, 30, 30, 30],
      ],
      3000,
    )
    expect(s.points.map((p) => p.x)).toEqual([1000, 2000, 3000, 4000])
    s.push(4000, 41)
    s.push(5000, 50)
    expect(s.points.map((p) => p.y)).toEqual([10, 20, 30, 40, 50])
  })

  it('keeps a history bucket’s min and max for the band, and none for single-valued buckets', () => {
    const s = new SeriesBuffer()
    s.setHistory(
      [
        [1000, 5, 1, 9],
        [2000, 3, 3, 3],
      ],
      2000,
    )
    expect(s.points).toEqual([
      { x: 1000, y: 5, lo: 1, hi: 9 },
      { x: 2000, y: 3 },
    ])
  })

  it('keeps the identity of its points array so a chart dataset can share it', () => {
    const s = new SeriesBuffer()
    const ref = s.points
    s.setHistory([[1, 1]], 1)
    s.trim(0)
    expect(s.points).toBe(ref)
  })

  it('trims points before the window but keeps one to enter from the edge', () => {
    const s = new SeriesBuffer()
    for (const x of [1, 2, 3, 4, 5]) s.push(x, x)
    s.trim(3.5)
    expect(s.points.map((p) => p.x)).toEqual([3, 4, 5])
  })

  it('fills a span a replay landed in the middle, keeping the points on both sides and in order', () => {
    const b = new SeriesBuffer()
    for (const x of [1000, 2000, 9000, 10_000]) b.push(x, x / 1000)
    b.fillSpan(
      [
        [3000, 3, 3, 3],
        [4000, 4, 3.5, 4.5],
        [12_000, 12, 12, 12],
      ],
      2500,
      8000,
    )
    expect(b.points).toEqual([
      { x: 1000, y: 1 },
      { x: 2000, y: 2 },
      { x: 3000, y: 3 },
      { x: 4000, y: 4, lo: 3.5, hi: 4.5 },
      { x: 9000, y: 9 },
      { x: 10_000, y: 10 },
    ])
  })
})
