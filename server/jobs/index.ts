export { jobRoutes } from './http.ts'
export { Jobs, type JobsOptions } from './jobs.ts'
export { JobLogs, MAX_LINE_BYTES, splitLines } from './logs.ts'
