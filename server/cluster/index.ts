export { type ClaimResult, HostDirectory, type HostHolder } from './directory.ts'
export { Lease, type LeaseOptions, SINGLETON_LEASE_KEY } from './lease.ts'
export { ClusterLink, type ClusterLinkOptions, type HoldRefusal } from './link.ts'
export { CommandRelay, type RelayOptions } from './relay.ts'
