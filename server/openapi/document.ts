import type { RouterRoute } from 'hono/types'
import { z } from 'zod'
import { type Code, STATUS } from '../errors.ts'
import { ROLES, type Role } from '../protocol/index.ts'
import { metaOf, type RouteDoc } from './describe.ts'

type Json = Record<string, unknown>

export interface DocumentedRoute {
  method: string
  path: string
}

/** Hono's `/api/jobs/:id` → OpenAPI's `/api/jobs/{id}`. */
const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

/** Whether a middleware registered on `pattern` (`/api/*`, or an exact path) runs for `path`. */
function covers(pattern: string, path: string): boolean {
  if (pattern === '*' || pattern === '/*') return true
  if (pattern.endsWith('/*')) return path.startsWith(pattern.slice(0, -1)) || path === pattern.slice(0, -2)
  return pattern === path
}

/** Turns a zod schema into the document's JSON Schema. */
type ToSchema = (schema: z.ZodType) => Json

/**
 * A zod schema as JSON Schema (draft 2020-12, which OpenAPI 3.1 uses), as a client sends it. A recursive schema's
 * `$defs` (a `$ref` to `#/$defs/…` means nothing inside an OpenAPI document) move to `components.schemas`, each
 * under a name of its own.
 */
function schemaMaker(components: Record<string, Json>): ToSchema {
  let n = 0
  return (schema) => {
    const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json
    const defs = ($defs ?? {}) as Record<string, Json>
    const names = new Map(Object.keys(defs).map((name) => [name, `Def${++n}`]))
    const rewrite = (json: Json): Json =>
      JSON.parse(
        JSON.stringify(json).replace(/"#\/\$defs\/([^"]+)"/g, (ref, name: string) => {
          const hoisted = names.get(name)
          return hoisted ? `"#/components/schemas/${hoisted}"` : ref
        }),
      ) as Json
    for (const [name, def] of Object.entries(defs)) components[names.get(name) as string] = rewrite(def)
    return rewrite(rest)
  }
}

/** A query schema's properties as OpenAPI parameters. */
function queryParameters(schema: z.ZodType, jsonSchema: ToSchema): Json[] {
  const s = jsonSchema(schema) as { properties?: Record<string, Json>; required?: string[] }
  return Object.entries(s.properties ?? {}).map(([name, p]) => {
    const { description, ...rest } = p as Json & { description?: string }
    return {
      name,
      in: 'query',
      required: s.required?.includes(name) ?? false,
      schema: rest,
      ...(description ? { description } : {}),
    }
  })
}

interface Gathered {
  doc: RouteDoc | null
  inputs: { target: string; schema: z.ZodType }[]
  roles: readonly Role[] | null
  /** Refusals its middleware answers (a body cap's `payload_too_large`). */
  refuses: Code[]
}

/**
 * The routes of an app as its `routes` list has them, each with what its own handlers and the middleware
 * registered before it (on a pattern that covers it) carry: the doc, the validated inputs, the roles, the refusals. A route is
 * a method and path with a handler of its own, not `app.use` middleware (method `ALL`) or a wildcard (the
 * dashboard's static files).
 */
export function gatherRoutes(routes: readonly RouterRoute[]): Map<string, DocumentedRoute & Gathered> {
  const out = new Map<string, DocumentedRoute & Gathered>()
  for (const [i, r] of routes.entries()) {
    if (r.method === 'ALL' || r.path.includes('*')) continue
    const key = `${r.method} ${r.path}`
    let g = out.get(key)
    if (!g) {
      g = { method: r.method, path: r.path, doc: null, inputs: [], roles: null, refuses: [] }
      // Middleware on a pattern that covers this path and was registered before it ran first
      for (const m of routes.slice(0, i)) {
        const meta = metaOf(m.handler)
        if (meta?.kind === 'roles' && m.method === 'ALL' && covers(m.path, r.path)) g.roles = meta.roles
      }
      out.set(key, g)
    }
    const meta = metaOf(r.handler)
    if (meta?.kind === 'doc') g.doc = meta.doc
    if (meta?.kind === 'input') g.inputs.push({ target: meta.target, schema: meta.schema })
    if (meta?.kind === 'roles') g.roles = meta.roles
    if (meta?.kind === 'refuses') g.refuses.push(...meta.codes)
  }
  return out
}

