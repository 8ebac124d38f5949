export { type Db, openDb } from './db.ts'
export { LATE_MS } from './history.ts'
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
export type { NamedSample, SeriesRange, StorageStats, Store, StoredEvent, TierStats } from './store.ts'
