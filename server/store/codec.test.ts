import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeChunk, encodeChunk } from './codec.ts'

/** Compares bit for bit, so −0 differs from 0 and NaN equals NaN. */
function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false
  return true
}

const special = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  0,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.EPSILON,
  2 ** 53,
  -(2 ** 50) - 1,
)
const decimal = fc
  .tuple(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }), fc.integer({ min: 0, max: 6 }))
  .map(([n, e]) => n / 10 ** e)
const value = fc.oneof(fc.double(), special, decimal, fc.integer({ min: -5, max: 5 }))
/** Series as monitoring produces them: a few values repeated, or drifting by small decimal steps. */
const gauge = fc
  .tuple(
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 400 }),
  )
  .map(([start, steps]) => {
    let v = Math.round(start * 100) / 100
    const out = [v]
    for (const s of steps) {
      v = Math.round((v + s / 100) * 100) / 100
      out.push(v)
    }
    return out
  })

/** Regular, jittered, repeated, backwards and huge-gap timestamps, all integers within the codec's ±2^50. */
const timestamps = (n: number) =>
  fc
    .tuple(
      fc.integer({ min: -(2 ** 49), max: 2 ** 49 }),
      fc.array(
        fc.oneof(
          fc.constant(1000),
          fc.integer({ min: 990, max: 1010 }),
          fc.constant(0),
          fc.integer({ min: -100_000, max: 100_000 }),
          fc.integer({ min: -(2 ** 48), max: 2 ** 48 }),
        ),
        { minLength: n, maxLength: n },
      ),
    )
    .map(([t0, deltas]) => {
      let t = t0
      return deltas.map((d) => {
        t = Math.max(-(2 ** 50), Math.min(2 ** 50, t + d))
        return t
      })
    })

const rows = (values: fc.Arbitrary<number[]>) => values.chain((vs) => timestamps(vs.length).map((ts) => ({ ts, vs })))

describe('chunk codec', () => {
  it('round-trips random values, specials and irregular timestamps bit for bit', () => {
    fc.assert(
      fc.property(rows(fc.array(value, { maxLength: 300 })), ({ ts, vs }) => {
        const out = decodeChunk(encodeChunk(ts, [vs]))
        expect(sameBits(out.ts, ts)).toBe(true)
        expect(sameBits(out.cols[0] as Float64Array, vs)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('round-trips drifting decimal gauges and several columns at once', () => {
    fc.assert(
      fc.property(rows(gauge), fc.array(value, { minLength: 401, maxLength: 401 }), ({ ts, vs }, other) => {
        const second = other.slice(0, vs.length)
        const out = decodeChunk(encodeChunk(ts, [vs, second, vs.map((v) => -v)]))
        expect(sameBits(out.ts, ts)).toBe(true)
        expect(sameBits(out.cols[0] as Float64Array, vs)).toBe(true)
        expect(sameBits(out.cols[1] as Float64Array, second)).toBe(true)
        expect(
          sameBits(
            out.cols[2] as Float64Array,
            vs.map((v) => -v),
          ),
        ).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('encodes a sub-range of larger buffers', () => {
    const ts = Float64Array.from({ length: 100 }, (_, i) => 1_700_000_000_000 + i * 1000)
    const vs = Float64Array.from({ length: 100 }, (_, i) => i / 4)
    const out = decodeChunk(encodeChunk(ts, [vs], 10, 20))
    expect([...out.ts]).toEqual([...ts.subarray(10, 20)])
    expect([...(out.cols[0] as Float64Array)]).toEqual([...vs.subarray(10, 20)])
  })

  it('keeps duplicate timestamps as two samples in their order', () => {
    const out = decodeChunk(encodeChunk([5000, 5000, 5000, 6000], [[1, 2, 3, 4]]))
    expect([...out.ts]).toEqual([5000, 5000, 5000, 6000])
    expect([...(out.cols[0] as Float64Array)]).toEqual([1, 2, 3, 4])
  })

  it('stores an hour of a 1 Hz percentage at two decimals in under 2 bytes a sample', () => {
    let v = 20
    const ts = Array.from({ length: 3600 }, (_, i) => 1_700_000_000_000 + i * 1000)
    const vs = ts.map((_, i) => {
      v = Math.min(100, Math.max(0, Math.round((v + Math.sin(i) * 3) * 100) / 100))
      return v
    })
    const bytes = encodeChunk(ts, [vs]).length
    expect(bytes / 3600).toBeLessThan(2)
  })

  it('stores an hour of a constant series at a steady cadence in under 64 bytes', () => {
    const ts = Array.from({ length: 3600 }, (_, i) => 1_700_000_000_000 + i * 1000)
    expect(encodeChunk(ts, [ts.map(() => 17_179_869_184)]).length).toBeLessThan(64)
  })

  it('refuses timestamps that are not integers within ±2^50', () => {
    expect(() => encodeChunk([1.5], [[1]])).toThrow(RangeError)
    expect(() => encodeChunk([2 ** 51], [[1]])).toThrow(RangeError)
  })

  it('rejects a truncated chunk and an unknown version', () => {
    const bytes = encodeChunk([1000, 2000, 3000], [[Math.PI, Math.E, Math.SQRT2]])
    expect(() => decodeChunk(bytes.subarray(0, bytes.length - 4))).toThrow(RangeError)
    expect(() => decodeChunk(Uint8Array.of(9, 0))).toThrow('unknown chunk version 9')
  })
})
