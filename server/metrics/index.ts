export { type MetricRouteDeps, metricRoutes } from './http.ts'
export { exposition, type PromSample } from './prometheus.ts'
