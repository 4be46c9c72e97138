// The typed events `runDiff` yields while it works. The UI's stage timeline and live view and the headless runner's
// log consume the same stream; the last event is always `done` carrying the run record (also after a cancel or a
// failure, with everything computed so far). Pure types.

import type { Box, EncodedImage } from './ports.ts';
import type { PoolFinding, RunRecord } from './run-record.ts';

/** Stages of a run, for timelines and timings. */
export type DiffStage =
  'load' | 'embed' | 'sample' | 'caption' | 'compose' | 'propose' | 'boxes' | 'crop' | 'dedup' | 'rank';

/** Where in the run an event happened. */
export interface DiffPosition {
  iteration: number;
  round: number;
}

export type DiffEvent =
  | { type: 'run-start'; runId: string; iterations: number; rounds: number; nA: number; nB: number }
  | { type: 'stage'; stage: DiffStage; done: number; total: number; iteration?: number; round?: number }
  | { type: 'iteration-start'; iteration: number }
  | ({ type: 'round-start' } & DiffPosition)
  | ({ type: 'sampled'; a: string[]; b: string[] } & DiffPosition)
  | ({
      type: 'captioned';
      imageId: string;
      text: string;
      cached: boolean;
      error?: string;
      done: number;
      total: number;
    } & DiffPosition)
  | ({
      type: 'composed';
      purpose: 'grid-a' | 'grid-b' | 'combined' | 'crops';
      image: EncodedImage;
      finding?: string;
      box?: Box;
    } & DiffPosition)
  | ({
      type: 'prompt';
      purpose: 'propose' | 'refine' | 'boxes' | 'summarize';
      /** Messages as text, images shown as `[image key w×h]`. */
      messages: { role: string; content: string }[];
    } & DiffPosition)
  | ({
      type: 'reply';
      purpose: 'propose' | 'refine' | 'boxes' | 'summarize';
      attempt: number;
      outcome: 'ok' | 'malformed' | 'error' | 'timeout';
      text?: string;
      problem?: string;
      cached: boolean;
    } & DiffPosition)
  | ({ type: 'proposed'; findings: string[]; dropped: { text: string; reason: string }[] } & DiffPosition)
  | ({
      type: 'boxes';
      boxes: { finding: string; box: Box; source: 'model' | 'preset'; problem?: string }[];
    } & DiffPosition)
  | ({ type: 'round-failed'; reason: string } & DiffPosition)
  | {
      type: 'deduplicated';
      iteration: number;
      kept: number;
      merged: { from: string; into: string; cosine: number | null }[];
    }
  | { type: 'ranked'; iteration: number; pool: PoolFinding[] }
  | { type: 'warning'; message: string }
  | { type: 'done'; record: RunRecord };
