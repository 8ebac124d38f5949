import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { OpenSeries } from './open.ts'

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 0, 1)

/** What a series holds by the last-write-wins rule, sorted by time. */
function reference(writes: readonly [number, number][]): [number, number][] {
  const m = new Map<number, number>()
  for (const [t, v] of writes) m.set(t, v)
  return [...m.entries()].sort((a, b) => a[0] - b[0])
}

function all(s: OpenSeries, a = -Infinity, b = Infinity): [number, number][] {
  const out: [number, number][] = []
  s.each(a, b, (t, v) => out.push([t, v]))
  return out
}

describe('an open series', () => {
  it('holds every write by the last-write-wins rule, encoded or not, whatever the order of writes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * HOUR }), fc.double({ noNaN: true })), { maxLength: 1500 }),
        fc.integer({ min: 0, max: 400 }),
        (writes, id) => {
          // Mostly in time order, as ticks come, with the random ones mixed in as replays and repeats
          const ordered = writes.map(([t, v], i) => [i % 3 === 0 ? T0 + t : T0 + i * 7000, v] as [number, number])
          const s = new OpenSeries()
          // Encoded every `id % 300 + 50` writes, as the store does under its memory budget
          ordered.forEach(([t, v], i) => {
            s.add(t, v)
            if (i % ((id % 300) + 50) === 0) s.encode()
          })
          const want = reference(ordered)
          expect(all(s)).toEqual(want)
          expect(s.n).toBe(want.length)
          expect(s.newest()).toBe(want.at(-1)?.[0] ?? null)
          for (const w of s.windowsBefore(Infinity)) {
            const inWindow = want.filter(([t]) => t >= w && t < w + HOUR)
            const { buf, i, end } = s.window(w)
            expect(Array.from(buf.ts.subarray(i, end))).toEqual(inWindow.map(([t]) => t))
            expect(Array.from(buf.v.subarray(i, end))).toEqual(inWindow.map(([, v]) => v))
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it('encodes all but its newest samples when asked, reads across segments and tail, and forgets closed windows', () => {
    const s = new OpenSeries()
    for (let i = 0; i < 2 * 3600; i++) {
      s.add(T0 + i * 1000, Math.round(Math.sin(i / 30) * 10_000) / 100)
      if (i % 250 === 249) expect(s.encode()).toBeGreaterThan(0)
    }
    expect(s.n).toBe(7200)
    expect(s.plain).toBeLessThan(300)
    expect(s.windowsBefore(T0 + 2 * HOUR)).toEqual([T0, T0 + HOUR])
    expect(all(s, T0 + HOUR - 2000, T0 + HOUR + 2000).map(([t]) => t)).toEqual(
      [-2000, -1000, 0, 1000].map((d) => T0 + HOUR + d),
    )
    s.dropBefore(T0 + HOUR)
    expect(s.n).toBe(3600)
    expect(s.windowsBefore(T0 + 2 * HOUR)).toEqual([T0 + HOUR])
    // A repeat of an encoded time replaces it
    s.add(T0 + HOUR + 5000, 42)
    expect(all(s, T0 + HOUR + 5000, T0 + HOUR + 5001)).toEqual([[T0 + HOUR + 5000, 42]])
    expect(s.n).toBe(3600)
  })
})
