// The embedding cache in a real browser: persistence across instances (a reload opens a new one), key isolation,
// per-model clearing, and the in-memory fallback with a visible warning when IndexedDB cannot be used.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddingCache } from '../../src/lib/storage/embedding-cache.ts';
import { embeddingKey } from '../../src/lib/core/cache-keys.ts';

const dbName = () => `raddiff-test-${Math.random().toString(36).slice(2)}`;

afterEach(() => vi.restoreAllMocks());

describe('EmbeddingCache', () => {
  it('persists vectors across instances, keyed by provenance', async () => {
    const name = dbName();
    const key = embeddingKey('m', 'p1', 'abc');
    const first = await EmbeddingCache.open(name);
    expect(first.mode).toBe('indexeddb');
    // A view into a larger buffer must be stored as just its own values.
    const batch = new Float32Array([9, 9, 0.6, 0.8, 9]);
    await first.putMany([{ key, modelId: 'm', vector: batch.subarray(2, 4) }]);

    const second = await EmbeddingCache.open(name);
    const [hit, miss] = await second.getMany([key, embeddingKey('m', 'p2', 'abc')]);
    expect(Array.from(hit!)).toEqual([Float32Array.of(0.6)[0], Float32Array.of(0.8)[0]]);
    expect(miss).toBeUndefined();
    expect(await second.countForModel('m')).toBe(1);
    await second.clearModel('m');
    expect(await (await EmbeddingCache.open(name)).getMany([key])).toEqual([undefined]);
  });

  it('keeps working in memory, with a warning, when IndexedDB cannot be opened', async () => {
    vi.spyOn(indexedDB, 'open').mockImplementation(() => {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    });
    const cache = await EmbeddingCache.open(dbName());
    expect(cache.mode).toBe('memory');
    expect(cache.warning).toMatch(/kept in memory/);
    const key = embeddingKey('m', 'p', 'h');
    await cache.putMany([{ key, modelId: 'm', vector: new Float32Array([1, 0]) }]);
    expect(Array.from((await cache.getMany([key]))[0]!)).toEqual([1, 0]);
  });

  it('degrades to memory when storage is full, keeping what it was given', async () => {
    const cache = await EmbeddingCache.open(dbName());
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('Quota exceeded', 'QuotaExceededError');
    });
    const key = embeddingKey('m', 'p', 'full-disk');
    await cache.putMany([{ key, modelId: 'm', vector: new Float32Array([0, 1]) }]);
    expect(cache.mode).toBe('memory');
    expect(cache.warning).toMatch(/storage is full/);
    expect(Array.from((await cache.getMany([key]))[0]!)).toEqual([0, 1]);
  });
});
