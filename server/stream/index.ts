export { streamRoutes } from './http.ts'
export { type OpenRequest, type StreamOptions, Streams } from './streams.ts'
