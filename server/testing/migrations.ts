import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Copies a drizzle migrations folder into `into`, keeping only the migrations before the one tagged `tag`: the
 * schema as an older release left it, to test an upgrade from.
 */
export function migrationsBefore(folder: string, tag: string, into: string): string {
  mkdirSync(join(into, 'meta'), { recursive: true })
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string }[]
  }
  const at = journal.entries.findIndex((e) => e.tag === tag)
  if (at < 1) throw new Error(`no migration before ${tag} in ${folder}`)
  journal.entries = journal.entries.slice(0, at)
  for (const e of journal.entries) cpSync(join(folder, `${e.tag}.sql`), join(into, `${e.tag}.sql`))
  writeFileSync(join(into, 'meta', '_journal.json'), JSON.stringify(journal))
  return into
}
