import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The package root, found from this file whether it runs from `server/` (tsx, vitest) or `dist/server/` (built). */
function findRoot(start: string): string {
  let dir = start
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`package.json not found above ${start}`)
    dir = up
  }
  return dir
}

export const ROOT = findRoot(import.meta.dirname)
export const MIGRATIONS_DIR = join(ROOT, 'db', 'migrations')
/** The same migrations for PostgreSQL (`VIGIL_DATABASE_URL`), generated from `db/schema.pg.ts`. */
export const PG_MIGRATIONS_DIR = join(ROOT, 'db', 'migrations-pg')
export const WEB_DIST_DIR = join(ROOT, 'dist', 'web')

/** This build's version, from package.json. */
export const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version
