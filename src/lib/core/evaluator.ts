// Benchmark scoring (METHOD.md §6): the judge port, per-pair acc@1 / acc@5 / acc@N from the judge's 0/1/2 scores,
// and the benchmark aggregate (means, failures counted as 0 and listed, seeded percentile-bootstrap CIs over pairs,
// per-difficulty breakdown). Pure: imports only core.

import type { AbortSignalLike } from './llm.ts';
import { createRng } from './random.ts';
import type { Interval } from './types.ts';

/** Benchmark difficulty tiers, easiest first. */
export const DIFFICULTY_LEVELS = ['easy', 'medium', 'hard'] as const;
export type Difficulty = (typeof DIFFICULTY_LEVELS)[number];

/** 2 = fully aligned with A's description, 1 = partially (right direction, broader/narrower), 0 = not aligned. */
export type JudgeScore = 0 | 1 | 2;

/** One judgement. A judgement that could not be made is a value, never an exception; it scores 0. */
export type JudgeVerdict = { score: JudgeScore; rationale?: string } | { score: null; error: string };

/** One finding to judge against a pair's ground truth (A's and B's descriptions). */
export interface JudgeInput {
  finding: string;
  truthA: string;
  truthB: string;
}

/**
 * Grades findings against ground truth. Returns exactly one verdict per input, in order. Rejects only when
 * `signal` aborts (with an `AbortError`); every other problem is a failed verdict.
 */
export interface Judge {
  judge(input: readonly JudgeInput[], signal?: AbortSignalLike): Promise<JudgeVerdict[]>;
}

/** The accuracies of one pair; each is 0, 0.5 or 1. */
export interface PairAccuracy {
  /** s[0] / 2. */
  acc1: number;
  /** max(s[0..4]) / 2. */
  acc5: number;
  /** max over all judged findings / 2. */
  accN: number;
  /** Verdicts considered. */
  judged: number;
  /** Verdicts that failed (counted as score 0). */
  failedJudgements: number;
}

/** Number of leading findings acc@5 looks at. */
export const TOP_K = 5;

function scoreOf(verdict: JudgeVerdict): JudgeScore {
  return verdict.score === null ? 0 : verdict.score;
}

/**
 * acc@1, acc@5 and acc@N of one pair from the verdicts of its findings in rank order. Failed verdicts score 0;
 * no verdicts at all gives zeros (the caller decides whether that is a failed pair).
 */
export function pairAccuracy(verdicts: readonly JudgeVerdict[]): PairAccuracy {
  let best5 = 0;
  let bestN = 0;
  let failed = 0;
  verdicts.forEach((verdict, i) => {
    if (verdict.score === null) failed += 1;
    const s = scoreOf(verdict);
    if (i < TOP_K) best5 = Math.max(best5, s);
    bestN = Math.max(bestN, s);
  });
  const first = verdicts[0];
  return {
    acc1: first === undefined ? 0 : scoreOf(first) / 2,
    acc5: best5 / 2,
    accN: bestN / 2,
    judged: verdicts.length,
    failedJudgements: failed,
  };
}

/** What the aggregate needs to know about one pair. */
export type PairOutcome =
  | {
      pairId: string;
      difficulty?: Difficulty;
      status: 'scored';
      acc1: number;
      acc5: number;
      accN: number;
      failedJudgements: number;
    }
  /** The run failed or produced no findings: counts as 0 in every mean and is listed. */
  | { pairId: string; difficulty?: Difficulty; status: 'failed'; reason: string }
  /** Never run (e.g. too few images resolved): listed, and by default left out of the means. */
  | { pairId: string; difficulty?: Difficulty; status: 'skipped'; reason: string };

/** A mean with its bootstrap confidence interval. */
export interface Estimate {
  mean: number;
  ci: Interval;
}

/** Accuracy statistics over a group of pairs. The estimates are null when the group has no pairs. */
export interface AccuracyStats {
  /** Pairs in the means: scored + failed (+ skipped when they count as zero). */
  n: number;
  scored: number;
  /** Failed pairs, each counted as 0. */
  failed: number;
  /** Skipped pairs (in `n` only under `skipped: 'count-as-zero'`). */
  skipped: number;
  /** Failed judgements across the scored pairs (each counted as score 0). */
  failedJudgements: number;
  acc1: Estimate | null;
  acc5: Estimate | null;
  accN: Estimate | null;
}

/** The benchmark result. */
export interface EvaluationSummary extends AccuracyStats {
  by_difficulty: Record<Difficulty, AccuracyStats>;
  /** Pairs without a difficulty: in the overall statistics, in no tier. */
  withoutDifficulty: number;
  /** Every failed pair and why; never dropped silently. */
  failures: { pairId: string; reason: string }[];
  skippedPairs: { pairId: string; reason: string }[];
  bootstrap: { seed: number; resamples: number; level: number };
}

/** Options of {@link aggregate}. */
export interface AggregateOptions {
  /** Bootstrap seed (default 0). */
  seed?: number;
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** Confidence level (default 0.95). */
  level?: number;
  /**
   * `exclude` (default): skipped pairs are listed but not in the means; the method never ran on them, so counting
   * them would measure the image download, not the method. `count-as-zero`: they count like failed pairs.
   */
  skipped?: 'exclude' | 'count-as-zero';
}

/** Default bootstrap resamples. */
export const DEFAULT_RESAMPLES = 2000;

/** Linear-interpolation quantile of sorted values (numpy's default, "type 7"). */
function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

