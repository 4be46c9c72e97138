// Saved runs and storage info in a real browser: save/list/get/rename/delete across instances (a reload opens a new
// store), overwriting a run with the same id, the memory fallback when IndexedDB cannot be opened, the quota path,
// and per-model cache listing and clearing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunStore } from '../../src/lib/storage/run-store.ts';
import {
  cachedModels,
  clearModelCaches,
  isPersisted,
  requestPersistence,
  storageEstimate,
} from '../../src/lib/storage/storage-info.ts';
import { EmbeddingCache } from '../../src/lib/storage/embedding-cache.ts';
import { ReplyCache } from '../../src/lib/storage/reply-cache.ts';
import { embeddingKey } from '../../src/lib/core/cache-keys.ts';
import { savedRun } from '../fixtures/saved-run.ts';

const dbName = () => `raddiff-test-${Math.random().toString(36).slice(2)}`;

afterEach(() => vi.restoreAllMocks());

/** A clock the test advances, so "newest first" does not depend on timing. */
function clock(start = 1_000) {
  let t = start;
  return () => (t += 1000);
}

describe('RunStore', () => {
  it('saves, lists newest first, reopens, renames and deletes runs across instances', async () => {
    const name = dbName();
    const now = clock();
    const store = await RunStore.open(name, now);
    expect(store.mode).toBe('indexeddb');
    expect(store.warning).toBeUndefined();
    expect(await store.list()).toEqual([]);

    const first = savedRun('run-1', { hidden: ['pleural effusion'] });
    expect(await store.save(first)).toEqual({ persisted: true, replaced: false });
    expect(await store.save(savedRun('run-2', { title: 'Effusion study' }))).toEqual({
      persisted: true,
      replaced: false,
    });

    const reopened = await RunStore.open(name, now);
    const list = await reopened.list();
    expect(list.map((r) => r.runId)).toEqual(['run-2', 'run-1']);
    expect(list[0]).toMatchObject({
      title: 'Effusion study',
      status: 'done',
      preset: 'raddiff',
      proposer: 'raddiff',
      counts: { A: 2, B: 2, reports: 0 },
      top: { finding: 'pleural effusion', auroc: 0.9 },
      findings: 2,
      persisted: true,
    });
    // A hidden finding does not headline the run.
    expect(list[1]).toMatchObject({ title: null, top: { finding: 'cardiomegaly', auroc: 0.7 } });

    expect(await reopened.get('run-1')).toEqual(first);
    expect(await reopened.get('missing')).toBeNull();

    expect(await reopened.rename('run-1', '  Baseline  ')).toBe(true);
    expect(await reopened.rename('missing', 'x')).toBe(false);
    const third = await RunStore.open(name, now);
    expect((await third.get('run-1'))?.title).toBe('Baseline');
    expect((await third.list()).find((r) => r.runId === 'run-1')?.title).toBe('Baseline');
    // A blank name removes the title.
    await third.rename('run-1', '   ');
    expect((await third.get('run-1'))?.title).toBeUndefined();

    expect(await third.delete('run-2')).toBe(true);
    expect(await third.delete('run-2')).toBe(false);
    expect((await (await RunStore.open(name, now)).list()).map((r) => r.runId)).toEqual(['run-1']);
    expect(await third.get('run-2')).toBeNull();
  });

  it('overwrites a run with the same id (same inputs and config), keeping the name given to it', async () => {
    const store = await RunStore.open(dbName(), clock());
    await store.save(savedRun('same'));
    await store.rename('same', 'First look');
    const again = savedRun('same', { ranking: [] });
    expect(await store.save(again)).toEqual({ persisted: true, replaced: true });
    const list = await store.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ title: 'First look', top: null, findings: 0 });
    expect((await store.get('same'))?.ranking).toEqual([]);
    // A new title wins over the old one.
    await store.save(savedRun('same', { title: 'Second look' }));
    expect((await store.list())[0]?.title).toBe('Second look');
  });

  it('keeps runs in memory, with a warning, when IndexedDB cannot be opened', async () => {
    vi.spyOn(indexedDB, 'open').mockImplementation(() => {
      throw new DOMException('The user denied permission to access the database.', 'SecurityError');
    });
    const store = await RunStore.open(dbName(), clock());
    expect(store.mode).toBe('memory');
    expect(store.warning).toMatch(/kept in memory/);
    const outcome = await store.save(savedRun('m1'));
    expect(outcome.persisted).toBe(false);
    expect(outcome.warning).toMatch(/kept in memory/);
    await store.save(savedRun('m2'));
    expect((await store.list()).map((r) => [r.runId, r.persisted])).toEqual([
      ['m2', false],
      ['m1', false],
    ]);
    // Returned records are copies: changing one does not change what is saved.
    const got = await store.get('m1');
    got!.status = 'failed';
    expect((await store.get('m1'))?.status).toBe('done');
    expect(await store.rename('m1', 'Named')).toBe(true);
    expect((await store.get('m1'))?.title).toBe('Named');
    expect(await store.delete('m2')).toBe(true);
    expect((await store.list()).map((r) => r.runId)).toEqual(['m1']);
  });

  it('keeps a run that does not fit in memory, says so, and goes on storing the others', async () => {
    const name = dbName();
    const store = await RunStore.open(name, clock());
    await store.save(savedRun('small'));
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('Quota exceeded', 'QuotaExceededError');
    });
    const outcome = await store.save(savedRun('big', { title: 'Big run' }));
    expect(outcome.persisted).toBe(false);
    expect(outcome.warning).toMatch(/^Browser storage is full: this run is kept in memory only/);
    expect(store.warning).toBe(outcome.warning);
    expect(store.mode).toBe('indexeddb');
    expect((await store.list()).map((r) => [r.runId, r.persisted])).toEqual([
      ['big', false],
      ['small', true],
    ]);
    expect((await store.get('big'))?.title).toBe('Big run');
    // Nothing of the failed save reached IndexedDB: another tab (a new instance) sees only the stored run.
    put.mockRestore();
    expect((await (await RunStore.open(name)).list()).map((r) => r.runId)).toEqual(['small']);
    // Once there is room again, saving stores it and clears the warning.
    expect(await store.save((await store.get('big'))!)).toEqual({ persisted: true, replaced: true });
    expect(store.warning).toBeUndefined();
    expect((await (await RunStore.open(name)).list()).map((r) => r.runId).sort()).toEqual(['big', 'small']);
  });
});

