export { tokenCommand } from './cli.ts'
export {
  type AuthEnv,
  authenticate,
  authRoutes,
  COMMAND_ROLES,
  READ_ROLES,
  type Resolved,
  requireRole,
  resolveIdentity,
  SESSION_COOKIE,
} from './http.ts'
export { hashSecret, type Principal, TokenError, type TokenInfo, Tokens } from './tokens.ts'
