import { Hono } from 'hono'
import type { RouterRoute } from 'hono/types'
import { describeRoute } from './describe.ts'
import { openApiDocument } from './document.ts'

/**
 * `GET /api/openapi.json`: the app's OpenAPI 3.1 document, built from `routes()` (the app's `routes`, read when
 * first asked, once every route is registered) and kept. Public, like the API docs of any tool.
 */
export function openApiRoutes(routes: () => readonly RouterRoute[], version: string): Hono {
  const app = new Hono()
  let body: string | null = null
  app.get(
    '/api/openapi.json',
    describeRoute({
      tag: 'meta',
      summary: 'This document',
      response: { description: 'The OpenAPI 3.1 document of every route of the hub' },
    }),
    (c) => {
      body ??= JSON.stringify(openApiDocument(routes(), version).document)
      return c.body(body, 200, { 'content-type': 'application/json; charset=utf-8' })
    },
  )
  return app
}
