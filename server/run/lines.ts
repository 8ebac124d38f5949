/**
 * Cuts a stream's chunks into lines: LF, CRLF and a lone CR each end one, as readline does, and a CRLF split
 * across two chunks is still one break. Calls `line` with each whole line, without its break.
 */
export class LineSplitter {
  #carry = ''
  readonly #line: (text: string) => void

  constructor(line: (text: string) => void) {
    this.#line = line
  }

  /** Takes the next chunk; a line it leaves unfinished waits for the next one. */
  push(chunk: string): void {
    let text = this.#carry + chunk
    // A CR at the very end may be the first half of a CRLF: held back with the unfinished line
    const upTo = text.length - (text.endsWith('\r') ? 2 : 1)
    const end = upTo < 0 ? -1 : Math.max(text.lastIndexOf('\n', upTo), text.lastIndexOf('\r', upTo))
    if (end < 0) {
      this.#carry = text
      return
    }
    this.#carry = text.slice(end + 1)
    text = text.slice(0, text[end] === '\n' && text[end - 1] === '\r' ? end - 1 : end)
    for (const line of text.split(/\r\n|\r|\n/)) this.#line(line)
  }

  /** The stream ended: what is left is a last line without a break. */
  end(): void {
    const rest = this.#carry
    this.#carry = ''
    if (rest !== '') this.#line(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
  }
}
