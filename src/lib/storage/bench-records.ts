// Benchmark records in IndexedDB: core's RecordStore for one benchmark run (run id = benchmark + ranker + bank
// fingerprint), so a batch interrupted by a reload or a cancel resumes where it stopped. Falls back to memory.
import type { IDBPDatabase } from 'idb';
import { createMemoryRecordStore, type PairRecord, type RecordStore } from '../core/bench-runner.ts';
import { openAppDb, STORES } from './db.ts';

interface StoredRecord {
  key: string;
  runId: string;
  record: PairRecord;
}

/** Opens the record store of `runId`; never throws (memory fallback, with the reason in `warning`). */
export async function openBenchRecords(
  runId: string,
): Promise<{ store: RecordStore; warning?: string; clear(): Promise<void> }> {
  let db: IDBPDatabase;
  try {
    db = await openAppDb();
  } catch (error) {
    const memory = createMemoryRecordStore();
    return {
      store: memory,
      warning: `Browser storage is unavailable (${error instanceof Error ? error.message : String(error)}): benchmark progress will not survive a reload.`,
      clear: async () => undefined,
    };
  }
  const key = (pairId: string) => `${runId}|${pairId}`;
  const store: RecordStore = {
    async get(pairId) {
      const row = (await db.get(STORES.benchRecords, key(pairId))) as StoredRecord | undefined;
      return row?.record;
    },
    async put(record) {
      await db.put(STORES.benchRecords, { key: key(record.pairId), runId, record } satisfies StoredRecord);
    },
    async list() {
      const rows = (await db.getAllFromIndex(STORES.benchRecords, 'runId', runId)) as StoredRecord[];
      return rows.map((r) => r.record);
    },
  };
  return {
    store,
    async clear() {
      const tx = db.transaction(STORES.benchRecords, 'readwrite');
      for await (const cursor of tx.store.index('runId').iterate(runId)) await cursor.delete();
      await tx.done;
    },
  };
}
