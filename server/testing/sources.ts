import { readdirSync } from 'node:fs'
import { join } from 'node:path'

/** Every `.ts` file under `dir`, tests included: the layout and docs checks read the tree with it. */
export function tsSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsSources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}
