import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { HttpBindings } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { errorBody } from '../errors.ts'
import { type Client, clientOf } from '../http.ts'
import { annotate, describeRoute, limitBody, validate } from '../openapi/index.ts'
import { WEB_DIST_DIR } from '../paths.ts'
import { type Identity, LoginRequest, ROLES, type Role } from '../protocol/index.ts'
import type { Principal, Tokens } from './tokens.ts'

export const SESSION_COOKIE = 'vigil_session'
const SESSION_TTL_MS = 30 * 86_400_000

/** What every authenticated route can read: who is asking, and the token behind it (null when anonymous). */
export type AuthEnv = {
  Bindings: HttpBindings
  Variables: { identity: Identity; principal: Principal | null; client?: Client }
}

/** Roles that may read the dashboard, the streams and the APIs. */
export const READ_ROLES: readonly Role[] = ['viewer', 'operator', 'admin']
/** Roles that may send commands. */
export const COMMAND_ROLES: readonly Role[] = ['operator', 'admin']

export type Resolved = { identity: Identity; principal: Principal | null } | { status: 401; message: string }

/**
 * Resolves a request's credentials: `Authorization: Bearer`, else the session cookie, else the anonymous viewer
 * (only when the hub is bound to loopback). A bearer that does not verify is refused, never downgraded.
 */
export async function resolveIdentity(
  tokens: Tokens,
  allowAnonymous: boolean,
  authorization: string | undefined,
  cookie: string | undefined,
): Promise<Resolved> {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization)
    const principal = m?.[1] ? await tokens.verify(m[1]) : null
    if (!principal) return { status: 401, message: 'Invalid or revoked token' }
    return { identity: { name: principal.name, role: principal.role, anonymous: false }, principal }
  }
  const principal = cookie ? await tokens.session(cookie) : null
  if (principal) return { identity: { name: principal.name, role: principal.role, anonymous: false }, principal }
  if (allowAnonymous) return { identity: { name: 'anonymous', role: 'viewer', anonymous: true }, principal: null }
  return { status: 401, message: 'Token required: send Authorization: Bearer <token> or log in at /login' }
}

/** Sets `identity` and `principal`, or answers 401 `unauthorized`. */
export function authenticate(tokens: Tokens, allowAnonymous: boolean): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    // The anonymous viewer is for this machine only, not for whoever a proxy on it forwards
    const anonymous = allowAnonymous && clientOf(c).local
    const r = await resolveIdentity(tokens, anonymous, c.req.header('authorization'), getCookie(c, SESSION_COOKIE))
    if ('status' in r) return c.json(errorBody('unauthorized', r.message), 401)
    c.set('identity', r.identity)
    c.set('principal', r.principal)
    await next()
  }
}

/** Answers 403 `forbidden` unless the identity's role is one of `roles`. */
export function requireRole(roles: readonly Role[], what: string): MiddlewareHandler<AuthEnv> {
  const check: MiddlewareHandler<AuthEnv> = async (c, next) => {
    const { role } = c.get('identity')
    if (!roles.includes(role)) return c.json(errorBody('forbidden', `Role ${role} may not ${what}`), 403)
    await next()
  }
  // The OpenAPI document lists a route's roles from the check itself
  return annotate(check, { kind: 'roles', roles })
}

async function startSession(c: Context<AuthEnv>, tokens: Tokens, tokenId: number): Promise<void> {
  setCookie(c, SESSION_COOKIE, await tokens.openSession(tokenId, SESSION_TTL_MS), {
    httpOnly: true,
    sameSite: 'Strict',
    // Under TLS the cookie never travels over plain HTTP
    secure: c.req.url.startsWith('https:'),
    path: '/',
    maxAge: SESSION_TTL_MS / 1000,
  })
}

/**
 * Login and logout: `GET /login?code=` (the one-time link; sets the cookie and strips the code from the URL by
 * redirecting), the `/login` page, and `/api/session` to log in with a pasted token, read or end the session.
 */
export function authRoutes(tokens: Tokens, allowAnonymous: boolean): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  const loginPage = join(WEB_DIST_DIR, 'login.html')

  app.get(
    '/login',
    describeRoute({
      tag: 'auth',
      summary: 'The login page, or a one-time login link',
      description:
        '`?code=` redeems a one-time code (the link the first start prints): it sets the session cookie and redirects to `/`; a used or expired code redirects to `/login?error=expired`. Without a code, the login page.',
      response: { description: 'The login page (or a 302 redirect for `?code=`)', type: 'text/html' },
      public: true,
    }),
    async (c, next) => {
      const code = c.req.query('code')
      if (code !== undefined) {
        const tokenId = code.length <= 100 ? await tokens.redeemLoginCode(code) : null
        if (tokenId === null) return c.redirect('/login?error=expired', 302)
        await startSession(c, tokens, tokenId)
        return c.redirect('/', 302)
      }
      if (!existsSync(loginPage)) return c.text('The dashboard is not built yet: run `npm run build`.', 503)
      return serveStatic({ root: WEB_DIST_DIR, path: 'login.html' })(c, next)
    },
  )

  const smallBody = limitBody(4096, 'A login body is at most 4 KiB')
  app.post(
    '/api/session',
    describeRoute({
      tag: 'auth',
      summary: 'Log in with a token',
      description:
        'Checks the token and sets the `vigil_session` cookie (HttpOnly, SameSite=Strict, Secure under TLS) for 30 days.',
      response: { description: 'Who the token is: `{name, role, anonymous}`' },
      errors: ['unauthorized'],
      public: true,
    }),
    smallBody,
    validate('json', LoginRequest),
    async (c) => {
      const principal = await tokens.verify(c.req.valid('json').token)
      if (!principal) return c.json(errorBody('unauthorized', 'Invalid or revoked token'), 401)
      await startSession(c, tokens, principal.tokenId)
      return c.json<Identity>({ name: principal.name, role: principal.role, anonymous: false })
    },
  )

  app.get(
    '/api/session',
    describeRoute({
      tag: 'auth',
      summary: 'Who is asking',
      response: { description: '`{name, role, anonymous}`: the token, session or anonymous viewer behind the request' },
      errors: ['unauthorized'],
      roles: ROLES,
    }),
    authenticate(tokens, allowAnonymous),
    (c) => c.json<Identity>(c.get('identity')),
  )

  app.delete(
    '/api/session',
    describeRoute({
      tag: 'auth',
      summary: 'Log out',
      description: 'Ends the session and clears its cookie.',
      response: { status: 204, description: 'The session is closed' },
      public: true,
    }),
    async (c) => {
      const cookie = getCookie(c, SESSION_COOKIE)
      if (cookie) await tokens.closeSession(cookie)
      deleteCookie(c, SESSION_COOKIE, { path: '/' })
      return c.body(null, 204)
    },
  )

  return app
}
