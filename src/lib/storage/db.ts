// The app's one IndexedDB database and its schema versions. Every store is created here so upgrades happen in one
// place: v1 embeddings; v2 benchmark records (one per benchmark run id + pair id); v3 model replies (captions, LLM
// replies, keyed by provenance) and saved run records. Upgrades only add missing stores, never drop data.
import { openDB, type IDBPDatabase } from 'idb';

export const DB_NAME = 'raddiff';
export const DB_VERSION = 3;
export const STORES = {
  embeddings: 'embeddings',
  benchRecords: 'bench-records',
  replies: 'replies',
  runs: 'runs',
} as const;

/**
 * Opens (and upgrades) the database; rejects when IndexedDB is unavailable, or when the upgrade is blocked by
 * another tab still holding an older version open (callers then fall back to memory rather than wait forever).
 */
export function openAppDb(name: string = DB_NAME): Promise<IDBPDatabase> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let db: IDBPDatabase | undefined;
    const opening = openDB(name, DB_VERSION, {
      upgrade(database) {
        // Each store is created only if missing, so any older version (v1, v2) upgrades without losing data.
        if (!database.objectStoreNames.contains(STORES.embeddings)) {
          database.createObjectStore(STORES.embeddings, { keyPath: 'key' }).createIndex('modelId', 'modelId');
        }
        if (!database.objectStoreNames.contains(STORES.benchRecords)) {
          database.createObjectStore(STORES.benchRecords, { keyPath: 'key' }).createIndex('runId', 'runId');
        }
        if (!database.objectStoreNames.contains(STORES.replies)) {
          database.createObjectStore(STORES.replies, { keyPath: 'key' });
        }
        if (!database.objectStoreNames.contains(STORES.runs)) {
          database.createObjectStore(STORES.runs, { keyPath: 'runId' });
        }
      },
      blocked() {
        // A tab of an older build holds the previous version open and does not close it (old builds had no
        // `blocking` handler). Waiting would leave this tab on "Loading…" until that one closes.
        settled = true;
        reject(
          new DOMException(
            'the database upgrade is blocked by another tab of this app; close the other tabs and reload',
            'VersionError',
          ),
        );
      },
      blocking() {
        // A newer build in another tab wants to upgrade: step aside. Our caches then degrade to memory on their
        // next transaction (with a warning) instead of blocking that tab.
        db?.close();
      },
    });
    opening.then(
      (opened) => {
        db = opened;
        // Opened after we gave up waiting: nobody will use this connection.
        if (settled) opened.close();
        else {
          settled = true;
          resolve(opened);
        }
      },
      (error: unknown) => {
        if (!settled) {
          settled = true;
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
    );
  });
}
