// The run record: everything one RadDiff run consumed and produced (inputs by hash, full config, seeds, model ids,
// prompt versions, every prompt and raw reply, boxes, the ranked pool per iteration, timings, failures), as plain
// JSON with a schema version. The pipeline builds it; the UI, the headless runner and exports read it. Pure types.

import type { DiffConfig, ProposerKind } from './diff-config.ts';
import type { Box, SetLabel } from './ports.ts';
import type { RankedFinding } from './types.ts';

/** Bumped whenever a field changes meaning; importers migrate older versions. */
export const RUN_RECORD_SCHEMA_VERSION = 1;

/** Where a finding in the pool came from. */
export interface FindingOrigin {
  proposer: ProposerKind;
  iteration: number;
  /** Round within the iteration; absent for findings not tied to a round (user, concept bank, report mining). */
  round?: number;
}

/** One finding of the ranked pool with everything the results view shows. */
export interface PoolFinding extends RankedFinding {
  origins: FindingOrigin[];
  /** Other phrasings merged into this one by deduplication. */
  merged: string[];
  /** AUROC on images no proposer call saw (held-out), when enabled and both sets keep ≥ 1 image. */
  heldOut?: { auroc: number; nA: number; nB: number };
  /** Box chosen for this finding in visual search and its AUROC on every image cropped to it. */
  localized?: { box: Box; boxSource: 'model' | 'preset'; auroc: number; nA: number; nB: number };
}

/** One model call as sent and received. Images are referenced by their composition key, never inlined. */
export interface CallRecord {
  purpose: 'caption' | 'propose' | 'refine' | 'boxes' | 'summarize';
  iteration: number;
  round: number;
  model: string;
  promptVersion: string;
  cacheKey: string;
  /** Messages with image parts replaced by `[image <key> w×h]`. */
  messages: { role: string; content: string }[];
  attempts: CallAttempt[];
}

/** One attempt of a model call. Replayed from the reply cache as a whole, so a rerun reproduces failures too. */
export interface CallAttempt {
  attempt: number;
  outcome: 'ok' | 'malformed' | 'error' | 'timeout';
  reply?: string;
  problem?: string;
}

/** One proposal round. */
export interface RoundRecord {
  iteration: number;
  round: number;
  status: 'ok' | 'failed' | 'cancelled';
  sampleA: string[];
  sampleB: string[];
  captions: { imageId: string; crop: 'full' | Box; text: string; error?: string }[];
  compositions: {
    key: string;
    purpose: 'grid-a' | 'grid-b' | 'combined' | 'crops';
    width: number;
    height: number;
    finding?: string;
    box?: Box;
  }[];
  boxes: { finding: string; box: Box; source: 'model' | 'preset'; problem?: string }[];
  findings: string[];
  problems: string[];
}

/** One iteration: its rounds, deduplication and the ranked pool after it. */
export interface IterationRecord {
  iteration: number;
  rounds: RoundRecord[];
  dedup: { kept: number; merged: { from: string; into: string; cosine: number | null }[] };
  pool: PoolFinding[];
}

/**
 * How the run executed: wall-clock times and cache statistics. The only part of a record that may differ between
 * two runs of the same inputs and config (everything else is reproduced exactly from warm caches).
 */
export interface ExecutionRecord {
  startedAt: string;
  finishedAt?: string;
  totalMs: number;
  /** Time spent waiting on ports (models, compositor, cache). */
  portMs: number;
  stages: Record<string, number>;
  /** Captioner and LLM calls actually made (cache misses), and cache hits. */
  modelCalls: number;
  cacheHits: number;
}

/** The whole run. */
export interface RunRecord {
  schemaVersion: typeof RUN_RECORD_SCHEMA_VERSION;
  app: { name: 'raddiff-web'; version: string };
  /** Hash of inputs, config and model ids: the same run gets the same id. */
  runId: string;
  status: 'running' | 'done' | 'cancelled' | 'failed';
  config: DiffConfig;
  inputs: {
    images: { id: string; name: string; set: SetLabel; hasReport: boolean }[];
    counts: { A: number; B: number; reports: number };
  };
  models: {
    embedder: string;
    captioner?: string;
    llm?: string;
    llmVision?: boolean;
  };
  promptVersions: Record<string, string>;
  iterations: IterationRecord[];
  calls: CallRecord[];
  /** The final ranked pool (equal to the last iteration's pool). */
  ranking: PoolFinding[];
  /** Image ids the ranker could not embed, with the reason. */
  unranked: { id: string; reason: string }[];
  execution: ExecutionRecord;
  failures: { stage: string; iteration?: number; round?: number; message: string }[];
  warnings: string[];
  /** The user's name for the run (history, exports). */
  title?: string;
  /** The user's review, by finding text: kept with the run and in exports. */
  review?: Record<string, 'accepted' | 'rejected'>;
  /** Findings the user pinned to the top or hid, by text. */
  pinned?: string[];
  hidden?: string[];
  /** Findings the user typed or edited after the run (re-ranked with the pool; origin `user`). */
  edits?: { at: string; action: 'add' | 'edit'; from?: string; to: string }[];
}
