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

/**
 * Tells `changed(item, seen)` whenever an element comes into, or leaves, the viewport widened by `marginPx` above
 * and below: what the pages use to leave off-screen charts and rows unpainted. Returns the call that starts
 * watching an element for its item.
 */
export function onScreen<T>(
  marginPx: number,
  changed: (item: T, seen: boolean) => void,
): (el: Element, item: T) => void {
  const items = new Map<Element, T>()
  const observer = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const item = items.get(e.target)
        if (item !== undefined) changed(item, e.isIntersecting)
      }
    },
    { rootMargin: `${marginPx}px 0px` },
  )
  return (el, item) => {
    items.set(el, item)
    observer.observe(el)
  }
}
