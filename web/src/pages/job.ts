import type { Identity, Job, LogEvent, MetricsEvent } from '../../../server/protocol/index.ts'
import { ControlSocket } from '../control.ts'
import { $ } from '../dom.ts'
import { hostUrl } from '../route.ts'
import { getJson, showState, startStream } from '../session.ts'
import { JobView } from '../views/jobs.ts'

/**
 * A job's page at `/jobs/<id>`: its progress, live log, the CPU of its processes over its host's, and cancel and
 * retry for operators. One stream carries the job's topic and its host's metrics.
 */
export async function jobPage(me: Identity, id: string): Promise<void> {
  const operator = me.role === 'operator' || me.role === 'admin'
  const socket = operator
    ? new ControlSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/control`, (state) => {
        $('#job-conn').textContent = `control ${state}`
      })
    : null
  socket?.start()
  const view = new JobView(me, socket)
  view.open(id)
  const job = await getJson<Job>(`/api/jobs/${encodeURIComponent(id)}`)
  if (!job) {
    $('#job-summary').textContent = `No job ${id}`
    return
  }
  document.title = `${job.name} · Vigil`
  $<HTMLElement>('#host').textContent = job.host
  const link = $<HTMLAnchorElement>('#job-host')
  link.href = hostUrl(job.host)
  link.textContent = `on ${job.host}`
  // The page's one stream: the job (opening with its last lines) and its host's metrics
  startStream({
    topics: [`job:${id}`, `metrics:${job.host}`],
    params: { tail: JobView.TAIL },
    on: {
      job: (d) => view.onJob(d as Job),
      log: (d) => view.onLog(d as LogEvent),
      metrics: (d) => {
        const ev = d as MetricsEvent
        const cpu = ev.values['cpu.usage_pct']
        if (cpu !== undefined) view.onHostCpu(ev.ts, cpu)
      },
    },
    onState: showState,
  })
}
