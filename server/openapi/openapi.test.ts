import SwaggerParser from '@apidevtools/swagger-parser'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { startTestHub, type TestHub } from '../testing/hub.ts'
import { describeRoute, validate } from './describe.ts'
import { gatherRoutes, openApiDocument } from './document.ts'

let t: TestHub | null = null
afterEach(async () => {
  await t?.stop()
  t = null
})

type Doc = {
  openapi: string
  paths: Record<string, Record<string, Record<string, unknown>>>
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document, served without credentials even beyond loopback', async () => {
    t = await startTestHub()
    await t.hub.tokens.create('admin', 'me')
    await t.restart({ VIGIL_HOST: '0.0.0.0' })
    const res = await fetch(`http://127.0.0.1:${t.hub.port}/api/openapi.json`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const doc = (await res.json()) as Doc
    expect(doc.openapi).toBe('3.1.0')
    // A real validator: the OpenAPI 3.1 schema, and every $ref resolved
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy()
    // Without a token the API itself is closed here
    expect((await fetch(`http://127.0.0.1:${t.hub.port}/api/hosts`)).status).toBe(401)
  })

  it('documents every route of the app, and nothing the app does not answer', async () => {
    t = await startTestHub()
    const doc = (await (await fetch(`${t.hub.url}/api/openapi.json`)).json()) as Doc
    const inApp = [...gatherRoutes(t.hub.routes).values()]
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
      .sort()
    const inDoc = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    expect(inApp.length).toBeGreaterThan(30)
    expect(inDoc).toEqual(inApp)
    expect(inDoc).toContain('GET /api/openapi.json')
    expect(inDoc).toContain('POST /api/jobs/{id}/logs')
  })

  it('takes parameters, bodies and roles from the validators and role checks that enforce them', async () => {
    t = await startTestHub()
    const doc = (await (await fetch(`${t.hub.url}/api/openapi.json`)).json()) as Doc
    const series = doc.paths['/api/series']?.get as {
      parameters: { name: string; required: boolean; schema: { enum?: string[] } }[]
      'x-vigil-roles': string[]
      responses: Record<string, unknown>
    }
    expect(series.parameters.map((p) => [p.name, p.required])).toEqual([
      ['metric', true],
      ['host', false],
      ['from', false],
      ['to', false],
      ['points', false],
      ['format', false],
    ])
    expect(series.parameters.find((p) => p.name === 'format')?.schema.enum).toEqual(['json', 'csv'])
    expect(series['x-vigil-roles']).toEqual(['viewer', 'operator', 'admin'])
    expect(Object.keys(series.responses).sort()).toEqual(['200', '400', '401', '403', '404'])

    const post = doc.paths['/api/metrics']?.post as {
      requestBody: { content: Record<string, { schema: { required: string[] } }> }
      'x-vigil-roles': string[]
      responses: Record<string, { description: string }>
    }
    expect(post.requestBody.content['application/json']?.schema.required).toEqual(['samples'])
    expect(post['x-vigil-roles']).toEqual(['reporter', 'agent', 'admin'])
    expect(post.responses['429']?.description).toBe('`cardinality_limit`')

    const logs = doc.paths['/api/jobs/{id}/logs']?.post as {
      parameters: { name: string; in: string }[]
      requestBody: { content: Record<string, unknown> }
    }
    expect(logs.parameters.map((p) => `${p.in} ${p.name}`)).toEqual(['path id', 'query batch'])
    expect(Object.keys(logs.requestBody.content)).toEqual(['application/json', 'application/x-ndjson'])

    const health = doc.paths['/api/health']?.get as { security: unknown[] }
    expect(health.security).toEqual([])
  })

  it('moves a recursive schema’s $defs into components, so every $ref resolves', async () => {
    type Tree = { name: string; children?: Tree[] }
    const Tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), children: z.array(Tree).optional() }))
    const app = new Hono()
    app.post(
      '/trees',
      describeRoute({ tag: 'test', summary: 'A tree', response: { description: 'ok' }, public: true }),
      validate('json', z.object({ root: Tree })),
      (c) => c.json({}),
    )
    const { document, undocumented } = openApiDocument(app.routes, '0.0.0')
    expect(undocumented).toEqual([])
    const text = JSON.stringify(document)
    expect(text).not.toContain('#/$defs/')
    expect(text).toContain('#/components/schemas/Def1')
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeTruthy()
  })
})
