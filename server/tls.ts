import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname, networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { type Config, ConfigError } from './config.ts'

export interface TlsFiles {
  cert: Buffer
  key: Buffer
  /** Where the certificate came from, and for a self-signed one the names it is good for: for the start-up log. */
  source: string
}

/** A self-signed certificate is made anew this long before it expires. */
const RENEW_BEFORE_MS = 30 * 24 * 3600_000

/**
 * The names a self-signed certificate is made for: loopback, this machine's host name, and the address the hub
 * binds to, or with a wildcard bind (`0.0.0.0`, `::`) every address of this machine, so agents elsewhere can dial
 * it by name or address and pin it with `--hub-ca`.
 * @example selfSignedNames('0.0.0.0') → ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', 'DNS:web-1', 'IP:10.0.0.5']
 */
export function selfSignedNames(bindHost: string, machine = hostname(), interfaces = networkInterfaces()): string[] {
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'])
  const name = (n: string) => (isIP(n) ? `IP:${n}` : /^[a-z0-9.-]+$/.test(n) ? `DNS:${n}` : null)
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::'
  const addresses = wildcard
    ? Object.values(interfaces)
        .flat()
        .filter((a) => a !== undefined && !a.internal)
        .map((a) => (a as { address: string }).address.split('%')[0] as string)
    : [bindHost]
  for (const n of [machine.toLowerCase(), ...addresses.map((a) => a.toLowerCase())]) {
    const san = name(n)
    if (san) names.add(san)
  }
  return [...names]
}

/**
 * Whether the kept pair still serves: both files there, the certificate readable, holding every one of `names`
 * (`DNS:` or `IP:`), and more than `RENEW_BEFORE_MS` from expiring.
 */
function keptServes(certFile: string, keyFile: string, names: readonly string[]): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false
  try {
    const cert = new X509Certificate(readFileSync(certFile))
    const holds = (san: string) =>
      (san.startsWith('DNS:') ? cert.checkHost(san.slice(4)) : cert.checkIP(san.slice(3))) !== undefined
    return Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS && names.every(holds)
  } catch {
    return false
  }
}

/**
 * The certificate and key to serve HTTPS with: the configured files, a self-signed pair in `<data dir>/tls`
 * under `--self-signed`, or null for plain HTTP. The self-signed pair is made with `openssl` on first use for
 * `selfSignedNames`, and kept for the next starts; it is made anew 30 days before it expires, or when it lacks a
 * name the hub now has (another address to bind, a new host name), and clients that pin it need the new one.
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
  const names = selfSignedNames(config.host)
  const made = !keptServes(certFile, keyFile, names)
  if (made) {
    mkdirSync(dir, { recursive: true })
    makeSelfSigned(certFile, keyFile, names)
  }
  const cert = readFileSync(certFile)
  const held = new X509Certificate(cert).subjectAltName ?? ''
  const note = made ? '; made at this start: clients that pin a certificate of this hub need this file' : ''
  return { cert, key: readFileSync(keyFile), source: `${certFile} (self-signed for ${held}${note})` }
}

/**
 * An EC P-256 key and a certificate for `names` (`DNS:…`, `IP:…`) signed by itself, good for `days`, made with
 * `openssl`; the key file is made readable by its owner only.
 */
export function makeSelfSigned(certFile: string, keyFile: string, names: readonly string[], days = 365): void {
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
      String(days),
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${names.join(',')}`,
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
