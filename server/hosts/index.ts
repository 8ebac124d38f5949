export { followOtherHubs } from './cluster.ts'
export { Fleet } from './fleet.ts'
export { hostRoutes } from './http.ts'
export { type ClaimRefusal, Hosts, type HostsOptions } from './registry.ts'
