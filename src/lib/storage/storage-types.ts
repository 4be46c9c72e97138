// Shapes the storage modules hand to state (saved-run summaries, storage usage, per-model cache counts) and the pure
// summary of a run record. Kept free of DOM and idb types on purpose: state classes import these and are unit-tested
// in Node, where only this module (not run-store.ts or storage-info.ts) has to type-check.
import type { PresetName, ProposerKind } from '../core/diff-config.ts';
import type { RunRecord } from '../core/run-record.ts';

/** One saved run as the history list shows it (read from the stored row, no need to load the whole record). */
export interface RunSummary {
  runId: string;
  /** The user's name for the run; null when never named. */
  title: string | null;
  /** When it was last saved (ms since the epoch). */
  savedAt: number;
  status: RunRecord['status'];
  counts: RunRecord['inputs']['counts'];
  preset: PresetName;
  proposer: ProposerKind;
  /** The highest-AUROC finding the user did not hide, or null when nothing was ranked. */
  top: { finding: string; auroc: number } | null;
  /** Findings in the final ranking. */
  findings: number;
  /** False when the run lives only in this tab's memory (storage unavailable or full): gone after a reload. */
  persisted: boolean;
}

/** What happened to a save. */
export interface SaveOutcome {
  /** False when the run is kept in memory only (storage full or unavailable); `warning` then says why. */
  persisted: boolean;
  /** True when a run with the same runId (same inputs, config and models) was overwritten. */
  replaced: boolean;
  warning?: string;
}

/** Bytes used and available to this origin, as the browser estimates them. */
export interface StorageUsage {
  usage: number;
  quota: number;
}

/** Result of asking the browser to keep this origin's data when the disk fills up. */
export interface PersistenceResult {
  persisted: boolean;
  /** False when the browser has no StorageManager.persist (then nothing can be asked). */
  supported: boolean;
}

/** Cached values of one model, by kind (what "clear this model's caches" deletes). */
export interface CacheCounts {
  /** Image embeddings (`emb|<model>|…`). */
  embeddings: number;
  /** Captions (`cap|<model>|…`). */
  captions: number;
  /** LLM replies: proposals, refinements, boxes, summaries (`llm|<model>|…`). */
  replies: number;
}

/** One model with something in the caches. */
export interface CachedModel extends CacheCounts {
  modelId: string;
}

/** Summarizes a record for the history list; `persisted` and `savedAt` come from where it is stored. */
export function summarizeRun(record: RunRecord, savedAt: number, persisted: boolean): RunSummary {
  const hidden = new Set(record.hidden ?? []);
  let top: RunSummary['top'] = null;
  // Scan rather than take ranking[0]: the ranking order is the pipeline's, and hidden findings must not headline.
  for (const f of record.ranking) {
    if (hidden.has(f.finding)) continue;
    if (!top || f.auroc > top.auroc) top = { finding: f.finding, auroc: f.auroc };
  }
  const title = record.title?.trim();
  return {
    runId: record.runId,
    title: title ? title : null,
    savedAt,
    status: record.status,
    counts: { ...record.inputs.counts },
    preset: record.config.preset,
    proposer: record.config.proposer,
    top,
    findings: record.ranking.length,
    persisted,
  };
}
