import { alertsPage } from './pages/alerts.ts'
import { fleetPage } from './pages/fleet.ts'
import { hostPage } from './pages/host.ts'
import { jobPage } from './pages/job.ts'
import { parseRoute } from './route.ts'
import { identify } from './session.ts'

/**
 * The dashboard: one page per route (the fleet overview at `/`, a host at `/hosts/<name>`, a job at
 * `/jobs/<id>`, the alerts at `/alerts`), each with the one stream its view needs. Sections of other pages leave the document.
 */
async function boot(): Promise<void> {
  const route = parseRoute(location)
  for (const el of document.querySelectorAll<HTMLElement>('[data-page]')) {
    if (!(el.dataset.page ?? '').split(' ').includes(route.page)) el.remove()
  }
  document.body.dataset.page = route.page
  const me = await identify()
  if (!me) return
  if (route.page === 'host') hostPage(me, route)
  else if (route.page === 'job') await jobPage(me, route.id)
  else if (route.page === 'alerts') alertsPage(me, route.id)
  else fleetPage(me)
}

void boot()
