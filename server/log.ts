/** A line-per-event logger. Callers never pass secrets; fields are printed as JSON. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Token secrets, and secrets passed in a query string (`?code=`, `?token=`), wherever they appear in a line. */
const SECRETS = /vgl_[A-Za-z0-9_-]{8,}|([?&](?:code|token|access_token)=)[^&\s"]+/g

/** Replaces anything that looks like a secret, so a URL or an error message quoting one can't leak it. */
export function redactSecrets(text: string): string {
  return text.replace(SECRETS, (_match, param: string | undefined) => (param ? `${param}[redacted]` : 'vgl_[redacted]'))
}

/** One log line: time, level, message and fields as JSON, secrets redacted. */
/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; anything unparsable is not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(an unparsable URL)'
  }
}

export function line(level: string, msg: string, fields?: Record<string, unknown>): string {
  const extra = fields ? ` ${JSON.stringify(fields, (_k, v) => (v instanceof Error ? v.message : v))}` : ''
  return redactSecrets(`${new Date().toISOString()} ${level} ${msg}${extra}\n`)
}

/** Logs to stderr, leaving stdout for what a command prints on purpose. */
export const stderrLogger: Logger = {
  info: (msg, fields) => process.stderr.write(line('info', msg, fields)),
  warn: (msg, fields) => process.stderr.write(line('warn', msg, fields)),
  error: (msg, fields) => process.stderr.write(line('error', msg, fields)),
}

/** Drops everything; for tests that assert on other output. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} }
