// `npm run bench:phantom`: the phantom benchmark in Node. For each pair of benchmarks/phantom-pairs.json it renders
// both cohorts at the model's input size, embeds them with a CLIP folder on onnxruntime-node, proposes findings
// with the concept bank, ranks them, judges them with the concept judge and prints one JSON line per pair plus a
// summary line. Records go to a directory (--out) so an interrupted run resumes where it stopped.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { runBenchmark, summarize, type PairRecord } from '../src/lib/core/bench-runner.ts';
import type { BenchmarkPair } from '../src/lib/core/benchmarks.ts';
import {
  DEFAULT_BANK,
  expandBankPhrases,
  phraseFingerprint,
  proposeFromBank,
  type BankPhrase,
} from '../src/lib/core/concept-bank.ts';
import { DIFFICULTY_LEVELS, TOP_K, type AccuracyStats } from '../src/lib/core/evaluator.ts';
import { createConceptJudge } from '../src/lib/core/judges/concept-judge.ts';
import { generateCohort } from '../src/lib/core/phantom/index.ts';
import {
  pairCohorts,
  parsePhantomPairs,
  type CohortSpec,
  type PhantomPair,
} from '../src/lib/core/phantom-pairs.ts';
import { rankFindings } from '../src/lib/core/ranker.ts';
import { createFileRecordStore } from './lib/file-record-store.ts';
import { loadNodeClip, MODELS_DIR, type GrayImage, type NodeClip } from './lib/node-clip.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** Default pairs file. */
export const DEFAULT_PAIRS_FILE = join(ROOT, 'benchmarks/phantom-pairs.json');
/** Default ranker model (a folder under public/models/, built by `npm run make:phantom-model`). */
export const DEFAULT_RANKER = 'phantom-clip';
/** Findings the concept bank proposes per pair (all are ranked and judged; acc@5 looks at the first five). */
export const PROPOSALS_PER_PAIR = 10;
/** Images embedded per vision run while a cohort streams in. */
const EMBED_CHUNK = 16;

/** Options of {@link runPhantomBenchmark}. */
export interface PhantomBenchOptions {
  pairsFile?: string;
  seed?: number;
  ranker?: string;
  /** Record directory; default a new temporary directory under bench/out/. */
  outDir?: string;
  /** Only these pair ids (in file order). */
  only?: readonly string[];
  /** Images per set for every pair, overriding the file's `n`. */
  n?: number;
  /** Folder of manifest.json and the model folders (default public/models). */
  modelsDir?: string;
  /** Receives each JSON output line (default: stdout). */
  writeLine?: (line: string) => void;
  /** Receives human-readable progress (default: stderr; pass a no-op for --json). */
  log?: (text: string) => void;
  signal?: AbortSignal;
}

/** One finding of a pair line. */
export interface PairLineFinding {
  finding: string;
  auroc: number;
}

/** The per-pair output line. */
export interface PairLine {
  pairId: string;
  difficulty: string | undefined;
  status: PairRecord['status'];
  truthA: string;
  top5: PairLineFinding[];
  /** Judge scores (0/1/2, null = failed judgement) of the top five, with rationales. */
  verdicts: { score: number | null; rationale?: string; error?: string }[];
  acc1: number;
  acc5: number;
  seconds: number;
  /** True when the record came from an earlier run in the same --out directory. */
  resumed: boolean;
  /** Why a pair failed or was skipped (left out of the JSON when undefined). */
  reason: string | undefined;
}

/** The summary (last) output line. */
export interface SummaryLine {
  name: 'phantom-benchmark';
  acc1: number | null;
  acc5: number | null;
  accN: number | null;
  acc1CI: [number, number] | null;
  acc5CI: [number, number] | null;
  n: number;
  failed: number;
  by_difficulty: Record<string, { acc1: number | null; acc5: number | null; n: number }>;
  seconds: number;
  ranker: string;
  seed: number;
  bankPhrases: number;
  outDir: string;
}

/** The settings a record directory belongs to; resuming with other settings would mix incomparable records. */
interface RunIdentity {
  pairsFingerprint: string;
  seed: number;
  ranker: string;
  n: number | null;
  bank: string;
  imageSize: number;
}

function fnv(text: string): string {
  return phraseFingerprint([text]);
}

function checkRunIdentity(outDir: string, identity: RunIdentity): void {
  const file = join(outDir, 'run.json');
  const text = JSON.stringify(identity, null, 2);
  if (existsSync(file)) {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing !== text) {
      throw new Error(
        `${outDir} holds records of a run with other settings (see its run.json); use another --out.\n` +
          `existing: ${existing.replace(/\s+/g, ' ')}\nthis run: ${text.replace(/\s+/g, ' ')}`,
      );
    }
    return;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(file, `${text}\n`);
}

