// UI state of a benchmark batch: the imported benchmark (RadDiffBench jsonl + difficulty csv, or VisDiffBench csv +
// pair jsonl files), the chosen image root folder and how each pair resolves onto it, and the resumable run
// (concept-bank proposer + concept judge, one record per pair in IndexedDB) with its summary.
import {
  BenchmarkFormatError,
  parseRadDiffBench,
  parseVisDiffBench,
  resolveImagePaths,
  type BenchmarkPair,
  type ResolvedPair,
} from '../core/benchmarks.ts';
import { runBenchmark, summarize, type BenchmarkSummary, type PairRecord } from '../core/bench-runner.ts';
import { phraseFingerprint, type BankPhrase } from '../core/concept-bank.ts';
import { createConceptJudge } from '../core/judges/concept-judge.ts';
import type { Difficulty } from '../core/evaluator.ts';
import { isAbort } from '../core/types.ts';
import { runBankOnPair } from '../engines/bank-pair-runner.ts';
import { openBenchRecords } from '../storage/bench-records.ts';
import type { ModelsState } from './models.svelte.ts';

type Format = 'raddiff' | 'visdiff';

async function read(file: File): Promise<string> {
  return file.text();
}

/** Strips the picked folder's own name: `mimic/files/p10/x.jpg` → `files/p10/x.jpg`. */
function relativeToPicked(file: File): string {
  const path = file.webkitRelativePath || file.name;
  const slash = path.indexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

export class BenchmarkState {
  readonly #models: ModelsState;
  name = $state<string | null>(null);
  pairs = $state.raw<BenchmarkPair[]>([]);
  warnings = $state.raw<string[]>([]);
  error = $state<string | null>(null);
  rootName = $state<string | null>(null);
  #files = new Map<string, File>();
  resolved = $state.raw<ResolvedPair[]>([]);
  records = $state.raw<PairRecord[]>([]);
  /** Pairs whose record came from saved progress (not rerun). */
  resumed = $state.raw<ReadonlySet<string>>(new Set());
  summary = $state.raw<BenchmarkSummary | null>(null);
  running = $state(false);
  progress = $state.raw<{ done: number; total: number } | null>(null);
  storageWarning = $state<string | null>(null);
  #controller: AbortController | null = null;

  constructor(models: ModelsState) {
    this.#models = models;
  }

  /** Imports benchmark files: the format is recognised from names and headers; every problem names its line. */
  async importFiles(files: readonly File[]): Promise<void> {
    this.error = null;
    try {
      const texts = await Promise.all(
        files.map(async (f) => ({ name: f.name.toLowerCase(), text: await read(f) })),
      );
      const firstLine = (t: string) => t.slice(0, t.indexOf('\n') === -1 ? undefined : t.indexOf('\n'));
      const radJsonl = texts.find(
        (t) => t.name.endsWith('.jsonl') && firstLine(t.text).includes('set1_images'),
      );
      const visCsv = texts.find((t) => t.name.endsWith('.csv') && /group_name/.test(firstLine(t.text)));
      let format: Format;
      let parsed;
      if (radJsonl) {
        const csv = texts.find((t) => t.name.endsWith('.csv') && /condition_a/i.test(firstLine(t.text)));
        parsed = parseRadDiffBench(radJsonl.text, csv?.text);
        format = 'raddiff';
      } else if (visCsv) {
        const jsonl: Partial<Record<Difficulty, string>> = {};
        for (const level of ['easy', 'medium', 'hard'] as const) {
          const match = texts.find((t) => t.name === `${level}.jsonl`);
          if (match) jsonl[level] = match.text;
        }
        parsed = parseVisDiffBench(visCsv.text, jsonl);
        format = 'visdiff';
      } else {
        throw new Error(
          'Not a known benchmark: choose RadDiffBench.jsonl (with RadDiffBenchDifficulty.csv) or VisDiff’s PairedImageSets.csv (with easy/medium/hard.jsonl).',
        );
      }
      this.name = `${format === 'raddiff' ? 'RadDiffBench' : 'VisDiffBench'} (${parsed.pairs.length} pairs)`;
      this.pairs = parsed.pairs;
      this.warnings = parsed.warnings.map((w) => w.message);
      this.#resolve();
    } catch (error) {
      this.error =
        error instanceof BenchmarkFormatError
          ? `${error.message}\n${error.problems.slice(0, 10).join('\n')}`
          : error instanceof Error
            ? error.message
            : String(error);
    }
  }

  /** The image root folder (from a folder picker). */
  setRoot(files: readonly File[]): void {
    this.#files = new Map(files.map((f) => [relativeToPicked(f), f]));
    const first = files[0]?.webkitRelativePath.split('/')[0];
    this.rootName = first ?? null;
    this.#resolve();
  }

  #resolve(): void {
    if (!this.pairs.length) return;
    const available = this.#files;
    // MIMIC-CXR-JPG paths are relative to <root>/files/: accept a pick of the root or of files/ itself.
    const prefix = [...available.keys()].some((k) => k.startsWith('files/')) ? 'files' : '';
    this.resolved = this.pairs.map((pair) => resolveImagePaths(pair, new Set(available.keys()), { prefix }));
  }

  /** Runs (or resumes) every ready pair with the concept-bank proposer and the concept judge. */
  async run(phrases: readonly BankPhrase[]): Promise<void> {
    if (this.running || !this.resolved.length) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.running = true;
    this.error = null;
    const ranker = this.#models.selectedId;
    const runId = `${this.name}|${ranker}|${phraseFingerprint(phrases.map((p) => p.text))}`;
    const { store, warning } = await openBenchRecords(runId);
    this.storageWarning = warning ?? null;
    const byId = new Map(this.resolved.map((r) => [r.pair.id, r]));
    try {
      await this.#models.load(controller.signal);
      const session = this.#models.session;
      const pick = (paths: string[]) => paths.map((p) => this.#files.get(p)).filter((f): f is File => !!f);
      this.records = [];
      this.resumed = new Set();
      this.progress = { done: 0, total: this.pairs.length };
      const result = await runBenchmark({
        pairs: this.pairs,
        store,
        judge: createConceptJudge(),
        signal: controller.signal,
        skipReason: (pair) =>
          byId.get(pair.id)?.status === 'skipped' ? byId.get(pair.id)?.reason : undefined,
        runPair: async (pair, signal) => {
          const resolved = byId.get(pair.id)!;
          const out = await runBankOnPair(
            session,
            pick(resolved.setA.resolved),
            pick(resolved.setB.resolved),
            phrases,
            (signal as AbortSignal | undefined) ?? controller.signal,
          );
          return out.proposals.map((p) => ({ finding: p.finding, auroc: p.auroc }));
        },
        onRecord: (record, progress) => {
          this.records = [...this.records, record];
          if (progress.resumed) this.resumed = new Set([...this.resumed, record.pairId]);
          this.progress = { done: progress.index + 1, total: progress.total };
        },
      });
      this.summary = summarize(result.records, { pairs: this.pairs });
    } catch (error) {
      if (!isAbort(error)) this.error = error instanceof Error ? error.message : String(error);
    } finally {
      this.running = false;
      this.#controller = null;
    }
  }

  cancel(): void {
    this.#controller?.abort();
  }
}
