// Image-embedding cache in IndexedDB (the only importer of idb besides the other storage modules). Keyed by
// core's embeddingKey(model, preprocessing version, SHA-256, crop) so a cached image costs no forward pass, across
// reloads. When IndexedDB is unavailable (private mode, blocked) or over quota, it keeps working in memory and says so.
import type { IDBPDatabase } from 'idb';
import { DB_NAME, openAppDb, STORES } from './db.ts';

const STORE = STORES.embeddings;

interface StoredEmbedding {
  key: string;
  modelId: string;
  vector: ArrayBuffer;
  savedAt: number;
}

export type CacheMode = 'indexeddb' | 'memory';

/** Embedding cache with an in-memory tier in front of IndexedDB. */
export class EmbeddingCache {
  #db: IDBPDatabase | undefined;
  #memory = new Map<string, Float32Array>();
  #mode: CacheMode = 'memory';
  #warning: string | undefined;

  private constructor() {}

  /** Opens the cache; never throws: failure to open IndexedDB degrades to memory with a warning. */
  static async open(dbName = DB_NAME): Promise<EmbeddingCache> {
    const cache = new EmbeddingCache();
    try {
      cache.#db = await openAppDb(dbName);
      cache.#mode = 'indexeddb';
    } catch (error) {
      cache.#warning = `Browser storage is unavailable (${describe(error)}): embeddings are kept in memory for this tab only and will be recomputed after a reload.`;
    }
    return cache;
  }

  get mode(): CacheMode {
    return this.#mode;
  }

  /** Why the cache is not persistent, if it is not. */
  get warning(): string | undefined {
    return this.#warning;
  }

  /** Looks up many keys at once; undefined where missing. */
  async getMany(keys: string[]): Promise<(Float32Array | undefined)[]> {
    const out: (Float32Array | undefined)[] = keys.map((k) => this.#memory.get(k));
    const db = this.#db;
    if (!db) return out;
    const missing = out.flatMap((v, i) => (v ? [] : [i]));
    if (missing.length === 0) return out;
    try {
      const tx = db.transaction(STORE, 'readonly');
      const rows = await Promise.all(
        missing.map((i) => tx.store.get(keys[i]!) as Promise<StoredEmbedding | undefined>),
      );
      await tx.done;
      rows.forEach((row, j) => {
        if (!row) return;
        const vector = new Float32Array(row.vector);
        this.#memory.set(row.key, vector);
        out[missing[j]!] = vector;
      });
    } catch (error) {
      this.#degrade(error);
    }
    return out;
  }

  /** Stores many embeddings; on quota or storage errors keeps them in memory and switches to memory mode. */
  async putMany(entries: { key: string; modelId: string; vector: Float32Array }[]): Promise<void> {
    for (const e of entries) this.#memory.set(e.key, e.vector);
    const db = this.#db;
    if (!db || entries.length === 0) return;
    try {
      const tx = db.transaction(STORE, 'readwrite');
      const now = Date.now();
      await Promise.all(
        entries.map((e) =>
          tx.store.put({
            key: e.key,
            modelId: e.modelId,
            // Copy: the vector may be a view into a larger batch buffer.
            vector: e.vector.slice().buffer,
            savedAt: now,
          } satisfies StoredEmbedding),
        ),
      );
      await tx.done;
    } catch (error) {
      this.#degrade(error);
    }
  }

  /** Number of embeddings stored for a model (for the UI and tests). */
  async countForModel(modelId: string): Promise<number> {
    if (!this.#db) return [...this.#memory.keys()].filter((k) => k.startsWith(`emb|${modelId}|`)).length;
    return this.#db.countFromIndex(STORE, 'modelId', modelId);
  }

  /** Deletes every cached embedding of a model. */
  async clearModel(modelId: string): Promise<void> {
    for (const k of [...this.#memory.keys()]) if (k.startsWith(`emb|${modelId}|`)) this.#memory.delete(k);
    if (!this.#db) return;
    const tx = this.#db.transaction(STORE, 'readwrite');
    for await (const cursor of tx.store.index('modelId').iterate(modelId)) await cursor.delete();
    await tx.done;
  }

  #degrade(error: unknown): void {
    const quota = error instanceof DOMException && error.name === 'QuotaExceededError';
    this.#warning = quota
      ? 'Browser storage is full: new embeddings are kept in memory only. Free space or clear a model cache to keep them across reloads.'
      : `Browser storage failed (${describe(error)}): new embeddings are kept in memory only.`;
    this.#db?.close();
    this.#db = undefined;
    this.#mode = 'memory';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
