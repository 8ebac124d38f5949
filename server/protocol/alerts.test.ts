import { describe, expect, it } from 'vitest'
import { issueMessage } from '../errors.ts'
import { AlertChannel, AlertRule, AlertSilence } from './alerts.ts'

/** The message a refused rule gets, as the control channel words it; null for a rule that passes. */
function refusal(rule: unknown): string | null {
  const r = AlertRule.safeParse(rule)
  return r.success ? null : issueMessage(r.error)
}

describe('alert rules, channels and silences at the edge', () => {
  it('takes a glob metric rule with hysteresis, and makes a rule without kind a metric threshold', () => {
    const rule = AlertRule.parse({
      name: 'disk-full',
      metric: 'fs.*.used_pct',
      hosts: 'web-*',
      op: '>',
      threshold: 90,
      clearThreshold: 85,
      forMs: 60_000,
      severity: 'critical',
    })
    expect(rule).toEqual({
      name: 'disk-full',
      kind: 'metric',
      metric: 'fs.*.used_pct',
      hosts: 'web-*',
      op: '>',
      threshold: 90,
      clearThreshold: 85,
      forMs: 60_000,
      severity: 'critical',
    })
    expect(AlertRule.parse({ name: 'down', kind: 'host.offline', forMs: 30_000, severity: 'warning' })).toEqual({
      name: 'down',
      kind: 'host.offline',
      forMs: 30_000,
      severity: 'warning',
    })
  })

  it('refuses an unknown op, a negative forMs, a bad glob and a clear threshold on the wrong side, each naming the field', () => {
    const base = { name: 'r', metric: 'cpu.usage_pct', op: '>', threshold: 50, severity: 'warning' }
    expect(refusal(base)).toBeNull()
    expect(refusal({ ...base, op: '=>' })).toMatch(/^op: /)
    expect(refusal({ ...base, forMs: -1 })).toMatch(/^forMs: /)
    expect(refusal({ ...base, metric: 'fs.*x.used_pct' })).toMatch(/^metric: a metric is dotted lower case/)
    expect(refusal({ ...base, metric: 'fs..used_pct' })).toMatch(/^metric: /)
    expect(refusal({ ...base, hosts: 'web 1' })).toMatch(/^hosts: a host glob/)
    expect(refusal({ ...base, clearThreshold: 60 })).toBe(
      'clearThreshold: clearThreshold must be at or below threshold for op >',
    )
    expect(refusal({ ...base, op: '<', clearThreshold: 40 })).toBe(
      'clearThreshold: clearThreshold must be at or above threshold for op <',
    )
    expect(refusal({ ...base, severity: 'page' })).toMatch(/^severity: /)
    expect(refusal({ ...base, extra: 1 })).not.toBeNull()
    expect(refusal({ name: 'down', kind: 'host.offline', severity: 'warning', op: '>' })).not.toBeNull()
  })

  it('takes http(s) channel URLs only, and silences that match on something for at least a second', () => {
    const channel = { name: 'ops', kind: 'slack', url: 'https://hooks.slack.test/services/T0/B0/x' }
    expect(AlertChannel.parse(channel)).toEqual({ ...channel, minSeverity: 'warning' })
    expect(AlertChannel.safeParse({ ...channel, url: 'file:///etc/passwd' }).success).toBe(false)
    expect(AlertChannel.safeParse({ ...channel, kind: 'email' }).success).toBe(false)
    expect(AlertChannel.safeParse({ ...channel, headers: { 'Bad Header': 'x' } }).success).toBe(false)
    expect(
      AlertSilence.safeParse({ matchers: { host: 'db-1' }, durationMs: 3_600_000, reason: 'upgrade' }).success,
    ).toBe(true)
    expect(AlertSilence.safeParse({ matchers: {}, durationMs: 3_600_000, reason: 'all' }).success).toBe(false)
    expect(AlertSilence.safeParse({ matchers: { host: 'db-1' }, durationMs: 999, reason: 'x' }).success).toBe(false)
  })
})
