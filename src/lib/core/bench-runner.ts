// The benchmark batch: runs the method on each pair, judges its ranked findings, and writes one record per pair to a
// RecordStore so an interrupted batch resumes where it stopped. A failing pair is recorded and the batch goes on;
// an abort stops between pairs. `summarize` turns records into the evaluator's aggregate. Also an in-memory store.
// Pure: imports only core; the IndexedDB and JSON-file stores implement RecordStore elsewhere.

import type { BenchmarkPair } from './benchmarks.ts';
import {
  aggregate,
  pairAccuracy,
  type AggregateOptions,
  type Difficulty,
  type EvaluationSummary,
  type Judge,
  type JudgeVerdict,
  type PairOutcome,
} from './evaluator.ts';
import type { AbortSignalLike } from './llm.ts';

/** What the batch keeps of each ranked finding (a subset of RankedFinding), in rank order. */
export interface RankedFindingLike {
  finding: string;
  auroc: number;
}

/** The stored outcome of one pair. */
export interface PairRecord {
  pairId: string;
  /** `done`: ran and judged. `failed`: the run threw or found nothing (counts 0). `skipped`: never ran. */
  status: 'done' | 'failed' | 'skipped';
  reason?: string;
  findings?: RankedFindingLike[];
  /** One per finding, same order. */
  verdicts?: JudgeVerdict[];
  acc1?: number;
  acc5?: number;
  accN?: number;
  difficulty?: Difficulty;
  /** Wall time of run + judging. */
  seconds: number;
  /** ISO 8601. */
  finishedAt: string;
}

/** Where records live between sessions. `put` replaces the record of the same pair. */
export interface RecordStore {
  get(pairId: string): Promise<PairRecord | undefined>;
  put(record: PairRecord): Promise<void>;
  list(): Promise<PairRecord[]>;
}

/** Progress handed to `onRecord`. */
export interface RecordProgress {
  /** 0-based position of the pair in `pairs`. */
  index: number;
  total: number;
  /** The record was already in the store (a resumed batch) and the pair was not rerun. */
  resumed: boolean;
}

/** Options of {@link runBenchmark}. */
export interface RunBenchmarkOptions<P extends BenchmarkPair = BenchmarkPair> {
  pairs: readonly P[];
  /** Runs the method on one pair; returns its findings ranked best first. Should reject with AbortError on abort. */
  runPair: (pair: P, signal?: AbortSignalLike) => Promise<readonly RankedFindingLike[]>;
  judge: Judge;
  store: RecordStore;
  signal?: AbortSignalLike;
  onRecord?: (record: PairRecord, progress: RecordProgress) => void;
  /** A reason to record the pair as skipped without running it (e.g. too few images resolved), or undefined. */
  skipReason?: (pair: P) => string | undefined;
  /**
   * Judge again the stored findings of `done` pairs that have failed verdicts, without rerunning the method
   * (e.g. after the judge's LLM was unavailable). Default false.
   */
  rejudgeFailedVerdicts?: boolean;
  /** Clock in milliseconds since the epoch (injected in tests). */
  now?: () => number;
}

/** Result of {@link runBenchmark}: the records of the pairs reached, in `pairs` order. */
export interface BenchmarkRunResult {
  records: PairRecord[];
  /** The signal aborted: pairs after the last record were not reached, and the interrupted pair left no record. */
  aborted: boolean;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return String(error);
}

/** Exactly `n` verdicts: a judge that returns too few or too many is a judge failure, not a crash. */
function fitVerdicts(verdicts: unknown, n: number): JudgeVerdict[] {
  const list = Array.isArray(verdicts) ? (verdicts as JudgeVerdict[]) : [];
  const out = list.slice(0, n);
  while (out.length < n) {
    out.push({ score: null, error: `the judge returned ${list.length} verdict(s) for ${n} finding(s)` });
  }
  return out;
}

