import { describe, expect, it } from 'vitest'
import { line, redactSecrets } from './log.ts'

describe('log lines', () => {
  it('redacts token secrets and secret query parameters wherever they appear', () => {
    const token = 'vgl_3q2-7wEr_Jk9mZxYbA0cD1eF2gH3iJ4kL5mN6oP7qR8'
    expect(redactSecrets(`GET /login?code=abcDEF123&x=1 with Bearer ${token}`)).toBe(
      'GET /login?code=[redacted]&x=1 with Bearer vgl_[redacted]',
    )
    expect(redactSecrets('/api/stream?topics=metrics&token=s3cr3t')).toBe('/api/stream?topics=metrics&token=[redacted]')
    const out = line('error', 'request failed', { url: `http://h/login?code=zzz`, err: new Error(`bad ${token}`) })
    expect(out).toMatch(
      / error request failed \{"url":"http:\/\/h\/login\?code=\[redacted\]","err":"bad vgl_\[redacted\]"\}\n$/,
    )
    expect(out).not.toContain(token)
  })
})
