import { describe, expect, it } from 'vitest'
import type { AuditEntry } from '../protocol/index.ts'
import { until, useAlertHub } from '../testing/alerts.ts'
import { sleep } from '../testing/hub.ts'
import { alertId } from './index.ts'

const alerts = useAlertHub()

describe('silences', () => {
  it('holds back the notice of a silenced alert, shows it silenced, and notifies it when the silence expires, audited as the system', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'noisy', metric: 'app.noise', op: '>', threshold: 1, severity: 'warning' })
    const silenced = (await a.command({
      type: 'alert.silence',
      matchers: { rule: 'noisy' },
      durationMs: 2000,
      reason: 'maintenance',
    })) as { silenceId: string; endsAt: number }
    expect(silenced).toEqual({ silenceId: expect.stringMatching(/^sil_[0-9a-f]{12}$/), endsAt: expect.any(Number) })
    await a.metric('app.noise', 5)
    const id = alertId('noisy', a.hub().host, 'app.noise')
    const shown = await until('the alert firing', async () => (await a.alerts('?state=firing'))[0])
    expect(shown).toMatchObject({ id, state: 'firing', silenced: true, silencedBy: [silenced.silenceId] })
    const { body } = await a.get('/api/alerts/silences')
    expect(body).toEqual({
      silences: [
        {
          id: silenced.silenceId,
          matchers: { rule: 'noisy' },
          reason: 'maintenance',
          createdBy: 'root',
          startsAt: expect.any(Number),
          endsAt: silenced.endsAt,
          endedBy: null,
        },
      ],
    })
    await sleep(1000)
    expect(a.r.requests).toHaveLength(0)

    const [req] = await a.requests(1, 10_000)
    expect(Date.now()).toBeGreaterThanOrEqual(silenced.endsAt)
    expect(req?.headers['idempotency-key']).toBe(`${id}:firing:1`)
    expect((await a.alerts())[0]).toMatchObject({ silenced: false, silencedBy: [] })
    const audit = await until('the expiry audited', async () => {
      const { body: b } = await a.get('/api/audit')
      const entries = (b as { entries: AuditEntry[] }).entries
      return entries.some((e) => e.command === 'alert.silence.expire') ? entries : undefined
    })
    expect(audit.find((e) => e.command === 'alert.silence.expire')).toMatchObject({
      actor: 'system',
      role: 'system',
      outcome: 'accepted',
      args: { silenceId: silenced.silenceId, matchers: { rule: 'noisy' }, reason: 'maintenance' },
    })
    expect(audit.find((e) => e.command === 'alert.silence')).toMatchObject({ actor: 'root', outcome: 'accepted' })
  })

  it('sends neither firing nor resolved for an alert that fired and resolved inside a silence', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'blip', metric: 'app.blip', op: '>', threshold: 1, severity: 'critical' })
    await a.command({ type: 'alert.silence', matchers: { severity: 'critical' }, durationMs: 60_000, reason: 'deploy' })
    await a.metric('app.blip', 5)
    await until('firing', async () => (await a.alerts('?state=firing'))[0])
    await a.metric('app.blip', 0)
    await until('resolved', async () => (await a.alerts('?state=resolved'))[0])
    await sleep(1500)
    expect(a.r.requests).toHaveLength(0)
  })

  it('notifies a held-back alert at once when alert.unsilence ends its silence, and answers not_found for an unknown one', async () => {
    const a = await alerts.start()
    await a.channel()
    await a.rule({ name: 'db', metric: 'app.db', op: '>', threshold: 1, severity: 'warning' })
    const s = (await a.command({
      type: 'alert.silence',
      matchers: { host: `${a.hub().host.slice(0, 1)}*` },
      durationMs: 3_600_000,
      reason: 'upgrade',
    })) as { silenceId: string }
    await a.metric('app.db', 2)
    await until('firing', async () => (await a.alerts('?state=firing'))[0])
    await sleep(1200)
    expect(a.r.requests).toHaveLength(0)
    expect(await a.command({ type: 'alert.unsilence', silenceId: s.silenceId })).toEqual({
      silenceId: s.silenceId,
      endedAt: expect.any(Number),
    })
    await a.requests(1)
    expect(await a.command({ type: 'alert.unsilence', silenceId: s.silenceId })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    })
    expect(await a.command({ type: 'alert.silence', matchers: {}, durationMs: 1000, reason: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    })
    const { body } = await a.get('/api/audit')
    expect((body as { entries: AuditEntry[] }).entries.map((e) => e.command)).not.toContain('alert.silence.expire')
  })
})