async function judgeFindings(
  judge: Judge,
  pair: BenchmarkPair,
  findings: readonly RankedFindingLike[],
  signal: AbortSignalLike | undefined,
): Promise<JudgeVerdict[] | 'aborted'> {
  const input = findings.map((f) => ({
    finding: f.finding,
    truthA: pair.setA.description,
    truthB: pair.setB.description,
  }));
  try {
    return fitVerdicts(await judge.judge(input, signal), findings.length);
  } catch (error) {
    if (signal?.aborted) return 'aborted';
    // The Judge contract says only aborts reject; a judge that breaks it still must not sink the batch.
    return findings.map(() => ({ score: null, error: `judge failed: ${errorText(error)}` }));
  }
}

function withDifficulty(record: PairRecord, pair: BenchmarkPair): PairRecord {
  if (pair.difficulty !== undefined) record.difficulty = pair.difficulty;
  return record;
}

/**
 * Runs the benchmark: for each pair in order, reuse a `done` record from the store (resume), or record it as
 * skipped, or run it, judge every finding, and store a `done` record with acc@1/5/N. A pair whose run throws or
 * returns no findings is stored as `failed` and the batch continues. An abort is checked between pairs and
 * honoured inside one (the interrupted pair stores nothing). Store errors propagate: without the store there is
 * no resumable result.
 */
export async function runBenchmark<P extends BenchmarkPair>(
  options: RunBenchmarkOptions<P>,
): Promise<BenchmarkRunResult> {
  const { pairs, runPair, judge, store, signal } = options;
  const now = options.now ?? (() => Date.now());
  /** Elapsed seconds since `start` and the finishing time, from one clock reading. */
  const timing = (start: number) => {
    const end = now();
    return { seconds: (end - start) / 1000, finishedAt: new Date(end).toISOString() };
  };
  const seen = new Set<string>();
  for (const pair of pairs) {
    if (seen.has(pair.id)) throw new Error(`pair id "${pair.id}" appears twice`);
    seen.add(pair.id);
  }
  const records: PairRecord[] = [];
  const total = pairs.length;
  const emit = (record: PairRecord, index: number, resumed: boolean) => {
    records.push(record);
    options.onRecord?.(record, { index, total, resumed });
  };

  for (const [index, pair] of pairs.entries()) {
    if (signal?.aborted) return { records, aborted: true };
    const existing = await store.get(pair.id);
    if (existing?.status === 'done') {
      const findings = existing.findings ?? [];
      if (
        options.rejudgeFailedVerdicts &&
        existing.verdicts?.some((v) => v.score === null) &&
        findings.length > 0
      ) {
        const start = now();
        const verdicts = await judgeFindings(judge, pair, findings, signal);
        if (verdicts === 'aborted') return { records, aborted: true };
        const accuracy = pairAccuracy(verdicts);
        const { seconds, finishedAt } = timing(start);
        const updated = withDifficulty(
          {
            ...existing,
            verdicts,
            acc1: accuracy.acc1,
            acc5: accuracy.acc5,
            accN: accuracy.accN,
            seconds: existing.seconds + seconds,
            finishedAt,
          },
          pair,
        );
        await store.put(updated);
        emit(updated, index, false);
        continue;
      }
      emit(existing, index, true);
      continue;
    }

    const skip = options.skipReason?.(pair);
    if (skip !== undefined) {
      const record = withDifficulty(
        {
          pairId: pair.id,
          status: 'skipped',
          reason: skip,
          seconds: 0,
          finishedAt: new Date(now()).toISOString(),
        },
        pair,
      );
      await store.put(record);
      emit(record, index, false);
      continue;
    }

    const start = now();
    const failed = async (reason: string, findings?: RankedFindingLike[]) => {
      const record = withDifficulty(
        {
          pairId: pair.id,
          status: 'failed',
          reason,
          ...(findings ? { findings } : {}),
          ...timing(start),
        },
        pair,
      );
      await store.put(record);
      emit(record, index, false);
    };

    let findings: RankedFindingLike[];
    try {
      const ranked = await runPair(pair, signal);
      if (signal?.aborted) return { records, aborted: true };
      if (!Array.isArray(ranked)) {
        await failed('the run returned no list of findings');
        continue;
      }
      findings = ranked.map((f: RankedFindingLike) => ({ finding: f.finding, auroc: f.auroc }));
    } catch (error) {
      if (signal?.aborted) return { records, aborted: true };
      await failed(errorText(error));
      continue;
    }
    if (findings.length === 0) {
      await failed('the run returned no findings', []);
      continue;
    }

    const verdicts = await judgeFindings(judge, pair, findings, signal);
    if (verdicts === 'aborted') return { records, aborted: true };
    const accuracy = pairAccuracy(verdicts);
    const record = withDifficulty(
      {
        pairId: pair.id,
        status: 'done',
        findings,
        verdicts,
        acc1: accuracy.acc1,
        acc5: accuracy.acc5,
        accN: accuracy.accN,
        ...timing(start),
      },
      pair,
    );
    await store.put(record);
    emit(record, index, false);
  }
  return { records, aborted: false };
}

