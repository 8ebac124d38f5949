import type { Context } from 'hono'
import type { z } from 'zod'
import type { ErrorBody, ErrorCode } from './protocol.ts'

/** The one error body shape: `{error: {code, message}}`. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } }
}

/** zod failures at the edge become 400 `invalid` with the first issue as the message. */
export function invalidAs400(result: { success: true } | { success: false; error: z.core.$ZodError }, c: Context) {
  if (result.success) return
  const issue = result.error.issues[0]
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
  return c.json(errorBody('invalid', `${where}${issue?.message ?? 'invalid request'}`), 400)
}
