// Saved runs in IndexedDB's `runs` store: the whole RunRecord plus a small summary row per run, so the history list
// never deserializes megabytes of records. Like the caches it degrades to this tab's memory, with a `warning`, when
// IndexedDB is unavailable, fails or is full. Imports core types, db.ts and storage-types.ts; never state.
import type { IDBPDatabase } from 'idb';
import type { RunRecord } from '../core/run-record.ts';
import { DB_NAME, openAppDb, STORES } from './db.ts';
import type { CacheMode } from './embedding-cache.ts';
import { summarizeRun, type RunSummary, type SaveOutcome } from './storage-types.ts';

export type { RunSummary, SaveOutcome } from './storage-types.ts';

const STORE = STORES.runs;
/**
 * The store's keyPath is `runId`, so the key carries the row kind: `record|<runId>` holds the record,
 * `summary|<runId>` its summary. Every summary key lies in ['summary|', 'summary}') ('}' follows '|'), so list()
 * reads summary rows only.
 */
const RECORD = 'record|';
const SUMMARY = 'summary|';
const SUMMARY_RANGE_END = 'summary}';

interface RecordRow {
  runId: string;
  savedAt: number;
  record: RunRecord;
}

interface SummaryRow {
  runId: string;
  summary: Omit<RunSummary, 'persisted'>;
}

interface MemoryRun {
  record: RunRecord;
  savedAt: number;
}

const QUOTA_WARNING =
  'Browser storage is full: this run is kept in memory only and is lost when the tab closes. Delete saved runs or clear model caches to make room, then save it again.';

/**
 * Saved runs. A run's id is a hash of its inputs, config and models, so two runs of the same images with the same
 * settings share an id: saving the second overwrites the first (the title given to the earlier one is kept when
 * the new record has none). That is deliberate, since the second run reproduces the first from warm caches; give
 * a run different settings (e.g. the seed) to keep both.
 */
export class RunStore {
  #db: IDBPDatabase | undefined;
  #mode: CacheMode = 'memory';
  #warning: string | undefined;
  /** Runs that are not (or no longer) in IndexedDB; they shadow stored rows with the same id. */
  #memory = new Map<string, MemoryRun>();
  #now: () => number;

  private constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * Opens the store; never throws: when IndexedDB cannot be opened, runs are kept in memory and `warning` says so.
   * `now` stamps saves (tests pin it).
   */
  static async open(dbName = DB_NAME, now: () => number = Date.now): Promise<RunStore> {
    const store = new RunStore(now);
    try {
      store.#db = await openAppDb(dbName);
      store.#mode = 'indexeddb';
    } catch (error) {
      store.#warning = `Browser storage is unavailable (${describe(error)}): saved runs are kept in memory for this tab only and are lost on reload.`;
    }
    return store;
  }

  /** Where new saves go: IndexedDB, or memory after storage failed. */
  get mode(): CacheMode {
    return this.#mode;
  }

  /** Why saved runs are (partly) not persistent, if they are not. */
  get warning(): string | undefined {
    return this.#warning;
  }