const ERROR_SCHEMA: Json = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(STATUS), description: 'Stable: branch on it' },
        message: { type: 'string', description: 'For people: it may change' },
      },
    },
  },
}

function operation(g: Gathered & DocumentedRoute, doc: RouteDoc, jsonSchema: ToSchema): Json {
  const roles = doc.roles ?? g.roles
  const open = doc.public || !roles
  const codes = new Set([...g.refuses, ...(doc.errors ?? [])])
  const parameters: Json[] = [...g.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }))
  let requestBody: Json | undefined
  for (const input of g.inputs) {
    codes.add('invalid')
    if (input.target === 'query') parameters.push(...queryParameters(input.schema, jsonSchema))
    if (input.target === 'json') {
      requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(input.schema) } } }
    }
  }
  if (doc.body) {
    codes.add('invalid')
    const schema = jsonSchema(doc.body.schema)
    const types = doc.body.types ?? ['application/json']
    requestBody = { required: doc.body.required, content: Object.fromEntries(types.map((t) => [t, { schema }])) }
  }
  if (!open) codes.add('unauthorized')
  // A route every role may call refuses none for its role
  if (!open && roles.length < ROLES.length) codes.add('forbidden')
  const responses: Json = {
    [String(doc.response.status ?? 200)]: {
      description: doc.response.description,
      ...(doc.response.status === 101 || doc.response.status === 204 || doc.response.status === 302
        ? {}
        : { content: { [doc.response.type ?? 'application/json']: {} } }),
    },
  }
  for (const code of codes) {
    const status = String(STATUS[code])
    const was = responses[status] as { description: string } | undefined
    responses[status] = {
      description: was ? `${was.description}, or \`${code}\`` : `\`${code}\``,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    }
  }
  const who = open ? 'No credentials needed.' : `Roles: ${roles.join(', ')}.`
  return {
    operationId: `${g.method.toLowerCase()}${g.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
    summary: doc.summary,
    description: [doc.description, who].filter(Boolean).join('\n\n'),
    tags: [doc.tag],
    ...(open ? { security: [] } : { 'x-vigil-roles': roles }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  }
}

/**
 * The OpenAPI 3.1 document of an app: every route that `describeRoute` documents, its parameters and body from
 * the zod schemas its `validate` middleware enforces, its roles from `requireRole`, and its refusals with the one
 * error body. Routes without a doc are listed in `undocumented` (a test keeps that empty).
 */
export function openApiDocument(
  routes: readonly RouterRoute[],
  version: string,
): { document: Json; undocumented: string[] } {
  const paths: Record<string, Record<string, Json>> = {}
  const undocumented: string[] = []
  const schemas: Record<string, Json> = { Error: ERROR_SCHEMA }
  const jsonSchema = schemaMaker(schemas)
  for (const g of gatherRoutes(routes).values()) {
    if (!g.doc) {
      undocumented.push(`${g.method} ${g.path}`)
      continue
    }
    const item = paths[openApiPath(g.path)] ?? {}
    item[g.method.toLowerCase()] = operation(g, g.doc, jsonSchema)
    paths[openApiPath(g.path)] = item
  }
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Vigil',
      version,
      description:
        'The HTTP API of a Vigil hub. Errors are `{error: {code, message}}` with a stable `code`. The SSE stream, the control channel and the agent channel are described in docs/protocols.md.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { session: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from `vigil token create`' },
        session: { type: 'apiKey', in: 'cookie', name: 'vigil_session', description: 'The browser session' },
      },
    },
  }
  return { document, undocumented }
}
