export { type OpenRequest, type StreamOptions, Streams } from './streams.ts'
