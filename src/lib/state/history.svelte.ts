// Saved runs and the browser storage behind them: the history list, saving, reopening, renaming and deleting runs,
// the storage usage bar, asking for persistent storage, and clearing one model's caches. The store and storage
// probes arrive injected (App passes RunStore and storage-info.ts), so this class is unit-tested with fakes.
import type { RunRecord } from '../core/run-record.ts';
import type {
  CacheCounts,
  CachedModel,
  PersistenceResult,
  RunSummary,
  SaveOutcome,
  StorageUsage,
} from '../storage/storage-types.ts';

export type { CachedModel, RunSummary, SaveOutcome } from '../storage/storage-types.ts';

/** What HistoryState needs of saved-run storage (RunStore fits). */
export interface RunStorePort {
  readonly warning: string | undefined;
  save(record: RunRecord): Promise<SaveOutcome>;
  list(): Promise<RunSummary[]>;
  get(runId: string): Promise<RunRecord | null>;
  rename(runId: string, title: string): Promise<boolean>;
  delete(runId: string): Promise<boolean>;
}

/** What HistoryState needs of the browser's storage (storage-info.ts's functions fit, e.g. `import * as`). */
export interface StorageInfoPort {
  storageEstimate(): Promise<StorageUsage | null>;
  requestPersistence(): Promise<PersistenceResult>;
  isPersisted(): Promise<boolean>;
  cachedModels(): Promise<CachedModel[]>;
  clearModelCaches(modelId: string): Promise<CacheCounts>;
}

/** The storage bar: bytes used of the quota (null when the browser cannot tell) and eviction protection. */
export interface StorageStatus {
  usage: number | null;
  quota: number | null;
  persisted: boolean;
  /** False when the browser cannot be asked for persistence (the button is then pointless). */
  persistenceSupported: boolean;
}

/** A short outcome of the last action, shown next to the list. */
export interface HistoryMessage {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** Saved runs and storage, for the history panel. */
export class HistoryState {
  readonly #store: RunStorePort;
  readonly #storage: StorageInfoPort;
  /** Saved runs, newest first. */
  runs = $state.raw<RunSummary[]>([]);
  storage = $state.raw<StorageStatus>({
    usage: null,
    quota: null,
    persisted: false,
    persistenceSupported: true,
  });
  /** Models with cached embeddings, captions or replies, most cached first. */
  cachedModels = $state.raw<CachedModel[]>([]);
  /** Outcome of the last save, rename, delete, persistence request or cache clearing. */
  message = $state.raw<HistoryMessage | null>(null);
  /** Runs being loaded or changed (the panel disables its buttons meanwhile). */
  busy = $state(false);
  /** Why saved runs are not (all) persistent, if they are not: the store's own warning. */
  warning = $state<string | null>(null);
  #refreshes = 0;

  constructor(store: RunStorePort, storage: StorageInfoPort) {
    this.#store = store;
    this.#storage = storage;
    this.warning = store.warning ?? null;
  }

  /** Reloads the list, the storage estimate and the cached models (the latest call wins). Never throws. */
  async refresh(): Promise<void> {
    const generation = ++this.#refreshes;
    const [runs, usage, persisted, models] = await Promise.all([
      this.#store.list().catch(() => null),
      this.#storage.storageEstimate().catch(() => null),
      this.#storage.isPersisted().catch(() => false),
      // Fails only when IndexedDB cannot be opened: the store's warning already says so.
      this.#storage.cachedModels().catch(() => [] as CachedModel[]),
    ]);
    if (generation !== this.#refreshes) return;
    if (runs) this.runs = runs;
    this.storage = {
      ...this.storage,
      usage: usage?.usage ?? null,
      quota: usage?.quota ?? null,
      persisted,
    };
    this.cachedModels = models;
    this.warning = this.#store.warning ?? null;
  }

  /**
   * Saves a finished (or cancelled) run. A run with the same runId (same images, settings and models) is
   * overwritten, which the message says. Plain data only: pass `$state.snapshot` of reactive records.
   */
  async save(record: RunRecord): Promise<SaveOutcome> {
    const outcome = await this.#store.save(record);
    const name = record.title?.trim() || 'Run';
    this.message = outcome.persisted
      ? {
          level: 'info',
          text: outcome.replaced
            ? `${name} saved, replacing the earlier save of the same images and settings.`
            : `${name} saved.`,
        }
      : { level: 'warning', text: outcome.warning ?? 'This run is kept in memory only.' };
    await this.refresh();
    return outcome;
  }

  /** The saved record, or null (with a message) when it is gone. */
  async open(runId: string): Promise<RunRecord | null> {
    this.busy = true;
    try {
      const record = await this.#store.get(runId);
      if (!record) {
        this.message = { level: 'error', text: 'That run is no longer saved.' };
        await this.refresh();
      }
      return record;
    } finally {
      this.busy = false;
    }
  }

  /** Names a run (blank clears the name). */
  async rename(runId: string, title: string): Promise<void> {
    const found = await this.#store.rename(runId, title);
    if (!found) this.message = { level: 'error', text: 'That run is no longer saved.' };
    // Show the new name at once; refresh() then brings the stored truth.
    const trimmed = title.trim();
    this.runs = this.runs.map((r) => (r.runId === runId ? { ...r, title: trimmed || null } : r));
    await this.refresh();
  }

  /** Deletes a saved run. */
  async remove(runId: string): Promise<void> {
    const gone = this.runs.find((r) => r.runId === runId);
    await this.#store.delete(runId);
    this.runs = this.runs.filter((r) => r.runId !== runId);
    this.message = { level: 'info', text: `Deleted ${gone?.title ? `“${gone.title}”` : 'the run'}.` };
    await this.refresh();
  }

  /** Asks the browser to keep this site's data when the disk fills up, and says what it answered. */
  async requestPersistence(): Promise<PersistenceResult> {
    const result = await this.#storage
      .requestPersistence()
      .catch((): PersistenceResult => ({ persisted: false, supported: true }));
    this.storage = { ...this.storage, persisted: result.persisted, persistenceSupported: result.supported };
    this.message = !result.supported
      ? { level: 'warning', text: 'This browser cannot be asked to keep data persistent.' }
      : result.persisted
        ? { level: 'info', text: 'Saved runs and caches are now kept even when the disk fills up.' }
        : {
            level: 'warning',
            text: 'The browser declined to make storage persistent (browsers grant it to bookmarked, installed or often used sites). Data may be evicted when the disk fills up.',
          };
    return result;
  }

  /** Deletes a model's cached embeddings, captions and replies, and says how many went. */
  async clearModel(modelId: string): Promise<void> {
    this.busy = true;
    try {
      const counts = await this.#storage.clearModelCaches(modelId);
      this.message = {
        level: 'info',
        text: `Cleared ${modelId}: ${plural(counts.embeddings, 'embedding')}, ${plural(counts.captions, 'caption')}, ${plural(counts.replies, 'reply', 'replies')}.`,
      };
    } catch (error) {
      this.message = {
        level: 'error',
        text: `Could not clear the caches of ${modelId}: ${error instanceof Error ? error.message : String(error)}`,
      };
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
