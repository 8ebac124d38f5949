import type { Context, MiddlewareHandler } from 'hono'
import type { Code } from '../errors.ts'
import type { ErrorBody } from '../protocol/index.ts'

export const PROTOBUF = 'application/x-protobuf'

/** A request's media type, lower case, without parameters: `application/x-protobuf`, or '' without one. */
export function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** The gRPC status code each of Vigil's codes is closest to, for `google.rpc.Status.code`. */
const GRPC: Readonly<Record<Code, number>> = {
  invalid: 3, // INVALID_ARGUMENT
  bad_json: 3,
  unknown_command: 3,
  unauthorized: 16, // UNAUTHENTICATED
  forbidden: 7, // PERMISSION_DENIED
  not_found: 5, // NOT_FOUND
  conflict: 10, // ABORTED
  payload_too_large: 8, // RESOURCE_EXHAUSTED
  cardinality_limit: 8,
  too_many_connections: 8,
  rate_limited: 8,
  internal: 13, // INTERNAL
  unavailable: 14, // UNAVAILABLE
}

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'
const utf8 = new TextEncoder()

function varint(n: number): number[] {
  const out: number[] = []
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128)
  out.push(n)
  return out
}

/** A length-delimited field: a string, bytes or an embedded message. */
function field(number: number, bytes: Uint8Array | number[]): number[] {
  return [...varint(number * 8 + 2), ...varint(bytes.length), ...bytes]
}

/**
 * A refusal as OTLP/HTTP has it for protobuf: a `google.rpc.Status` with the gRPC code, Vigil's message, and in
 * its details a `google.rpc.ErrorInfo` whose `reason` is Vigil's stable code (domain `vigil`).
 */
export function encodeStatus(code: Code, message: string): Uint8Array {
  const info = [...field(1, utf8.encode(code)), ...field(2, utf8.encode('vigil'))]
  const any = [...field(1, utf8.encode(ERROR_INFO)), ...field(2, info)]
  // Field 1, the code, is a varint: tag 8
  return new Uint8Array([8, ...varint(GRPC[code]), ...field(2, utf8.encode(message)), ...field(3, any)])
}

/**
 * For a protobuf request, turns the route's refusal, whoever made it (the token check, the body cap, validation,
 * the app's `onError`), from Vigil's JSON error body into the `Status` OTLP asks for, with the same status and
 * headers. JSON requests keep the JSON body.
 */
export function protobufRefusals(): MiddlewareHandler {
  return async (c, next) => {
    await next()
    if (c.res.status < 400 || mediaType(c) !== PROTOBUF) return
    let error: ErrorBody['error']
    try {
      ;({ error } = (await c.res.clone().json()) as ErrorBody)
    } catch {
      return
    }
    const headers = new Headers(c.res.headers)
    headers.set('content-type', PROTOBUF)
    headers.delete('content-length')
    const status = c.res.status
    c.res = undefined
    c.res = new Response(encodeStatus(error.code as Code, error.message), { status, headers })
  }
}
