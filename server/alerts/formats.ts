import type { ChannelKind, Severity } from '../protocol/index.ts'

/** What one notification says, whatever the channel: the generic webhook's body as it is. */
export interface Notice {
  id: string
  rule: string
  host: string
  series: string
  state: 'firing' | 'resolved'
  severity: Severity
  value: number | null
  threshold: number | null
  startsAt: number
  endsAt?: number
  labels: Record<string, string>
  /** The dashboard's page of the alert. */
  url: string
}

/** A request to a channel: its body and the headers of its kind (the channel's own headers are added on sending). */
export interface Outgoing {
  body: string
  headers: Record<string, string>
}

const COLORS = { firing: { warning: 0xe0a800, critical: 0xd93025 }, resolved: 0x1e8e3e } as const

function color(n: Notice): number {
  return n.state === 'resolved' ? COLORS.resolved : COLORS.firing[n.severity]
}

/** One line a person reads: `[FIRING critical] disk on db-1: fs.root.used_pct = 93.2 (threshold 90)`. */
export function summary(n: Notice): string {
  const where = n.series ? `${n.host}: ${n.series}` : n.host
  const value = n.value === null ? '' : ` = ${n.value}`
  const threshold = n.threshold === null ? '' : ` (threshold ${n.threshold})`
  return `[${n.state.toUpperCase()} ${n.severity}] ${n.rule} on ${where}${value}${threshold}`
}

const json = (body: unknown): Outgoing => ({
  body: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
})

/**
 * The request for a channel of each kind: the generic JSON body, Slack's and Discord's incoming-webhook
 * messages, and an ntfy publish (the message as the body, the rest in its headers).
 */
export const formats: { [K in ChannelKind]: (n: Notice) => Outgoing } = {
  webhook: (n) => json(n),
  slack: (n) =>
    json({
      text: summary(n),
      attachments: [
        {
          color: `#${color(n).toString(16).padStart(6, '0')}`,
          title: `${n.rule} ${n.state}`,
          title_link: n.url,
          fields: [
            { title: 'Host', value: n.host, short: true },
            { title: 'Severity', value: n.severity, short: true },
            ...(n.series ? [{ title: 'Series', value: n.series, short: true }] : []),
            ...(n.value === null ? [] : [{ title: 'Value', value: String(n.value), short: true }]),
          ],
          ts: Math.floor((n.endsAt ?? n.startsAt) / 1000),
        },
      ],
    }),
  discord: (n) =>
    json({
      // Nothing in an alert may ping a role or everyone
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: `${n.rule} ${n.state}`,
          description: summary(n),
          url: n.url,
          color: color(n),
          timestamp: new Date(n.endsAt ?? n.startsAt).toISOString(),
          fields: [
            { name: 'Host', value: n.host, inline: true },
            { name: 'Severity', value: n.severity, inline: true },
            ...(n.series ? [{ name: 'Series', value: n.series, inline: true }] : []),
          ],
        },
      ],
    }),
  ntfy: (n) => ({
    body: summary(n),
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      title: `${n.rule} ${n.state} on ${n.host}`,
      priority: n.state === 'resolved' ? 'default' : n.severity === 'critical' ? 'urgent' : 'high',
      tags: n.state === 'resolved' ? 'white_check_mark' : n.severity === 'critical' ? 'rotating_light' : 'warning',
      click: n.url,
    },
  }),
}
