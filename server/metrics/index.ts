export { type AdmitDeps, admitSamples, INGEST_ROLES } from './admit.ts'
export { type MetricRouteDeps, metricRoutes } from './http.ts'
export { exposition, type PromSample, selfSamples } from './prometheus.ts'
export { seriesRoutes } from './read.ts'
