const form = document.querySelector('#login') as HTMLFormElement
const input = document.querySelector('#token') as HTMLInputElement
const error = document.querySelector('#error') as HTMLElement

function show(message: string): void {
  error.textContent = message
  error.hidden = false
}

if (new URLSearchParams(location.search).get('error') === 'expired') {
  show('That login link has been used or has expired. Paste a token instead.')
  history.replaceState(null, '', '/login')
}

form.addEventListener('submit', async (e) => {
  e.preventDefault()
  error.hidden = true
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: input.value.trim() }),
  })
  if (res.ok) {
    location.assign('/')
    return
  }
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  show(body?.error?.message ?? `Login failed (${res.status})`)
})