describe('storage info', () => {
  it('reports usage and persistence as the browser does', async () => {
    const estimate = await storageEstimate();
    expect(estimate).not.toBeNull();
    expect(estimate!.quota).toBeGreaterThan(0);
    expect(typeof (await isPersisted())).toBe('boolean');
    expect((await requestPersistence()).supported).toBe(true);
  });

  it('lists models with cached values and clears one model without touching others', async () => {
    const name = dbName();
    const embeddings = await EmbeddingCache.open(name);
    const replies = await ReplyCache.open(name);
    const vector = new Float32Array([1, 0]);
    await embeddings.putMany([
      { key: embeddingKey('clip', 'p1', 'h1'), modelId: 'clip', vector },
      { key: embeddingKey('clip', 'p1', 'h2'), modelId: 'clip', vector },
      { key: embeddingKey('clip', 'p1', 'h2', { x1: 0, y1: 0, x2: 0.5, y2: 0.5 }), modelId: 'clip', vector },
      // A model whose id starts with the other's: its keys must survive clearing `clip`.
      { key: embeddingKey('clip2', 'p1', 'h1'), modelId: 'clip2', vector },
    ]);
    await replies.set('cap|vlm|c1|160|a1|full', 'a caption');
    await replies.set('cap|vlm|c1|160|a2|full', 'another caption');
    await replies.set('llm|clip|p1|x', 'odd but possible: an LLM named like the ranker');
    await replies.set('llm|qwen|p1|x', '{"differences":[]}');
    await replies.set('caption|old|format', 'a key of another format');

    expect(await cachedModels(name)).toEqual([
      { modelId: 'clip', embeddings: 3, captions: 0, replies: 1 },
      { modelId: 'vlm', embeddings: 0, captions: 2, replies: 0 },
      { modelId: 'clip2', embeddings: 1, captions: 0, replies: 0 },
      { modelId: 'qwen', embeddings: 0, captions: 0, replies: 1 },
    ]);

    expect(await clearModelCaches('clip', { dbName: name, live: { embeddings, replies } })).toEqual({
      embeddings: 3,
      captions: 0,
      replies: 1,
    });
    // The live caches' memory tiers forgot them too, so this tab recomputes rather than reuses.
    expect((await embeddings.getMany([embeddingKey('clip', 'p1', 'h1')]))[0]).toBeUndefined();
    expect(await replies.get('llm|clip|p1|x')).toBeUndefined();
    expect(await replies.get('caption|old|format')).toBe('a key of another format');
    expect((await cachedModels(name)).map((m) => m.modelId)).toEqual(['vlm', 'clip2', 'qwen']);
    expect(await clearModelCaches('vlm', { dbName: name })).toEqual({
      embeddings: 0,
      captions: 2,
      replies: 0,
    });
  });
});
