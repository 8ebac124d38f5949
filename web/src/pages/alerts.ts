import type {
  AlertRule,
  AlertView,
  ChannelKind,
  ChannelTestResult,
  ChannelView,
  Identity,
  NotificationView,
  RuleView,
  Severity,
  Silence,
} from '../../../server/protocol/index.ts'
import { CommandFailed, ControlSocket } from '../control.ts'
import { $, debounced, esc } from '../dom.ts'
import { formatDuration } from '../format.ts'
import { hostUrl } from '../route.ts'
import { getJson, showState, startStream } from '../session.ts'
import { alertFeed, alertUrl } from '../views/alerts.ts'

const EXAMPLE_RULE = {
  name: 'disk-full',
  metric: 'fs.*.used_pct',
  op: '>',
  threshold: 90,
  clearThreshold: 85,
  forMs: 60_000,
  severity: 'critical',
}

const time = (ms: number | null) => (ms === null ? '–' : new Date(ms).toLocaleString())

/** What a rule watches, in one line. */
function condition(r: AlertRule): string {
  if (r.kind === 'metric') {
    const agg = r.aggregate
    const of = agg ? `${agg.fn}(${r.metric}, ${formatDuration(agg.windowMs)})` : r.metric
    const clear = r.clearThreshold === undefined ? '' : `, clears at ${r.clearThreshold}`
    const hold = r.forMs ? ` for ${formatDuration(r.forMs)}` : ''
    return `${of} ${r.op} ${r.threshold}${hold}${clear}${r.hosts ? ` on ${r.hosts}` : ''}`
  }
  if (r.kind === 'host.offline')
    return `${r.hosts ?? 'any host'} offline${r.forMs ? ` for ${formatDuration(r.forMs)}` : ''}`
  if (r.kind === 'job.failed') return `job ${r.job ?? '*'} failed or lost`
  return 'a hub fault in /api/health'
}

/**
 * The alerts page at `/alerts` (and `/alerts/<id>` for one alert's history and notifications): current and past
 * alerts with a silence button, silences, the rules editor (operators) and channels with "send test" (admins).
 * Kept live by the `alerts` topic.
 */
