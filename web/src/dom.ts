/** The element for a selector the page is known to have. */
export const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T

/** Text made safe to put in HTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

/** `fn` at most once per `ms`: calls within the wait are folded into the one at its end. */
export function debounced(fn: () => void, ms: number): () => void {
  let waiting = false
  return () => {
    if (waiting) return
    waiting = true
    setTimeout(() => {
      waiting = false
      fn()
    }, ms)
  }
}
