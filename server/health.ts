import { Hono } from 'hono'
import type { AuthEnv } from './auth/index.ts'
import { describeRoute } from './openapi/index.ts'
import type { HealthReason, HealthResponse } from './protocol/index.ts'

/**
 * What is wrong right now, by component (`storage`, `sampler`…): the hub keeps serving while a fault lasts, and
 * `/api/health` says `degraded` with the reasons. A component reports each failure and clears on its next success.
 */
export class Health {
  readonly #faults = new Map<string, HealthReason>()
  readonly #listeners = new Set<(components: ReadonlySet<string>) => void>()

  report(component: string, message: string, now = Date.now()): void {
    const f = this.#faults.get(component)
    if (f) f.message = message
    else {
      this.#faults.set(component, { component, message, since: now })
      this.#changed()
    }
  }

  /** Calls `fn` with the faulty components whenever one starts or ends (not when only a message changes). */
  onChange(fn: (components: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** The components at fault now. */
  components(): Set<string> {
    return new Set(this.#faults.keys())
  }

  #changed(): void {
    const now = this.components()
    for (const fn of this.#listeners) fn(now)
  }

  has(component: string): boolean {
    return this.#faults.has(component)
  }

  clear(component: string): void {
    if (this.#faults.delete(component)) this.#changed()
  }

  snapshot(): { status: 'ok' | 'degraded'; reasons: HealthReason[] } {
    const reasons = [...this.#faults.values()].map((r) => ({ ...r }))
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons }
  }
}

/** `GET /api/health`: no credentials needed; 200 while the hub serves, `degraded` with the reasons of a fault. */
export function healthRoutes(health: Health, version: string, startedAt: number): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get(
    '/api/health',
    describeRoute({
      tag: 'meta',
      summary: 'Health',
      description:
        'Always 200 while the hub serves: a load balancer checks `status`. docs/operations.md lists the components.',
      response: {
        description: '`{status: "ok" | "degraded", version, uptimeS, reasons: [{component, message, since}]}`',
      },
    }),
    (c) => {
      const { status, reasons } = health.snapshot()
      return c.json<HealthResponse>({
        status,
        version,
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
        reasons,
      })
    },
  )
  return app
}
