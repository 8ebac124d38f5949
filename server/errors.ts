import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { z } from 'zod'
import { CONTROL_ERROR_CODES, type ControlErrorCode, type ErrorBody, type ErrorCode } from './protocol/index.ts'

/** Every stable error code, HTTP and control channel alike. */
export type Code = ErrorCode | ControlErrorCode

/** The HTTP status of each code: the one table every HTTP refusal is answered from. */
export const STATUS: Readonly<Record<Code, ContentfulStatusCode>> = {
  invalid: 400,
  bad_json: 400,
  unknown_command: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  cardinality_limit: 429,
  too_many_connections: 429,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
}

const CONTROL_CODES: ReadonlySet<string> = new Set(CONTROL_ERROR_CODES)

/**
 * A refusal with a stable code, thrown by any feature: HTTP routes answer it with `STATUS[code]` and the error
 * body (through the app's one `onError`), the control channel with `{ok: false, error}`.
 * @example throw new AppError('not_found', `No job ${id}`)
 */
export class AppError extends Error {
  override name = 'AppError'
  readonly code: Code

  constructor(code: Code, message: string) {
    super(message)
    this.code = code
  }

  get status(): ContentfulStatusCode {
    return STATUS[this.code]
  }

  /** The code as a control-channel reply may carry it: one the channel does not know is `internal`. */
  get controlCode(): ControlErrorCode {
    return CONTROL_CODES.has(this.code) ? (this.code as ControlErrorCode) : 'internal'
  }
}

/** The one error body shape: `{error: {code, message}}`. */
export function errorBody(code: Code, message: string): ErrorBody {
  return { error: { code, message } }
}

/** The first issue of a zod failure as one line: `path: message`, or just the message at the top level. */
export function issueMessage(error: z.core.$ZodError): string {
  const issue = error.issues[0]
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
  return `${where}${issue?.message ?? 'invalid input'}`
}

/** zod failures at the edge become 400 `invalid` with the first issue as the message. */
export function invalidAs400(result: { success: true } | { success: false; error: z.core.$ZodError }, c: Context) {
  if (result.success) return
  return c.json(errorBody('invalid', issueMessage(result.error)), 400)
}

/** Answers an error as its code's status and body, for guard clauses that return rather than throw. */
export function refuse(c: Context, code: Code, message: string) {
  return c.json(errorBody(code, message), STATUS[code])
}
