/**
 * The chunk codec: a block of samples (integer timestamps plus one or more float64 columns) as a compact byte
 * string, lossless for every float64 bit pattern.
 *
 * - Timestamps: the first as a zigzag integer, then delta-of-delta with Gorilla-style prefix buckets, and a run of
 *   equal deltas as its length, so a steady cadence costs a few bytes a chunk.
 * - Each value column picks the smaller of two encodings:
 *   - decimal: when the values are decimals with a few digits (ALP's observation), each becomes an integer
 *     `round(v × 10^e)` that divides back to exactly `v`; the integers are stored as deltas divided by their
 *     common divisor, bit-packed per block of 128 against the block minimum. Values that don't fit (NaN, ±∞, −0,
 *     more digits) are exceptions kept as raw bits;
 *   - xor: Gorilla's XOR of each value with the previous one, for values with no short decimal form.
 *
 * The codec keeps duplicate and out-of-order timestamps as given: deciding what a duplicate means is the store's job.
 */

const VERSION = 1
const BLOCK = 128
/** Timestamps and decimal integers stay within ±2^50 so every delta and zigzag fits a double exactly. */
const MAX_INT = 2 ** 50
const TWO_32 = 4_294_967_296
const MAX_EXPONENT = 12
const POW10 = Array.from({ length: MAX_EXPONENT + 1 }, (_, e) => 10 ** e)

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
  throw new Error('the chunk codec assumes a little-endian host')

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1)
const unzigzag = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2)
const bitsFor = (n: number): number => (n === 0 ? 0 : n < TWO_32 ? 32 - Math.clz32(n) : 64 - Math.clz32(n / TWO_32))
const ctz32 = (x: number): number => 31 - Math.clz32(x & -x)

class BitWriter {
  private buf = new Uint8Array(256)
  private pos = 0
  private cur = 0
  private used = 0

  /** Writes the low `n` bits of `v` (0 ≤ n ≤ 32), most significant first. */
  write(v: number, n: number): void {
    while (n > 0) {
      const free = 8 - this.used
      const take = free < n ? free : n
      n -= take
      this.cur |= ((v >>> n) & ((1 << take) - 1)) << (free - take)
      this.used += take
      if (this.used === 8) this.flushByte()
    }
  }

  /** Writes a non-negative integer below 2^53 in `n` bits (n ≤ 53). */
  writeWide(v: number, n: number): void {
    if (n <= 32) this.write(v, n)
    else {
      this.write(Math.floor(v / TWO_32), n - 32)
      this.write(v >>> 0, 32)
    }
  }

  /** A non-negative integer below 2^53 behind a prefix that sizes it: 0 costs one bit. */
  writeBucketed(z: number): void {
    if (z === 0) this.write(0, 1)
    else if (z < 128) this.write((0b10 << 7) | z, 9)
    else if (z < 4096) this.write((0b110 << 12) | z, 15)
    else if (z < 1_048_576) this.write((0b1110 << 20) | z, 24)
    else {
      this.write(0b1111, 4)
      this.writeWide(z, 53)
    }
  }

  bitLength(): number {
    return this.pos * 8 + this.used
  }

  /** Appends everything another writer holds. */
  append(other: BitWriter): void {
    const bytes = other.pos
    for (let i = 0; i < bytes; i++) this.write(other.buf[i] as number, 8)
    if (other.used > 0) this.write(other.cur >>> (8 - other.used), other.used)
  }

  finish(): Uint8Array {
    if (this.used > 0) this.flushByte()
    return this.buf.slice(0, this.pos)
  }

  private flushByte(): void {
    if (this.pos === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2)
      grown.set(this.buf)
      this.buf = grown
    }
    this.buf[this.pos++] = this.cur
    this.cur = 0
    this.used = 0
  }
}

class BitReader {
  private pos = 0
  private used = 0
  constructor(private readonly buf: Uint8Array) {}

  read(n: number): number {
    let v = 0
    while (n > 0) {
      if (this.pos >= this.buf.length) throw new RangeError('chunk is truncated')
      const avail = 8 - this.used
      const take = avail < n ? avail : n
      const byte = this.buf[this.pos] as number
      v = v * (1 << take) + ((byte >>> (avail - take)) & ((1 << take) - 1))
      n -= take
      this.used += take
      if (this.used === 8) {
        this.pos++
        this.used = 0
      }
    }
    return v
  }

  readWide(n: number): number {
    if (n <= 32) return this.read(n)
    const hi = this.read(n - 32)
    return hi * TWO_32 + this.read(32)
  }

  readBucketed(): number {
    if (this.read(1) === 0) return 0
    if (this.read(1) === 0) return this.read(7)
    if (this.read(1) === 0) return this.read(12)
    if (this.read(1) === 0) return this.read(20)
    return this.readWide(53)
  }
}

function checkTimestamp(t: number): void {
  if (!Number.isInteger(t) || Math.abs(t) > MAX_INT)
    throw new RangeError(`timestamp ${t} is not an integer within ±2^50`)
}

