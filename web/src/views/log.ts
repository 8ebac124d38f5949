import type { LogLine } from '../../../server/protocol/index.ts'
import { esc } from '../dom.ts'
import { type PerfSummary, UpdateCost } from '../perf.ts'

const LINE_PX = 18
/** Lines a page holds: the unit the view reads from the hub and keeps. */
const PAGE = 1000
/** Pages kept in the browser at most (the least recently shown go first): 200,000 lines. */
const KEEP_PAGES = 200
/**
 * The tallest the scroll space is made, well under Chromium's limit on an element's height (33,554,428 px): past
 * it, scroll offsets are scaled, so any number of lines fits.
 */
const MAX_SPACE_PX = 8_000_000
/** Rows drawn beyond the view's top and bottom edges. */
const OVERSCAN = 20

/** What the page shows for the browser tests: the rows, the seqs on screen, and the cost of appended batches. */
export interface LogViewState {
  rows: number
  firstSeq: number | null
  lastSeq: number | null
  spacePx: number
  pagesHeld: number
  appends: PerfSummary
}

interface Page {
  lines: (LogLine | undefined)[]
  /**
   * The seq through which the hub was read for this page: a line missing up to it is not stored (dropped by
   * retention); one missing past it is still to read (live lines alone leave the ones before them unknown).
   */
  through: number
  /** No read of this page again before this time (ms): the hub's end may lag what the job says. */
  retryAt: number
}

/** How long a page read that came back short waits before the page is read again. */
const REREAD_MS = 1000

/**
 * A virtualized view of a whole job log, however long: row `i` is seq `i + 1`, so the scroll bar stands for the
 * whole log. Only the rows on screen are in the DOM; the lines they need are read from the hub a page (1,000
 * lines) at a time and kept, 200 pages at most; live lines are appended as they come. Past 8,000,000 px of lines
 * the scroll offsets are scaled to the rows, so a log of millions of lines scrolls from its first line to its last.
 */
export class LogView {
  readonly #el: HTMLElement
  readonly #space: HTMLElement
  readonly #box: HTMLElement
  readonly #read: (after: number, limit: number) => Promise<LogLine[] | null>
  readonly #onFollow: (following: boolean) => void
  #pages = new Map<number, Page>()
  #loading = new Set<number>()
  #rows = 0
  #follow = true
  #matches = new Set<number>()
  #drawQueued = false
  /** The time appended batches cost since the last frame, charged to it. */
  #appendMs = 0
  readonly #cost = new UpdateCost()
  #shown: [number, number] | null = null

  constructor(
    el: HTMLElement,
    read: (after: number, limit: number) => Promise<LogLine[] | null>,
    onFollow: (following: boolean) => void,
  ) {
    this.#el = el
    this.#space = el.querySelector('.log-space') as HTMLElement
    this.#box = el.querySelector('.log-lines') as HTMLElement
    this.#read = read
    this.#onFollow = onFollow
    el.addEventListener('scroll', () => {
      const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - LINE_PX
      if (atEnd !== this.#follow) {
        this.#follow = atEnd
        this.#onFollow(atEnd)
      }
      this.draw()
    })
    window.vigilLog = () => this.state()
  }

  /** Empties the view for another job. */
  reset(): void {
    this.#pages = new Map()
    this.#loading = new Set()
    this.#rows = 0
    this.#matches = new Set()
    this.#follow = true
    this.draw()
  }

