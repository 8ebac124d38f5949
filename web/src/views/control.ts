import type { AuditEntry, ConfigEvent, Identity, SamplingResult } from '../../../server/protocol/index.ts'
import { CommandFailed, type ControlListener, ControlSocket } from '../control.ts'
import { $, esc } from '../dom.ts'

const AUDIT_ROWS = 50

/**
 * The sampling panel of the host on screen: its current settings, a change with an optional duration, pause and
 * resume, for operators. A remote host's change is acknowledged once its agent applied it.
 */
export class ControlPanel {
  readonly #canCommand: boolean
  readonly #host: string
  #socket: ControlSocket | null = null
  #config: ConfigEvent | null = null

  /** The control channel, for other views' commands; null for those who may not send any. */
  get socket(): ControlSocket | null {
    return this.#socket
  }
  #countdown: ReturnType<typeof setInterval> | null = null

  constructor(me: Identity, host: string) {
    this.#host = host
    this.#canCommand = me.role === 'operator' || me.role === 'admin'
    const inputs = document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>(
      '#ctl-form input, #ctl-form select, #ctl-form button',
    )
    for (const el of inputs) el.disabled = true
    if (!this.#canCommand) {
      this.#result(
        'info',
        me.anonymous ? 'Log in as an operator to change sampling.' : `Role ${me.role} may not change sampling.`,
      )
      return
    }
    this.#socket = new ControlSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/control`,
      this.#onState,
    )
    $('#ctl-form').addEventListener('submit', (e) => {
      e.preventDefault()
      const ttl = $<HTMLSelectElement>('#ctl-ttl').value
      void this.#send({
        type: 'sampling.set',
        host: this.#host,
        intervalMs: Number($<HTMLInputElement>('#ctl-interval').value),
        group: $<HTMLSelectElement>('#ctl-group').value === 'slow' ? 'slow' : 'fast',
        ...(ttl === '' ? {} : { ttlMs: Number(ttl) }),
      })
    })
    $('#ctl-pause').addEventListener('click', () => void this.#send({ type: 'sampling.pause', host: this.#host }))
    $('#ctl-resume').addEventListener('click', () => void this.#send({ type: 'sampling.resume', host: this.#host }))
    this.#socket.start()
  }

  #onState: ControlListener = (state, detail) => {
    const el = $('#ctl-conn')
    el.dataset.state = state
    if (this.#countdown) clearInterval(this.#countdown)
    this.#countdown = null
    const enabled = state === 'open'
    for (const b of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>(
      '#ctl-form input, #ctl-form select, #ctl-form button',
    )) {
      b.disabled = !enabled
    }
    if (state === 'reconnecting' && detail.retryAt !== undefined) {
      const retryAt = detail.retryAt
      const tick = () => {
        el.textContent = `control reconnecting in ${Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))} s`
      }
      tick()
      this.#countdown = setInterval(tick, 250)
      return
    }
    if (state === 'closed') {
      el.textContent = detail.code === 1008 ? `control closed: ${detail.reason || 'not allowed'}` : 'control closed'
      return
    }
    el.textContent = `control ${state}`
  }

  async #send(cmd: Parameters<ControlSocket['request']>[0]): Promise<void> {
    if (!this.#socket) return
    this.#result('pending', `Sending ${cmd.type}…`)
    try {
      const result = (await this.#socket.request(cmd)) as SamplingResult
      this.showConfig(result)
      this.#result(
        'ok',
        result.applied
          ? `${cmd.type} acknowledged (version ${result.version})`
          : `${cmd.type} stored (version ${result.version}); ${result.host} is offline and applies it when it reconnects`,
      )
    } catch (err) {
      const e = err instanceof CommandFailed ? err : new CommandFailed('internal', String(err))
      this.#result('error', `${cmd.type} failed: ${e.message} (${e.code})`)
    }
  }

  #result(kind: 'pending' | 'ok' | 'error' | 'info', text: string): void {
    const el = $('#ctl-result')
    el.dataset.kind = kind
    el.textContent = text
  }

  /** Shows a `config` event or acknowledgement, ignoring one older than what is shown. */
  showConfig(c: ConfigEvent): void {
    if (c.host !== this.#host) return
    if (this.#config && c.version < this.#config.version) return
    this.#config = c
    const s = c.sampling
    const reverts = c.revertsAt ? ` · reverts at ${new Date(c.revertsAt).toLocaleTimeString()}` : ''
    $('#ctl-state').textContent =
      `Fast ${s.fastMs} ms · slow ${s.slowMs} ms · ${s.paused ? 'paused' : 'running'} · v${c.version} by ${c.changedBy}${reverts}`
    if (document.activeElement !== $('#ctl-interval')) {
      $<HTMLInputElement>('#ctl-interval').value = String(
        $<HTMLSelectElement>('#ctl-group').value === 'slow' ? s.slowMs : s.fastMs,
      )
    }
  }
}

/** The audit view for operators and admins: recent entries, then live ones from the `audit` topic. */
export class AuditView {
  readonly #body = $('#audit-table tbody')

  constructor() {
    $('#audit').hidden = false
  }

  async load(): Promise<void> {
    const res = await fetch(`/api/audit?limit=${AUDIT_ROWS}`)
    if (!res.ok) return
    const { entries } = (await res.json()) as { entries: AuditEntry[] }
    this.#body.innerHTML = entries.map((e) => this.#row(e)).join('')
  }

  add(e: AuditEntry): void {
    if (this.#body.querySelector(`tr[data-id="${e.id}"]`)) return
    this.#body.insertAdjacentHTML('afterbegin', this.#row(e))
    while (this.#body.children.length > AUDIT_ROWS) this.#body.lastElementChild?.remove()
  }

  #row(e: AuditEntry): string {
    const outcome = e.errorCode ? `${e.outcome} (${e.errorCode})` : e.outcome
    const args = JSON.stringify(e.args)
    return `<tr data-id="${e.id}"><td>${new Date(e.ts).toLocaleTimeString()}</td><td>${esc(e.actor)}</td><td>${esc(e.command)}</td><td title="${esc(args)}">${esc(args)}</td><td>${esc(outcome)}</td></tr>`
  }
}
