export { type CommandContext, CommandError, dispatch, handlers } from './commands.ts'
export { CLOSE, Control, type ControlOptions, MAX_PAYLOAD } from './control.ts'
export { SamplingControl, type SamplingTarget } from './sampling.ts'
