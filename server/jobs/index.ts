export { jobRoutes } from './http.ts'
export { Jobs, type JobsOptions, MAX_LINE_BYTES, splitLines } from './jobs.ts'
