import { afterEach } from 'vitest'

/**
 * Registers what a test must undo after it: run once it ends, last first, each awaited.
 * @example const cleanup = useCleanup(); cleanup(() => hub.close())
 */
export function useCleanup(): (undo: () => unknown) => void {
  const undos: (() => unknown)[] = []
  afterEach(async () => {
    for (const f of undos.splice(0).reverse()) await f()
  })
  return (undo) => {
    undos.push(undo)
  }
}
