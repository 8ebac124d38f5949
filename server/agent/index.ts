export { agentCommand } from './cli.ts'
export { agentEndpoint, agentSettings, loadAgentConfig } from './config.ts'
export { HubLink } from './link.ts'
export { Spool } from './spool.ts'
