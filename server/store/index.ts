export { type Db, openDb } from './db.ts'
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts'
export type { SeriesRange, StorageStats, Store, StoredEvent, TierStats } from './store.ts'
