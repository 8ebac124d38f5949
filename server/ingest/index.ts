export { localAgent } from './local.ts'
export { Pipeline, type PipelineDeps } from './pipeline.ts'
