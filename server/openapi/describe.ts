import { zValidator } from '@hono/zod-validator'
import type { MiddlewareHandler, ValidationTargets } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ZodType } from 'zod'
import { type Code, invalidAs400, refuse } from '../errors.ts'
import type { Role } from '../protocol/index.ts'

/** What the OpenAPI document says of a route beyond what its middleware shows (schemas and roles). */
export interface RouteDoc {
  summary: string
  description?: string
  /** The feature it belongs to: the document's tag. */
  tag: string
  /** The success answer: its status (200 when absent), what it is, and its media type (JSON when absent). */
  response: {
    status?: 101 | 200 | 201 | 204 | 302
    description: string
    type?: 'application/json' | 'text/plain' | 'text/csv' | 'text/event-stream' | 'text/html'
  }
  /** A body the handler parses itself (NDJSON, or optional), where no `validate('json')` shows it. */
  body?: { schema: ZodType; required: boolean; types?: readonly string[] }
  /**
   * Refusals the route may answer beyond those its middleware implies (`invalid`, `unauthorized`, `forbidden`,
   * and `payload_too_large` from `limitBody`).
   */
  errors?: readonly Code[]
  /** Roles checked inside the handler (a WebSocket upgrade checks its own), where no `requireRole` shows them. */
  roles?: readonly Role[]
  /** No credentials needed, though the route comes after a check (`GET /login` reads a one-time code). */
  public?: boolean
}

/** A route's documentation, or a piece of it, carried by a middleware for the document to read from `app.routes`. */
export type RouteMeta =
  | { kind: 'doc'; doc: RouteDoc }
  | { kind: 'input'; target: keyof ValidationTargets; schema: ZodType }
  | { kind: 'roles'; roles: readonly Role[] }
  | { kind: 'refuses'; codes: readonly Code[] }

const META = Symbol('vigil.openapi')

/** Attaches `meta` to `handler`, which is returned. */
export function annotate<H extends MiddlewareHandler>(handler: H, meta: RouteMeta): H {
  Object.defineProperty(handler, META, { value: meta })
  return handler
}

/** The meta a handler carries, if any. */
export function metaOf(handler: unknown): RouteMeta | undefined {
  return (handler as { [META]?: RouteMeta } | null)?.[META]
}

/**
 * Documents a route for `/api/openapi.json`: a middleware that does nothing but carry `doc`. Put it first in the
 * route's handlers; its query, body and roles come from the `validate` and `requireRole` that enforce them.
 */
export function describeRoute(doc: RouteDoc): MiddlewareHandler {
  return annotate((_c, next) => next(), { kind: 'doc', doc })
}

/**
 * Validates a request's `target` with `schema` (zod at the edge), answering `400 invalid` with the first issue;
 * the OpenAPI document takes the route's parameters or body from the same schema.
 * @example app.get('/api/series', describeRoute({…}), validate('query', SeriesQuery), handler)
 */
export function validate<T extends ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return annotate(zValidator(target, schema, invalidAs400), { kind: 'input', target, schema })
}

/**
 * Refuses a body over `bytes` with `413 payload_too_large` (`message`, else "Body over N bytes") before it is read
 * further; the OpenAPI document lists the refusal on the route.
 */
export function limitBody(bytes: number, message = `Body over ${bytes} bytes`): MiddlewareHandler {
  const cap = bodyLimit({ maxSize: bytes, onError: (c) => refuse(c, 'payload_too_large', message) })
  return annotate(cap, { kind: 'refuses', codes: ['payload_too_large'] })
}
