import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './paths.ts'
import { tsSources } from './testing/sources.ts'

const SERVER = join(ROOT, 'server')

/** Every relative import of a file, as written. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => m[1] as string)
}

describe('the server layout', () => {
  it('reaches every other feature folder through its index.ts, never a file inside it', () => {
    const offences: string[] = []
    for (const file of tsSources(SERVER)) {
      const rel = relative(SERVER, file)
      // Test helpers drive the whole hub; tests may open their own folder's files
      if (rel.startsWith('testing/') || rel.endsWith('.test.ts')) continue
      for (const spec of importsOf(file)) {
        const m = /^\.\.\/([a-z]+)\/([^/]+)\.ts$/.exec(spec)
        if (m && m[2] !== 'index') offences.push(`${rel} imports ${spec}`)
        if (!rel.includes('/') && /^\.\/[a-z]+\/(?!index\.ts$)/.test(spec)) offences.push(`${rel} imports ${spec}`)
      }
    }
    expect(offences).toEqual([])
  })

  it('imports server/main.ts from nowhere', () => {
    const importers = tsSources(SERVER).filter((f) => importsOf(f).some((s) => /(^|\/)main\.ts$/.test(s)))
    expect(importers.map((f) => relative(SERVER, f))).toEqual([])
  })
})
