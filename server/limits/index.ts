export { type CapRefusal, ConnectionCaps, RETRY_AFTER_S, refusalMessage } from './connections.ts'
export { FailureThrottle } from './throttle.ts'