function writeTimestamps(w: BitWriter, ts: ArrayLike<number>, start: number, end: number): void {
  for (let i = start; i < end; i++) checkTimestamp(ts[i] as number)
  w.writeWide(zigzag(ts[start] as number), 52)
  if (end - start < 2) return
  let prevDelta = (ts[start + 1] as number) - (ts[start] as number)
  w.writeBucketed(zigzag(prevDelta))
  // A run of equal deltas (a steady cadence) is one '0' and its length; any other delta-of-delta is '1' + its size
  let run = 0
  for (let i = start + 2; i < end; i++) {
    const delta = (ts[i] as number) - (ts[i - 1] as number)
    const dod = delta - prevDelta
    prevDelta = delta
    if (dod === 0) {
      run++
      continue
    }
    if (run > 0) {
      w.write(0, 1)
      w.writeBucketed(run - 1)
      run = 0
    }
    w.write(1, 1)
    w.writeBucketed(zigzag(dod) - 1)
  }
  if (run > 0) {
    w.write(0, 1)
    w.writeBucketed(run - 1)
  }
}

function readTimestamps(r: BitReader, count: number): Float64Array {
  const ts = new Float64Array(count)
  let t = unzigzag(r.readWide(52))
  ts[0] = t
  if (count < 2) return ts
  let delta = unzigzag(r.readBucketed())
  t += delta
  ts[1] = t
  for (let i = 2; i < count; ) {
    if (r.read(1) === 0) {
      const run = r.readBucketed() + 1
      if (i + run > count) throw new RangeError('chunk timestamps overrun the count')
      for (let k = 0; k < run; k++) ts[i++] = t += delta
    } else {
      delta += unzigzag(r.readBucketed() + 1)
      ts[i++] = t += delta
    }
  }
  return ts
}

/** Writes bits `high..low` (63 = the sign bit) of the 64-bit word `hi:lo`. */
function writeRange(w: BitWriter, hi: number, lo: number, high: number, low: number): void {
  if (high >= 32) {
    const from = low > 32 ? low - 32 : 0
    w.write(hi >>> from, high - 32 - from + 1)
  }
  if (low < 32) {
    const top = high < 31 ? high : 31
    w.write(lo >>> low, top - low + 1)
  }
}

function writeXor(w: BitWriter, values: ArrayLike<number>, start: number, end: number): void {
  let ph = 0
  let pl = 0
  let lead = -1
  let trail = 0
  for (let i = start; i < end; i++) {
    f64[0] = values[i] as number
    const hi = u32[1] as number
    const lo = u32[0] as number
    if (i === start) {
      w.write(hi, 32)
      w.write(lo, 32)
    } else {
      const xh = (hi ^ ph) >>> 0
      const xl = (lo ^ pl) >>> 0
      if (xh === 0 && xl === 0) w.write(0, 1)
      else {
        let l = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl)
        if (l > 31) l = 31
        const t = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh)
        if (lead >= 0 && l >= lead && t >= trail) {
          w.write(0b10, 2)
          writeRange(w, xh, xl, 63 - lead, trail)
        } else {
          lead = l
          trail = t
          const meaningful = 64 - l - t
          w.write(0b11, 2)
          w.write(l, 5)
          w.write(meaningful & 63, 6)
          writeRange(w, xh, xl, 63 - l, t)
        }
      }
    }
    ph = hi
    pl = lo
  }
}

function readXor(r: BitReader, out: Float64Array): void {
  let hi = 0
  let lo = 0
  let lead = 0
  let trail = 0
  for (let i = 0; i < out.length; i++) {
    if (i === 0) {
      hi = r.read(32)
      lo = r.read(32)
    } else if (r.read(1) === 1) {
      if (r.read(1) === 1) {
        lead = r.read(5)
        const meaningful = r.read(6) || 64
        trail = 64 - lead - meaningful
      }
      const high = 63 - lead
      if (high >= 32) {
        const from = trail > 32 ? trail - 32 : 0
        hi = (hi ^ (r.read(high - 32 - from + 1) * 2 ** from)) >>> 0
      }
      if (trail < 32) {
        const top = high < 31 ? high : 31
        lo = (lo ^ (r.read(top - trail + 1) * 2 ** trail)) >>> 0
      }
    }
    u32[1] = hi
    u32[0] = lo
    out[i] = f64[0] as number
  }
}

const fitsDecimal = (v: number, p: number): boolean => {
  const n = Math.round(v * p)
  return n / p === v && Math.abs(n) <= MAX_INT && !Object.is(v, -0)
}

