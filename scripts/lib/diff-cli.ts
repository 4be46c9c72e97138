// The headless runner behind `npm run diff` (scripts/diff.ts): parses the command line, checks it against the
// config's needs before anything slow happens, reads both image folders and the reports, builds the pipeline's
// ports for Node (CLIP on onnxruntime-node, OpenAI-compatible endpoints, PNG compositor, file reply cache), runs
// `runDiff` with one progress line per stage or round on stderr, writes the run record and prints a JSON summary
// as the last stdout line. Testable: no process globals; the caller passes writers and an AbortSignal.
import { constants, existsSync, readFileSync, statSync } from 'node:fs';
import { access, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BANK, expandBankPhrases } from '../../src/lib/core/concept-bank.ts';
import {
  parseDiffConfig,
  presetConfig,
  PRESETS,
  requiredPorts,
  type DiffConfig,
  type PresetName,
} from '../../src/lib/core/diff-config.ts';
import type { DiffEvent } from '../../src/lib/core/diff-events.ts';
import { parseManifest } from '../../src/lib/core/manifest.ts';
import { runDiff, type DiffInput } from '../../src/lib/core/pipeline.ts';
import type { DiffImage, DiffPorts, ReplyCachePort, SetLabel } from '../../src/lib/core/ports.ts';
import { decodeReportBytes, parseReports } from '../../src/lib/core/reports.ts';
import type { FindingOrigin, RunRecord } from '../../src/lib/core/run-record.ts';
import type { RankerModelSpec } from '../../src/lib/core/types.ts';
import { isAbort } from '../../src/lib/core/types.ts';
import {
  createEndpointCaptioner,
  createEndpointLlm,
  parseEndpointSettings,
  type EndpointSettings,
} from '../../src/lib/engines/openai-endpoint.ts';
import { createFileReplyCache } from './file-reply-cache.ts';
import {
  assignReports,
  readImageFolder,
  type FolderIntake,
  type ReportAssignment,
  type ReportTableFile,
} from './folder-intake.ts';
import { loadNodeClip, MODELS_DIR, type NodeClip } from './node-clip.ts';
import { createNodeCompositor, loadEncodedImageNode } from './node-compositor.ts';
import { createNodeEmbedder, toModelGray, type NodeEmbedder } from './node-embedder.ts';

/** Exit codes of {@link runDiffCli}. */
export const EXIT = { done: 0, failed: 1, usage: 2, cancelled: 130 } as const;

/** Default ranker: the phantom model committed in public/models (meaningful on phantoms only). */
export const DEFAULT_RANKER = 'phantom-clip';

/** Default reply cache folder, relative to the working directory. */
export const DEFAULT_CACHE_DIR = '.raddiff-cache';

/** Longer side of the single images sent to a captioner endpoint (enough for a VLM, small in the request). */
const CAPTION_MAX_SIDE = 768;

/** Findings in the summary line. */
const SUMMARY_TOP = 10;

/** `npm run diff -- --help`. */
export const USAGE = `usage: npm run diff -- --a DIR --b DIR --out FILE [options]

Finds what is more true of image set A than of set B (the RadDiff method: proposer → ranker), headless.

inputs
  --a DIR, --b DIR      folders of PNG/JPEG images, read recursively; other files are skipped with a note,
                        unreadable or undecodable images are reported and left out
  --reports FILE        reports table (CSV, TSV, JSONL or JSON with an image column such as path/file/dicom_id
                        and a report column); repeatable. Also read: x.txt or x.png.txt beside x.png
method
  --preset NAME         ${PRESETS.join(' | ')} (default raddiff); quick = concept bank + ranker, offline
  --config FILE         JSON object of config fields laid over the preset, e.g. {"iterations": 1, "rounds": 2}
  --seed N              sampling seed (overrides --config)
models
  --ranker ID|DIR       ranker: an id of public/models/manifest.json, or a model folder (transformers.js layout)
                        whose parent folder has a manifest.json entry for it (default ${DEFAULT_RANKER})
  --llm-endpoint URL    OpenAI-compatible server of the proposer LLM (llama.cpp, Ollama, vLLM, OpenAI…)
  --llm-model NAME      the model name as that server knows it
  --llm-key KEY         API key, sent as a Bearer token to that server only
  --llm-vision          the LLM can see images: send it image grids and crops
  --vlm-endpoint URL    OpenAI-compatible server of the captioner (a vision model); may be the same server
  --vlm-model NAME      the captioner's model name
  --vlm-key KEY         its API key (default: --llm-key when both endpoints are the same server)
cache and output
  --cache DIR           reply cache folder (default ${DEFAULT_CACHE_DIR} in the current folder)
  --no-cache            keep model replies in memory only
  --out FILE            where the run record is written (JSON)
  --hash-names          record image names as their SHA-256 (no file names in the record)
  --verbose             also one line per caption and per model reply
  --help                this text

Progress goes to stderr. The last stdout line is a JSON summary:
  {"status","runId","out","top":[{"finding","auroc","ci","heldOut","origins"}…],"counts","modelCalls",
   "cacheHits","totalMs","failures","warnings"}
Exit codes: 0 done, 1 failed, 2 usage or input error, 130 cancelled (Ctrl-C; the partial record is written).`;

