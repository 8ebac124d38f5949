/**
 * OTLP's protobuf encoding of `ExportMetricsServiceRequest` (opentelemetry-proto, metrics/v1), read into the
 * shape of its JSON encoding, so one schema checks both. Only what Vigil maps is read: names, units, the points of
 * gauges and sums, the counts, sums and quantiles of histograms and summaries, and attributes. The other fields
 * are skipped by wire type, as protobuf readers do. A malformed message throws `ProtobufError`.
 */

export class ProtobufError extends Error {
  override name = 'ProtobufError'
}

const VARINT = 0
const FIXED64 = 1
const LEN = 2
const FIXED32 = 5

const utf8 = new TextDecoder('utf-8', { fatal: false })

class Reader {
  pos: number
  constructor(
    readonly buf: Uint8Array,
    readonly view: DataView,
    start: number,
    readonly end: number,
  ) {
    this.pos = start
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  /** A varint as a BigInt, for int64 values that may pass 2^53. */
  varint(): bigint {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint')
      const b = this.buf[this.pos++] as number
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
    }
    throw new ProtobufError('varint longer than 10 bytes')
  }

  /** A varint that fits a safe integer (tags, lengths, enums, bools), read without BigInt: the hot path. */
  small(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint')
      const b = this.buf[this.pos++] as number
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return result
      scale *= 128
    }
    throw new ProtobufError('varint out of range')
  }

  #at(n: number): number {
    if (this.pos + n > this.end) throw new ProtobufError('truncated field')
    const at = this.pos
    this.pos += n
    return at
  }

  /**
   * A fixed64 as a number: exact to 2^53, then to within a part in 2^53, which for nanoseconds since the epoch is
   * well under the millisecond Vigil keeps.
   */
  fixed64(): number {
    const at = this.#at(8)
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 2 ** 32
  }

  sfixed64(): number {
    const at = this.#at(8)
    return this.view.getUint32(at, true) + this.view.getInt32(at + 4, true) * 2 ** 32
  }

  double(): number {
    return this.view.getFloat64(this.#at(8), true)
  }

  /** A length-delimited field's own reader. */
  sub(): Reader {
    const n = this.small()
    if (this.pos + n > this.end) throw new ProtobufError('length past the end of its message')
    const r = new Reader(this.buf, this.view, this.pos, this.pos + n)
    this.pos += n
    return r
  }

  string(): string {
    const r = this.sub()
    return utf8.decode(this.buf.subarray(r.pos, r.end))
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint()
    else if (wire === FIXED64) this.#at(8)
    else if (wire === LEN) this.sub()
    else if (wire === FIXED32) this.#at(4)
    else throw new ProtobufError(`wire type ${wire} is not used by OTLP`)
  }

  /** Each field in turn: its number and wire type, for `read` to take or skip. */
  fields(read: (field: number, wire: number) => boolean): void {
    while (!this.done) {
      const tag = this.small()
      const field = tag >>> 3
      const wire = tag & 7
      if (field === 0) throw new ProtobufError('field number 0')
      if (!read(field, wire)) this.skip(wire)
    }
  }
}

type Json = Record<string, unknown>

function expect(wire: number, want: number, what: string): void {
  if (wire !== want) throw new ProtobufError(`${what} has wire type ${wire}, not ${want}`)
}

function anyValue(r: Reader): Json {
  const out: Json = {}
  r.fields((f, w) => {
    if (f === 1 && w === LEN) out.stringValue = r.string()
    else if (f === 2 && w === VARINT) out.boolValue = r.small() !== 0
    else if (f === 3 && w === VARINT) out.intValue = BigInt.asIntN(64, r.varint()).toString()
    else if (f === 4 && w === FIXED64) out.doubleValue = r.double()
    else if (f === 5 && w === LEN) out.arrayValue = { values: list(r.sub(), anyValue) }
    else if (f === 6 && w === LEN) out.kvlistValue = { values: list(r.sub(), keyValue) }
    else return false
    return true
  })
  return out
}

function keyValue(r: Reader): Json {
  const out: Json = { key: '' }
  r.fields((f, w) => {
    if (f === 1 && w === LEN) out.key = r.string()
    else if (f === 2 && w === LEN) out.value = anyValue(r.sub())
    else return false
    return true
  })
  return out
}

/** A message that is a list of one repeated field 1 (ArrayValue, KeyValueList). */
function list(r: Reader, item: (r: Reader) => Json): Json[] {
  const out: Json[] = []
  r.fields((f, w) => {
    if (f !== 1) return false
    expect(w, LEN, 'a list item')
    out.push(item(r.sub()))
    return true
  })
  return out
}

