// How much this origin stores and whether the browser may evict it (StorageManager), which models fill the
// IndexedDB caches, and clearing one model's cached embeddings, captions and replies. Model weights live in Cache
// Storage, owned by the model libraries: not counted or cleared here. Imports db.ts and storage-types.ts; never state.
import type { IDBPDatabase } from 'idb';
import { DB_NAME, openAppDb, STORES } from './db.ts';
import type { CacheCounts, CachedModel, PersistenceResult, StorageUsage } from './storage-types.ts';

export type { CacheCounts, CachedModel, PersistenceResult, StorageUsage } from './storage-types.ts';

/** Key prefixes of cached values by kind (see core/cache-keys.ts and the pipeline's caption and LLM keys). */
const KINDS = { emb: 'embeddings', cap: 'captions', llm: 'replies' } as const satisfies Record<
  string,
  keyof CacheCounts
>;
type KindPrefix = keyof typeof KINDS;

/** The origin's usage and quota, or null when the browser cannot tell (no StorageManager, or it failed). */
export async function storageEstimate(): Promise<StorageUsage | null> {
  if (!navigator.storage?.estimate) return null;
  try {
    const { usage, quota } = await navigator.storage.estimate();
    return usage === undefined || quota === undefined ? null : { usage, quota };
  } catch {
    return null;
  }
}

/**
 * Asks the browser not to evict this origin's data under storage pressure. Browsers decide by their own rules
 * (Chrome: installed or much-used sites, no prompt; Firefox: asks the user), so `persisted` may be false.
 */
export async function requestPersistence(): Promise<PersistenceResult> {
  if (!navigator.storage?.persist) return { persisted: false, supported: false };
  try {
    return { persisted: await navigator.storage.persist(), supported: true };
  } catch {
    return { persisted: false, supported: true };
  }
}

/** Whether this origin's data is already exempt from eviction (false when the browser cannot tell). */
export async function isPersisted(): Promise<boolean> {
  if (!navigator.storage?.persisted) return false;
  try {
    return await navigator.storage.persisted();
  } catch {
    return false;
  }
}

/** A live cache whose in-memory tier should forget a model too (EmbeddingCache, ReplyCache fit). */
export interface LiveCaches {
  embeddings?: { clearModel(modelId: string): Promise<void> };
  replies?: { clearByPrefix(prefix: string): Promise<number> };
}

/**
 * Deletes every cached embedding (`emb|<modelId>|…`), caption (`cap|<modelId>|…`) and LLM reply
 * (`llm|<modelId>|…`) of a model from IndexedDB, and returns how many of each went. Caches already open in this
 * tab keep a memory tier that would still answer from the deleted values until reload: pass them as `live` to
 * empty that too. Rejects when IndexedDB cannot be opened (nothing to clear then but memory).
 */
export async function clearModelCaches(
  modelId: string,
  options: { dbName?: string; live?: LiveCaches } = {},
): Promise<CacheCounts> {
  const prefixes = kindPrefixes(modelId);
  const counts: CacheCounts = { embeddings: 0, captions: 0, replies: 0 };
  const db = await openAppDb(options.dbName ?? DB_NAME);
  try {
    counts.embeddings = await deleteByPrefix(db, STORES.embeddings, prefixes.emb);
    counts.captions = await deleteByPrefix(db, STORES.replies, prefixes.cap);
    counts.replies = await deleteByPrefix(db, STORES.replies, prefixes.llm);
  } finally {
    db.close();
  }
  await options.live?.embeddings?.clearModel(modelId);
  for (const prefix of [prefixes.cap, prefixes.llm]) await options.live?.replies?.clearByPrefix(prefix);
  return counts;
}

/**
 * Every model with cached embeddings, captions or replies in IndexedDB, with counts, most cached first. Reads keys
 * only, and counts each model's key range at once instead of walking every key. Rejects when IndexedDB cannot be
 * opened.
 */
export async function cachedModels(dbName: string = DB_NAME): Promise<CachedModel[]> {
  const byModel = new Map<string, CachedModel>();
  const add = (modelId: string, kind: keyof CacheCounts, n: number) => {
    const row = byModel.get(modelId) ?? { modelId, embeddings: 0, captions: 0, replies: 0 };
    row[kind] += n;
    byModel.set(modelId, row);
  };
  const db = await openAppDb(dbName);
  try {
    for (const storeName of [STORES.embeddings, STORES.replies]) {
      const tx = db.transaction(storeName);
      let cursor = await tx.store.openKeyCursor();
      while (cursor) {
        const parsed = parseKey(String(cursor.key));
        if (!parsed) {
          cursor = await cursor.continue();
        } else {
          // Keys sort as strings, so a model's keys are contiguous: count its range, then jump past it.
          const range = prefixRange(parsed.prefix);
          add(parsed.modelId, KINDS[parsed.kind], await tx.store.count(range));
          cursor = await cursor.continue(range.upper as string);
        }
      }
      await tx.done;
    }
  } finally {
    db.close();
  }
  const total = (m: CachedModel) => m.embeddings + m.captions + m.replies;
  return [...byModel.values()].sort((a, b) => total(b) - total(a) || a.modelId.localeCompare(b.modelId));
}

function kindPrefixes(modelId: string): Record<KindPrefix, string> {
  return { emb: `emb|${modelId}|`, cap: `cap|${modelId}|`, llm: `llm|${modelId}|` };
}

/** `kind|modelId|…` → its parts, for the kinds this module knows; other keys (older formats) are left alone. */
function parseKey(key: string): { kind: KindPrefix; modelId: string; prefix: string } | null {
  const first = key.indexOf('|');
  const second = key.indexOf('|', first + 1);
  if (first < 0 || second < 0) return null;
  const kind = key.slice(0, first);
  if (!(kind in KINDS)) return null;
  return {
    kind: kind as KindPrefix,
    modelId: key.slice(first + 1, second),
    prefix: key.slice(0, second + 1),
  };
}

/**
 * Exactly the keys starting with `prefix` (which ends with '|'): from the prefix up to, excluding, the prefix with
 * its '|' replaced by '}', the next character.
 */
function prefixRange(prefix: string): IDBKeyRange {
  return IDBKeyRange.bound(prefix, `${prefix.slice(0, -1)}}`, false, true);
}

async function deleteByPrefix(db: IDBPDatabase, storeName: string, prefix: string): Promise<number> {
  const tx = db.transaction(storeName, 'readwrite');
  const range = prefixRange(prefix);
  // Count, then delete the range in one request: faster than a cursor over tens of thousands of embeddings.
  const [n] = await Promise.all([tx.store.count(range), tx.store.delete(range), tx.done]);
  return n;
}
