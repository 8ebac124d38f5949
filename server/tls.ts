import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Config, ConfigError } from './config.ts'

export interface TlsFiles {
  cert: Buffer
  key: Buffer
  /** Where the certificate came from, for the start-up line. */
  source: string
}

/**
 * The certificate and key to serve HTTPS with: the configured files, a self-signed pair in `<data dir>/tls`
 * (made with `openssl` on first use, kept for the next start) under `--self-signed`, or null for plain HTTP.
 */
export function loadTls(config: Config): TlsFiles | null {
  if (config.tlsCert !== undefined && config.tlsKey !== undefined) {
    try {
      return { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey), source: config.tlsCert }
    } catch (err) {
      throw new ConfigError(`cannot read the TLS certificate or key: ${(err as Error).message}`)
    }
  }
  if (!config.selfSigned) return null
  const dir = join(config.dataDir, 'tls')
  const certFile = join(dir, 'self-signed.crt')
  const keyFile = join(dir, 'self-signed.key')
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true })
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '365',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { encoding: 'utf8' },
    )
    if (r.error || r.status !== 0) {
      throw new ConfigError(
        `--self-signed needs the openssl command to make a certificate (${r.error?.message ?? r.stderr.trim()}); or set VIGIL_TLS_CERT and VIGIL_TLS_KEY`,
      )
    }
    chmodSync(keyFile, 0o600)
  }
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), source: `${certFile} (self-signed)` }
}
