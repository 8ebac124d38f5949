import type { ControlErrorCode } from './control.ts'

/** The stable codes of HTTP refusals; the control channel has its own list (`CONTROL_ERROR_CODES`). */
export type ErrorCode =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'internal'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'cardinality_limit'
  | 'too_many_connections'
  | 'rate_limited'
  | 'unavailable'
export interface ErrorBody {
  error: { code: ErrorCode | ControlErrorCode; message: string }
}
