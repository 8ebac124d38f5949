import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatherRoutes } from './openapi/index.ts'
import { ROOT } from './paths.ts'
import { startTestHub, type TestHub } from './testing/hub.ts'
import { tsSources } from './testing/sources.ts'

const doc = (name: string) => readFileSync(join(ROOT, 'docs', name), 'utf8')

let t: TestHub
beforeAll(async () => {
  t = await startTestHub({ VIGIL_SAMPLE_MS: '60000' })
})
afterAll(() => t.stop())

describe('the reference docs', () => {
  it('name every VIGIL_ environment variable the code reads in docs/configuration.md', () => {
    const inCode = new Set<string>()
    const code = tsSources(join(ROOT, 'server')).filter((f) => !/\/testing\/|\.(test|suite)\.ts$/.test(f))
    for (const file of code) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bVIGIL_[A-Z0-9_]+\b/g)) inCode.add(m[0])
    }
    const configuration = doc('configuration.md')
    expect(inCode.size).toBeGreaterThan(30)
    expect([...inCode].filter((v) => !configuration.includes(`\`${v}\``)).sort()).toEqual([])
  })

  it('list every route of the OpenAPI document in docs/api.md', async () => {
    const api = doc('api.md')
    const routes = [...gatherRoutes(t.hub.routes).values()].map((r) => `${r.method} ${r.path}`)
    const served = (await (await fetch(`${t.hub.url}/api/openapi.json`)).json()) as { paths: object }
    expect(routes.length).toBe(
      Object.values(served.paths).reduce((n, item) => n + Object.keys(item as object).length, 0),
    )
    const missing = routes.filter((r) => !new RegExp(`\`${r.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}[\`? ]`).test(api))
    expect(missing.sort()).toEqual([])
  })
})