  /** The log has at least `lines` lines (its last seq), as the job says. */
  grow(lines: number): void {
    if (lines <= this.#rows) return
    this.#rows = lines
    this.draw()
  }

  /** Live lines, in seq order. */
  append(lines: readonly LogLine[], matches?: (l: LogLine) => boolean): void {
    const t0 = performance.now()
    let page: Page | null = null
    let at = -1
    for (const l of lines) {
      // Lines come in seq order: the page is looked up (and marked as just used) once for each it falls in
      if (Math.floor((l.seq - 1) / PAGE) !== at) {
        at = Math.floor((l.seq - 1) / PAGE)
        page = this.#page(l.seq)
      }
      ;(page as Page).lines[(l.seq - 1) % PAGE] = l
      if (matches?.(l)) this.#matches.add(l.seq)
    }
    const last = lines.at(-1)?.seq ?? 0
    if (last > this.#rows) this.#rows = last
    this.#appendMs += performance.now() - t0
    this.draw()
  }

  setMatches(seqs: Set<number>): void {
    this.#matches = seqs
    this.draw()
  }

  get matches(): number {
    return this.#matches.size
  }

  /** Follows the end again, as new lines come. */
  follow(): void {
    this.#follow = true
    this.#onFollow(true)
    this.draw()
  }

  /** Scrolls to show `seq` at the top, reading its lines if they are not held, and stops following. */
  show(seq: number): void {
    if (this.#follow) {
      this.#follow = false
      this.#onFollow(false)
    }
    this.#layout()
    const { maxScroll, span } = this.#geometry()
    this.#scrollTo(span > 0 ? ((seq - 1) / span) * maxScroll : 0)
    this.draw()
  }

  state(): LogViewState {
    return {
      rows: this.#rows,
      firstSeq: this.#shown?.[0] ?? null,
      lastSeq: this.#shown?.[1] ?? null,
      spacePx: this.#space.offsetHeight,
      pagesHeld: this.#pages.size,
      appends: this.#cost.summary(),
    }
  }

  #page(seq: number): Page {
    const at = Math.floor((seq - 1) / PAGE)
    let page = this.#pages.get(at)
    if (!page) {
      page = { lines: new Array(PAGE), through: 0, retryAt: 0 }
      this.#pages.set(at, page)
    } else {
      // Kept in the order last touched: the map's first pages are the ones to let go
      this.#pages.delete(at)
      this.#pages.set(at, page)
    }
    return page
  }

  #geometry(): { maxScroll: number; span: number; viewRows: number } {
    const viewRows = this.#el.clientHeight / LINE_PX
    return {
      viewRows,
      maxScroll: Math.max(0, this.#space.offsetHeight - this.#el.clientHeight),
      span: Math.max(0, this.#rows - viewRows),
    }
  }

  #layout(): void {
    const px = `${Math.min(MAX_SPACE_PX, this.#rows * LINE_PX)}px`
    if (this.#space.style.height !== px) this.#space.style.height = px
  }

  #scrollTo(top: number): void {
    this.#el.scrollTop = top
  }

  /** Draws the rows on screen, once per frame, and reads the pages they need. */
  draw(): void {
    if (this.#drawQueued) return
    this.#drawQueued = true
    requestAnimationFrame(() => {
      this.#drawQueued = false
      const t0 = performance.now()
      this.#render()
      if (this.#appendMs > 0) {
        this.#cost.add(this.#appendMs)
        this.#cost.frame(performance.now() - t0)
        this.#appendMs = 0
      }
    })
  }

  #render(): void {
    this.#layout()
    if (this.#follow) this.#scrollTo(this.#space.offsetHeight)
    const { maxScroll, span, viewRows } = this.#geometry()
    const top = this.#el.scrollTop
    // The row at the top of the view, fractional: scroll offsets stand for rows in proportion
    const pos = maxScroll > 0 ? (top / maxScroll) * span : 0
    const first = Math.floor(pos)
    const visible = Math.min(this.#rows - first, Math.ceil(viewRows))
    // A few rows drawn past each edge, so a short scroll shows lines at once
    const start = Math.max(0, first - OVERSCAN)
    const end = Math.min(this.#rows, first + visible + 1 + OVERSCAN)
    const html: string[] = []
    const wanted = new Set<number>()
    for (let row = start; row < end; row++) {
      const seq = row + 1
      const at = Math.floor(row / PAGE)
      const page = this.#pages.get(at)
      const l = page?.lines[row % PAGE]
      if (l) {
        const cls = `log-line ${l.stream}${this.#matches.has(seq) ? ' match' : ''}`
        html.push(`<div class="${cls}" data-seq="${seq}">${esc(l.text)}${l.cut ? ' <em>[cut]</em>' : ''}</div>`)
      } else if (page && seq <= page.through) {
        html.push(`<div class="log-line gap" data-seq="${seq}">… dropped by retention</div>`)
      } else {
        html.push(`<div class="log-line pending" data-seq="${seq}"></div>`)
        wanted.add(at)
      }
    }
    this.#box.style.top = `${top - (pos - start) * LINE_PX}px`
    this.#box.innerHTML = html.join('')
    this.#shown = visible > 0 ? [first + 1, first + visible] : null
    // The pages on screen are the last to be let go
    for (let p = Math.floor(start / PAGE); p <= Math.floor((end - 1) / PAGE); p++) {
      if (this.#pages.has(p)) this.#page(p * PAGE + 1)
    }
    for (const p of wanted) void this.#fetch(p)
    this.#evict()
  }

  /** Reads page `p` from the hub; a gap in what comes back is lines dropped by retention. */
  async #fetch(p: number): Promise<void> {
    if (this.#loading.has(p) || (this.#pages.get(p)?.retryAt ?? 0) > performance.now()) return
    this.#loading.add(p)
    try {
      const lines = await this.#read(p * PAGE, PAGE)
      if (lines === null || !this.#loading.has(p)) return
      const page = this.#page(p * PAGE + 1)
      const end = (p + 1) * PAGE
      for (const l of lines) if (l.seq <= end) page.lines[(l.seq - 1) % PAGE] = l
      // Every stored line of the page up to the last one read came back: any other is not stored
      page.through = Math.max(page.through, Math.min(end, lines.at(-1)?.seq ?? 0))
      if (page.through < end) page.retryAt = performance.now() + REREAD_MS
      this.draw()
    } finally {
      this.#loading.delete(p)
    }
  }

  #evict(): void {
    for (const at of this.#pages.keys()) {
      if (this.#pages.size <= KEEP_PAGES) return
      this.#pages.delete(at)
    }
  }
}
