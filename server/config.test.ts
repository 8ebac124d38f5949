import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'
import { isLoopback } from './http.ts'

describe('config', () => {
  it('defaults to 127.0.0.1:8686, ./data, 1 s fast and 10 s slow sampling', () => {
    const c = loadConfig({})
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8686,
      sampleMs: 1000,
      slowSampleMs: 10_000,
      heartbeatMs: 15_000,
      retryMs: 2000,
    })
    expect(c.dataDir.endsWith('/data')).toBe(true)
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('lets a flag override its environment variable', () => {
    expect(loadConfig({ VIGIL_PORT: '9000' }, ['--port', '9001']).port).toBe(9001)
    expect(loadConfig({ VIGIL_SAMPLE_MS: '250' }).sampleMs).toBe(250)
  })

  it('stops with a message naming the variable for a bad VIGIL_SAMPLE_MS', () => {
    expect(() => loadConfig({ VIGIL_SAMPLE_MS: '50' })).toThrow(ConfigError)
    expect(() => loadConfig({ VIGIL_SAMPLE_MS: '50' })).toThrow(/^VIGIL_SAMPLE_MS \(--sample-ms\)="50" is invalid: /)
    expect(() => loadConfig({ VIGIL_PORT: 'http' })).toThrow(/^VIGIL_PORT \(--port\)="http" is invalid/)
  })

  it('names the flag when the bad value came from a flag, and refuses unknown flags', () => {
    expect(() => loadConfig({}, ['--sample-ms', '70000'])).toThrow(/^--sample-ms="70000" is invalid/)
    expect(() => loadConfig({}, ['--colour', 'red'])).toThrow(ConfigError)
  })

  it('accepts loopback and other addresses alike; the hub decides whether auth allows the bind', () => {
    expect(loadConfig({ VIGIL_HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
    expect(loadConfig({ VIGIL_HOST: '::1' }).host).toBe('::1')
  })

  it('tells loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', 'localhost']) expect(isLoopback(h)).toBe(true)
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com']) expect(isLoopback(h)).toBe(false)
  })
})
