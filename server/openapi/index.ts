export { annotate, describeRoute, limitBody, type RouteDoc, validate } from './describe.ts'
export { gatherRoutes, openApiDocument } from './document.ts'
export { openApiRoutes } from './http.ts'
