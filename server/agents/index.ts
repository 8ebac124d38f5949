export { Agents, type AgentsOptions } from './agents.ts'
export { SeqCursor } from './cursor.ts'
export { agentRoutes } from './http.ts'
