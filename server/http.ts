import type { Context } from 'hono'
import type { z } from 'zod'
import type { ErrorBody, ErrorCode } from './protocol.ts'

/** The one error body shape: `{error: {code, message}}`. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
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

/** The peer address of a request (`c.env`), the key of per-address limits ('' when the socket has none). */
export function clientAddress(env: { incoming: { socket: { remoteAddress?: string | undefined } } }): string {
  return env.incoming.socket.remoteAddress ?? ''
}
