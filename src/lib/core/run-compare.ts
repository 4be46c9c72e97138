// Comparison of two runs' final rankings: which findings both found, which only one did, and how far each moved.
// Findings are matched by their normalized text (dedup.ts), so "Left pleural effusion." and "left pleural
// effusion" are the same finding. Pure: imports only core.

import { normalizeFinding } from './dedup.ts';
import type { RunRecord } from './run-record.ts';

/** One finding of either run, with its place in each. Ranks are 1-based positions in `record.ranking`. */
export interface ComparedFinding {
  /** The text as run A words it (run B's when only B has it). */
  finding: string;
  rankA: number | null;
  rankB: number | null;
  aurocA: number | null;
  aurocB: number | null;
  status: 'both' | 'only-a' | 'only-b';
  /** rankA − rankB: positive = moved up in B; null unless in both. */
  rankDelta: number | null;
}

interface Placed {
  finding: string;
  rank: number;
  auroc: number;
}

/** Normalized text → the finding's first (best) place in a ranking. */
function places(record: RunRecord): Map<string, Placed> {
  const out = new Map<string, Placed>();
  record.ranking.forEach((f, i) => {
    const key = normalizeFinding(f.finding);
    // Two texts of one run can normalize alike (a rare dedup miss); the better-ranked one speaks for both.
    if (!out.has(key)) out.set(key, { finding: f.finding, rank: i + 1, auroc: f.auroc });
  });
  return out;
}

/**
 * Every finding of run `a` or run `b`, matched by {@link normalizeFinding}, sorted by the best rank it has in
 * either run, then findings in both before findings in one, then by rank in A, then rank in B, then text — so
 * the order is deterministic. The UI reads rows as "A → B".
 */
export function compareRuns(a: RunRecord, b: RunRecord): ComparedFinding[] {
  const inA = places(a);
  const inB = places(b);
  const rows: ComparedFinding[] = [];
  for (const [key, pa] of inA) {
    const pb = inB.get(key);
    rows.push({
      finding: pa.finding,
      rankA: pa.rank,
      rankB: pb?.rank ?? null,
      aurocA: pa.auroc,
      aurocB: pb?.auroc ?? null,
      status: pb ? 'both' : 'only-a',
      rankDelta: pb ? pa.rank - pb.rank : null,
    });
  }
  for (const [key, pb] of inB) {
    if (inA.has(key)) continue;
    rows.push({
      finding: pb.finding,
      rankA: null,
      rankB: pb.rank,
      aurocA: null,
      aurocB: pb.auroc,
      status: 'only-b',
      rankDelta: null,
    });
  }
  const best = (r: ComparedFinding) => Math.min(r.rankA ?? Infinity, r.rankB ?? Infinity);
  const order = (v: number | null) => v ?? Infinity;
  return rows.sort(
    (x, y) =>
      best(x) - best(y) ||
      Number(y.status === 'both') - Number(x.status === 'both') ||
      order(x.rankA) - order(y.rankA) ||
      order(x.rankB) - order(y.rankB) ||
      (x.finding < y.finding ? -1 : x.finding > y.finding ? 1 : 0),
  );
}
