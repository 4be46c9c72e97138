// runDiff: the RadDiff proposer–ranker loop of METHOD.md §2–§5 with the §7 fixes, as an async generator of typed
// events over the ports of ports.ts. Every model call goes through the reply cache and a retry loop; a failed
// call fails its round, never the run; a cancel or a fault ends with a `done` event whose record keeps everything
// computed so far. Pure: runs in Node with scripted ports and in the browser over workers.

import type { BankPhrase } from './concept-bank.ts';
import { proposeFromBank } from './concept-bank.ts';
import { cleanFindingList, dedupFindings, MAX_FINDING_CHARS, normalizeFinding } from './dedup.ts';
import type { DiffConfig, ProposerKind } from './diff-config.ts';
import { requiredPorts } from './diff-config.ts';
import type { DiffEvent, DiffStage } from './diff-events.ts';
import { combinedGrid, cropGrid, presetBoxForFinding, setGrid, validateBox } from './geometry.ts';
import { hashString } from './hash.ts';
import type { LlmMessage } from './llm.ts';
import type {
  AbortSignalLike,
  Box,
  Composition,
  DiffImage,
  DiffPorts,
  EncodedImage,
  PortProgress,
} from './ports.ts';
import {
  buildBoxMessages,
  buildProposeMessages,
  buildRefineMessages,
  buildSummaryMessages,
  CAPTION_PROMPT,
  captionBlock,
  correctionMessages,
  differencesSchema,
  boxesSchema,
  messagesAsText,
  parseBoxesReply,
  parseDifferencesReply,
  parseSummaryReply,
  PROMPT_VERSIONS,
  reportBlock,
  SUMMARY_SCHEMA,
  type Parsed,
  type ScoredFinding,
} from './prompts.ts';
import { createRng } from './random.ts';
import { callWithDeadline, sleep } from './timing.ts';
import { rankFindings } from './ranker.ts';
import { mineReportPhrases } from './report-mining.ts';
import type {
  CallAttempt,
  CallRecord,
  FindingOrigin,
  IterationRecord,
  PoolFinding,
  RoundRecord,
  RunRecord,
} from './run-record.ts';
import { RUN_RECORD_SCHEMA_VERSION } from './run-record.ts';
import { isAbort, namedError } from './types.ts';

/** What a run compares. */
export interface DiffInput {
  images: DiffImage[];
  /** Expanded concept bank, for the concept-bank proposer. */
  bankPhrases?: readonly BankPhrase[];
  /** App version for the record. */
  appVersion?: string;
}

/** Findings the LLM-free proposers contribute (concept bank top-k, report-mining top-n). */
const LLM_FREE_PROPOSALS = 10;

type Purpose = CallRecord['purpose'];

/** A finding in the run's pool, before ranking. */
interface PoolEntry {
  text: string;
  origins: FindingOrigin[];
  merged: string[];
  box?: { box: Box; source: 'model' | 'preset' };
}