/** Where the runner writes and what cancels it. */
export interface DiffCliIo {
  /** Receives each stdout line, without the line break. */
  stdout: (line: string) => void;
  /** Receives each stderr line (progress, notes, errors), without the line break. */
  stderr: (line: string) => void;
  /** Cancels the run (SIGINT in the CLI); the partial record is still written. */
  signal?: AbortSignal;
  /** Folder relative paths and the default cache are resolved against (default: process.cwd()). */
  cwd?: string;
}

/** One finding of the summary line. */
export interface SummaryFinding {
  finding: string;
  auroc: number;
  ci: [number, number];
  /** AUROC on the images no proposer call saw, when computed. */
  heldOut?: number;
  origins: FindingOrigin[];
}

/** The JSON object of the last stdout line. */
export interface DiffSummary {
  status: RunRecord['status'];
  /** Null when the run never started (setup failed or was cancelled first). */
  runId: string | null;
  /** Absolute path of the written record; null when none was written. */
  out: string | null;
  top: SummaryFinding[];
  counts: { A: number; B: number };
  modelCalls: number;
  cacheHits: number;
  totalMs: number;
  failures: number;
  warnings: number;
  /** Why the run could not start or the record could not be written. */
  error?: string;
}

/** A problem with the command line or the inputs: printed with a hint, exit code 2. */
class UsageError extends Error {
  override name = 'UsageError';
}

// ---------------------------------------------------------------------------------------------------------------
// Command line

interface CliOptions {
  a: string;
  b: string;
  out: string;
  reports: string[];
  config: DiffConfig;
  ranker: RankerChoice;
  llm?: EndpointSettings;
  vlm?: EndpointSettings;
  cacheDir?: string;
  hashNames: boolean;
  verbose: boolean;
}

/** A ranker model resolved to the folder transformers.js loads it from. */
interface RankerChoice {
  id: string;
  /** Folder holding manifest.json and the model folder `id`. */
  modelsDir: string;
  spec: RankerModelSpec;
}

