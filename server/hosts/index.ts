export { hostRoutes } from './http.ts'
export { Hosts } from './registry.ts'
