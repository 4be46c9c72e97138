// The reply cache in a real browser: persistence across instances (a reload opens a new one), prefix clearing and
// counting, the in-memory fallback with a visible warning, and the v2 → v3 schema upgrade keeping what the old
// code stored (embeddings, benchmark records).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDB } from 'idb';
import { ReplyCache } from '../../src/lib/storage/reply-cache.ts';
import { EmbeddingCache } from '../../src/lib/storage/embedding-cache.ts';
import { DB_VERSION, openAppDb, STORES } from '../../src/lib/storage/db.ts';
import { embeddingKey } from '../../src/lib/core/cache-keys.ts';

const dbName = () => `raddiff-test-${Math.random().toString(36).slice(2)}`;

afterEach(() => vi.restoreAllMocks());

describe('ReplyCache', () => {
  it('persists replies across instances', async () => {
    const name = dbName();
    const first = await ReplyCache.open(name);
    expect(first.mode).toBe('indexeddb');
    expect(first.warning).toBeUndefined();
    expect(await first.get('caption|m|h|full')).toBeUndefined();
    await first.set('caption|m|h|full', 'A frontal chest radiograph…', 'm');
    await first.set('llm|q|p1|abc', '{"differences":["effusion"]}');

    const second = await ReplyCache.open(name);
    expect(await second.get('caption|m|h|full')).toBe('A frontal chest radiograph…');
    expect(await second.get('llm|q|p1|abc')).toBe('{"differences":["effusion"]}');
    expect(await second.count()).toBe(2);
  });

  it('clears and counts by key prefix, in IndexedDB and in memory', async () => {
    const name = dbName();
    const cache = await ReplyCache.open(name);
    for (const key of ['caption|m1|a', 'caption|m1|b', 'caption|m1\uffff|c', 'caption|m2|a', 'llm|m1|a']) {
      await cache.set(key, key.toUpperCase());
    }
    expect(await cache.count('caption|m1|')).toBe(2);
    expect(await cache.count('caption|')).toBe(4);
    expect(await cache.clearByPrefix('caption|m1|')).toBe(2);
    const reopened = await ReplyCache.open(name);
    expect(await reopened.get('caption|m1|a')).toBeUndefined();
    expect(await reopened.get('caption|m1\uffff|c')).toBe('CAPTION|M1\uffff|C');
    expect(await reopened.count()).toBe(3);
  });

  it('keeps working in memory, with a warning, when IndexedDB cannot be opened', async () => {
    vi.spyOn(indexedDB, 'open').mockImplementation(() => {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    });
    const cache = await ReplyCache.open(dbName());
    expect(cache.mode).toBe('memory');
    expect(cache.warning).toMatch(/kept in memory/);
    await cache.set('k|1', 'one');
    await cache.set('k|2', 'two');
    await cache.set('other', 'three');
    expect(await cache.get('k|1')).toBe('one');
    expect(await cache.count()).toBe(3);
    expect(await cache.clearByPrefix('k|')).toBe(2);
    expect(await cache.count()).toBe(1);
  });

  it('degrades to memory when storage is full, keeping what it was given', async () => {
    const cache = await ReplyCache.open(dbName());
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('Quota exceeded', 'QuotaExceededError');
    });
    await cache.set('big', 'a long reply');
    expect(cache.mode).toBe('memory');
    expect(cache.warning).toMatch(/storage is full/);
    expect(await cache.get('big')).toBe('a long reply');
  });

  it('upgrades a v2 database made by the previous code, keeping its embeddings and benchmark records', async () => {
    const name = dbName();
    // Exactly the v2 schema of the previous db.ts.
    const old = await openDB(name, 2, {
      upgrade(db) {
        db.createObjectStore('embeddings', { keyPath: 'key' }).createIndex('modelId', 'modelId');
        db.createObjectStore('bench-records', { keyPath: 'key' }).createIndex('runId', 'runId');
      },
    });
    const key = embeddingKey('m', 'p1', 'abc');
    await old.put('embeddings', {
      key,
      modelId: 'm',
      vector: new Float32Array([0.6, 0.8]).buffer,
      savedAt: 1,
    });
    await old.put('bench-records', {
      key: 'run|pair',
      runId: 'run',
      record: { pairId: 'pair', status: 'done' },
    });
    old.close();

    const replies = await ReplyCache.open(name);
    expect(replies.mode).toBe('indexeddb');
    await replies.set('r', 'reply');
    const db = await openAppDb(name);
    expect(db.version).toBe(DB_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(Object.values(STORES).sort());
    expect(db.transaction(STORES.runs).store.keyPath).toBe('runId');
    expect(await db.get(STORES.benchRecords, 'run|pair')).toMatchObject({ runId: 'run' });
    db.close();
    const embeddings = await EmbeddingCache.open(name);
    expect(Array.from((await embeddings.getMany([key]))[0]!)).toEqual([
      Float32Array.of(0.6)[0],
      Float32Array.of(0.8)[0],
    ]);
    expect(await (await ReplyCache.open(name)).get('r')).toBe('reply');
  });

  it('falls back to memory instead of waiting forever when an old tab blocks the upgrade', async () => {
    const name = dbName();
    // An older build's connection that never closes on versionchange.
    const old = await openDB(name, 2, {
      upgrade(db) {
        db.createObjectStore('embeddings', { keyPath: 'key' });
      },
    });
    const cache = await ReplyCache.open(name);
    expect(cache.mode).toBe('memory');
    expect(cache.warning).toMatch(/blocked by another tab/);
    old.close();
  });
});