export function alertsPage(me: Identity, selected: string | null): void {
  document.title = 'Alerts · Vigil'
  const operator = me.role === 'operator' || me.role === 'admin'
  const admin = me.role === 'admin'
  const socket = operator
    ? new ControlSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/control`, (state) => {
        $('#alerts-conn').textContent = `control ${state}`
      })
    : null
  socket?.start()
  let silencing: AlertView | null = null
  let alerts: AlertView[] = []

  async function command(out: string, cmd: Parameters<ControlSocket['request']>[0]): Promise<unknown> {
    const el = $(out)
    el.dataset.kind = 'pending'
    el.textContent = `${cmd.type}…`
    try {
      const result = await (socket as ControlSocket).request(cmd)
      el.dataset.kind = 'success'
      el.textContent = `${cmd.type}: done`
      return result
    } catch (err) {
      el.dataset.kind = 'error'
      el.textContent = err instanceof CommandFailed ? `${err.code}: ${err.message}` : String(err)
      return null
    }
  }

  async function loadAlerts(): Promise<void> {
    const q = new URLSearchParams()
    const state = $<HTMLSelectElement>('#alerts-state').value
    const host = $<HTMLInputElement>('#alerts-host').value.trim()
    if (state) q.set('state', state)
    if (host) q.set('host', host)
    alerts = (await getJson<{ alerts: AlertView[] }>(`/api/alerts?${q}`))?.alerts ?? []
    renderAlerts()
    if (selected) void showAlert(selected)
  }

  function renderAlerts(): void {
    const body = $<HTMLElement>('#alerts-table tbody')
    body.innerHTML = alerts
      .map(
        (
          a,
        ) => `<tr data-alert="${esc(a.id)}" data-state="${a.state}" data-severity="${a.severity}"${a.id === selected ? ' aria-current="true"' : ''}>
          <td class="state-cell">${a.state}${a.silenced ? ' <span class="tag">silenced</span>' : ''}</td>
          <td>${a.severity}</td><td><a href="${alertUrl(a.id)}">${esc(a.rule)}</a></td>
          <td><a href="${hostUrl(a.host)}">${esc(a.host)}</a></td><td>${esc(a.series)}</td>
          <td>${a.value === null ? '–' : Number(a.value.toFixed(3))}</td><td>${time(a.since)}</td>
          <td>${operator && a.state !== 'resolved' ? '<button type="button" class="silence">Silence…</button>' : ''}</td></tr>`,
      )
      .join('')
    $('#alerts-empty').hidden = alerts.length > 0
  }

  async function showAlert(id: string): Promise<void> {
    const a = alerts.find((x) => x.id === id)
    const detail = $<HTMLElement>('#alert-detail')
    if (!a) {
      detail.hidden = true
      return
    }
    detail.hidden = false
    $('#alert-title').textContent = `${a.rule} on ${a.host}${a.series ? ` · ${a.series}` : ''}`
    $('#alert-summary').textContent =
      `${a.state}${a.silenced ? ' (silenced)' : ''} · ${a.severity} · episode ${a.episode} · threshold ${a.threshold ?? '–'}`
    $('#alert-history').innerHTML = a.history
      .map((h) => `<li>${time(h.at)}: ${h.state}${h.value === null ? '' : ` at ${Number(h.value.toFixed(3))}`}</li>`)
      .join('')
    const ns = (await getJson<{ notifications: NotificationView[] }>(`/api/alerts/notifications?alertId=${id}`))
      ?.notifications
    $('#alert-notifications tbody').innerHTML = (ns ?? [])
      .map(
        (
          n,
        ) => `<tr data-status="${n.status}"><td>${esc(n.channel)}</td><td><code>${esc(n.key)}</code></td><td>${n.status}${n.nextAt ? `, next try ${time(n.nextAt)}` : ''}</td>
          <td><ol class="attempts">${n.attempts.map((x) => `<li>${time(x.at)}: ${x.ok ? `delivered (${x.status})` : esc(x.error ?? 'failed')} in ${x.ms} ms</li>`).join('')}</ol></td></tr>`,
      )
      .join('')
  }

  $('#alerts-table').addEventListener('click', (e) => {
    const button = (e.target as HTMLElement).closest('button.silence')
    if (!button) return
    const id = (button.closest('tr') as HTMLElement).dataset.alert
    silencing = alerts.find((a) => a.id === id) ?? null
    if (!silencing) return
    $('#silence-what').textContent = `Silence ${silencing.rule} on ${silencing.host}`
    $('#silence-form').hidden = false
    $<HTMLInputElement>('#silence-reason').focus()
  })
  $('#silence-cancel').addEventListener('click', () => {
    $('#silence-form').hidden = true
  })
  $('#silence-form').addEventListener('submit', (e) => {
    e.preventDefault()
    if (!silencing) return
    const target = silencing
    $('#silence-form').hidden = true
    void command('#alerts-result', {
      type: 'alert.silence',
      matchers: { rule: target.rule, host: target.host },
      durationMs: Number($<HTMLSelectElement>('#silence-duration').value),
      reason: $<HTMLInputElement>('#silence-reason').value,
    }).then(() => Promise.all([loadAlerts(), loadSilences()]))
  })
  $('#alerts-state').addEventListener('change', () => void loadAlerts())
  $('#alerts-host').addEventListener('input', () => void loadAlerts())

  async function loadSilences(): Promise<void> {
    const list = (await getJson<{ silences: Silence[] }>('/api/alerts/silences'))?.silences ?? []
    const now = Date.now()
    $('#silences-table tbody').innerHTML = list
      .map((s) => {
        const on = s.endsAt > now
        const m = Object.entries(s.matchers)
          .map(([k, v]) => `${k}=${esc(String(v))}`)
          .join(', ')
        const end = on
          ? `in ${formatDuration(s.endsAt - now)}`
          : `ended ${time(s.endsAt)}${s.endedBy ? ` by ${esc(s.endedBy)}` : ''}`
        const button =
          on && operator ? `<button type="button" class="unsilence" data-id="${esc(s.id)}">Unsilence</button>` : ''
        return `<tr data-silence="${esc(s.id)}"><td>${m}</td><td>${esc(s.reason)}</td><td>${esc(s.createdBy)}</td><td>${end}</td><td>${button}</td></tr>`
      })
      .join('')
    $('#silences-empty').hidden = list.length > 0
  }
  $('#silences-table').addEventListener('click', (e) => {
    const id = (e.target as HTMLElement).closest<HTMLElement>('button.unsilence')?.dataset.id
    if (id) void command('#alerts-result', { type: 'alert.unsilence', silenceId: id }).then(() => loadSilences())
  })

  async function loadRules(): Promise<void> {
    const rules = (await getJson<{ rules: RuleView[] }>('/api/alerts/rules'))?.rules ?? []
    $('#rules-table tbody').innerHTML = rules
      .map(
        ({
          rule: r,
        }) => `<tr data-rule="${esc(r.name)}"><td><button type="button" class="link edit">${esc(r.name)}</button></td><td>${esc(r.kind)}</td>
          <td>${r.severity}</td><td>${esc(condition(r))}</td><td>${esc(r.channels?.join(', ') ?? 'all')}</td>
          <td>${operator ? '<button type="button" class="delete">Delete</button>' : ''}</td></tr>`,
      )
      .join('')
    ruleSpecs = new Map(rules.map((r) => [r.rule.name, r.rule]))
  }
  let ruleSpecs = new Map<string, AlertRule>()
  const json = $<HTMLTextAreaElement>('#rule-json')
  json.value = JSON.stringify(EXAMPLE_RULE, null, 2)
  $('#rules-table').addEventListener('click', (e) => {
    const target = e.target as HTMLElement
    const name = target.closest<HTMLElement>('tr')?.dataset.rule
    if (!name) return
    if (target.closest('button.edit')) json.value = JSON.stringify(ruleSpecs.get(name), null, 2)
    if (target.closest('button.delete')) {
      void command('#rules-result', { type: 'alert.rule.delete', name }).then(() => loadRules())
    }
  })
  $('#rule-form').addEventListener('submit', (e) => {
    e.preventDefault()
    let rule: unknown
    try {
      rule = JSON.parse(json.value)
    } catch (err) {
      $('#rules-result').dataset.kind = 'error'
      $('#rules-result').textContent = `bad_json: ${(err as Error).message}`
      return
    }
    void command('#rules-result', { type: 'alert.rule.set', rule } as Parameters<ControlSocket['request']>[0]).then(
      () => loadRules(),
    )
  })

  async function loadChannels(): Promise<void> {
    const channels = (await getJson<{ channels: ChannelView[] }>('/api/alerts/channels'))?.channels ?? []
    $('#channels-table tbody').innerHTML = channels
      .map(
        (
          c,
        ) => `<tr data-channel="${esc(c.name)}"><td>${esc(c.name)}</td><td>${c.kind}</td><td>${esc(c.urlHost)}</td><td>${c.minSeverity}</td>
          <td>${admin ? '<button type="button" class="test">Send test</button> <button type="button" class="delete">Delete</button>' : ''}</td></tr>`,
      )
      .join('')
  }
  $('#channels-table').addEventListener('click', (e) => {
    const target = e.target as HTMLElement
    const name = target.closest<HTMLElement>('tr')?.dataset.channel
    if (!name) return
    if (target.closest('button.test')) {
      void command('#channels-result', { type: 'alert.channel.test', name }).then((r) => {
        const res = r as ChannelTestResult | null
        if (!res) return
        const el = $('#channels-result')
        el.dataset.kind = res.delivered ? 'success' : 'error'
        el.textContent = res.delivered
          ? `test delivered to ${name} (${res.status}) in ${res.ms} ms`
          : `test to ${name} failed: ${res.error}`
      })
    }
    if (target.closest('button.delete')) {
      void command('#channels-result', { type: 'alert.channel.delete', name }).then(() => loadChannels())
    }
  })
  $('#channel-form').addEventListener('submit', (e) => {
    e.preventDefault()
    void command('#channels-result', {
      type: 'alert.channel.set',
      name: $<HTMLInputElement>('#channel-name').value.trim(),
      kind: $<HTMLSelectElement>('#channel-kind').value as ChannelKind,
      url: $<HTMLInputElement>('#channel-url').value.trim(),
      minSeverity: $<HTMLSelectElement>('#channel-severity').value as Severity,
    }).then(() => loadChannels())
  })

  for (const el of document.querySelectorAll<HTMLInputElement | HTMLButtonElement | HTMLTextAreaElement>(
    '#rule-form textarea, #rule-form button',
  ))
    el.disabled = !operator
  for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>(
    '#channel-form input, #channel-form select, #channel-form button',
  ))
    el.disabled = !admin
  if (!operator) $('#rules-result').textContent = 'Operators and admins edit rules.'
  if (!admin) $('#channels-result').textContent = 'Admins manage channels: their URLs are secrets.'

  // Live: every change re-reads the list (alerts change far less often than samples arrive)
  alertFeed.listen(debounced(() => void loadAlerts(), 200))
  startStream({
    topics: [],
    on: {
      'alert.silence': () => void loadSilences(),
      'alert.config': (d) => void ((d as { what: string }).what === 'rules' ? loadRules() : loadChannels()),
    },
    onState: showState,
    onOpen: () => void loadAlerts(),
  })
  void loadSilences()
  void loadRules()
  void loadChannels()
}
