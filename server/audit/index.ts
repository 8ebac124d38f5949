export { Audit, type NewAuditEntry, redact } from './audit.ts'
export { auditRoutes } from './http.ts'
