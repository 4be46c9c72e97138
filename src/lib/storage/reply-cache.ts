// Model-reply cache in IndexedDB (captions, proposer and judge replies): core's ReplyCachePort, keyed by the
// pipeline's provenance keys (model id, prompt version, image hashes, crop…), so a repeated call costs no inference
// across reloads. Like the embedding cache, it degrades to memory with a `warning` when IndexedDB is unavailable or
// full. Imports core types and db.ts only (never state or components).
import type { IDBPDatabase } from 'idb';
import type { ReplyCachePort } from '../core/ports.ts';
import { DB_NAME, openAppDb, STORES } from './db.ts';
import type { CacheMode } from './embedding-cache.ts';

const STORE = STORES.replies;

interface StoredReply {
  key: string;
  value: string;
  /** Id of the model that produced the reply, when the caller said (diagnostics only; the key already holds it). */
  model?: string;
  savedAt: number;
}

/** Reply cache with an in-memory tier in front of IndexedDB. */
export class ReplyCache implements ReplyCachePort {
  #db: IDBPDatabase | undefined;
  #memory = new Map<string, string>();
  #mode: CacheMode = 'memory';
  #warning: string | undefined;

  private constructor() {}

  /** Opens the cache; never throws: failure to open IndexedDB degrades to memory with a warning. */
  static async open(dbName = DB_NAME): Promise<ReplyCache> {
    const cache = new ReplyCache();
    try {
      cache.#db = await openAppDb(dbName);
      cache.#mode = 'indexeddb';
    } catch (error) {
      cache.#warning = `Browser storage is unavailable (${describe(error)}): model replies are kept in memory for this tab only and will be requested again after a reload.`;
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

  /** The cached reply for `key`, or undefined. A storage failure reads as a miss (and degrades to memory). */
  async get(key: string): Promise<string | undefined> {
    const remembered = this.#memory.get(key);
    if (remembered !== undefined || !this.#db) return remembered;
    try {
      const row = (await this.#db.get(STORE, key)) as StoredReply | undefined;
      if (!row) return undefined;
      this.#memory.set(key, row.value);
      return row.value;
    } catch (error) {
      this.#degrade(error);
      return undefined;
    }
  }

  /**
   * Stores a reply (`model`: who produced it, kept for diagnostics). On quota or storage errors the reply is kept
   * in memory and the cache switches to memory mode; it never rejects for storage reasons.
   */
  async set(key: string, value: string, model?: string): Promise<void> {
    this.#memory.set(key, value);
    if (!this.#db) return;
    const row: StoredReply = { key, value, savedAt: Date.now() };
    if (model !== undefined) row.model = model;
    try {
      await this.#db.put(STORE, row);
    } catch (error) {
      this.#degrade(error);
    }
  }

  /** Deletes every reply whose key starts with `prefix` (e.g. one model's, or one prompt version's); returns how many. */
  async clearByPrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for (const key of [...this.#memory.keys()]) {
      if (key.startsWith(prefix)) {
        this.#memory.delete(key);
        if (!this.#db) deleted++;
      }
    }
    if (!this.#db) return deleted;
    try {
      const tx = this.#db.transaction(STORE, 'readwrite');
      // Keys sort as strings, so every key with the prefix follows it contiguously: walk from the prefix on.
      for await (const cursor of tx.store.iterate(IDBKeyRange.lowerBound(prefix))) {
        if (!String(cursor.key).startsWith(prefix)) break;
        await cursor.delete();
        deleted++;
      }
      await tx.done;
    } catch (error) {
      this.#degrade(error);
    }
    return deleted;
  }

  /** Number of cached replies (with `prefix`: of those whose key starts with it), for diagnostics. */
  async count(prefix?: string): Promise<number> {
    const matches = (key: string) => prefix === undefined || key.startsWith(prefix);
    if (this.#db) {
      try {
        if (prefix === undefined) return await this.#db.count(STORE);
        // A key cursor: counting needs no reply text read from disk.
        let n = 0;
        let cursor = await this.#db.transaction(STORE).store.openKeyCursor(IDBKeyRange.lowerBound(prefix));
        while (cursor && matches(String(cursor.key))) {
          n++;
          cursor = await cursor.continue();
        }
        return n;
      } catch (error) {
        this.#degrade(error);
      }
    }
    return [...this.#memory.keys()].filter(matches).length;
  }

  #degrade(error: unknown): void {
    const quota = error instanceof DOMException && error.name === 'QuotaExceededError';
    this.#warning = quota
      ? 'Browser storage is full: new model replies are kept in memory only. Free space or clear caches to keep them across reloads.'
      : `Browser storage failed (${describe(error)}): new model replies are kept in memory only.`;
    this.#db?.close();
    this.#db = undefined;
    this.#mode = 'memory';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