/** The aggregate of a batch, plus which expected pairs have no record yet. */
export interface BenchmarkSummary extends EvaluationSummary {
  /** Ids of `pairs` with no record (batch not finished); empty when `pairs` was not given. */
  notRun: string[];
}

/** Options of {@link summarize}. */
export interface SummarizeOptions extends AggregateOptions {
  /** The benchmark's pairs: restricts the summary to them, supplies difficulties, and lists pairs not yet run. */
  pairs?: readonly Pick<BenchmarkPair, 'id' | 'difficulty'>[];
}

function outcomeOf(record: PairRecord, difficulty: Difficulty | undefined): PairOutcome {
  const base = { pairId: record.pairId, ...(difficulty ? { difficulty } : {}) };
  if (record.status === 'skipped') return { ...base, status: 'skipped', reason: record.reason ?? 'skipped' };
  if (record.status === 'failed') return { ...base, status: 'failed', reason: record.reason ?? 'failed' };
  if (record.verdicts) {
    // Recomputed from the verdicts, the source of truth, so a hand-edited or older record cannot disagree.
    const accuracy = pairAccuracy(record.verdicts);
    if (accuracy.judged === 0) return { ...base, status: 'failed', reason: 'no judged findings' };
    return { ...base, status: 'scored', ...accuracy };
  }
  return {
    ...base,
    status: 'scored',
    acc1: record.acc1 ?? 0,
    acc5: record.acc5 ?? 0,
    accN: record.accN ?? 0,
    failedJudgements: 0,
  };
}

/**
 * Aggregates batch records with the evaluator: failed pairs count 0, skipped pairs are listed (and left out of the
 * means unless `skipped: 'count-as-zero'`), bootstrap CIs and the per-difficulty breakdown.
 */
export function summarize(records: readonly PairRecord[], options: SummarizeOptions = {}): BenchmarkSummary {
  const { pairs, ...aggregateOptions } = options;
  const expected = pairs ? new Map(pairs.map((p) => [p.id, p])) : undefined;
  const kept = expected ? records.filter((r) => expected.has(r.pairId)) : [...records];
  const outcomes = kept.map((r) => outcomeOf(r, expected?.get(r.pairId)?.difficulty ?? r.difficulty));
  const have = new Set(kept.map((r) => r.pairId));
  const notRun = pairs ? pairs.filter((p) => !have.has(p.id)).map((p) => p.id) : [];
  return { ...aggregate(outcomes, aggregateOptions), notRun };
}

/** A RecordStore in memory (tests, or a session without persistence). Stores copies, like a real store would. */
export function createMemoryRecordStore(initial: readonly PairRecord[] = []): RecordStore {
  const copy = (r: PairRecord): PairRecord => JSON.parse(JSON.stringify(r)) as PairRecord;
  const records = new Map(initial.map((r) => [r.pairId, copy(r)]));
  return {
    get: (pairId) =>
      Promise.resolve(records.has(pairId) ? copy(records.get(pairId) as PairRecord) : undefined),
    put: (record) => {
      records.set(record.pairId, copy(record));
      return Promise.resolve();
    },
    list: () => Promise.resolve([...records.values()].map(copy)),
  };
}
