import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../paths.ts'

/** Where a suite's tokens live: the flags that select it, and the stored hash of a token by name. */
export interface TokenBackend {
  /** `--data-dir D` or `--database-url U`, fresh for each test. */
  flags(): Promise<string[]>
  storedHash(flags: string[], name: string): Promise<string | undefined>
}

/** `vigil token …` as a real child process, from source. */
export function vigilToken(args: string[], env: Record<string, string | undefined> = process.env) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts'), 'token', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env,
  })
}

/**
 * The `vigil token` behaviour every backend must have, run by `auth.test.ts` on SQLite and by
 * `tokens.cluster.test.ts` on PostgreSQL: one suite, not a copy.
 */
export function describeTokenCli(backendName: string, backend: () => TokenBackend): void {
  describe(`vigil token on ${backendName}`, () => {
    it('creates a token shown once, stores only its SHA-256, lists it without the secret and revokes it', async () => {
      const b = backend()
      const where = await b.flags()
      const created = vigilToken(['create', '--role', 'viewer', '--name', 'wallboard', ...where])
      expect(created.stderr).toBe('Created viewer token "wallboard". It is shown only this once:\n')
      expect(created.status).toBe(0)
      const token = created.stdout.trim()
      expect(token).toMatch(/^vgl_[A-Za-z0-9_-]{43}$/)
      const { hashSecret } = await import('./tokens.ts')
      expect(await b.storedHash(where, 'wallboard')).toBe(hashSecret(token))

      const list = vigilToken(['list', ...where])
      expect(list.status).toBe(0)
      expect(list.stdout).toMatch(
        /^NAME\s+ROLE\s+CREATED\s+LAST USED\s+STATUS\nwallboard\s+viewer\s+\S+Z\s+-\s+active\n$/,
      )
      expect(list.stdout).not.toContain(token)

      const revoked = vigilToken(['revoke', 'wallboard', ...where])
      expect(revoked.stdout).toBe('Revoked "wallboard"\n')
      expect(revoked.status).toBe(0)
      expect(vigilToken(['list', ...where]).stdout).toMatch(/^wallboard\s+viewer\s+\S+Z\s+-\s+revoked \S+Z$/m)
    })

    it('refuses a bad role, a taken name (revoked ones included) and revoking an unknown token with clear messages', async () => {
      const where = await backend().flags()
      const badRole = vigilToken(['create', '--role', 'root', ...where])
      expect(badRole.stderr).toContain('--role must be one of viewer, operator, admin, reporter, agent')
      expect(badRole.status).toBe(2)
      const badName = vigilToken(['create', '--role', 'viewer', '--name', 'no spaces', ...where])
      expect(badName.stderr).toBe('vigil token: A token name is 1–64 letters, digits, dots, dashes or underscores\n')
      expect(badName.status).toBe(1)
      expect(vigilToken(['create', '--role', 'viewer', '--name', 'dup', ...where]).status).toBe(0)
      const dup = vigilToken(['create', '--role', 'viewer', '--name', 'dup', ...where])
      expect(dup.stderr).toBe('vigil token: A token named dup exists already\n')
      expect(dup.status).toBe(1)
      expect(vigilToken(['revoke', 'dup', ...where]).status).toBe(0)
      expect(vigilToken(['create', '--role', 'viewer', '--name', 'dup', ...where]).status).toBe(1)
      const again = vigilToken(['revoke', 'dup', ...where])
      expect(again.stderr).toBe('vigil token: no active token named "dup"\n')
      expect(again.status).toBe(1)
      const unknown = vigilToken(['revoke', 'ghost', ...where])
      expect(unknown.stderr).toBe('vigil token: no active token named "ghost"\n')
      expect(unknown.status).toBe(1)
    })
  })
}
