import type { MiddlewareHandler } from 'hono'
import { secureHeaders } from 'hono/secure-headers'
import type { AuthEnv } from './auth/index.ts'
import { refuse } from './errors.ts'
import { clientOf, identifyClient, trustedProxies } from './http.ts'
import type { FailureThrottle } from './limits/index.ts'
import type { Logger } from './log.ts'

/**
 * Works out who the client is once, first thing: every per-address limit, log line and anonymous check asks.
 * Proxies listed in `VIGIL_TRUSTED_PROXIES` name the client behind them.
 */
export function identifyClients(proxies: readonly string[]): MiddlewareHandler<AuthEnv> {
  const trusted = trustedProxies(proxies)
  return (c, next) => {
    c.set(
      'client',
      identifyClient(c.env.incoming.socket.remoteAddress ?? '', (h) => c.req.header(h), trusted),
    )
    return next()
  }
}

/** One line per answered request once it is done (a stream's when it ends); the logger redacts secrets. */
export function accessLog(log: Logger): MiddlewareHandler<AuthEnv> {
  return (c, next) => {
    const started = performance.now()
    const { outgoing } = c.env
    outgoing.once('close', () => {
      log.info('request', {
        method: c.req.method,
        path: c.req.url.slice(c.req.url.indexOf('/', c.req.url.indexOf('//') + 2)),
        status: outgoing.statusCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
        client: clientOf(c).address,
        identity: c.var.identity?.name ?? null,
      })
    })
    return next()
  }
}

/**
 * The dashboard is static files and same-origin requests only: no inline script or style, no framing. HSTS only
 * over HTTPS, where it means something: one header set per protocol, picked per request.
 */
export function securityHeaders(): MiddlewareHandler<AuthEnv> {
  const headers = (hsts: boolean) =>
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
      strictTransportSecurity: hsts ? 'max-age=15552000' : false,
    })
  const overHttps = headers(true)
  const overHttp = headers(false)
  return (c, next) => (c.req.url.startsWith('https:') ? overHttps : overHttp)(c, next)
}

/**
 * Credential guessing: a wrong token, login code or pasted token costs the address one of its few failures, and an
 * address that spent them is refused whatever it presents until the bucket refills.
 */
export function throttleAuthFailures(throttle: FailureThrottle): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const login = c.req.path === '/login' && c.req.query('code') !== undefined
    const presents =
      c.req.header('authorization') !== undefined || login || (c.req.method === 'POST' && c.req.path === '/api/session')
    if (!presents) return next()
    const ip = clientOf(c).address
    const wait = throttle.blockedFor(ip, Date.now())
    if (wait > 0) {
      c.header('retry-after', String(wait))
      return refuse(c, 'rate_limited', `Too many failed logins or token checks; try again in ${wait} s`)
    }
    await next()
    const refused = c.res.status === 401 || (login && (c.res.headers.get('location') ?? '').includes('error='))
    if (refused) throttle.fail(ip, Date.now())
  }
}