function numberDataPoint(r: Reader): Json {
  const out: Json = {}
  const attributes: Json[] = []
  r.fields((f, w) => {
    if (f === 7 && w === LEN) attributes.push(keyValue(r.sub()))
    else if (f === 2 && w === FIXED64) out.startTimeUnixNano = r.fixed64()
    else if (f === 3 && w === FIXED64) out.timeUnixNano = r.fixed64()
    else if (f === 4 && w === FIXED64) out.asDouble = r.double()
    else if (f === 6 && w === FIXED64) out.asInt = r.sfixed64()
    else return false
    return true
  })
  out.attributes = attributes
  return out
}

/** Gauge and Sum: points in field 1; a Sum's temporality (2) and monotonicity (3). */
function points(r: Reader, sum: boolean): Json {
  const dataPoints: Json[] = []
  const out: Json = { dataPoints }
  r.fields((f, w) => {
    if (f === 1 && w === LEN) dataPoints.push(numberDataPoint(r.sub()))
    else if (sum && f === 2 && w === VARINT) out.aggregationTemporality = r.small()
    else if (sum && f === 3 && w === VARINT) out.isMonotonic = r.small() !== 0
    else return false
    return true
  })
  return out
}

/** A summary's `ValueAtQuantile`: quantile (1) and value (2), both doubles. */
function quantileValue(r: Reader): Json {
  const out: Json = {}
  r.fields((f, w) => {
    if (f === 1 && w === FIXED64) out.quantile = r.double()
    else if (f === 2 && w === FIXED64) out.value = r.double()
    else return false
    return true
  })
  return out
}

/**
 * A histogram's, exponential histogram's or summary's point: times (2, 3), count (4, fixed64) and sum (5, double)
 * are where all three keep them; the attributes are field 9, 1 or 7; a summary's quantiles are field 6, which in
 * a histogram holds the buckets, skipped as the rest are.
 */
function distributionPoint(r: Reader, attributesField: number, quantiles: boolean): Json {
  const out: Json = {}
  const attributes: Json[] = []
  const quantileValues: Json[] = []
  r.fields((f, w) => {
    if (f === attributesField && w === LEN) attributes.push(keyValue(r.sub()))
    else if (f === 2 && w === FIXED64) out.startTimeUnixNano = r.fixed64()
    else if (f === 3 && w === FIXED64) out.timeUnixNano = r.fixed64()
    else if (f === 4 && w === FIXED64) out.count = r.fixed64()
    else if (f === 5 && w === FIXED64) out.sum = r.double()
    else if (quantiles && f === 6 && w === LEN) quantileValues.push(quantileValue(r.sub()))
    else return false
    return true
  })
  out.attributes = attributes
  if (quantiles) out.quantileValues = quantileValues
  return out
}

/** Histogram, ExponentialHistogram and Summary: points in field 1; the histograms' temporality in 2. */
function distribution(r: Reader, attributesField: number, kind: 'histogram' | 'summary'): Json {
  const dataPoints: Json[] = []
  const out: Json = { dataPoints }
  r.fields((f, w) => {
    if (f === 1 && w === LEN) dataPoints.push(distributionPoint(r.sub(), attributesField, kind === 'summary'))
    else if (kind === 'histogram' && f === 2 && w === VARINT) out.aggregationTemporality = r.small()
    else return false
    return true
  })
  return out
}

function metric(r: Reader): Json {
  const out: Json = { name: '' }
  r.fields((f, w) => {
    if (f === 1 && w === LEN) out.name = r.string()
    else if (f === 3 && w === LEN) out.unit = r.string()
    else if (f === 5 && w === LEN) out.gauge = points(r.sub(), false)
    else if (f === 7 && w === LEN) out.sum = points(r.sub(), true)
    else if (f === 9 && w === LEN) out.histogram = distribution(r.sub(), 9, 'histogram')
    else if (f === 10 && w === LEN) out.exponentialHistogram = distribution(r.sub(), 1, 'histogram')
    else if (f === 11 && w === LEN) out.summary = distribution(r.sub(), 7, 'summary')
    else return false
    return true
  })
  return out
}

function repeated(r: Reader, field: number, item: (r: Reader) => Json, others?: (f: number, w: number) => boolean) {
  const out: Json[] = []
  r.fields((f, w) => {
    if (f === field && w === LEN) {
      out.push(item(r.sub()))
      return true
    }
    return others?.(f, w) ?? false
  })
  return out
}

/** `ExportMetricsServiceRequest` bytes → its OTLP/JSON shape: `{resourceMetrics: [{resource, scopeMetrics}]}`. */
export function decodeMetricsRequest(buf: Uint8Array): Json {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const resourceMetrics = repeated(new Reader(buf, view, 0, buf.length), 1, (rm) => {
    const out: Json = {}
    out.scopeMetrics = repeated(
      rm,
      2,
      (sm) => ({ metrics: repeated(sm, 2, metric) }),
      (f, w) => {
        if (f !== 1 || w !== LEN) return false
        out.resource = { attributes: repeated(rm.sub(), 1, keyValue) }
        return true
      },
    )
    return out
  })
  return { resourceMetrics }
}