/**
 * Percentile-bootstrap confidence intervals of the means of several equally long columns, resampling rows (pairs)
 * with replacement. The columns share the resampled rows, so acc@1/acc@5/acc@N of one resample describe the same
 * pseudo-benchmark. Deterministic for a given (seed, stream).
 */
export function bootstrapMeanCIs(
  columns: readonly (readonly number[])[],
  options: { seed: number; stream: string; resamples?: number; level?: number },
): Interval[] {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new RangeError(`resamples must be ≥ 1, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const n = columns[0]?.length ?? 0;
  if (columns.some((c) => c.length !== n)) throw new RangeError('bootstrap columns must have equal lengths');
  if (n === 0) return columns.map(() => ({ lo: Number.NaN, hi: Number.NaN }));
  const k = columns.length;
  // Row-major copy: one resampled row reads k adjacent numbers.
  const table = new Float64Array(n * k);
  columns.forEach((column, c) => column.forEach((value, i) => (table[i * k + c] = value)));
  const rng = createRng(options.seed, options.stream);
  const means = columns.map(() => new Float64Array(resamples));
  const sums = new Float64Array(k);
  for (let r = 0; r < resamples; r++) {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const row = rng.int(n) * k;
      for (let c = 0; c < k; c++) sums[c] = (sums[c] as number) + (table[row + c] as number);
    }
    means.forEach((m, c) => (m[r] = (sums[c] as number) / n));
  }
  const alpha = (1 - level) / 2;
  return means.map((m) => {
    m.sort();
    return { lo: quantileSorted(m, alpha), hi: quantileSorted(m, 1 - alpha) };
  });
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

function stats(
  outcomes: readonly PairOutcome[],
  stream: string,
  options: Required<AggregateOptions>,
): AccuracyStats {
  const acc1: number[] = [];
  const acc5: number[] = [];
  const accN: number[] = [];
  let scored = 0;
  let failed = 0;
  let skipped = 0;
  let failedJudgements = 0;
  for (const o of outcomes) {
    if (o.status === 'scored') {
      scored += 1;
      failedJudgements += o.failedJudgements;
      acc1.push(o.acc1);
      acc5.push(o.acc5);
      accN.push(o.accN);
      continue;
    }
    if (o.status === 'failed') failed += 1;
    else {
      skipped += 1;
      if (options.skipped === 'exclude') continue;
    }
    acc1.push(0);
    acc5.push(0);
    accN.push(0);
  }
  const n = acc1.length;
  let estimates: [Estimate | null, Estimate | null, Estimate | null] = [null, null, null];
  if (n > 0) {
    const [ci1, ci5, ciN] = bootstrapMeanCIs([acc1, acc5, accN], {
      seed: options.seed,
      stream,
      resamples: options.resamples,
      level: options.level,
    }) as [Interval, Interval, Interval];
    estimates = [
      { mean: mean(acc1), ci: ci1 },
      { mean: mean(acc5), ci: ci5 },
      { mean: mean(accN), ci: ciN },
    ];
  }
  return {
    n,
    scored,
    failed,
    skipped,
    failedJudgements,
    acc1: estimates[0],
    acc5: estimates[1],
    accN: estimates[2],
  };
}

function checkOutcome(o: PairOutcome): void {
  if (o.status !== 'scored') return;
  for (const key of ['acc1', 'acc5', 'accN'] as const) {
    const v = o[key];
    if (v !== 0 && v !== 0.5 && v !== 1)
      throw new RangeError(`pair ${o.pairId}: ${key} must be 0, 0.5 or 1, got ${v}`);
  }
}

/**
 * Aggregates pair outcomes into the benchmark result: means over pairs with failed pairs counted as 0, bootstrap
 * CIs over pairs (one seeded stream per group, so adding a tier never moves another tier's interval), and the
 * same statistics per difficulty. Throws on accuracies outside {0, 0.5, 1} or a repeated pair id.
 */
export function aggregate(
  outcomes: readonly PairOutcome[],
  options: AggregateOptions = {},
): EvaluationSummary {
  const resolved: Required<AggregateOptions> = {
    seed: options.seed ?? 0,
    resamples: options.resamples ?? DEFAULT_RESAMPLES,
    level: options.level ?? 0.95,
    skipped: options.skipped ?? 'exclude',
  };
  const seen = new Set<string>();
  for (const o of outcomes) {
    if (seen.has(o.pairId)) throw new Error(`pair ${o.pairId} appears twice in the outcomes`);
    seen.add(o.pairId);
    checkOutcome(o);
  }
  const overall = stats(outcomes, 'evaluator/bootstrap/all', resolved);
  const byDifficulty = Object.fromEntries(
    DIFFICULTY_LEVELS.map((d) => [
      d,
      stats(
        outcomes.filter((o) => o.difficulty === d),
        `evaluator/bootstrap/${d}`,
        resolved,
      ),
    ]),
  ) as Record<Difficulty, AccuracyStats>;
  return {
    ...overall,
    by_difficulty: byDifficulty,
    withoutDifficulty: outcomes.filter((o) => o.difficulty === undefined).length,
    failures: outcomes.flatMap((o) =>
      o.status === 'failed' ? [{ pairId: o.pairId, reason: o.reason }] : [],
    ),
    skippedPairs: outcomes.flatMap((o) =>
      o.status === 'skipped' ? [{ pairId: o.pairId, reason: o.reason }] : [],
    ),
    bootstrap: { seed: resolved.seed, resamples: resolved.resamples, level: resolved.level },
  };
}