const OPTIONS = {
  a: { type: 'string' },
  b: { type: 'string' },
  reports: { type: 'string', multiple: true },
  preset: { type: 'string' },
  config: { type: 'string' },
  seed: { type: 'string' },
  ranker: { type: 'string' },
  'llm-endpoint': { type: 'string' },
  'llm-model': { type: 'string' },
  'llm-key': { type: 'string' },
  'llm-vision': { type: 'boolean' },
  'vlm-endpoint': { type: 'string' },
  'vlm-model': { type: 'string' },
  'vlm-key': { type: 'string' },
  cache: { type: 'string' },
  'no-cache': { type: 'boolean' },
  out: { type: 'string' },
  'hash-names': { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type ParsedValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** Parses and checks the command line; everything here is cheap and happens before any image is read. */
function parseCommandLine(argv: readonly string[], cwd: string): CliOptions | 'help' {
  let values: ParsedValues;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const missing = (['a', 'b', 'out'] as const).filter((k) => values[k] === undefined || values[k] === '');
  if (missing.length > 0) {
    throw new UsageError(
      `missing ${missing.map((k) => `--${k}`).join(', ')} (the two image folders and --out FILE)`,
    );
  }
  const a = folderArg('--a', values.a!, cwd);
  const b = folderArg('--b', values.b!, cwd);
  if (a === b) throw new UsageError('--a and --b are the same folder');
  const out = resolve(cwd, values.out!);
  if (existsSync(out) && statSync(out).isDirectory()) {
    throw new UsageError(`--out ${values.out} is a folder; give a file name such as run.json`);
  }
  if (values['no-cache'] && values.cache !== undefined)
    throw new UsageError('give --cache DIR or --no-cache, not both');
  const config = readConfig(values, cwd);
  const llm = endpointArgs(values, 'llm');
  const vlm = endpointArgs(values, 'vlm', llm);
  const options: CliOptions = {
    a,
    b,
    out,
    reports: (values.reports ?? []).map((r) => resolve(cwd, r)),
    config,
    ranker: resolveRanker(values.ranker ?? DEFAULT_RANKER, cwd),
    hashNames: values['hash-names'] === true,
    verbose: values.verbose === true,
  };
  if (llm) options.llm = llm;
  if (vlm) options.vlm = vlm;
  if (!values['no-cache']) options.cacheDir = resolve(cwd, values.cache ?? DEFAULT_CACHE_DIR);
  checkPorts(options);
  return options;
}

function folderArg(flag: string, value: string, cwd: string): string {
  const path = resolve(cwd, value);
  if (!existsSync(path)) throw new UsageError(`${flag} ${value}: no such folder`);
  if (!statSync(path).isDirectory())
    throw new UsageError(`${flag} ${value} is a file; give the folder of the images`);
  return path;
}

/** Preset defaults, then the --config file field by field (validated by parseDiffConfig), then --seed. */
function readConfig(values: ParsedValues, cwd: string): DiffConfig {
  let fileFields: Record<string, unknown> = {};
  if (values.config !== undefined) {
    const path = resolve(cwd, values.config);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(`--config ${values.config} could not be read (${(error as Error).message})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch (error) {
      throw new UsageError(`--config ${values.config} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--config ${values.config} must hold a JSON object of config fields`);
    }
    fileFields = parsed as Record<string, unknown>;
  }
  const filePreset = fileFields['preset'];
  if (values.preset !== undefined && filePreset !== undefined && filePreset !== values.preset) {
    throw new UsageError(
      `--preset ${values.preset} but --config says "preset": ${JSON.stringify(filePreset)}; drop one of them`,
    );
  }
  const preset = values.preset ?? filePreset ?? 'raddiff';
  if (typeof preset !== 'string' || !(PRESETS as readonly string[]).includes(preset)) {
    throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const merged: Record<string, unknown> = { ...presetConfig(preset as PresetName), ...fileFields, preset };
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (values.seed.trim() === '' || !Number.isSafeInteger(seed) || seed < 0) {
      throw new UsageError(`--seed needs a whole number ≥ 0, got "${values.seed}"`);
    }
    merged['seed'] = seed;
  }
  const result = parseDiffConfig(merged);
  if (!result.ok) {
    const where = values.config === undefined ? 'config' : `--config ${values.config}`;
    throw new UsageError(`${where} is not a valid config:\n  ${result.problems.join('\n  ')}`);
  }
  return result.config;
}

/** Endpoint settings from --llm-* or --vlm-* flags; undefined when no endpoint is given. */
function endpointArgs(
  values: ParsedValues,
  which: 'llm' | 'vlm',
  llm?: EndpointSettings,
): EndpointSettings | undefined {
  const endpoint = values[`${which}-endpoint`];
  const model = values[`${which}-model`];
  const key = values[`${which}-key`];
  const stray = [
    model !== undefined ? `--${which}-model` : '',
    key !== undefined ? `--${which}-key` : '',
    which === 'llm' && values['llm-vision'] ? '--llm-vision' : '',
  ].filter(Boolean);
  if (endpoint === undefined) {
    if (stray.length > 0) throw new UsageError(`${stray.join(', ')} given without --${which}-endpoint URL`);
    return undefined;
  }
  if (model === undefined || model.trim() === '') {
    throw new UsageError(
      `--${which}-endpoint needs --${which}-model NAME (the model name as the server lists it)`,
    );
  }
  // The captioner usually lives on the same server as the LLM; its key then need not be typed twice.
  let apiKey = key;
  if (apiKey === undefined && which === 'vlm' && llm?.apiKey !== undefined) {
    const sameOrigin = (() => {
      try {
        return new URL(endpoint).origin === new URL(llm.baseUrl).origin;
      } catch {
        return false;
      }
    })();
    if (sameOrigin) apiKey = llm.apiKey;
  }
  const parsed = parseEndpointSettings({
    baseUrl: endpoint,
    model,
    ...(apiKey !== undefined ? { apiKey } : {}),
    vision: which === 'vlm' || values['llm-vision'] === true,
  });
  if (!parsed.ok) throw new UsageError(`--${which}-endpoint/--${which}-model: ${parsed.problems.join('; ')}`);
  return parsed.settings;
}

/** The preflight of requiredPorts, phrased as the flags to add. */
function checkPorts(options: CliOptions): void {
  const { config } = options;
  const needs = requiredPorts(config);
  const missing: string[] = [];
  if (needs.llm && !options.llm) missing.push('--llm-endpoint URL --llm-model NAME (the proposer LLM)');
  if (needs.captioner && !options.vlm) {
    missing.push(
      '--vlm-endpoint URL --vlm-model NAME (the captioner, a vision model; may be the same server)',
    );
  }
  if (missing.length > 0) {
    throw new UsageError(
      `the ${config.proposer} proposer (preset ${config.preset}) needs ${missing.join(' and ')}; ` +
        'for an offline run use --preset quick',
    );
  }
  if (config.proposer === 'user' && config.userFindings.every((f) => f.trim() === '')) {
    throw new UsageError(
      'the user proposer ranks typed findings: put them in --config as "userFindings": [...]',
    );
  }
}

/**
 * The ranker for `--ranker`: an id listed in public/models/manifest.json whose folder is present, or a model folder
 * whose id is its path relative to the nearest ancestor folder with a manifest.json listing it (so both
 * `models/phantom-clip` and `models/Xenova/clip-vit-base-patch16` work).
 */
function resolveRanker(arg: string, cwd: string): RankerChoice {
  const listed = readManifestRankers(MODELS_DIR);
  const spec = listed?.find((r) => r.id === arg);
  const folder = resolve(cwd, arg);
  if (spec) {
    if (existsSync(join(MODELS_DIR, arg, 'config.json'))) return { id: arg, modelsDir: MODELS_DIR, spec };
    if (!existsSync(folder)) {
      throw new UsageError(
        `--ranker ${arg} is listed in ${join(MODELS_DIR, 'manifest.json')} but its files are not in ` +
          `${join(MODELS_DIR, arg)} (the browser downloads ${spec.source} models itself; Node runs local folders ` +
          'only): download the model folder there, or pass its folder path',
      );
    }
  }
  if (existsSync(folder) && statSync(folder).isDirectory()) {
    const searched: string[] = [];
    for (let dir = dirname(folder); ; dir = dirname(dir)) {
      const manifest = join(dir, 'manifest.json');
      if (existsSync(manifest)) {
        const id = relative(dir, folder).split(sep).join('/');
        const entry = readManifestRankers(dir)?.find((r) => r.id === id);
        if (entry) return { id, modelsDir: dir, spec: entry };
        searched.push(manifest);
      }
      if (dirname(dir) === dir) break;
    }
    throw new UsageError(
      `--ranker ${arg}: no manifest.json in a parent folder lists this model` +
        (searched.length > 0 ? ` (searched ${searched.join(', ')})` : '') +
        `. Add a "rankers" entry with "id": "${basename(folder)}" (family, preprocessing, textTemplate, … as in ` +
        `${join(MODELS_DIR, 'manifest.json')}) to ${join(dirname(folder), 'manifest.json')}`,
    );
  }
  const known = (listed ?? []).map((r) => r.id).join(', ');
  throw new UsageError(`--ranker ${arg} is neither a model id (${known}) nor a folder`);
}

function readManifestRankers(dir: string): RankerModelSpec[] | undefined {
  const path = join(dir, 'manifest.json');
  try {
    return parseManifest(JSON.parse(readFileSync(path, 'utf8'))).rankers;
  } catch (error) {
    throw new UsageError(`${path} is not a valid model manifest: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Progress

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function listFew(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … (${names.length - max} more)` : shown;
}

/** Turns pipeline events into concise stderr lines: one per stage or round, more with --verbose. */
class ProgressLog {
  readonly #write: (line: string) => void;
  readonly #verbose: boolean;
  readonly #config: DiffConfig;
  readonly #t0 = Date.now();
  readonly #stageStarted = new Map<string, number>();
  #lastProgressLine = 0;
  #captions = { done: 0, cached: 0, failed: 0 };

  constructor(write: (line: string) => void, config: DiffConfig, verbose: boolean) {
    this.#write = write;
    this.#config = config;
    this.#verbose = verbose;
  }

  line(text: string): void {
    this.#write(`[${seconds(Date.now() - this.#t0).padStart(7)}] ${text}`);
  }

  handle(event: DiffEvent): void {
    const where =
      'iteration' in event && 'round' in event ? `iteration ${event.iteration} round ${event.round}` : '';
    switch (event.type) {
      case 'run-start': {
        const shape = this.#usesRounds()
          ? `, ${event.iterations} iteration(s) × ${event.rounds} round(s)`
          : '';
        this.line(
          `run ${event.runId}: ${this.#config.proposer} proposer, A ${event.nA} vs B ${event.nB} images${shape}`,
        );
        return;
      }
      case 'stage': {
        // One line when a stage completes (plus its start for the long whole-set embedding, and a line every
        // 10 s meanwhile); the key is dropped then, so the next box's crops are timed on their own.
        const key = `${event.stage}|${event.iteration ?? ''}|${event.round ?? ''}`;
        const noun = event.stage === 'crop' ? 'crops' : 'images';
        const now = Date.now();
        const started = this.#stageStarted.get(key);
        if (started === undefined) {
          this.#stageStarted.set(key, now);
          this.#lastProgressLine = now;
          if (event.stage === 'embed' && event.done < event.total) {
            this.line(`${event.stage}: ${event.total} ${noun}…`);
          }
        } else if (event.done < event.total && (this.#verbose || now - this.#lastProgressLine > 10_000)) {
          this.#lastProgressLine = now;
          this.line(`${event.stage}: ${event.done}/${event.total} ${noun}`);
        }
        if (event.done === event.total) {
          this.#stageStarted.delete(key);
          this.line(`${event.stage}: ${event.total} ${noun} in ${seconds(now - (started ?? now))}`);
        }
        return;
      }
      case 'iteration-start':
        if (this.#usesRounds()) this.line(`iteration ${event.iteration}/${this.#config.iterations}`);
        return;
      case 'round-start':
        this.#captions = { done: 0, cached: 0, failed: 0 };
        if (this.#verbose) this.line(`${where}: started`);
        return;
      case 'sampled':
        if (this.#verbose) this.line(`${where}: sampled ${event.a.length} A + ${event.b.length} B`);
        return;
      case 'captioned':
        this.#captions.done++;
        if (event.cached) this.#captions.cached++;
        if (event.error) this.#captions.failed++;
        if (this.#verbose || event.error) {
          const what = event.error ? `failed: ${event.error}` : JSON.stringify(event.text.slice(0, 120));
          this.line(
            `${where}: caption ${event.done}/${event.total} ${event.imageId.slice(0, 12)}` +
              `${event.cached ? ' (cached)' : ''} ${what}`,
          );
        }
        return;
      case 'composed':
        if (this.#verbose) {
          this.line(`${where}: composed ${event.purpose} ${event.image.width}×${event.image.height}`);
        }
        return;
      case 'prompt':
        if (this.#verbose) this.line(`${where}: asking for ${event.purpose}`);
        return;
      case 'reply':
        if (this.#verbose || event.outcome !== 'ok') {
          this.line(
            `${where}: ${event.purpose} attempt ${event.attempt} ${event.outcome}${event.cached ? ' (cached)' : ''}` +
              (event.problem ? `: ${event.problem}` : ''),
          );
        }
        return;
      case 'proposed': {
        if (event.round === 0) {
          this.line(`proposed ${event.findings.length} findings (${this.#config.proposer})`);
          return;
        }
        const c = this.#captions;
        const captions =
          c.done > 0 ? ` from ${c.done} captions (${c.cached} cached, ${c.failed} failed)` : '';
        const dropped = event.dropped.length > 0 ? `, ${event.dropped.length} dropped` : '';
        this.line(`${where}: ${event.findings.length} findings proposed${captions}${dropped}`);
        return;
      }
      case 'boxes': {
        const model = event.boxes.filter((b) => b.source === 'model').length;
        this.line(
          `${where}: ${event.boxes.length} boxes (${model} from the model, ${event.boxes.length - model} preset)`,
        );
        return;
      }
      case 'round-failed':
        this.line(`${where}: round failed: ${event.reason}`);
        return;
      case 'deduplicated':
        this.line(
          `iteration ${event.iteration}: pool of ${event.kept} findings (${event.merged.length} merged)`,
        );
        return;
      case 'ranked': {
        const top = event.pool[0];
        this.line(
          `iteration ${event.iteration}: ranked ${event.pool.length} findings` +
            (top
              ? `; top "${top.finding}" AUROC ${top.auroc.toFixed(3)} ` +
                `[${top.aurocCI.lo.toFixed(3)}, ${top.aurocCI.hi.toFixed(3)}]`
              : ''),
        );
        return;
      }
      case 'warning':
        this.line(`warning: ${event.message}`);
        return;
      case 'done':
        return;
    }
  }

  #usesRounds(): boolean {
    const p = this.#config.proposer;
    return p === 'raddiff' || p === 'caption-only' || p === 'report-guided';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function emptySummary(status: RunRecord['status'], error?: string): DiffSummary {
  const summary: DiffSummary = {
    status,
    runId: null,
    out: null,
    top: [],
    counts: { A: 0, B: 0 },
    modelCalls: 0,
    cacheHits: 0,
    totalMs: 0,
    failures: 0,
    warnings: 0,
  };
  if (error !== undefined) summary.error = error;
  return summary;
}

/** The summary line of a finished (or cancelled, or failed) run. */
export function summarizeRecord(record: RunRecord, out: string | null): DiffSummary {
  return {
    status: record.status,
    runId: record.runId,
    out,
    top: record.ranking.slice(0, SUMMARY_TOP).map((f) => {
      const finding: SummaryFinding = {
        finding: f.finding,
        auroc: round4(f.auroc),
        ci: [round4(f.aurocCI.lo), round4(f.aurocCI.hi)],
        origins: f.origins,
      };
      if (f.heldOut) finding.heldOut = round4(f.heldOut.auroc);
      return finding;
    }),
    counts: { A: record.inputs.counts.A, B: record.inputs.counts.B },
    modelCalls: record.execution.modelCalls,
    cacheHits: record.execution.cacheHits,
    totalMs: record.execution.totalMs,
    failures: record.failures.length,
    warnings: record.warnings.length,
  };
}

function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Creates `folder` and its missing parents one level at a time. Not `mkdir(…, { recursive: true })`: on a
 * filesystem that refuses new entries without saying EACCES (procfs answers ENOENT), Node 20's recursive mkdir
 * retries forever instead of failing.
 */
async function ensureFolder(folder: string): Promise<void> {
  const missing: string[] = [];
  let dir = folder;
  while (!existsSync(dir)) {
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
    dir = dirname(dir);
  }
  for (const m of missing) {
    await mkdir(m).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    });
  }
}

/** Writes `text` to `path` through a temporary file and a rename, so a reader never sees half a record. */
async function writeAtomically(path: string, text: string): Promise<void> {
  await ensureFolder(dirname(path));
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, text, 'utf8');
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Reads the --reports tables; a file that yields no reports is a usage error. */
async function readReportTables(
  paths: readonly string[],
  note: (text: string) => void,
): Promise<ReportTableFile[]> {
  const tables: ReportTableFile[] = [];
  for (const path of paths) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new UsageError(`--reports ${path} could not be read (${(error as Error).message})`);
    }
    const decoded = decodeReportBytes(bytes);
    for (const w of decoded.warnings) note(`reports ${basename(path)}: ${w}`);
    const table = parseReports(decoded.text, basename(path));
    if (!table.ok) throw new UsageError(`--reports ${path}: ${table.problems.join('; ')}`);
    if (table.warnings.length > 0) note(`reports ${basename(path)}: ${listFew(table.warnings, 3)}`);
    if (table.duplicates.length > 0) {
      note(`reports ${basename(path)}: ${table.duplicates.length} repeated image name(s), first report kept`);
    }
    note(`reports ${basename(path)}: ${table.reports.size} reports (${table.format})`);
    tables.push({ path, reports: table.reports });
  }
  return tables;
}

/** Prints what reading one folder left out, and returns record warnings (names omitted with --hash-names). */
function describeIntake(
  set: SetLabel,
  intake: FolderIntake,
  note: (text: string) => void,
  hashNames: boolean,
): string[] {
  const warnings: string[] = [];
  note(
    `set ${set}: ${intake.images.length} images from ${intake.root}` +
      (intake.leftOut.length > 0 ? `, ${intake.leftOut.length} left out` : '') +
      (intake.duplicates.length > 0 ? `, ${intake.duplicates.length} duplicate file(s) counted once` : ''),
  );
  for (const item of intake.leftOut) note(`set ${set}: left out ${item.name}: ${item.reason}`);
  if (intake.leftOut.length > 0) {
    warnings.push(
      `${intake.leftOut.length} file(s) of set ${set} could not be read or decoded and were left out` +
        (hashNames ? '' : `: ${listFew(intake.leftOut.map((l) => l.name))}`),
    );
  }
  if (intake.duplicates.length > 0) {
    note(
      `set ${set}: identical files: ${listFew(
        intake.duplicates.map((d) => `${d.name} = ${d.sameAs}`),
        3,
      )}`,
    );
  }
  if (intake.skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const s of intake.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    note(
      `set ${set}: skipped ${intake.skipped.length} other file(s): ` +
        [...reasons].map(([reason, n]) => `${n} ${reason}`).join('; ') +
        ` (${listFew(
          intake.skipped.map((s) => s.name),
          3,
        )})`,
    );
  }
  return warnings;
}

/** Prints how reports were assigned (only when reports were offered at all). */
function describeReports(
  assignment: ReportAssignment,
  intake: Record<SetLabel, FolderIntake>,
  note: (text: string) => void,
): void {
  for (const set of ['A', 'B'] as const) {
    const s = assignment.perSet[set];
    note(
      `reports: set ${set} ${s.table + s.txt}/${intake[set].images.length} images` +
        ` (${s.table} from --reports, ${s.txt} from .txt)` +
        (s.without.length > 0 ? `; without: ${listFew(s.without)}` : ''),
    );
    const txt = assignment.unmatchedTxt[set];
    if (txt.length > 0) note(`reports: set ${set}: ${txt.length} .txt file(s) fit no image: ${listFew(txt)}`);
  }
  const { unmatchedKeys, crossSet, ambiguous, superseded } = assignment;
  if (unmatchedKeys.length > 0) {
    note(`reports: ${unmatchedKeys.length} report(s) fit no image: ${listFew(unmatchedKeys)}`);
  }
  if (crossSet.length > 0) {
    note(
      `reports: ${crossSet.length} report(s) fit an image in A and one in B equally and were given to neither ` +
        `(write paths in the reports file): ${listFew(crossSet)}`,
    );
  }
  if (ambiguous.length > 0) note(`reports: ambiguous: ${listFew(ambiguous, 3)}`);
  if (superseded > 0) {
    note(
      `reports: ${superseded} report(s) unused because their image already had one ` +
        '(earlier --reports files first, then .txt files)',
    );
  }
}

/** Reads both folders and the reports into the pipeline's images; records each image's file in `paths`. */
async function readInputs(
  run: CliOptions,
  embedder: NodeEmbedder,
  paths: Map<string, string>,
  tables: readonly ReportTableFile[],
  io: DiffCliIo,
): Promise<{ images: DiffImage[]; warnings: string[] }> {
  const note = io.stderr;
  const readSet = (set: SetLabel, root: string): Promise<FolderIntake> => {
    let last = Date.now();
    return readImageFolder(root, {
      ...(io.signal ? { signal: io.signal } : {}),
      // The pixels are at hand now: prepare the whole-image model input so embedding need not decode again.
      onDecoded: (id, image) =>
        embedder.offerPrepared(id, () => toModelGray(image, 'full', embedder.spec.preprocessing)),
      onProgress: (done, total) => {
        if (Date.now() - last > 10_000) {
          last = Date.now();
          note(`set ${set}: read ${done}/${total} images`);
        }
      },
    });
  };
  let intake: Record<SetLabel, FolderIntake>;
  try {
    intake = { A: await readSet('A', run.a), B: await readSet('B', run.b) };
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new UsageError(`the image folders could not be read: ${(error as Error).message}`);
  }
  const warnings = [
    ...describeIntake('A', intake.A, note, run.hashNames),
    ...describeIntake('B', intake.B, note, run.hashNames),
  ];
  for (const set of ['A', 'B'] as const) {
    if (intake[set].images.length === 0) {
      throw new UsageError(
        `set ${set} (${set === 'A' ? run.a : run.b}) has no usable PNG or JPEG image: nothing to compare`,
      );
    }
  }
  const inA = new Map(intake.A.images.map((i) => [i.id, i.name]));
  const shared = intake.B.images.filter((i) => inA.has(i.id));
  if (shared.length > 0) {
    // The pipeline records this (without names); here the user learns which files they are.
    note(
      `warning: ${shared.length} image(s) of set B are identical files in set A and count in A only: ` +
        listFew(shared.map((i) => `${i.name} = A/${inA.get(i.id)}`)),
    );
  }

  const assignment = assignReports(intake, tables);
  if (tables.length > 0 || intake.A.txt.length + intake.B.txt.length > 0) {
    describeReports(assignment, intake, note);
  }
  const proposer = run.config.proposer;
  if (
    (proposer === 'report-guided' || proposer === 'report-mining') &&
    assignment.reports.A.size + assignment.reports.B.size === 0
  ) {
    throw new UsageError(
      `the ${proposer} proposer needs reports and no image has one: give --reports FILE or put x.txt beside x.png`,
    );
  }

  const images: DiffImage[] = [];
  for (const set of ['A', 'B'] as const) {
    for (const image of intake[set].images) {
      if (!paths.has(image.id)) paths.set(image.id, image.path);
      const report = assignment.reports[set].get(image.id);
      images.push({
        id: image.id,
        name: image.name,
        set,
        width: image.width,
        height: image.height,
        ...(report !== undefined ? { report } : {}),
      });
    }
  }
  return { images, warnings };
}

/** The pipeline's ports for Node: this embedder, the PNG compositor, the endpoints given, the reply cache. */
function buildPorts(
  run: CliOptions,
  embedder: NodeEmbedder,
  paths: ReadonlyMap<string, string>,
  note: (text: string) => void,
): DiffPorts {
  const unavailable = new Set<string>();
  const compositor = createNodeCompositor((id) => paths.get(id), {
    onUnavailable: (list) => {
      for (const u of list) {
        if (unavailable.has(u.imageId)) continue;
        unavailable.add(u.imageId);
        note(`warning: image ${u.imageId.slice(0, 12)} drawn as a placeholder: ${u.reason}`);
      }
    },
  });
  let cache: ReplyCachePort;
  if (run.cacheDir !== undefined) {
    cache = createFileReplyCache(run.cacheDir);
    note(`reply cache: ${run.cacheDir}`);
  } else {
    const memory = new Map<string, string>();
    cache = {
      get: (key) => Promise.resolve(memory.get(key)),
      set: (key, value) => {
        memory.set(key, value);
        return Promise.resolve();
      },
    };
  }
  const ports: DiffPorts = { embedder, compositor, cache };
  const { proposer } = run.config;
  const needs = requiredPorts(run.config);
  if (run.llm) {
    ports.llm = createEndpointLlm(run.llm);
    if (!needs.llm) note(`note: the ${proposer} proposer does not use --llm-endpoint`);
    else if (needs.vision && !run.llm.vision) {
      note(
        'note: without --llm-vision the LLM gets text only (captions or reports), no image grids or crops',
      );
    }
  }
  if (run.vlm) {
    ports.captioner = createEndpointCaptioner(run.vlm, (id, crop) => {
      const path = paths.get(id);
      if (path === undefined) return Promise.reject(new Error(`no file is known for image ${id}`));
      return loadEncodedImageNode(path, crop, CAPTION_MAX_SIDE, id);
    });
    if (!needs.captioner) note(`note: the ${proposer} proposer does not use --vlm-endpoint`);
  }
  return ports;
}

/**
 * Runs the headless RadDiff runner on `argv` (the arguments after the script name) and returns the exit code:
 * {@link EXIT}. Usage and input errors print a message on stderr and leave stdout empty; every other outcome ends
 * stdout with one JSON {@link DiffSummary} line. Never throws.
 */
export async function runDiffCli(argv: readonly string[], io: DiffCliIo): Promise<number> {
  const note = io.stderr;
  const finish = (summary: DiffSummary, code: number): number => {
    io.stdout(JSON.stringify(summary));
    return code;
  };
  let clip: NodeClip | undefined;
  try {
    const run = parseCommandLine(argv, io.cwd ?? process.cwd());
    if (run === 'help') {
      for (const line of USAGE.split('\n')) io.stdout(line);
      return EXIT.done;
    }
    // A record that cannot be written should stop the run before it starts, not after an hour of model calls.
    try {
      await ensureFolder(dirname(run.out));
      await access(dirname(run.out), constants.W_OK);
    } catch (error) {
      throw new UsageError(`--out ${run.out}: its folder is not writable (${(error as Error).message})`);
    }
    const tables = await readReportTables(run.reports, note);

    const loadStart = Date.now();
    try {
      clip = await loadNodeClip(run.ranker.id, { modelsDir: run.ranker.modelsDir });
    } catch (error) {
      const message =
        `the ranker ${run.ranker.id} could not be loaded from ${run.ranker.modelsDir}: ` +
        (error as Error).message;
      io.stderr(`diff: ${message}`);
      return finish(emptySummary('failed', message), EXIT.failed);
    }
    const p = run.ranker.spec.preprocessing;
    note(
      `ranker ${run.ranker.id} (${p.version}, ${p.size} px ${p.resize}, dim ${clip.dim}) loaded in ` +
        seconds(Date.now() - loadStart),
    );
    const paths = new Map<string, string>();
    const embedder = createNodeEmbedder(clip, (id) => paths.get(id));
    let inputs: { images: DiffImage[]; warnings: string[] };
    try {
      inputs = await readInputs(run, embedder, paths, tables, io);
    } catch (error) {
      if (!isAbort(error)) throw error;
      io.stderr('diff: cancelled while reading the images; no record written');
      return finish(emptySummary('cancelled'), EXIT.cancelled);
    }
    const ports = buildPorts(run, embedder, paths, note);
    const input: DiffInput = {
      images: inputs.images,
      bankPhrases: expandBankPhrases(DEFAULT_BANK),
      appVersion: appVersion(),
    };

    const log = new ProgressLog(io.stderr, run.config, run.verbose);
    let record: RunRecord | undefined;
    for await (const event of runDiff(ports, input, run.config, io.signal)) {
      log.handle(event);
      if (event.type === 'done') record = event.record;
    }
    if (!record) throw new Error('the pipeline ended without a record');
    // The pipeline's own warnings are not streamed as events: show them (and the failures) now.
    for (const f of record.failures.slice(0, 10)) {
      const at = f.iteration !== undefined ? ` (iteration ${f.iteration} round ${f.round})` : '';
      log.line(`failure in ${f.stage}${at}: ${f.message}`);
    }
    if (record.failures.length > 10)
      log.line(`… and ${record.failures.length - 10} more failures (see the record)`);
    for (const w of record.warnings.slice(0, 10)) log.line(`warning: ${w}`);
    record.warnings.unshift(...inputs.warnings);
    if (run.hashNames) for (const image of record.inputs.images) image.name = image.id;

    let out: string | null = run.out;
    let writeError: string | undefined;
    try {
      await writeAtomically(run.out, `${JSON.stringify(record, null, 2)}\n`);
    } catch (error) {
      out = null;
      writeError = `the record could not be written to ${run.out}: ${(error as Error).message}`;
      io.stderr(`diff: ${writeError}`);
    }
    log.line(
      `${record.status} in ${seconds(record.execution.totalMs)}: ${record.execution.modelCalls} model calls, ` +
        `${record.execution.cacheHits} cache hits, ${record.failures.length} failures, ` +
        `${record.warnings.length} warnings${out ? ` → ${out}` : ''}`,
    );
    const summary = summarizeRecord(record, out);
    if (writeError !== undefined) summary.error = writeError;
    if (record.status === 'cancelled') return finish(summary, EXIT.cancelled);
    return finish(summary, record.status === 'done' && writeError === undefined ? EXIT.done : EXIT.failed);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`diff: ${error.message}`);
      io.stderr('diff: run with --help for the usage');
      return EXIT.usage;
    }
    io.stderr(`diff: unexpected error: ${(error as Error).stack ?? String(error)}`);
    return finish(emptySummary('failed', (error as Error).message ?? String(error)), EXIT.failed);
  } finally {
    await clip?.dispose().catch(() => undefined);
  }
}
