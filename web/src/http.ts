/** A JSON answer, or null for a refusal. */
export async function getJson<T>(path: string): Promise<T | null> {
  const res = await fetch(path, { headers: { accept: 'application/json' } })
  return res.ok ? ((await res.json()) as T) : null
}
