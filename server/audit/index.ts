export { Audit, type NewAuditEntry, redact } from './audit.ts'
