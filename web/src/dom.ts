/** The element for a selector the page is known to have. */
export const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T

/** Text made safe to put in HTML. */
export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`)
}
