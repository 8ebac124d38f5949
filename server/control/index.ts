export { type CommandContext, dispatch, handlers, RelayedCommand } from './commands.ts'
export { CLOSE, Control, type ControlOptions, MAX_PAYLOAD } from './control.ts'
export { configRoutes, controlRoutes } from './http.ts'
export { Sampling, SamplingControl, type SamplingTarget } from './sampling.ts'
