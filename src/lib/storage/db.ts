// The app's one IndexedDB database and its schema versions. Every store is created here so upgrades happen in one
// place: v1 embeddings; v2 benchmark records (one per benchmark run id + pair id).
import { openDB, type IDBPDatabase } from 'idb';

export const DB_NAME = 'raddiff';
export const DB_VERSION = 2;
export const STORES = { embeddings: 'embeddings', benchRecords: 'bench-records' } as const;

/** Opens (and upgrades) the database; rejects when IndexedDB is unavailable or blocked. */
export function openAppDb(name: string = DB_NAME): Promise<IDBPDatabase> {
  return openDB(name, DB_VERSION, {
    upgrade(db) {
      if (!db.objectStoreNames.contains(STORES.embeddings)) {
        db.createObjectStore(STORES.embeddings, { keyPath: 'key' }).createIndex('modelId', 'modelId');
      }
      if (!db.objectStoreNames.contains(STORES.benchRecords)) {
        db.createObjectStore(STORES.benchRecords, { keyPath: 'key' }).createIndex('runId', 'runId');
      }
    },
  });
}