  /**
   * Saves a run (a plain, cloneable record: no Svelte proxies), overwriting any run with the same runId. Never
   * rejects for storage reasons: when storage is full or failing the run is kept in memory, `persisted` is false
   * and `warning` says why.
   */
  async save(record: RunRecord): Promise<SaveOutcome> {
    const savedAt = this.#now();
    const previous = await this.#previousTitle(record.runId);
    const toSave: RunRecord =
      !record.title?.trim() && previous.title ? { ...record, title: previous.title } : record;
    if (this.#db) {
      try {
        const tx = this.#db.transaction(STORE, 'readwrite');
        // Both rows in one transaction: a quota error aborts it whole, so a summary never outlives its record.
        await Promise.all([
          tx.store.put({ runId: RECORD + record.runId, savedAt, record: toSave } satisfies RecordRow),
          tx.store.put({
            runId: SUMMARY + record.runId,
            summary: rowSummary(toSave, savedAt),
          } satisfies SummaryRow),
          tx.done,
        ]);
        this.#memory.delete(record.runId);
        if (this.#warning === QUOTA_WARNING) this.#warning = undefined;
        return { persisted: true, replaced: previous.exists };
      } catch (error) {
        if (!isQuota(error)) this.#degrade(error);
        else this.#warning = QUOTA_WARNING;
      }
    }
    this.#memory.set(record.runId, { record: structuredClone(toSave), savedAt });
    return { persisted: false, replaced: previous.exists, warning: this.#warning ?? QUOTA_WARNING };
  }

  /** Every saved run, newest first. Runs kept in memory only say so (`persisted: false`). */
  async list(): Promise<RunSummary[]> {
    const byId = new Map<string, RunSummary>();
    if (this.#db) {
      try {
        const rows = (await this.#db.getAll(
          STORE,
          IDBKeyRange.bound(SUMMARY, SUMMARY_RANGE_END, false, true),
        )) as SummaryRow[];
        for (const row of rows) byId.set(row.summary.runId, { ...row.summary, persisted: true });
      } catch (error) {
        this.#degrade(error);
      }
    }
    for (const [runId, run] of this.#memory) byId.set(runId, summarizeRun(run.record, run.savedAt, false));
    return [...byId.values()].sort((a, b) => b.savedAt - a.savedAt);
  }

  /** The saved record, or null when there is none (or storage failed: then `warning` says so). */
  async get(runId: string): Promise<RunRecord | null> {
    const remembered = this.#memory.get(runId);
    // A copy, as IndexedDB would give: callers may not alter what is stored by changing what they got.
    if (remembered) return structuredClone(remembered.record);
    if (!this.#db) return null;
    try {
      const row = (await this.#db.get(STORE, RECORD + runId)) as RecordRow | undefined;
      return row?.record ?? null;
    } catch (error) {
      this.#degrade(error);
      return null;
    }
  }

  /** Names a saved run (blank = remove the name); the summary and the stored record both change. False if absent. */
  async rename(runId: string, title: string): Promise<boolean> {
    const trimmed = title.trim();
    const retitle = (record: RunRecord): RunRecord => {
      const { title: _old, ...rest } = record;
      return trimmed ? { ...rest, title: trimmed } : rest;
    };
    let found = false;
    const remembered = this.#memory.get(runId);
    if (remembered) {
      this.#memory.set(runId, { ...remembered, record: retitle(remembered.record) });
      found = true;
    }
    if (!this.#db) return found;
    try {
      const tx = this.#db.transaction(STORE, 'readwrite');
      const row = (await tx.store.get(RECORD + runId)) as RecordRow | undefined;
      if (row) {
        const record = retitle(row.record);
        await Promise.all([
          tx.store.put({ ...row, record } satisfies RecordRow),
          tx.store.put({
            runId: SUMMARY + runId,
            summary: rowSummary(record, row.savedAt),
          } satisfies SummaryRow),
        ]);
        found = true;
      }
      await tx.done;
    } catch (error) {
      this.#degrade(error);
    }
    return found;
  }

  /** Deletes a saved run (from memory and storage). False if there was none. */
  async delete(runId: string): Promise<boolean> {
    let found = this.#memory.delete(runId);
    if (!this.#db) return found;
    try {
      const tx = this.#db.transaction(STORE, 'readwrite');
      const key = await tx.store.getKey(RECORD + runId);
      if (key !== undefined) found = true;
      await Promise.all([tx.store.delete(RECORD + runId), tx.store.delete(SUMMARY + runId), tx.done]);
    } catch (error) {
      this.#degrade(error);
    }
    return found;
  }

  /** Whether a run with this id is saved already, and the title it was given (kept when re-saved untitled). */
  async #previousTitle(runId: string): Promise<{ exists: boolean; title?: string }> {
    const remembered = this.#memory.get(runId);
    if (remembered) return { exists: true, ...titleOf(remembered.record) };
    if (!this.#db) return { exists: false };
    try {
      const row = (await this.#db.get(STORE, SUMMARY + runId)) as SummaryRow | undefined;
      if (!row) return { exists: false };
      return { exists: true, ...(row.summary.title ? { title: row.summary.title } : {}) };
    } catch {
      // The save that follows meets the same failure and degrades with a warning; a miss here costs only the title.
      return { exists: false };
    }
  }

  #degrade(error: unknown): void {
    // Closing (as the caches do) rather than retrying: a failing connection (another tab upgrading the schema, the
    // browser evicting data) does not recover, and every later call would fail slowly in turn.
    this.#warning = `Browser storage failed (${describe(error)}): saved runs cannot be read until the page is reloaded, and runs saved from now on are kept in memory only.`;
    this.#db?.close();
    this.#db = undefined;
    this.#mode = 'memory';
  }
}

function rowSummary(record: RunRecord, savedAt: number): Omit<RunSummary, 'persisted'> {
  const { persisted: _persisted, ...summary } = summarizeRun(record, savedAt, true);
  return summary;
}

function titleOf(record: RunRecord): { title?: string } {
  const title = record.title?.trim();
  return title ? { title } : {};
}

function isQuota(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'QuotaExceededError';
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
