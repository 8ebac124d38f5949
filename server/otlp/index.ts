export { type OtlpRouteDeps, otlpRoutes } from './http.ts'