/** Thrown inside a round to stop it; caught by the round loop and recorded. */
class RoundFailure extends Error {
  override name = 'RoundFailure';
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

const CANCELLED = 'the run was cancelled';

function abortError(): Error {
  return namedError('AbortError', CANCELLED);
}

function throwIfAborted(signal?: AbortSignalLike): void {
  if (signal?.aborted) throw abortError();
}

const defaultSleep = (ms: number, signal?: AbortSignalLike): Promise<void> => sleep(ms, signal, CANCELLED);

/**
 * Runs `start` (a port call that reports progress through a callback) and yields a `stage` event per progress
 * report while it is pending; returns the call's result. Lets a generator stream progress from callbacks.
 */
async function* withProgress<T>(
  stage: DiffStage,
  start: (onProgress: (p: PortProgress) => void) => Promise<T>,
  where: { iteration?: number; round?: number } = {},
): AsyncGenerator<DiffEvent, T, undefined> {
  const queue: PortProgress[] = [];
  let wake: (() => void) | null = null;
  let settled = false;
  const promise = start((p) => {
    queue.push(p);
    wake?.();
  }).finally(() => {
    settled = true;
    wake?.();
  });
  promise.catch(() => {}); // observed below; avoids an unhandled rejection while we wait on progress
  while (!settled || queue.length > 0) {
    if (queue.length === 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    // Only the newest report matters to a progress bar.
    const last = queue[queue.length - 1] as PortProgress;
    queue.length = 0;
    yield { type: 'stage', stage, done: last.done, total: last.total, ...where };
  }
  return await promise;
}

/** Stable JSON (sorted keys) for hashing configs and schemas. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A seed per call derived from the run seed and the call's place, so rounds differ but reruns repeat. */
function callSeed(seed: number, stream: string): number {
  return createRng(seed, `llm-seed/${stream}`).uint32();
}

/**
 * Runs the RadDiff method. Yields events as it works; the last event is always `done` with the run record, whose
 * `status` says whether the run finished, was cancelled (everything computed so far kept) or failed (e.g. the
 * ranker could not embed the images; the failure is in `record.failures`). The generator itself only throws on
 * programming errors.
 */
export async function* runDiff(
  ports: DiffPorts,
  input: DiffInput,
  config: DiffConfig,
  signal?: AbortSignalLike,
): AsyncGenerator<DiffEvent, void, undefined> {
  const run = new DiffRun(ports, input, config, signal);
  yield* run.execute();
}

/** The state of one run; `execute` is the whole algorithm, the other methods are its steps. */
class DiffRun {
  readonly #ports: DiffPorts;
  readonly #input: DiffInput;
  readonly #config: DiffConfig;
  readonly #signal: AbortSignalLike | undefined;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignalLike) => Promise<void>;
  readonly #record: RunRecord;
  readonly #a: DiffImage[];
  readonly #b: DiffImage[];
  readonly #byId: Map<string, DiffImage>;
  readonly #t0: number;
  /** Image ids any proposer call has seen (for held-out AUROC). */
  readonly #seen = new Set<string>();
  readonly #pool: PoolEntry[] = [];
  readonly #textVectors = new Map<string, Float32Array>();
  #embedded: { ids: string[]; labels: Uint8Array; matrix: Float32Array; dim: number } | null = null;
  #ranking: PoolFinding[] = [];
  /** Per-box embeddings of every image (localized ranking), keyed by the box. */
  readonly #cropEmbeddings = new Map<string, { labels: Uint8Array; matrix: Float32Array; dim: number }>();
  readonly #summaries = new Map<string, string>();

  constructor(ports: DiffPorts, input: DiffInput, config: DiffConfig, signal?: AbortSignalLike) {
    this.#ports = ports;
    this.#input = input;
    this.#config = config;
    this.#signal = signal;
    this.#now = ports.now ?? (() => Date.now());
    this.#sleep = ports.sleep ?? defaultSleep;
    this.#t0 = this.#now();
    // Duplicate ids (the same file dropped twice) are one image; the first occurrence wins.
    this.#byId = new Map();
    let inBoth = 0;
    for (const image of input.images) {
      const known = this.#byId.get(image.id);
      if (!known) this.#byId.set(image.id, image);
      else if (known.set !== image.set) inBoth++;
    }
    const unique = [...this.#byId.values()];
    this.#a = unique.filter((i) => i.set === 'A');
    this.#b = unique.filter((i) => i.set === 'B');
    const models: RunRecord['models'] = { embedder: ports.embedder.id };
    const needs = requiredPorts(config);
    if (needs.captioner && ports.captioner) models.captioner = ports.captioner.id;
    if (needs.llm && ports.llm) {
      models.llm = ports.llm.id;
      models.llmVision = ports.llm.vision;
    }
    const runId = hashString(
      stableJson({
        config,
        models,
        images: unique.map((i) => [i.id, i.set, i.report !== undefined]),
        // The bank is an input of the concept-bank proposer: another bank is another run.
        bank: config.proposer === 'concept-bank' ? (input.bankPhrases ?? []).map((p) => p.text) : [],
      }),
    );
    this.#record = {
      schemaVersion: RUN_RECORD_SCHEMA_VERSION,
      app: { name: 'raddiff-web', version: input.appVersion ?? '0.0.0' },
      runId,
      status: 'running',
      config,
      inputs: {
        images: unique.map((i) => ({
          id: i.id,
          name: i.name,
          set: i.set,
          hasReport: i.report !== undefined,
        })),
        counts: {
          A: this.#a.length,
          B: this.#b.length,
          reports: unique.filter((i) => i.report !== undefined).length,
        },
      },
      models,
      promptVersions: { ...PROMPT_VERSIONS },
      iterations: [],
      calls: [],
      ranking: [],
      unranked: [],
      execution: {
        startedAt: new Date(this.#t0).toISOString(),
        totalMs: 0,
        portMs: 0,
        stages: {},
        modelCalls: 0,
        cacheHits: 0,
      },
      failures: [],
      warnings: [],
    };
    if (inBoth > 0) {
      this.#warn(
        `${inBoth} image(s) are in both sets; each is counted once, in the set it was first listed in`,
      );
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // The algorithm
  // ------------------------------------------------------------------------------------------------------------

  async *execute(): AsyncGenerator<DiffEvent, void, undefined> {
    const config = this.#config;
    const record = this.#record;
    yield {
      type: 'run-start',
      runId: record.runId,
      iterations: config.iterations,
      rounds: config.rounds,
      nA: this.#a.length,
      nB: this.#b.length,
    };
    try {
      // Warnings are recorded where they happen (often in plain methods) and streamed right after the event
      // that follows them, so the live view shows them as they arise.
      for await (const event of this.#algorithm()) {
        yield event;
        yield* this.#flushWarnings();
      }
      if (record.status === 'running') record.status = 'done';
    } catch (error) {
      if (isAbort(error) || this.#signal?.aborted) {
        record.status = 'cancelled';
      } else {
        record.status = 'failed';
        record.failures.push({ stage: 'run', message: errorText(error) });
      }
    } finally {
      const end = this.#now();
      record.execution.finishedAt = new Date(end).toISOString();
      record.execution.totalMs = end - this.#t0;
    }
    yield* this.#flushWarnings();
    yield { type: 'done', record };
  }

  /** Warnings recorded since the last flush, as events. */
  #warningsSent = 0;
  *#flushWarnings(): Generator<DiffEvent, void, undefined> {
    const warnings = this.#record.warnings;
    while (this.#warningsSent < warnings.length) {
      yield { type: 'warning', message: warnings[this.#warningsSent++] as string };
    }
  }

  /** Preflight, embedding, the iterations. Sets `status` to `failed` itself when it stops early. */
  async *#algorithm(): AsyncGenerator<DiffEvent, void, undefined> {
    const config = this.#config;
    const record = this.#record;
    const problem = this.#preflight();
    if (problem) {
      record.failures.push({ stage: 'setup', message: problem });
      record.status = 'failed';
      return;
    }
    yield* this.#embedAll();
    if (!this.#embedded) return; // #embedAll recorded why
    yield* this.#seedPool();
    const llmRounds = this.#usesLlm();
    for (let iteration = 1; iteration <= config.iterations; iteration++) {
      throwIfAborted(this.#signal);
      const started = this.#now();
      yield { type: 'iteration-start', iteration };
      const rounds: RoundRecord[] = [];
      const iterationRecord: IterationRecord = {
        iteration,
        rounds,
        dedup: { kept: 0, merged: [] },
        pool: [],
      };
      record.iterations.push(iterationRecord);
      if (llmRounds) {
        for (let round = 1; round <= config.rounds; round++) {
          throwIfAborted(this.#signal);
          const roundRecord = this.#newRound(iteration, round);
          rounds.push(roundRecord);
          yield* this.#round(roundRecord);
        }
      }
      const merged = await this.#mergeRounds();
      iterationRecord.dedup = merged;
      yield { type: 'deduplicated', iteration, kept: merged.kept, merged: merged.merged };
      yield* this.#rank(iteration);
      iterationRecord.pool = this.#ranking;
      record.ranking = this.#ranking;
      yield { type: 'ranked', iteration, pool: this.#ranking };
      this.#addStage('iteration', this.#now() - started);
      // LLM-free proposers have nothing to refine: one iteration says everything.
      if (!llmRounds) break;
    }
  }

  /** A reason the run cannot start, or null. */
  #preflight(): string | null {
    if (this.#a.length === 0) return 'set A has no images';
    if (this.#b.length === 0) return 'set B has no images';
    const needs = requiredPorts(this.#config);
    const proposer = this.#config.proposer;
    if (needs.captioner && !this.#ports.captioner) return `the ${proposer} proposer needs a captioner (VLM)`;
    if (needs.llm && !this.#ports.llm) return `the ${proposer} proposer needs a language model`;
    if ((proposer === 'raddiff' || proposer === 'report-guided') && !this.#ports.compositor) {
      this.#warn('no compositor: the model sees captions or reports only, no image grids');
    }
    if (needs.vision && this.#ports.llm && !this.#ports.llm.vision) {
      this.#warn(`${this.#ports.llm.id} cannot see images: grids and crops are left out of its prompts`);
    }
    if (proposer === 'report-guided' || proposer === 'report-mining') {
      const withReports = this.#input.images.filter((i) => i.report !== undefined).length;
      if (withReports === 0) return `the ${proposer} proposer needs reports, and no image has one`;
    }
    if (proposer === 'concept-bank' && (this.#input.bankPhrases?.length ?? 0) === 0) {
      return 'the concept-bank proposer needs a concept bank with at least one phrase';
    }
    if (proposer === 'user' && this.#config.userFindings.every((f) => f.trim() === '')) {
      return 'no findings were typed';
    }
    return null;
  }

  #usesLlm(): boolean {
    const p = this.#config.proposer;
    return p === 'raddiff' || p === 'caption-only' || p === 'report-guided';
  }

  #warn(message: string): void {
    if (!this.#record.warnings.includes(message)) this.#record.warnings.push(message);
  }

  #addStage(stage: string, ms: number): void {
    const stages = this.#record.execution.stages;
    stages[stage] = (stages[stage] ?? 0) + ms;
  }

  /** Times a port call (for the record's portMs and per-stage totals). */
  async #timed<T>(stage: string, call: () => Promise<T>): Promise<T> {
    const t = this.#now();
    try {
      return await call();
    } finally {
      const ms = this.#now() - t;
      this.#record.execution.portMs += ms;
      this.#addStage(stage, ms);
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Ranker inputs
  // ------------------------------------------------------------------------------------------------------------

  /** Embeds every image once (the ranker's input). A failure here fails the run: nothing can be ranked. */
  async *#embedAll(): AsyncGenerator<DiffEvent, void, undefined> {
    const ids = [...this.#a, ...this.#b].map((i) => i.id);
    let result;
    try {
      result = yield* withProgress('embed', (onProgress) =>
        this.#timed('embed', () => this.#ports.embedder.embedImages(ids, 'full', this.#signal, onProgress)),
      );
    } catch (error) {
      if (isAbort(error)) throw error;
      this.#record.failures.push({ stage: 'embed', message: errorText(error) });
      this.#record.status = 'failed';
      return;
    }
    this.#record.unranked = result.failed.map((f) => ({ id: f.id, reason: f.reason }));
    const labels = new Uint8Array(result.ok.map((id) => (this.#byId.get(id)?.set === 'A' ? 1 : 0)));
    const nA = labels.reduce((s, v) => s + v, 0);
    if (nA === 0 || nA === labels.length) {
      const empty = nA === 0 ? 'A' : 'B';
      this.#record.failures.push({ stage: 'embed', message: `no image of set ${empty} could be embedded` });
      this.#record.status = 'failed';
      return;
    }
    this.#embedded = { ids: result.ok, labels, matrix: result.embeddings, dim: result.dim };
  }

  /** Text embeddings of `texts`, computed once per run. */
  async #textEmbeddings(texts: readonly string[]): Promise<Float32Array> {
    const missing = [...new Set(texts.filter((t) => !this.#textVectors.has(t)))];
    const dim = this.#embedded?.dim ?? 0;
    if (missing.length > 0) {
      const vectors = await this.#timed('embed-text', () =>
        this.#ports.embedder.embedTexts(missing, this.#signal),
      );
      if (vectors.length !== missing.length * dim) {
        throw new Error(
          `the embedder returned ${vectors.length} values for ${missing.length} texts × ${dim}`,
        );
      }
      missing.forEach((t, i) => this.#textVectors.set(t, vectors.slice(i * dim, (i + 1) * dim)));
    }
    const out = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => out.set(this.#textVectors.get(t) as Float32Array, i * dim));
    return out;
  }

  /** Adds the LLM-free contributions (user findings, concept bank, report mining) to the pool. */
  async *#seedPool(): AsyncGenerator<DiffEvent, void, undefined> {
    const { proposer, userFindings } = this.#config;
    const add = (texts: string[], kind: ProposerKind) => {
      const { findings } = cleanFindingList(texts, { maxChars: MAX_FINDING_CHARS, maxItems: 500 });
      for (const text of findings)
        this.#pool.push({ text, origins: [{ proposer: kind, iteration: 1 }], merged: [] });
    };
    add(userFindings, 'user');
    if (proposer === 'concept-bank') {
      const phrases = this.#input.bankPhrases ?? [];
      const embedded = this.#embedded!;
      const texts = await this.#textEmbeddings(phrases.map((p) => p.text));
      const { proposals } = proposeFromBank({
        phrases,
        imageEmbeddings: embedded.matrix,
        dim: embedded.dim,
        labels: embedded.labels,
        textEmbeddings: texts,
        topK: LLM_FREE_PROPOSALS,
        cap: this.#config.rankerCap,
        seed: this.#config.seed,
        threshold: this.#config.threshold,
      });
      add(
        proposals.map((p) => p.finding),
        'concept-bank',
      );
      yield {
        type: 'proposed',
        iteration: 1,
        round: 0,
        findings: proposals.map((p) => p.finding),
        dropped: [],
      };
    }
    if (proposer === 'report-mining') {
      const reportsOf = (set: DiffImage[]) =>
        set.map((i) => i.report).filter((r): r is string => r !== undefined);
      const mined = mineReportPhrases(reportsOf(this.#a), reportsOf(this.#b), { top: LLM_FREE_PROPOSALS });
      add(
        mined.map((m) => m.phrase),
        'report-mining',
      );
      yield { type: 'proposed', iteration: 1, round: 0, findings: mined.map((m) => m.phrase), dropped: [] };
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // One proposal round
  // ------------------------------------------------------------------------------------------------------------

  #newRound(iteration: number, round: number): RoundRecord {
    return {
      iteration,
      round,
      status: 'ok',
      sampleA: [],
      sampleB: [],
      captions: [],
      compositions: [],
      boxes: [],
      findings: [],
      problems: [],
    };
  }

  /** Draws the round's sample from a per-(iteration, round, set) stream: fresh images every round (§7). */
  #sample(set: DiffImage[], label: 'A' | 'B', iteration: number, round: number): DiffImage[] {
    const k = Math.min(this.#config.samplesPerSet, set.length);
    const rng = createRng(this.#config.seed, `sample/${label}/iteration-${iteration}/round-${round}`);
    return Array.from(rng.sample(set.length, k), (i) => set[i] as DiffImage);
  }

  async *#round(record: RoundRecord): AsyncGenerator<DiffEvent, void, undefined> {
    const { iteration, round } = record;
    const where = { iteration, round };
    const config = this.#config;
    yield { type: 'round-start', ...where };
    const sampleA = this.#sample(this.#a, 'A', iteration, round);
    const sampleB = this.#sample(this.#b, 'B', iteration, round);
    record.sampleA = sampleA.map((i) => i.id);
    record.sampleB = sampleB.map((i) => i.id);
    for (const image of [...sampleA, ...sampleB]) this.#seen.add(image.id);
    yield { type: 'sampled', ...where, a: record.sampleA, b: record.sampleB };
    try {
      // Text context: captions (RadDiff, caption-only) or reports (report-guided).
      let captions: string | undefined;
      let reports: string | undefined;
      if (config.proposer === 'report-guided') {
        reports = yield* this.#reportContext(record, sampleA, sampleB);
      } else {
        captions = yield* this.#captionContext(record, sampleA, sampleB);
      }
      // Images, when the proposer uses them and the model can see.
      const seesImages =
        config.proposer !== 'caption-only' &&
        this.#ports.compositor !== undefined &&
        this.#ports.llm?.vision === true;
      let gridA: EncodedImage | undefined;
      let gridB: EncodedImage | undefined;
      if (seesImages) {
        gridA = yield* this.#compose(record, 'grid-a', setGrid(sampleA));
        gridB = yield* this.#compose(record, 'grid-b', setGrid(sampleB));
      }
      const previous = this.#previousTop();
      let messages: LlmMessage[];
      let purpose: Purpose;
      const base = {
        findingsMin: config.findingsMin,
        findingsMax: config.findingsMax,
        ...(captions !== undefined ? { captions } : {}),
        ...(reports !== undefined ? { reports } : {}),
        ...(gridA && gridB ? { gridA, gridB } : {}),
      };
      if (iteration === 1 || previous.length === 0) {
        purpose = 'propose';
        messages = buildProposeMessages(base);
      } else {
        purpose = 'refine';
        let combined: EncodedImage | undefined;
        const cropGrids: { finding: string; image: EncodedImage }[] = [];
        if (config.visualSearch) {
          if (seesImages) combined = yield* this.#compose(record, 'combined', combinedGrid(sampleA, sampleB));
          const boxes = yield* this.#chooseBoxes(record, previous, combined, captions);
          if (seesImages) {
            for (const { finding, box } of boxes) {
              const image = yield* this.#compose(
                record,
                'crops',
                cropGrid(sampleA, sampleB, box, { label: finding }),
                {
                  finding,
                  box,
                },
              );
              cropGrids.push({ finding, image });
            }
          }
        }
        // The reference sends the crops only; by default we keep the full-image grids as context too (§7).
        const context = config.keepFullGridsInRefinement
          ? base
          : {
              findingsMin: config.findingsMin,
              findingsMax: config.findingsMax,
              ...(captions !== undefined ? { captions } : {}),
              ...(reports !== undefined ? { reports } : {}),
            };
        messages = buildRefineMessages({
          ...context,
          previous,
          cropGrids,
          ...(combined && config.keepFullGridsInRefinement ? { combined } : {}),
        });
      }
      const stream = `${purpose}/iteration-${iteration}/round-${round}`;
      const reply = yield* this.#callLlm(
        purpose,
        where,
        messages,
        differencesSchema(config.findingsMin, config.findingsMax),
        stream,
        (text) => {
          const parsed = parseDifferencesReply(text);
          if (!parsed.ok) return parsed;
          const cleaned = cleanFindingList(parsed.value, {
            maxChars: MAX_FINDING_CHARS,
            maxItems: config.findingsMax,
          });
          if (cleaned.findings.length === 0) {
            const why = cleaned.dropped.map((d) => d.reason).join('; ');
            return { ok: false, problem: `no usable finding in the list (${why || 'all items dropped'})` };
          }
          return { ok: true, value: cleaned };
        },
      );
      if (!reply.ok) throw new RoundFailure(reply.problem);
      record.findings = reply.value.findings;
      const proposer: ProposerKind = config.proposer;
      for (const text of reply.value.findings) {
        this.#roundFindings.push({ text, origin: { proposer, iteration, round } });
      }
      yield { type: 'proposed', ...where, findings: reply.value.findings, dropped: reply.value.dropped };
    } catch (error) {
      if (isAbort(error) || this.#signal?.aborted) {
        record.status = 'cancelled';
        throw error;
      }
      const reason = error instanceof RoundFailure ? error.message : errorText(error);
      record.status = 'failed';
      record.problems.push(reason);
      this.#record.failures.push({ stage: 'round', iteration, round, message: reason });
      yield { type: 'round-failed', ...where, reason };
    }
  }

  /** Findings proposed in the current iteration's rounds, awaiting deduplication. */
  #roundFindings: { text: string; origin: FindingOrigin }[] = [];

  /** The previous ranking's top-k with AUROC, fed back to refinement and box selection. */
  #previousTop(): ScoredFinding[] {
    return this.#ranking.slice(0, this.#config.topK).map((f) => ({ finding: f.finding, auroc: f.auroc }));
  }

  /** Captions every sampled image (cache first); a failed caption is recorded and left out, never fatal. */
  async *#captionContext(
    record: RoundRecord,
    sampleA: DiffImage[],
    sampleB: DiffImage[],
  ): AsyncGenerator<DiffEvent, string, undefined> {
    const captioner = this.#ports.captioner!;
    const all = [...sampleA, ...sampleB];
    const texts = new Map<string, string>();
    let done = 0;
    for (const image of all) {
      throwIfAborted(this.#signal);
      const key = `cap|${captioner.id}|${PROMPT_VERSIONS.caption}|${this.#config.captionMaxTokens}|${image.id}|full`;
      let text = await this.#cacheGet(key);
      const cached = text !== undefined;
      let error: string | undefined;
      if (text === undefined) {
        const result = await this.#retry(async (callSignal) => {
          const out = await captioner.caption(
            {
              imageId: image.id,
              crop: 'full',
              prompt: CAPTION_PROMPT,
              maxTokens: this.#config.captionMaxTokens,
            },
            callSignal,
          );
          const trimmed = out.trim();
          if (trimmed === '') throw new Error('the captioner returned no text');
          return trimmed;
        }, 'caption');
        this.#record.execution.modelCalls += result.calls;
        if (result.ok) {
          text = result.value;
          await this.#cacheSet(key, text);
        } else error = result.problem;
      } else this.#record.execution.cacheHits++;
      done++;
      if (text !== undefined) texts.set(image.id, text);
      record.captions.push({
        imageId: image.id,
        crop: 'full',
        text: text ?? '',
        ...(error ? { error } : {}),
      });
      yield {
        type: 'captioned',
        iteration: record.iteration,
        round: record.round,
        imageId: image.id,
        text: text ?? '',
        cached,
        ...(error ? { error } : {}),
        done,
        total: all.length,
      };
    }
    if (texts.size === 0) throw new RoundFailure('no sampled image could be captioned');
    const pick = (set: DiffImage[]) =>
      set.filter((i) => texts.has(i.id)).map((i) => texts.get(i.id) as string);
    return captionBlock(pick(sampleA), pick(sampleB));
  }

  /** The reports of the sampled images, summarized first when long and configured so. */
  async *#reportContext(
    record: RoundRecord,
    sampleA: DiffImage[],
    sampleB: DiffImage[],
  ): AsyncGenerator<DiffEvent, string, undefined> {
    const limit = this.#config.summarizeReportsOver;
    const textOf = async function* (
      this: DiffRun,
      image: DiffImage,
    ): AsyncGenerator<DiffEvent, string | null, undefined> {
      const report = image.report;
      if (report === undefined || report.trim() === '') return null;
      if (limit === 0 || report.length <= limit) return report;
      const known = this.#summaries.get(image.id);
      if (known !== undefined) return known;
      const summary = yield* this.#callLlm(
        'summarize',
        { iteration: record.iteration, round: record.round },
        buildSummaryMessages(report),
        SUMMARY_SCHEMA,
        `summarize/${image.id}`,
        parseSummaryReply,
      );
      // A failed summary falls back to the report itself: long context beats no context.
      const text = summary.ok ? summary.value : report;
      this.#summaries.set(image.id, text);
      return text;
    };
    const collect = async function* (
      this: DiffRun,
      set: DiffImage[],
    ): AsyncGenerator<DiffEvent, string[], undefined> {
      const out: string[] = [];
      for (const image of set) {
        const text = yield* textOf.call(this, image);
        if (text !== null) out.push(text);
      }
      return out;
    };
    const a = yield* collect.call(this, sampleA);
    const b = yield* collect.call(this, sampleB);
    if (a.length === 0 && b.length === 0) throw new RoundFailure('no sampled image has a report');
    if (a.length === 0 || b.length === 0) {
      record.problems.push(`no report among the sampled images of set ${a.length === 0 ? 'A' : 'B'}`);
    }
    return reportBlock(a, b);
  }

  /** Renders a composition through the compositor and records it. */
  async *#compose(
    record: RoundRecord,
    purpose: RoundRecord['compositions'][number]['purpose'],
    composition: Composition,
    about: { finding?: string; box?: Box } = {},
  ): AsyncGenerator<DiffEvent, EncodedImage, undefined> {
    throwIfAborted(this.#signal);
    const image = await this.#timed('compose', () =>
      this.#ports.compositor!.render(composition, this.#signal),
    );
    record.compositions.push({
      key: composition.key,
      purpose,
      width: composition.width,
      height: composition.height,
      ...about,
    });
    yield { type: 'composed', iteration: record.iteration, round: record.round, purpose, image, ...about };
    return image;
  }

  /**
   * Asks the model for one box per previous top finding, validates each, and falls back to the anatomical preset
   * of the finding for every missing or unusable box (§2 step 3). The same boxes serve localized ranking.
   */
  async *#chooseBoxes(
    record: RoundRecord,
    previous: ScoredFinding[],
    combined: EncodedImage | undefined,
    captions: string | undefined,
  ): AsyncGenerator<DiffEvent, { finding: string; box: Box }[], undefined> {
    const where = { iteration: record.iteration, round: record.round };
    const messages = buildBoxMessages({
      previous,
      ...(combined ? { combined } : {}),
      ...(captions !== undefined ? { captions } : {}),
    });
    const reply = yield* this.#callLlm(
      'boxes',
      where,
      messages,
      boxesSchema(previous.length),
      `boxes/iteration-${record.iteration}/round-${record.round}`,
      parseBoxesReply,
    );
    const raw = reply.ok ? reply.value : [];
    const chosen: RoundRecord['boxes'] = previous.map((p, i) => {
      const wanted = normalizeFinding(p.finding);
      // Match by finding text first (models reorder), then by position.
      const byText = raw.find((r) => typeof r.finding === 'string' && normalizeFinding(r.finding) === wanted);
      const candidate = byText ?? raw[i];
      const preset = () => presetBoxForFinding(p.finding).box;
      if (!candidate) {
        return {
          finding: p.finding,
          box: preset(),
          source: 'preset' as const,
          problem: reply.ok ? 'no box for this finding' : reply.problem,
        };
      }
      const valid = validateBox(candidate.raw);
      if (valid.ok) return { finding: p.finding, box: valid.box, source: 'model' as const };
      return { finding: p.finding, box: preset(), source: 'preset' as const, problem: valid.problem };
    });
    record.boxes = chosen;
    for (const c of chosen) {
      const entry = this.#pool.find((e) => e.text === c.finding);
      if (entry && !entry.box) entry.box = { box: c.box, source: c.source };
    }
    yield { type: 'boxes', ...where, boxes: chosen };
    return chosen.map((c) => ({ finding: c.finding, box: c.box }));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Model calls: cache, retries, backoff, deadlines
  // ------------------------------------------------------------------------------------------------------------

  async #cacheGet(key: string): Promise<string | undefined> {
    try {
      return await this.#ports.cache.get(key);
    } catch (error) {
      this.#warn(`the reply cache could not be read (${errorText(error)}); computing again`);
      return undefined;
    }
  }

  async #cacheSet(key: string, value: string): Promise<void> {
    try {
      await this.#ports.cache.set(key, value);
    } catch (error) {
      this.#warn(
        `the reply cache could not be written (${errorText(error)}); results are kept in this run only`,
      );
    }
  }

  /** Runs one call with the configured deadline (0 = none) and the run's signal; settles even if the port ignores its signal. */
  #withDeadline<T>(call: (signal?: AbortSignalLike) => Promise<T>): Promise<T> {
    const timeoutMs = this.#config.callTimeoutMs;
    return callWithDeadline(call, timeoutMs > 0 ? timeoutMs : undefined, this.#signal, CANCELLED);
  }

  /** Retries a call that throws (captioner), with exponential backoff. */
  async #retry<T>(
    call: (signal?: AbortSignalLike) => Promise<T>,
    stage: string,
  ): Promise<{ ok: true; value: T; calls: number } | { ok: false; problem: string; calls: number }> {
    let problem = 'no attempt made';
    for (let attempt = 1; attempt <= this.#config.maxAttempts; attempt++) {
      throwIfAborted(this.#signal);
      if (attempt > 1) await this.#sleep(this.#backoff(attempt), this.#signal);
      try {
        const value = await this.#timed(stage, () => this.#withDeadline(call));
        return { ok: true, value, calls: attempt };
      } catch (error) {
        if (isAbort(error) || this.#signal?.aborted) throw isAbort(error) ? error : abortError();
        problem = errorText(error);
      }
    }
    return {
      ok: false,
      problem: `${problem} (after ${this.#config.maxAttempts} attempts)`,
      calls: this.#config.maxAttempts,
    };
  }

  #backoff(attempt: number): number {
    return Math.min(30_000, this.#config.retryBackoffMs * 2 ** (attempt - 2));
  }

  /**
   * One LLM call with everything around it: the reply cache (keyed by model, prompt version, and a hash of the
   * messages, schema, temperature, seed and token limit), up to `maxAttempts` attempts with backoff, a
   * correction turn after a malformed reply, events for the live view, and a CallRecord. A successful outcome is
   * cached with all its attempts, so a rerun replays it — failures included — without calling the model.
   */
  async *#callLlm<T>(
    purpose: Purpose,
    where: { iteration: number; round: number },
    messages: LlmMessage[],
    schema: object,
    stream: string,
    parse: (text: string) => Parsed<T>,
  ): AsyncGenerator<DiffEvent, Parsed<T>, undefined> {
    const llm = this.#ports.llm!;
    const config = this.#config;
    const promptVersion = this.#promptVersion(purpose);
    const seed = callSeed(config.seed, stream);
    const shown = messagesAsText(messages);
    const cacheKey = `llm|${llm.id}|${promptVersion}|${hashString(
      stableJson({
        messages: shown,
        schema,
        temperature: config.temperature,
        seed,
        maxTokens: config.proposalMaxTokens,
      }),
    )}`;
    const callRecord: CallRecord = {
      purpose,
      iteration: where.iteration,
      round: where.round,
      model: llm.id,
      promptVersion,
      cacheKey,
      messages: shown,
      attempts: [],
    };
    this.#record.calls.push(callRecord);
    const livePurpose = purpose === 'caption' ? 'propose' : purpose;
    yield { type: 'prompt', ...where, purpose: livePurpose, messages: shown };

    const cached = await this.#cacheGet(cacheKey);
    if (cached !== undefined) {
      const replay = parseCachedCall(cached);
      if (replay) {
        this.#record.execution.cacheHits++;
        callRecord.attempts = replay;
        for (const a of replay) {
          yield {
            type: 'reply',
            ...where,
            purpose: livePurpose,
            attempt: a.attempt,
            outcome: a.outcome,
            ...(a.reply !== undefined ? { text: a.reply } : {}),
            ...(a.problem !== undefined ? { problem: a.problem } : {}),
            cached: true,
          };
        }
        const last = replay[replay.length - 1];
        if (last?.outcome === 'ok' && last.reply !== undefined) {
          const parsed = parse(last.reply);
          if (parsed.ok) return parsed;
        }
      }
      // An unreadable or stale cache entry is ignored: call the model again.
      callRecord.attempts = [];
    }

    let conversation = messages;
    let lastProblem = 'no attempt made';
    for (let attempt = 1; attempt <= config.maxAttempts; attempt++) {
      throwIfAborted(this.#signal);
      if (attempt > 1) await this.#sleep(this.#backoff(attempt), this.#signal);
      let text: string;
      try {
        this.#record.execution.modelCalls++;
        const request = conversation;
        const reply = await this.#timed(purpose, () =>
          this.#withDeadline((callSignal) =>
            llm.complete(
              {
                messages: request,
                jsonSchema: schema,
                temperature: config.temperature,
                seed,
                maxTokens: config.proposalMaxTokens,
              },
              callSignal,
            ),
          ),
        );
        text = typeof reply?.text === 'string' ? reply.text : '';
      } catch (error) {
        if (isAbort(error) || this.#signal?.aborted) throw isAbort(error) ? error : abortError();
        const outcome = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'error';
        lastProblem = errorText(error);
        callRecord.attempts.push({ attempt, outcome, problem: lastProblem });
        yield {
          type: 'reply',
          ...where,
          purpose: livePurpose,
          attempt,
          outcome,
          problem: lastProblem,
          cached: false,
        };
        continue;
      }
      const parsed = parse(text);
      if (parsed.ok) {
        callRecord.attempts.push({ attempt, outcome: 'ok', reply: text });
        yield { type: 'reply', ...where, purpose: livePurpose, attempt, outcome: 'ok', text, cached: false };
        await this.#cacheSet(cacheKey, JSON.stringify(callRecord.attempts));
        return parsed;
      }
      lastProblem = parsed.problem;
      callRecord.attempts.push({ attempt, outcome: 'malformed', reply: text, problem: parsed.problem });
      yield {
        type: 'reply',
        ...where,
        purpose: livePurpose,
        attempt,
        outcome: 'malformed',
        text,
        problem: parsed.problem,
        cached: false,
      };
      conversation = [...messages, ...correctionMessages(text, parsed.problem)];
    }
    return { ok: false, problem: `${lastProblem} (after ${config.maxAttempts} attempts)` };
  }

  #promptVersion(purpose: Purpose): string {
    switch (purpose) {
      case 'caption':
        return PROMPT_VERSIONS.caption;
      case 'boxes':
        return PROMPT_VERSIONS.boxes;
      case 'summarize':
        return PROMPT_VERSIONS.summarize;
      case 'refine':
        return PROMPT_VERSIONS.refine;
      case 'propose':
        return this.#config.proposer === 'caption-only'
          ? PROMPT_VERSIONS.proposeCaptionsOnly
          : this.#config.proposer === 'report-guided'
            ? PROMPT_VERSIONS.proposeReports
            : PROMPT_VERSIONS.propose;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Pool, deduplication and ranking
  // ------------------------------------------------------------------------------------------------------------

  /**
   * Adds the iteration's round findings to the pool: exact duplicates (after normalization) and near-duplicates
   * (text-embedding cosine above the threshold) merge into the earlier entry, which keeps every origin (§7).
   */
  async #mergeRounds(): Promise<IterationRecord['dedup']> {
    const incoming = this.#roundFindings;
    this.#roundFindings = [];
    const t = this.#now();
    // Pool entries come first, so a new phrasing merges into an existing finding and never the other way round.
    type Candidate = { text: string; entry: PoolEntry; fresh: FindingOrigin | null };
    const candidates: Candidate[] = [
      ...this.#pool.map((entry) => ({ text: entry.text, entry, fresh: null })),
      ...incoming.map((f) => ({
        text: f.text,
        entry: { text: f.text, origins: [f.origin], merged: [] },
        fresh: f.origin,
      })),
    ];
    const vectors = await this.#textEmbeddings(candidates.map((c) => c.text));
    const result = dedupFindings(candidates, vectors, this.#embedded!.dim, this.#config.dedupThreshold);
    const mergedLog: IterationRecord['dedup']['merged'] = [];
    for (const m of result.merged) {
      const into = m.into.entry;
      into.origins.push(...m.from.entry.origins);
      if (m.from.text !== into.text && !into.merged.includes(m.from.text)) into.merged.push(m.from.text);
      if (m.from.fresh) mergedLog.push({ from: m.from.text, into: into.text, cosine: m.cosine });
    }
    const keptEntries = result.kept.map((c) => c.entry);
    this.#pool.length = 0;
    this.#pool.push(...keptEntries);
    this.#addStage('dedup', this.#now() - t);
    return { kept: this.#pool.length, merged: mergedLog };
  }

  /** Ranks the whole pool on every embedded image; adds held-out and localized AUROC (§5, ours). */
  async *#rank(iteration: number): AsyncGenerator<DiffEvent, void, undefined> {
    const embedded = this.#embedded!;
    const config = this.#config;
    if (this.#pool.length === 0) {
      this.#ranking = [];
      this.#warn('no finding was proposed, so nothing was ranked');
      return;
    }
    const texts = this.#pool.map((e) => e.text);
    const vectors = await this.#textEmbeddings(texts);
    const t = this.#now();
    const ranked = rankFindings({
      imageEmbeddings: embedded.matrix,
      dim: embedded.dim,
      labels: embedded.labels,
      textEmbeddings: vectors,
      findings: texts,
      threshold: config.threshold,
      cap: config.rankerCap,
      seed: config.seed,
    });
    const heldOut = config.heldOut ? this.#heldOutAurocs(vectors, texts) : null;
    const pool: PoolFinding[] = ranked.map((r) => {
      const entry = this.#pool[r.index] as PoolEntry;
      const out: PoolFinding = { ...r, origins: entry.origins, merged: entry.merged };
      const h = heldOut?.get(r.index);
      if (h) out.heldOut = h;
      return out;
    });
    this.#addStage('rank', this.#now() - t);
    if (config.localizedRanking) {
      for (const finding of pool) {
        const entry = this.#pool[finding.index] as PoolEntry;
        if (!entry.box) continue;
        const localized = yield* this.#localizedAuroc(entry, vectors, finding.index, iteration);
        if (localized) finding.localized = localized;
      }
    }
    this.#ranking = pool;
  }

  /** AUROC per finding on the images no proposer call saw; null when a set has fewer than 2 such images. */
  #heldOutAurocs(
    vectors: Float32Array,
    texts: string[],
  ): Map<number, { auroc: number; nA: number; nB: number }> | null {
    const embedded = this.#embedded!;
    const rows: number[] = [];
    embedded.ids.forEach((id, row) => {
      if (!this.#seen.has(id)) rows.push(row);
    });
    const labels = new Uint8Array(rows.map((r) => embedded.labels[r] as number));
    const nA = labels.reduce((s, v) => s + v, 0);
    const nB = labels.length - nA;
    if (nA < 2 || nB < 2) return null;
    const dim = embedded.dim;
    const matrix = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => matrix.set(embedded.matrix.subarray(r * dim, (r + 1) * dim), i * dim));
    const ranked = rankFindings({
      imageEmbeddings: matrix,
      dim,
      labels,
      textEmbeddings: vectors,
      findings: texts,
      threshold: this.#config.threshold,
      cap: this.#config.rankerCap,
      seed: this.#config.seed,
    });
    return new Map(ranked.map((r) => [r.index, { auroc: r.auroc, nA: r.nA, nB: r.nB }]));
  }

  /** AUROC of one finding on every image cropped to its box (embedding each crop once per run). */
  async *#localizedAuroc(
    entry: PoolEntry,
    vectors: Float32Array,
    index: number,
    iteration: number,
  ): AsyncGenerator<DiffEvent, PoolFinding['localized'] | undefined, undefined> {
    const box = entry.box!;
    const key = [box.box.x1, box.box.y1, box.box.x2, box.box.y2].map((v) => v.toFixed(4)).join(',');
    let crops = this.#cropEmbeddings.get(key);
    if (!crops) {
      const ids = this.#embedded!.ids;
      try {
        const result = yield* withProgress(
          'crop',
          (onProgress) =>
            this.#timed('crop-embed', () =>
              this.#ports.embedder.embedImages(ids, box.box, this.#signal, onProgress),
            ),
          { iteration },
        );
        const labels = new Uint8Array(result.ok.map((id) => (this.#byId.get(id)?.set === 'A' ? 1 : 0)));
        crops = { labels, matrix: result.embeddings, dim: result.dim };
        this.#cropEmbeddings.set(key, crops);
      } catch (error) {
        if (isAbort(error)) throw error;
        this.#warn(`localized ranking skipped for "${entry.text}": ${errorText(error)}`);
        return undefined;
      }
    }
    const nA = crops.labels.reduce((s, v) => s + v, 0);
    const nB = crops.labels.length - nA;
    if (nA === 0 || nB === 0) return undefined;
    const dim = crops.dim;
    const [ranked] = rankFindings({
      imageEmbeddings: crops.matrix,
      dim,
      labels: crops.labels,
      textEmbeddings: vectors.slice(index * dim, (index + 1) * dim),
      findings: [entry.text],
      threshold: this.#config.threshold,
      cap: this.#config.rankerCap,
      seed: this.#config.seed,
    });
    if (!ranked) return undefined;
    return { box: box.box, boxSource: box.source, auroc: ranked.auroc, nA: ranked.nA, nB: ranked.nB };
  }
}

/** Reads a cached call (its attempts); null when the entry is not a valid attempt list. */
function parseCachedCall(text: string): CallAttempt[] | null {
  try {
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value) || value.length === 0) return null;
    const outcomes = new Set(['ok', 'malformed', 'error', 'timeout']);
    for (const a of value) {
      if (typeof a !== 'object' || a === null) return null;
      const r = a as Record<string, unknown>;
      if (typeof r['attempt'] !== 'number' || !outcomes.has(r['outcome'] as string)) return null;
    }
    return value as CallAttempt[];
  } catch {
    return null;
  }
}