/** The exponent with the fewest exceptions (the smallest on a tie), or -1 when every one leaves too many. */
function pickExponent(values: ArrayLike<number>, start: number, end: number): number {
  const limit = (end - start) >> 3
  let best = -1
  let bestMisses = limit + 1
  for (let e = 0; e <= MAX_EXPONENT; e++) {
    const p = POW10[e] as number
    let misses = 0
    for (let i = start; i < end && misses < bestMisses; i++) if (!fitsDecimal(values[i] as number, p)) misses++
    if (misses < bestMisses) {
      best = e
      bestMisses = misses
      if (misses === 0) break
    }
  }
  return best
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function writeDecimal(w: BitWriter, values: ArrayLike<number>, start: number, end: number, e: number): void {
  const p = POW10[e] as number
  const count = end - start
  const ints = new Float64Array(count)
  const exceptions: number[] = []
  let prev = 0
  for (let i = 0; i < count; i++) {
    const v = values[start + i] as number
    if (fitsDecimal(v, p)) prev = Math.round(v * p)
    else exceptions.push(i)
    ints[i] = prev
  }
  let divisor = 0
  for (let i = 1; i < count; i++) divisor = gcd(divisor, Math.abs((ints[i] as number) - (ints[i - 1] as number)))
  if (divisor === 0) divisor = 1
  w.write(e, 4)
  w.writeBucketed(exceptions.length)
  let last = 0
  for (const i of exceptions) {
    w.writeBucketed(i - last)
    last = i
    f64[0] = values[start + i] as number
    w.write(u32[1] as number, 32)
    w.write(u32[0] as number, 32)
  }
  w.writeWide(zigzag(ints[0] as number), 52)
  w.writeBucketed(divisor - 1)
  for (let b = 1; b < count; b += BLOCK) {
    const stop = Math.min(count, b + BLOCK)
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (let i = b; i < stop; i++) {
      const d = ((ints[i] as number) - (ints[i - 1] as number)) / divisor
      if (d < lo) lo = d
      if (d > hi) hi = d
    }
    const width = bitsFor(hi - lo)
    w.writeBucketed(zigzag(lo))
    w.write(width, 6)
    if (width > 0) {
      for (let i = b; i < stop; i++) w.writeWide(((ints[i] as number) - (ints[i - 1] as number)) / divisor - lo, width)
    }
  }
}

function readDecimal(r: BitReader, out: Float64Array): void {
  const p = POW10[r.read(4)] as number
  const count = out.length
  const exceptions = new Map<number, number>()
  const nExceptions = r.readBucketed()
  let at = 0
  for (let k = 0; k < nExceptions; k++) {
    at += r.readBucketed()
    u32[1] = r.read(32)
    u32[0] = r.read(32)
    exceptions.set(at, f64[0] as number)
  }
  let n = unzigzag(r.readWide(52))
  const divisor = r.readBucketed() + 1
  out[0] = n / p
  for (let b = 1; b < count; b += BLOCK) {
    const stop = Math.min(count, b + BLOCK)
    const lo = unzigzag(r.readBucketed())
    const width = r.read(6)
    for (let i = b; i < stop; i++) {
      n += (lo + (width > 0 ? r.readWide(width) : 0)) * divisor
      out[i] = n / p
    }
  }
  for (const [i, v] of exceptions) out[i] = v
}

const MODE_XOR = 0
const MODE_DECIMAL = 1

/**
 * Encodes rows `start..end` of `ts` and of each column. Timestamps must be integers within ±2^50.
 * @example encodeChunk([1000, 2000], [[0.5, 0.75]]) // → Uint8Array
 */
export function encodeChunk(
  ts: ArrayLike<number>,
  cols: readonly ArrayLike<number>[],
  start = 0,
  end = ts.length,
): Uint8Array {
  const count = end - start
  if (cols.length === 0 || cols.length > 15) throw new RangeError('a chunk holds 1 to 15 value columns')
  const w = new BitWriter()
  w.write(VERSION, 8)
  w.writeBucketed(count)
  w.write(cols.length, 4)
  if (count === 0) return w.finish()
  writeTimestamps(w, ts, start, end)
  for (const col of cols) {
    const xor = new BitWriter()
    writeXor(xor, col, start, end)
    const e = pickExponent(col, start, end)
    let best = xor
    let mode = MODE_XOR
    if (e >= 0) {
      const decimal = new BitWriter()
      writeDecimal(decimal, col, start, end, e)
      if (decimal.bitLength() < xor.bitLength()) {
        best = decimal
        mode = MODE_DECIMAL
      }
    }
    w.write(mode, 2)
    w.append(best)
  }
  return w.finish()
}

export interface DecodedChunk {
  ts: Float64Array
  cols: Float64Array[]
}

/** The inverse of {@link encodeChunk}. Throws a RangeError on a truncated or unknown chunk. */
export function decodeChunk(bytes: Uint8Array): DecodedChunk {
  const r = new BitReader(bytes)
  const version = r.read(8)
  if (version !== VERSION) throw new RangeError(`unknown chunk version ${version}`)
  const count = r.readBucketed()
  const ncols = r.read(4)
  if (count === 0) return { ts: new Float64Array(0), cols: Array.from({ length: ncols }, () => new Float64Array(0)) }
  const ts = readTimestamps(r, count)
  const cols: Float64Array[] = []
  for (let c = 0; c < ncols; c++) {
    const out = new Float64Array(count)
    const mode = r.read(2)
    if (mode === MODE_XOR) readXor(r, out)
    else if (mode === MODE_DECIMAL) readDecimal(r, out)
    else throw new RangeError(`unknown column mode ${mode}`)
    cols.push(out)
  }
  return { ts, cols }
}
