/**
 * The wire protocol, shared by the hub and the dashboard. Free of server imports so Vite can bundle it;
 * the dashboard imports types only, so zod stays out of the browser bundle.
 */

export * from './agent.ts'
export * from './alerts.ts'
export * from './backoff.ts'
export * from './common.ts'
export * from './control.ts'
export * from './errors.ts'
export * from './fleet.ts'
export * from './hosts.ts'
export * from './jobs.ts'
export * from './metrics.ts'
export * from './stream.ts'
