const LINE_BREAK = /\r\n|\r|\n/

function assertField(name: string, value: string): void {
  if (/[\r\n]/.test(value)) throw new Error(`SSE ${name} must not contain CR or LF: ${JSON.stringify(value)}`)
}

/**
 * Encodes one SSE event as the exact bytes to send. Multi-line data becomes one `data:` line per line.
 * @example encodeFrame('7', 'metrics', '{"a":1}') // "id: 7\nevent: metrics\ndata: {\"a\":1}\n\n"
 */
export function encodeFrame(id: string | null, event: string | null, data: string): Buffer {
  let out = ''
  if (id !== null) {
    assertField('id', id)
    if (id.includes('\0')) throw new Error('SSE id must not contain NUL')
    out += `id: ${id}\n`
  }
  if (event !== null) {
    assertField('event', event)
    out += `event: ${event}\n`
  }
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`
  return Buffer.from(`${out}\n`)
}

/** A comment line, ignored by EventSource; used for keep-alives. */
export function encodeComment(text: string): Buffer {
  assertField('comment', text)
  return Buffer.from(`: ${text}\n\n`)
}

/**
 * The block a stream opens with: the `retry:` hint, and the id of the newest event so far. A block with an id and
 * no data dispatches nothing, but sets the EventSource's last event id, so a client that drops before its first
 * event still resumes from where it joined.
 */
export function encodeOpen(retryMs: number, lastId: number): Buffer {
  return Buffer.from(`retry: ${Math.max(0, Math.trunc(retryMs))}\nid: ${Math.trunc(lastId)}\n\n`)
}
