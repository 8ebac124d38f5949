export { AlertConfig, type ChannelView, type RuleView } from './config.ts'
export { alertRoutes } from './http.ts'
