export { Lease, type LeaseOptions, SINGLETON_LEASE_KEY } from './lease.ts'