/** Renders a cohort at the model's input size and embeds it in chunks (never the whole cohort's pixels at once). */
async function embedCohort(model: NodeClip, spec: CohortSpec): Promise<Float32Array> {
  const out = new Float32Array(spec.n * model.dim);
  let chunk: GrayImage[] = [];
  let row = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    out.set(await model.embedGray(chunk), row * model.dim);
    row += chunk.length;
    chunk = [];
  };
  for (const { phantom } of generateCohort(spec)) {
    chunk.push({ width: phantom.size, height: phantom.size, data: phantom.pixels });
    if (chunk.length === EMBED_CHUNK) await flush();
  }
  await flush();
  return out;
}

/** Rows `indices` of a row-major matrix with `dim` columns. */
function gatherRows(matrix: Float32Array, dim: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((r, i) => out.set(matrix.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

function pairLine(record: PairRecord, pair: PhantomPair, resumed: boolean): PairLine {
  const findings = record.findings ?? [];
  const verdicts = record.verdicts ?? [];
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    pairId: record.pairId,
    difficulty: record.difficulty,
    status: record.status,
    truthA: pair.truthA,
    top5: findings.slice(0, TOP_K).map((f) => ({ finding: f.finding, auroc: round(f.auroc) })),
    verdicts: verdicts
      .slice(0, TOP_K)
      .map((v) =>
        v.score === null
          ? { score: null, error: v.error }
          : { score: v.score, ...(v.rationale === undefined ? {} : { rationale: v.rationale }) },
      ),
    acc1: record.acc1 ?? 0,
    acc5: record.acc5 ?? 0,
    seconds: round(record.seconds),
    resumed,
    reason: record.reason,
  };
}

function tierLine(stats: AccuracyStats): { acc1: number | null; acc5: number | null; n: number } {
  const round = (x: number | undefined) => (x === undefined ? null : Math.round(x * 1e4) / 1e4);
  return { acc1: round(stats.acc1?.mean), acc5: round(stats.acc5?.mean), n: stats.n };
}

/**
 * Runs the phantom benchmark and returns the summary line (also written through `writeLine` after one line per
 * pair). Throws on a bad pairs file, a missing model, or a record directory that belongs to other settings.
 */
export async function runPhantomBenchmark(options: PhantomBenchOptions = {}): Promise<SummaryLine> {
  const started = performance.now();
  const writeLine = options.writeLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = options.log ?? ((text: string) => process.stderr.write(`${text}\n`));
  const seed = options.seed ?? 0;
  const ranker = options.ranker ?? DEFAULT_RANKER;
  const modelsDir = options.modelsDir ?? MODELS_DIR;
  const pairsFile = resolve(options.pairsFile ?? DEFAULT_PAIRS_FILE);
  const pairsText = readFileSync(pairsFile, 'utf8');
  let pairs = parsePhantomPairs(pairsText).pairs;
  if (options.only !== undefined) {
    const unknown = options.only.filter((id) => !pairs.some((p) => p.id === id));
    if (unknown.length > 0)
      throw new Error(`--only: no pair ${unknown.map((id) => `"${id}"`).join(', ')} in ${pairsFile}`);
    pairs = pairs.filter((p) => options.only?.includes(p.id));
  }
  if (!existsSync(join(modelsDir, ranker, 'onnx'))) {
    const hint =
      ranker === DEFAULT_RANKER
        ? 'npm run make:phantom-model'
        : ranker.startsWith('test-')
          ? 'npm run gen:models'
          : 'put the model folder there';
    throw new Error(`model folder ${join(modelsDir, ranker)} is missing: ${hint}`);
  }

  log(`loading ${ranker} …`);
  const model = await loadNodeClip(ranker, { modelsDir });
  try {
    const imageSize = model.spec.preprocessing.size;
    const phrases: BankPhrase[] = expandBankPhrases(DEFAULT_BANK);
    const texts = phrases.map((p) => p.text);
    const bank = phraseFingerprint(texts);
    const outDir = resolve(
      options.outDir ??
        (mkdirSync(join(ROOT, 'bench/out'), { recursive: true }),
        mkdtempSync(join(ROOT, 'bench/out/phantom-'))),
    );
    checkRunIdentity(outDir, {
      pairsFingerprint: fnv(pairsText),
      seed,
      ranker,
      n: options.n ?? null,
      bank,
      imageSize,
    });
    log(`records: ${outDir} (pass --out ${outDir} to resume)`);
    const textEmbeddings = await model.embedTexts(texts);
    log(
      `concept bank: ${phrases.length} phrases embedded; ${pairs.length} pairs, seed ${seed}, ${imageSize} px`,
    );

    const byId = new Map(pairs.map((p) => [p.id, p]));
    const benchPairs: (BenchmarkPair & { phantom: PhantomPair })[] = pairs.map((p) => ({
      id: p.id,
      setA: { description: p.truthA, images: [] },
      setB: { description: p.truthB, images: [] },
      difficulty: p.difficulty,
      phantom: p,
    }));

    const { records } = await runBenchmark({
      pairs: benchPairs,
      judge: createConceptJudge(),
      store: createFileRecordStore(join(outDir, 'records')),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      async runPair(pair) {
        const cohorts = pairCohorts(pair.phantom, seed, {
          size: imageSize,
          ...(options.n === undefined ? {} : { n: options.n }),
        });
        const a = await embedCohort(model, cohorts.a);
        const b = await embedCohort(model, cohorts.b);
        const imageEmbeddings = new Float32Array(a.length + b.length);
        imageEmbeddings.set(a, 0);
        imageEmbeddings.set(b, a.length);
        const labels = new Uint8Array(cohorts.a.n + cohorts.b.n);
        labels.fill(1, 0, cohorts.a.n);
        const { proposals } = proposeFromBank({
          phrases,
          imageEmbeddings,
          dim: model.dim,
          labels,
          textEmbeddings,
          topK: PROPOSALS_PER_PAIR,
          seed,
        });
        // The proposals flow through the normal ranker, as in the app (same images: same AUROCs and order).
        const chosen = proposals.map((p) => p.ranked.index);
        return rankFindings({
          imageEmbeddings,
          dim: model.dim,
          labels,
          textEmbeddings: gatherRows(textEmbeddings, model.dim, chosen),
          findings: proposals.map((p) => p.finding),
          seed,
        });
      },
      onRecord(record, progress) {
        const pair = byId.get(record.pairId) as PhantomPair;
        const line = pairLine(record, pair, progress.resumed);
        writeLine(JSON.stringify(line));
        const top = line.top5[0];
        log(
          `[${progress.index + 1}/${progress.total}] ${record.pairId} (${line.difficulty ?? '?'}): ` +
            (record.status === 'done'
              ? `acc@1 ${line.acc1} acc@5 ${line.acc5}; top: ${top?.finding} (${top?.auroc}); truth: ${pair.truthA}`
              : `${record.status}: ${record.reason}`) +
            (progress.resumed ? ' [resumed]' : ` [${line.seconds.toFixed(1)} s]`),
        );
      },
    });

    const summary = summarize(records, { pairs: benchPairs, seed });
    const ci = (e: typeof summary.acc1): [number, number] | null =>
      e === null ? null : [Math.round(e.ci.lo * 1e4) / 1e4, Math.round(e.ci.hi * 1e4) / 1e4];
    const round = (x: number | undefined) => (x === undefined ? null : Math.round(x * 1e4) / 1e4);
    const line: SummaryLine = {
      name: 'phantom-benchmark',
      acc1: round(summary.acc1?.mean),
      acc5: round(summary.acc5?.mean),
      accN: round(summary.accN?.mean),
      acc1CI: ci(summary.acc1),
      acc5CI: ci(summary.acc5),
      n: summary.n,
      failed: summary.failed,
      by_difficulty: Object.fromEntries(
        DIFFICULTY_LEVELS.map((d) => [d, tierLine(summary.by_difficulty[d])]),
      ),
      seconds: Math.round((performance.now() - started) / 100) / 10,
      ranker,
      seed,
      bankPhrases: phrases.length,
      outDir,
    };
    writeLine(JSON.stringify(line));
    log(
      `acc@1 ${line.acc1} (95% CI ${line.acc1CI?.join('–')}), acc@5 ${line.acc5} over ${line.n} pairs` +
        ` (${line.failed} failed) in ${line.seconds} s; by difficulty: ` +
        DIFFICULTY_LEVELS.map(
          (d) => `${d} ${line.by_difficulty[d]?.acc1}/${line.by_difficulty[d]?.acc5}`,
        ).join(', '),
    );
    return line;
  } finally {
    await model.dispose();
  }
}

const USAGE = `usage: npm run bench:phantom -- [--pairs FILE] [--seed N] [--json] [--ranker ID] [--out DIR] [--only ID,ID] [--n N]`;

function integerArg(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        pairs: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
        ranker: { type: 'string' },
        out: { type: 'string' },
        only: { type: 'string' },
        n: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\nFormat of the pairs file and the options: benchmarks/README.md\n`);
    return 0;
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const seed = integerArg('seed', values.seed, 0);
    const n = integerArg('n', values.n, 4);
    await runPhantomBenchmark({
      ...(values.pairs === undefined ? {} : { pairsFile: values.pairs }),
      ...(seed === undefined ? {} : { seed }),
      ...(values.ranker === undefined ? {} : { ranker: values.ranker }),
      ...(values.out === undefined ? {} : { outDir: values.out }),
      ...(values.only === undefined
        ? {}
        : {
            only: values.only
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }),
      ...(n === undefined ? {} : { n }),
      ...(values.json ? { log: () => undefined } : {}),
      signal: controller.signal,
    });
    return controller.signal.aborted ? 130 : 0;
  } catch (error) {
    process.stderr.write(`bench:phantom: ${(error as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
