// HistoryState (a Svelte rune class) over a fake run store and fake storage probes: refresh fills list, usage and
// cached models; save says when it stored, replaced or kept a run in memory; open, rename and delete; the
// persistence request's three answers; clearing a model's caches; and the latest refresh winning.
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/lib/core/run-record.ts';
import { HistoryState, type RunStorePort, type StorageInfoPort } from '../../src/lib/state/history.svelte.ts';
import {
  summarizeRun,
  type CachedModel,
  type PersistenceResult,
  type RunSummary,
  type SaveOutcome,
} from '../../src/lib/storage/storage-types.ts';
import { savedRun } from '../fixtures/saved-run.ts';

/** An in-memory run store behaving like RunStore (overwrite by runId, newest first). */
class FakeRunStore implements RunStorePort {
  warning: string | undefined;
  runs = new Map<string, { record: RunRecord; savedAt: number }>();
  full = false;
  #t = 0;

  async save(record: RunRecord): Promise<SaveOutcome> {
    const replaced = this.runs.has(record.runId);
    this.runs.set(record.runId, { record, savedAt: ++this.#t });
    if (this.full) {
      this.warning = 'Browser storage is full: this run is kept in memory only.';
      return { persisted: false, replaced, warning: this.warning };
    }
    return { persisted: true, replaced };
  }
  async list(): Promise<RunSummary[]> {
    return [...this.runs.values()]
      .map((r) => summarizeRun(r.record, r.savedAt, !this.full))
      .sort((a, b) => b.savedAt - a.savedAt);
  }
  async get(runId: string) {
    return this.runs.get(runId)?.record ?? null;
  }
  async rename(runId: string, title: string) {
    const run = this.runs.get(runId);
    if (!run) return false;
    run.record = { ...run.record, title: title.trim() };
    return true;
  }
  async delete(runId: string) {
    return this.runs.delete(runId);
  }
}

function fakeStorage(overrides: Partial<StorageInfoPort> = {}) {
  const cleared: string[] = [];
  let models: CachedModel[] = [
    { modelId: 'clip', embeddings: 40, captions: 0, replies: 0 },
    { modelId: 'vlm', embeddings: 0, captions: 12, replies: 0 },
  ];
  const storage: StorageInfoPort = {
    storageEstimate: async () => ({ usage: 5 * 1024 ** 2, quota: 100 * 1024 ** 2 }),
    requestPersistence: async () => ({ persisted: true, supported: true }),
    isPersisted: async () => false,
    cachedModels: async () => models,
    clearModelCaches: async (id) => {
      cleared.push(id);
      const gone = models.find((m) => m.modelId === id);
      models = models.filter((m) => m.modelId !== id);
      return {
        embeddings: gone?.embeddings ?? 0,
        captions: gone?.captions ?? 0,
        replies: gone?.replies ?? 0,
      };
    },
    ...overrides,
  };
  return { storage, cleared };
}

describe('HistoryState', () => {
  it('refreshes the list, the storage bar and the cached models', async () => {
    const store = new FakeRunStore();
    await store.save(savedRun('r1'));
    await store.save(savedRun('r2', { title: 'Second' }));
    const history = new HistoryState(store, fakeStorage().storage);
    expect(history.runs).toEqual([]);
    await history.refresh();
    expect(history.runs.map((r) => r.runId)).toEqual(['r2', 'r1']);
    expect(history.storage).toEqual({
      usage: 5 * 1024 ** 2,
      quota: 100 * 1024 ** 2,
      persisted: false,
      persistenceSupported: true,
    });
    expect(history.cachedModels.map((m) => m.modelId)).toEqual(['clip', 'vlm']);
    expect(history.warning).toBeNull();
  });

  it('saves, says when a run replaced an earlier one, and lists it', async () => {
    const store = new FakeRunStore();
    const history = new HistoryState(store, fakeStorage().storage);
    expect(await history.save(savedRun('r1', { title: 'Effusion' }))).toEqual({
      persisted: true,
      replaced: false,
    });
    expect(history.message).toEqual({ level: 'info', text: 'Effusion saved.' });
    expect(history.runs.map((r) => r.runId)).toEqual(['r1']);
    await history.save(savedRun('r1'));
    expect(history.message?.text).toMatch(/replacing the earlier save of the same images and settings/);
    expect(history.runs).toHaveLength(1);
  });

  it('shows the store warning when a run is kept in memory only', async () => {
    const store = new FakeRunStore();
    store.full = true;
    const history = new HistoryState(store, fakeStorage().storage);
    const outcome = await history.save(savedRun('big'));
    expect(outcome.persisted).toBe(false);
    expect(history.message).toEqual({ level: 'warning', text: outcome.warning });
    expect(history.warning).toMatch(/storage is full/);
    expect(history.runs[0]?.persisted).toBe(false);
  });

  it('takes the store warning at construction (storage unavailable)', () => {
    const store = new FakeRunStore();
    store.warning = 'Browser storage is unavailable: saved runs are kept in memory.';
    expect(new HistoryState(store, fakeStorage().storage).warning).toBe(store.warning);
  });

  it('opens, renames and removes saved runs', async () => {
    const store = new FakeRunStore();
    const history = new HistoryState(store, fakeStorage().storage);
    const record = savedRun('r1');
    await history.save(record);
    expect(await history.open('r1')).toBe(record);
    expect(history.busy).toBe(false);

    expect(await history.open('gone')).toBeNull();
    expect(history.message).toEqual({ level: 'error', text: 'That run is no longer saved.' });

    await history.rename('r1', '  Named  ');
    expect(history.runs[0]?.title).toBe('Named');
    await history.rename('gone', 'x');
    expect(history.message?.level).toBe('error');

    await history.remove('r1');
    expect(history.runs).toEqual([]);
    expect(history.message).toEqual({ level: 'info', text: 'Deleted “Named”.' });
  });

  it('reports what the browser answered to the persistence request', async () => {
    const answers: PersistenceResult[] = [
      { persisted: true, supported: true },
      { persisted: false, supported: true },
      { persisted: false, supported: false },
    ];
    const messages: (string | undefined)[] = [];
    for (const answer of answers) {
      const history = new HistoryState(
        new FakeRunStore(),
        fakeStorage({ requestPersistence: async () => answer }).storage,
      );
      expect(await history.requestPersistence()).toEqual(answer);
      expect(history.storage.persisted).toBe(answer.persisted);
      expect(history.storage.persistenceSupported).toBe(answer.supported);
      messages.push(history.message?.text);
    }
    expect(messages[0]).toMatch(/now kept/);
    expect(messages[1]).toMatch(/declined/);
    expect(messages[2]).toMatch(/cannot be asked/);
  });

  it('clears one model’s caches and says how many values went', async () => {
    const { storage, cleared } = fakeStorage();
    const history = new HistoryState(new FakeRunStore(), storage);
    await history.refresh();
    await history.clearModel('clip');
    expect(cleared).toEqual(['clip']);
    expect(history.message).toEqual({
      level: 'info',
      text: 'Cleared clip: 40 embeddings, 0 captions, 0 replies.',
    });
    expect(history.cachedModels.map((m) => m.modelId)).toEqual(['vlm']);
    expect(history.busy).toBe(false);
  });

  it('says so when clearing fails', async () => {
    const { storage } = fakeStorage({
      clearModelCaches: async () => {
        throw new Error('IndexedDB is unavailable');
      },
    });
    const history = new HistoryState(new FakeRunStore(), storage);
    await history.clearModel('clip');
    expect(history.message).toEqual({
      level: 'error',
      text: 'Could not clear the caches of clip: IndexedDB is unavailable',
    });
  });

  it('keeps the latest refresh when an earlier one answers last', async () => {
    const store = new FakeRunStore();
    await store.save(savedRun('old'));
    let release: (() => void) | undefined;
    const slowList = store.list.bind(store);
    let calls = 0;
    store.list = async () => {
      const snapshot = await slowList();
      // The first call stalls until released, after the second finished.
      if (++calls === 1) await new Promise<void>((resolve) => (release = resolve));
      return snapshot;
    };
    const history = new HistoryState(store, fakeStorage().storage);
    const first = history.refresh();
    await store.save(savedRun('new'));
    await history.refresh();
    release?.();
    await first;
    expect(history.runs.map((r) => r.runId)).toEqual(['new', 'old']);
  });
});
