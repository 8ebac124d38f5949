/**
 * Just enough protobuf for the OTLP tests, written apart from the hub's own reader and writer: a writer for
 * requests no SDK makes (summaries, broken messages) and a reader for the `google.rpc.Status` of a refusal.
 */
export const pb = {
  varint(n: number): number[] {
    const out: number[] = []
    for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128)
    return [...out, n]
  },
  len: (field: number, bytes: number[]) => [...pb.varint(field * 8 + 2), ...pb.varint(bytes.length), ...bytes],
  string: (field: number, s: string) => pb.len(field, [...Buffer.from(s)]),
  fixed(field: number, write: (b: Buffer) => void): number[] {
    const b = Buffer.alloc(8)
    write(b)
    return [...pb.varint(field * 8 + 1), ...b]
  },
  double: (field: number, v: number) => pb.fixed(field, (b) => b.writeDoubleLE(v)),
  fixed64: (field: number, v: bigint) => pb.fixed(field, (b) => b.writeBigUInt64LE(v)),
  /** An `ExportMetricsServiceRequest`: one resource with `host.name`, one scope with these `Metric`s. */
  request(host: string, metrics: number[][]): number[] {
    const resource = pb.len(1, [...pb.string(1, 'host.name'), ...pb.len(2, pb.string(1, host))])
    return pb.len(1, [
      ...pb.len(1, resource),
      ...pb.len(
        2,
        metrics.flatMap((m) => pb.len(2, m)),
      ),
    ])
  },
}

/** A message's fields, in order: varints as numbers, length-delimited ones as bytes. Other wire types throw. */
function fields(bytes: Uint8Array): [number, number | Uint8Array][] {
  const out: [number, number | Uint8Array][] = []
  let pos = 0
  const varint = () => {
    let n = 0
    for (let scale = 1; ; scale *= 128) {
      const b = bytes[pos++]
      if (b === undefined) throw new Error('truncated varint')
      n += (b & 127) * scale
      if (b < 128) return n
    }
  }
  while (pos < bytes.length) {
    const tag = varint()
    if (tag % 8 === 0) out.push([tag >> 3, varint()])
    else if (tag % 8 === 2) {
      const n = varint()
      out.push([tag >> 3, bytes.subarray(pos, pos + n)])
      pos += n
    } else throw new Error(`wire type ${tag % 8} in a Status`)
  }
  return out
}

const text = (v: number | Uint8Array | undefined) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '')
const get = (f: [number, number | Uint8Array][], n: number) => f.find(([k]) => k === n)?.[1]

/** A `google.rpc.Status`: its code, message, and each detail's type URL with an `ErrorInfo`'s reason and domain. */
export function decodeStatus(bytes: Uint8Array) {
  const status = fields(bytes)
  return {
    code: get(status, 1) as number,
    message: text(get(status, 2)),
    details: status
      .filter(([k]) => k === 3)
      .map(([, any]) => {
        const a = fields(any as Uint8Array)
        const info = fields(get(a, 2) as Uint8Array)
        return { typeUrl: text(get(a, 1)), reason: text(get(info, 1)), domain: text(get(info, 2)) }
      }),
  }
}
