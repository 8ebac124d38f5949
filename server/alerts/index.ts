export { AlertConfig, type ChannelTestResult, type ChannelView, type RuleView } from './config.ts'
export { formats, type Notice, summary } from './formats.ts'
export { alertRoutes } from './http.ts'
