import type { AlertView, Identity } from '../../server/protocol/index.ts'
import { $ } from './dom.ts'
import { Stream, type StreamOptions, type StreamState } from './stream.ts'
import { alertFeed } from './views/alerts.ts'

export { getJson } from './http.ts'

/** The connection indicator in the header: connecting, live, reconnecting or offline. */
export function showState(state: StreamState): void {
  const conn = $<HTMLElement>('#conn')
  conn.dataset.state = state
  ;(conn.querySelector('.label') as HTMLElement).textContent = state
}

/**
 * The page's one stream, on the topics it shows and `alerts`, whose firing alerts every page shows in its banner
 * (read again whenever the stream could not resume).
 */
export function startStream(opts: Omit<StreamOptions, 'url'>): Stream {
  const stream = new Stream({
    url: '/api/stream',
    ...opts,
    topics: [...opts.topics, 'alerts'],
    on: { ...opts.on, alert: (d) => alertFeed.on(d as AlertView) },
    onOpen(resumed) {
      if (!resumed) void alertFeed.load()
      opts.onOpen?.(resumed)
    },
  })
  stream.start()
  return stream
}

/** Who is looking: a hub beyond loopback sends visitors without a session to the login page. */
export async function identify(): Promise<Identity | null> {
  const res = await fetch('/api/session')
  if (res.status === 401) {
    location.assign('/login')
    return null
  }
  if (!res.ok) return null
  const me = (await res.json()) as Identity
  const who = $<HTMLElement>('#who')
  if (me.anonymous) {
    who.innerHTML = 'anonymous viewer <a href="/login">log in</a>'
    return me
  }
  who.textContent = `${me.name} (${me.role})`
  const out = document.createElement('button')
  out.type = 'button'
  out.textContent = 'log out'
  out.addEventListener('click', async () => {
    await fetch('/api/session', { method: 'DELETE' })
    location.assign('/')
  })
  who.append(out)
  return me
}
