// UI state of one RadDiff run: the preset and config being set up, the model provider per role, the endpoint
// settings (persisted without the API key unless asked), the estimate, and, while a run goes, its stage timeline,
// live view, record and ranking. Consumes the pipeline's DiffEvent stream in one place (#apply). Imports core and
// the endpoint provider's pure helpers; never components. The pipeline itself arrives injected as `start`.
//
// How App constructs it (the lead wires the real ports):
//   const diff = new DiffRunState(
//     (config, signal, setup) => runDiff(buildPorts(setup), { images, bankPhrases }, config, signal),
//     {
//       counts: () => ({ A: sets.a.images.length, B: sets.b.images.length }),
//       models: () => ({ ranker: rankerCost, captioner: vlmCost, llm: llmCost }), // local models' ModelCost
//     },
//   );
// `setup.providers` says which role runs locally or on the endpoint; `setup.endpoint` carries the validated settings
// (API key included, in memory only). The getters are read inside $derived, so they stay reactive. Thumbnails are
// not state: pass `thumbnailUrl` to <LiveView> from the image sets. Call `diff.reset()` when the image sets change,
// so the live view never shows another comparison's images.

import {
  parseDiffConfig,
  presetConfig,
  requiredPorts,
  type DiffConfig,
  type PresetName,
} from '../core/diff-config.ts';
import type { DiffEvent, DiffStage } from '../core/diff-events.ts';
import { estimateRun, type ModelCost, type RunEstimate, type RunModels } from '../core/estimate.ts';
import type { Box, EncodedImage } from '../core/ports.ts';
import type { CallAttempt, PoolFinding, RunRecord } from '../core/run-record.ts';
import { isAbort } from '../core/types.ts';
import {
  describeEndpointTraffic,
  listEndpointModels,
  parseEndpointSettings,
  type EndpointSettings,
  type JsonMode,
} from '../engines/openai-endpoint.ts';

export type { DiffConfig, PresetName, ProposerKind } from '../core/diff-config.ts';
export type { DiffStage } from '../core/diff-events.ts';
export type { ModelCost, RunEstimate } from '../core/estimate.ts';
export type { PoolFinding, RunRecord } from '../core/run-record.ts';
export type { EndpointSettings, JsonMode } from '../engines/openai-endpoint.ts';

/** Where a generating model runs: in this browser, or on an OpenAI-compatible server. */
export type Provider = 'local' | 'endpoint';
/** The roles a provider can be chosen for (the ranker always runs locally). */
export type GeneratorRole = 'captioner' | 'llm';
export type Providers = Record<GeneratorRole, Provider>;

/** The endpoint form as typed (strings, unvalidated). */
export interface EndpointDraft {
  baseUrl: string;
  model: string;
  apiKey: string;
  vision: boolean;
  jsonMode: JsonMode;
}

/** What `start` needs beyond the config to build the ports. */
export interface DiffRunSetup {
  providers: Providers;
  /** Validated endpoint settings (API key included) when a role the config needs runs on the endpoint. */
  endpoint: EndpointSettings | null;
}

/** Starts the pipeline: the app passes a function that builds the ports and calls `runDiff`. */
export type StartDiff = (
  config: DiffConfig,
  signal: AbortSignal,
  setup: DiffRunSetup,
) => AsyncIterable<DiffEvent>;

export type DiffRunStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'failed';
export type StageState = 'pending' | 'active' | 'done' | 'failed';

/** One stage chip of a timeline row. `total` 0 = no known total (indeterminate). */
export interface TimelineStage {
  stage: DiffStage;
  label: string;
  state: StageState;
  done: number;
  total: number;
}

/** One timeline row: the setup (embedding), one round of one iteration, or an iteration's merge and ranking. */
export interface TimelineRow {
  key: string;
  kind: 'setup' | 'round' | 'iteration';
  label: string;
  iteration?: number;
  round?: number;
  state: StageState;
  stages: TimelineStage[];
  /** Why the row failed. */
  problem?: string;
}

/** A caption as the live view shows it. */
export interface LiveCaption {
  imageId: string;
  set: 'A' | 'B' | null;
  text: string;
  cached: boolean;
  error?: string;
  iteration: number;
  round: number;
}

/** A rendered grid or crop grid, as an object URL the live view can show. */
export interface LiveComposition {
  id: number;
  iteration: number;
  round: number;
  purpose: 'grid-a' | 'grid-b' | 'combined' | 'crops';
  url: string;
  width: number;
  height: number;
  finding?: string;
  box?: Box;
}

export interface LiveAttempt {
  attempt: number;
  outcome: CallAttempt['outcome'];
  text?: string;
  problem?: string;
  cached: boolean;
}

/** One LLM call: its prompt and every attempt's raw reply. */
export interface LiveCall {
  id: number;
  iteration: number;
  round: number;
  purpose: 'propose' | 'refine' | 'boxes' | 'summarize';
  messages: { role: string; content: string }[];
  attempts: LiveAttempt[];
  /** Outcome of the last attempt; `pending` while waiting for the first reply. */
  outcome: CallAttempt['outcome'] | 'pending';
}

export interface LiveBoxes {
  iteration: number;
  round: number;
  boxes: { finding: string; box: Box; source: 'model' | 'preset'; problem?: string }[];
}

export interface LiveProposal {
  iteration: number;
  round: number;
  findings: string[];
  dropped: { text: string; reason: string }[];
}

export interface RoundFailure {
  iteration: number;
  round: number;
  reason: string;
}

/** The latest sample drawn. */
export interface LiveSample {
  iteration: number;
  round: number;
  a: string[];
  b: string[];
}

/** Result of "Test connection". */
export type EndpointTest =
  | { status: 'idle' }
  | { status: 'testing' }
  | { status: 'ok'; message: string; models: string[] }
  | { status: 'failed'; message: string };

/** The subset of `localStorage` used (injectable for tests; absent in Node). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Turns rendered compositions into URLs for <img>, and frees them. */
export interface ObjectUrls {
  create(image: EncodedImage): string;
  revoke(url: string): void;
}

/** Optional collaborators of {@link DiffRunState}; each getter is read inside `$derived`, so keep it reactive. */
export interface DiffRunOptions {
  /** Images per set (for the estimate and the "add images" blockers). Default: none. */
  counts?: () => { A: number; B: number };
  /** Costs of the local models; an endpoint role is costed as no download and no local memory. */
  models?: () => { ranker: ModelCost; captioner?: ModelCost; llm?: ModelCost };
  /** True when the engines unload the captioner before loading the LLM (see estimate.ts). */
  swapGenerators?: boolean;
  /** Where endpoint settings persist; default `localStorage` when there is one. `null` = do not persist. */
  storage?: KeyValueStorage | null;
  /** Model listing behind "Test connection"; default `GET {baseUrl}/models`. */
  listModels?: (settings: EndpointSettings, signal: AbortSignal) => Promise<string[]>;
  /** Object URL factory; default `URL.createObjectURL` on a Blob of the bytes. */
  objectUrls?: ObjectUrls;
}

/** localStorage key of the persisted setup (providers + endpoint). */
export const SETUP_STORAGE_KEY = 'raddiff-web:diff-setup';

const STAGE_LABELS: Record<DiffStage, string> = {
  load: 'Load models',
  embed: 'Embed images',
  sample: 'Sample',
  caption: 'Caption',
  compose: 'Grids',
  propose: 'Propose',
  boxes: 'Boxes',
  crop: 'Crops',
  dedup: 'Merge',
  rank: 'Rank',
};

const DEFAULT_ENDPOINT: EndpointDraft = {
  baseUrl: 'http://127.0.0.1:8080',
  model: '',
  apiKey: '',
  vision: true,
  jsonMode: 'json_schema',
};

const NO_COUNTS = () => ({ A: 0, B: 0 });
/** Without model figures the estimate still counts calls; memory and downloads then read 0 and are flagged. */
const NO_MODELS = () => ({ ranker: { id: 'ranker', downloadMB: 0, gpuMB: 0 } });

const DEFAULT_OBJECT_URLS: ObjectUrls = {
  // A copy: the bytes may sit on a buffer a worker later transfers, and Blob wants an ArrayBuffer-backed view.
  create: (image) => URL.createObjectURL(new Blob([image.bytes.slice()], { type: image.mime })),
  revoke: (url) => URL.revokeObjectURL(url),
};

/** The proposers that run LLM rounds (others rank once: one iteration, no rounds). */
function usesRounds(config: DiffConfig): boolean {
  return (
    config.proposer === 'raddiff' || config.proposer === 'caption-only' || config.proposer === 'report-guided'
  );
}

function chip(stage: DiffStage, label = STAGE_LABELS[stage]): TimelineStage {
  return { stage, label, state: 'pending', done: 0, total: 0 };
}

const roundKey = (iteration: number, round: number) => `round-${iteration}-${round}`;
const iterationKey = (iteration: number) => `iteration-${iteration}`;

/**
 * The rows a run of `config` will go through, all pending. Stages that turn out not to run (no grids for a text-only
 * model, no boxes without a previous ranking) are dropped when their row completes.
 */
export function initialTimeline(config: DiffConfig): TimelineRow[] {
  const setupStages = [chip('embed')];
  if (config.proposer === 'concept-bank' || config.proposer === 'report-mining')
    setupStages.push(chip('propose'));
  const rows: TimelineRow[] = [
    { key: 'setup', kind: 'setup', label: 'Setup', state: 'pending', stages: setupStages },
  ];
  const rounds = usesRounds(config);
  const iterations = rounds ? config.iterations : 1;
  const needs = requiredPorts(config);
  for (let iteration = 1; iteration <= iterations; iteration++) {
    const refine = iteration >= 2;
    for (let round = 1; rounds && round <= config.rounds; round++) {
      const stages = [chip('sample')];
      if (needs.captioner) stages.push(chip('caption'));
      if (config.proposer !== 'caption-only') stages.push(chip('compose'));
      if (refine && config.visualSearch) {
        stages.push(chip('boxes'));
        if (config.proposer !== 'caption-only') stages.push(chip('crop'));
      }
      stages.push(chip('propose', refine ? 'Refine' : 'Propose'));
      rows.push({
        key: roundKey(iteration, round),
        kind: 'round',
        label: `Iteration ${iteration} · round ${round}`,
        iteration,
        round,
        state: 'pending',
        stages,
      });
    }
    const stages = [chip('dedup'), chip('rank')];
    if (refine && config.visualSearch && config.localizedRanking) stages.push(chip('crop', 'Localized'));
    rows.push({
      key: iterationKey(iteration),
      kind: 'iteration',
      label: rounds ? `Iteration ${iteration} · merge and rank` : 'Rank',
      iteration,
      state: 'pending',
      stages,
    });
  }
  return rows;
}

/** Returns `rows` with row `key` replaced by `update(row)` (rows are immutable values in `$state.raw`). */
function updateRow(
  rows: TimelineRow[],
  key: string,
  update: (row: TimelineRow) => TimelineRow,
): TimelineRow[] {
  const index = rows.findIndex((r) => r.key === key);
  if (index === -1) return rows;
  const next = rows.slice();
  next[index] = update(rows[index] as TimelineRow);
  return next;
}

/**
 * Moves a row's stage forward. The pipeline is sequential, so a stage becoming active completes the stage that was
 * active before it; pending stages before it stay pending (they did not run) and are dropped when the row is done.
 */
function advance(
  row: TimelineRow,
  stage: DiffStage,
  patch: Partial<Pick<TimelineStage, 'state' | 'done' | 'total' | 'label'>>,
): TimelineRow {
  let stages = row.stages;
  let index = stages.findIndex((s) => s.stage === stage);
  if (index === -1) {
    // A stage the row did not expect: show it rather than lose it. Model loading (only when a local model must
    // load) comes before everything else.
    if (stage === 'load') {
      stages = [chip(stage), ...stages];
      index = 0;
    } else {
      stages = [...stages, chip(stage)];
      index = stages.length - 1;
    }
  }
  const state = patch.state ?? 'active';
  const next = stages.map((s, i) => {
    if (i === index) return { ...s, ...patch, state };
    if (i < index && s.state === 'active') return { ...s, state: 'done' as const };
    return s;
  });
  return { ...row, state: row.state === 'pending' ? 'active' : row.state, stages: next };
}

/** Ends a row: done (unreached stages dropped) or failed (the running stage marked failed). */
function finishRow(row: TimelineRow, state: 'done' | 'failed', problem?: string): TimelineRow {
  if (state === 'done') {
    return {
      ...row,
      state: 'done',
      stages: row.stages.filter((s) => s.state !== 'pending').map((s) => ({ ...s, state: 'done' as const })),
    };
  }
  let failedOne = row.stages.some((s) => s.state === 'active');
  const stages = row.stages.map((s) => {
    if (s.state === 'active') return { ...s, state: 'failed' as const };
    if (!failedOne && s.state === 'pending') {
      failedOne = true;
      return { ...s, state: 'failed' as const };
    }
    return s;
  });
  return { ...row, state: 'failed', stages, ...(problem ? { problem } : {}) };
}

/** What a run ended with, outside the rounds (setup, embedding, a fault). */
export interface RunFailure {
  stage: string;
  message: string;
}

/** Reads the persisted setup; anything unreadable falls back to defaults. */
function loadSetup(storage: KeyValueStorage | null): {
  providers: Providers;
  endpoint: EndpointDraft;
  rememberKey: boolean;
} {
  const fallback = {
    providers: { captioner: 'local', llm: 'local' } as Providers,
    endpoint: { ...DEFAULT_ENDPOINT },
    rememberKey: false,
  };
  if (!storage) return fallback;
  let raw: unknown;
  try {
    raw = JSON.parse(storage.getItem(SETUP_STORAGE_KEY) ?? 'null');
  } catch {
    return fallback;
  }
  if (typeof raw !== 'object' || raw === null) return fallback;
  const r = raw as Record<string, unknown>;
  const p = (r['providers'] ?? {}) as Record<string, unknown>;
  const e = (r['endpoint'] ?? {}) as Record<string, unknown>;
  const provider = (v: unknown): Provider => (v === 'endpoint' ? 'endpoint' : 'local');
  const text = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  const jsonMode = e['jsonMode'];
  const rememberKey = r['rememberKey'] === true;
  return {
    providers: { captioner: provider(p['captioner']), llm: provider(p['llm']) },
    endpoint: {
      baseUrl: text(e['baseUrl'], DEFAULT_ENDPOINT.baseUrl),
      model: text(e['model'], ''),
      apiKey: rememberKey ? text(e['apiKey'], '') : '',
      vision: typeof e['vision'] === 'boolean' ? e['vision'] : DEFAULT_ENDPOINT.vision,
      jsonMode:
        jsonMode === 'json_schema' || jsonMode === 'json_object' || jsonMode === 'none'
          ? jsonMode
          : DEFAULT_ENDPOINT.jsonMode,
    },
    rememberKey,
  };
}

function defaultStorage(): KeyValueStorage | null {
  try {
    // Accessing localStorage throws in some privacy modes; then settings simply do not persist.
    return (globalThis as unknown as { localStorage?: KeyValueStorage }).localStorage ?? null;
  } catch {
    return null;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The run-setup and live-run state of the RadDiff pipeline. Construct with the function that starts the pipeline;
 * everything else is optional. Methods never throw; failures become `status`/`failures`.
 */
export class DiffRunState {
  readonly #start: StartDiff;
  readonly #counts: () => { A: number; B: number };
  readonly #models: () => { ranker: ModelCost; captioner?: ModelCost; llm?: ModelCost };
  readonly #swapGenerators: boolean;
  readonly #storage: KeyValueStorage | null;
  readonly #listModels: (settings: EndpointSettings, signal: AbortSignal) => Promise<string[]>;
  readonly #objectUrls: ObjectUrls;
  #controller: AbortController | null = null;
  #testController: AbortController | null = null;
  #urls: string[] = [];
  #nextId = 1;

  // --- setup ---------------------------------------------------------------------------------------------------
  preset = $state<PresetName>('raddiff');
  /** The config being edited; a deep `$state` proxy, so it is snapshotted before it leaves this class. */
  config = $state<DiffConfig>(presetConfig('raddiff'));
  providers = $state<Providers>({ captioner: 'local', llm: 'local' });
  endpoint = $state<EndpointDraft>({ ...DEFAULT_ENDPOINT });
  /** Persist the API key too (off by default: a key in localStorage is readable by any script on this origin). */
  rememberKey = $state(false);
  endpointTest = $state.raw<EndpointTest>({ status: 'idle' });

  // --- the run -------------------------------------------------------------------------------------------------
  status = $state<DiffRunStatus>('idle');
  /** True between `cancel()` and the pipeline's final `done`. */
  cancelRequested = $state(false);
  stages = $state.raw<TimelineRow[]>([]);
  /** Where the run is (for the status line): the latest round started. */
  position = $state.raw<{ iteration: number; round: number } | null>(null);
  runId = $state<string | null>(null);
  sampled = $state.raw<LiveSample | null>(null);
  captions = $state.raw<ReadonlyMap<string, LiveCaption>>(new Map());
  compositions = $state.raw<LiveComposition[]>([]);
  calls = $state.raw<LiveCall[]>([]);
  boxes = $state.raw<LiveBoxes[]>([]);
  proposals = $state.raw<LiveProposal[]>([]);
  roundFailures = $state.raw<RoundFailure[]>([]);
  warnings = $state.raw<string[]>([]);
  failures = $state.raw<RunFailure[]>([]);
  record = $state.raw<RunRecord | null>(null);
  ranking = $state.raw<PoolFinding[]>([]);

  // --- derived -------------------------------------------------------------------------------------------------
  /** `parseDiffConfig` of the edited config: the validated config or readable problems. */
  readonly validation = $derived(parseDiffConfig($state.snapshot(this.config)));
  /** Problems per config field (`iterations` → ["Too small…"]); problems of no single field under `config`. */
  readonly fieldProblems: Readonly<Record<string, string[]>> = $derived.by(() => {
    const out: Record<string, string[]> = {};
    if (this.validation.ok) return out;
    for (const problem of this.validation.problems) {
      const colon = problem.indexOf(': ');
      const field = colon === -1 ? 'config' : problem.slice(0, colon);
      const message = colon === -1 ? problem : problem.slice(colon + 2);
      (out[field] ??= []).push(message);
    }
    return out;
  });
  readonly needs = $derived(requiredPorts(this.config));
  readonly running = $derived(this.status === 'running');
  readonly endpointParsed = $derived(parseEndpointSettings($state.snapshot(this.endpoint)));
  /** The endpoint problems, field by field as `parseEndpointSettings` words them. */
  readonly endpointProblems = $derived(this.endpointParsed.ok ? [] : this.endpointParsed.problems);
  /** True when a role the config needs is set to run on the endpoint. */
  readonly endpointInUse = $derived(
    (this.needs.captioner && this.providers.captioner === 'endpoint') ||
      (this.needs.llm && this.providers.llm === 'endpoint'),
  );
  /** Plain-language lines: what the endpoint will receive and where it goes. */
  readonly endpointTraffic: string[] = $derived.by(() => {
    if (!this.endpointParsed.ok) return ['Nothing is sent until the server URL and model are valid.'];
    try {
      return describeEndpointTraffic(this.endpointParsed.settings);
    } catch (error) {
      return [errorText(error)];
    }
  });
  readonly estimate: RunEstimate | null = $derived.by(() => {
    if (!this.validation.ok) return null;
    const local = this.#models();
    const remote: ModelCost = { id: this.endpoint.model.trim() || 'endpoint', downloadMB: 0, gpuMB: 0 };
    const models: RunModels = { ranker: local.ranker };
    const captioner = this.providers.captioner === 'endpoint' ? remote : local.captioner;
    const llm = this.providers.llm === 'endpoint' ? remote : local.llm;
    if (captioner) models.captioner = captioner;
    if (llm) models.llm = llm;
    return estimateRun(this.validation.config, models, this.#counts(), {
      swapGenerators: this.#swapGenerators,
    });
  });
  /** Reasons the run cannot start now, in words (empty = ready). */
  readonly blockers: string[] = $derived.by(() => {
    const out: string[] = [];
    const counts = this.#counts();
    if (counts.A === 0) out.push('Add images to set A.');
    if (counts.B === 0) out.push('Add images to set B.');
    if (!this.validation.ok) out.push('Fix the settings marked below.');
    if (this.endpointInUse && !this.endpointParsed.ok)
      out.push('Complete the server settings (URL and model).');
    if (this.needs.captioner && this.providers.captioner === 'endpoint' && !this.endpoint.vision) {
      out.push(
        'The captioner must see images: tick “vision” for the server model, or caption in this browser.',
      );
    }
    return out;
  });
  /** Non-blocking remarks about the setup. */
  readonly notes: string[] = $derived.by(() => {
    const out: string[] = [];
    if (this.needs.vision && this.providers.llm === 'endpoint' && !this.endpoint.vision) {
      out.push('The server model is set up without vision: grids and crops are left out of its prompts.');
    }
    return out;
  });
  readonly canStart = $derived(!this.running && this.blockers.length === 0);
  /** One line for an aria-live region; changes per round, not per caption, so screen readers are not flooded. */
  readonly statusText = $derived.by(() => {
    switch (this.status) {
      case 'idle':
        return this.blockers[0] ?? 'Ready to start.';
      case 'running': {
        if (this.cancelRequested) return 'Cancelling…';
        const p = this.position;
        return p ? `Running: iteration ${p.iteration}, round ${p.round}.` : 'Running…';
      }
      case 'done': {
        const failed = this.roundFailures.length;
        return `Done: ${this.ranking.length} findings ranked${failed ? `; ${failed} round${failed === 1 ? '' : 's'} failed` : ''}.`;
      }
      case 'cancelled':
        return `Cancelled: ${this.ranking.length} findings ranked so far are kept.`;
      case 'failed':
        return `Failed: ${this.failures[0]?.message ?? 'unknown error'}.`;
    }
  });

  /**
   * @param start builds the ports and starts the pipeline; receives a plain (snapshotted) config, the run's abort
   *   signal and the provider setup.
   * @param options counts and model costs for the estimate, storage, model listing and object URLs.
   */
  constructor(start: StartDiff, options: DiffRunOptions = {}) {
    this.#start = start;
    this.#counts = options.counts ?? NO_COUNTS;
    this.#models = options.models ?? NO_MODELS;
    this.#swapGenerators = options.swapGenerators ?? false;
    this.#storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.#listModels =
      options.listModels ?? ((settings, signal) => listEndpointModels(settings, undefined, signal));
    this.#objectUrls = options.objectUrls ?? DEFAULT_OBJECT_URLS;
    const saved = loadSetup(this.#storage);
    this.providers = saved.providers;
    this.endpoint = saved.endpoint;
    this.rememberKey = saved.rememberKey;
  }

  // --- setup ---------------------------------------------------------------------------------------------------

  /** Switches preset: every field resets to the preset's values (typed findings are kept: they are input). */
  setPreset(preset: PresetName): void {
    const userFindings = $state.snapshot(this.config.userFindings);
    this.preset = preset;
    this.config = { ...presetConfig(preset), userFindings };
  }

  /**
   * Sets one config field. Editing a field of a named preset turns it into `custom` with the current values, so
   * the config always says truthfully what was run.
   */
  setField<K extends keyof DiffConfig>(key: K, value: DiffConfig[K]): void {
    if (key === 'preset') {
      this.setPreset(value as PresetName);
      return;
    }
    if (key !== 'userFindings' && this.preset !== 'custom') {
      this.preset = 'custom';
      this.config.preset = 'custom';
    }
    this.config[key] = value;
  }

  /** Sets the typed findings ranked along with the proposals (keeps the preset). */
  setUserFindings(findings: string[]): void {
    this.config.userFindings = [...findings];
  }

  /** Chooses where a model role runs; persisted. */
  setProvider(role: GeneratorRole, provider: Provider): void {
    this.providers[role] = provider;
    this.#persist();
  }

  /** Edits the endpoint form; persisted (the API key only when `rememberKey`). A stale test result is cleared. */
  setEndpoint(patch: Partial<EndpointDraft>): void {
    Object.assign(this.endpoint, patch);
    if (this.endpointTest.status !== 'testing') this.endpointTest = { status: 'idle' };
    this.#persist();
  }

  /** Persists the API key, or removes it from storage. */
  setRememberKey(remember: boolean): void {
    this.rememberKey = remember;
    this.#persist();
  }

  /** Lists the server's models; says whether the configured model is among them. Latest test wins. */
  async testEndpoint(): Promise<void> {
    this.#testController?.abort();
    const parsed = this.endpointParsed;
    if (!parsed.ok) {
      this.endpointTest = { status: 'failed', message: parsed.problems.join('; ') };
      return;
    }
    const controller = new AbortController();
    this.#testController = controller;
    this.endpointTest = { status: 'testing' };
    try {
      const models = await this.#listModels(parsed.settings, controller.signal);
      if (this.#testController !== controller) return;
      const wanted = parsed.settings.model;
      const message =
        models.length === 0
          ? 'Connected; the server lists no models (it may still accept the model name).'
          : models.includes(wanted)
            ? `Connected; “${wanted}” is one of ${models.length} model${models.length === 1 ? '' : 's'} offered.`
            : `Connected, but “${wanted}” is not among the ${models.length} model${models.length === 1 ? '' : 's'} offered: ${models.slice(0, 5).join(', ')}${models.length > 5 ? ', …' : ''}.`;
      this.endpointTest = { status: 'ok', message, models };
    } catch (error) {
      if (this.#testController !== controller || isAbort(error)) return;
      this.endpointTest = { status: 'failed', message: errorText(error) };
    } finally {
      if (this.#testController === controller) this.#testController = null;
    }
  }

  // --- the run -------------------------------------------------------------------------------------------------

  /** Starts a run of the current config. Resolves when the run has ended (done, cancelled or failed). */
  async run(): Promise<void> {
    if (!this.canStart) return;
    // A plain copy: the config goes into a worker message and the run record, and must not change mid-run.
    const parsed = parseDiffConfig($state.snapshot(this.config));
    if (!parsed.ok) return;
    const config = parsed.config;
    const setup: DiffRunSetup = {
      providers: $state.snapshot(this.providers),
      endpoint: this.endpointInUse && this.endpointParsed.ok ? { ...this.endpointParsed.settings } : null,
    };
    this.#clearRun();
    const controller = new AbortController();
    this.#controller = controller;
    this.status = 'running';
    this.stages = initialTimeline(config);
    let ended = false;
    try {
      for await (const event of this.#start(config, controller.signal, setup)) {
        // reset() during a run supersedes it: its remaining events belong to nobody.
        if (this.#controller !== controller) return;
        this.#apply(event);
        if (event.type === 'done') ended = true;
      }
      if (!ended && this.#controller === controller) {
        this.#end(controller.signal.aborted ? 'cancelled' : 'failed', [
          { stage: 'run', message: 'the run ended without a record' },
        ]);
      }
    } catch (error) {
      if (this.#controller !== controller) return;
      if (isAbort(error) || controller.signal.aborted) this.#end('cancelled', []);
      else this.#end('failed', [{ stage: 'run', message: errorText(error) }]);
    } finally {
      if (this.#controller === controller) this.#controller = null;
    }
  }

  /** Asks the run to stop. Everything computed so far stays: the pipeline ends with a `done` carrying it. */
  cancel(): void {
    if (this.status !== 'running' || !this.#controller) return;
    this.cancelRequested = true;
    this.#controller.abort();
  }

  /** Forgets the run (cancelling it if it is going) and frees its images. The setup is kept. */
  reset(): void {
    const controller = this.#controller;
    this.#controller = null;
    controller?.abort();
    this.#clearRun();
    this.status = 'idle';
  }

  #clearRun(): void {
    for (const url of this.#urls) this.#objectUrls.revoke(url);
    this.#urls = [];
    this.cancelRequested = false;
    this.stages = [];
    this.position = null;
    this.runId = null;
    this.sampled = null;
    this.captions = new Map();
    this.compositions = [];
    this.calls = [];
    this.boxes = [];
    this.proposals = [];
    this.roundFailures = [];
    this.warnings = [];
    this.failures = [];
    this.record = null;
    this.ranking = [];
  }

  /** The one place events change state. */
  #apply(event: DiffEvent): void {
    switch (event.type) {
      case 'run-start':
        this.runId = event.runId;
        this.#row('setup', (row) => ({ ...row, state: 'active' }));
        return;
      case 'stage': {
        const key =
          event.round !== undefined && event.iteration !== undefined
            ? roundKey(event.iteration, event.round)
            : event.iteration !== undefined
              ? iterationKey(event.iteration)
              : 'setup';
        const complete = event.total > 0 && event.done >= event.total;
        this.#row(key, (row) =>
          advance(row, event.stage, {
            done: event.done,
            total: event.total,
            state: complete ? 'done' : 'active',
          }),
        );
        return;
      }
      case 'iteration-start':
        // Embedding is over once an iteration starts (an embedder need not report progress).
        this.#row('setup', (row) =>
          row.state === 'failed' ? row : finishRow(advance(row, 'embed', { state: 'done' }), 'done'),
        );
        return;
      case 'round-start':
        this.position = { iteration: event.iteration, round: event.round };
        this.#row(roundKey(event.iteration, event.round), (row) => ({ ...row, state: 'active' }));
        return;
      case 'sampled':
        this.sampled = { iteration: event.iteration, round: event.round, a: event.a, b: event.b };
        this.#row(roundKey(event.iteration, event.round), (row) =>
          advance(row, 'sample', {
            state: 'done',
            done: event.a.length + event.b.length,
            total: event.a.length + event.b.length,
          }),
        );
        return;
      case 'captioned': {
        const sample = this.sampled;
        const set = sample?.a.includes(event.imageId) ? 'A' : sample?.b.includes(event.imageId) ? 'B' : null;
        const captions = new Map(this.captions);
        captions.set(event.imageId, {
          imageId: event.imageId,
          set,
          text: event.text,
          cached: event.cached,
          ...(event.error !== undefined ? { error: event.error } : {}),
          iteration: event.iteration,
          round: event.round,
        });
        this.captions = captions;
        this.#row(roundKey(event.iteration, event.round), (row) =>
          advance(row, 'caption', {
            done: event.done,
            total: event.total,
            state: event.done >= event.total ? 'done' : 'active',
          }),
        );
        return;
      }
      case 'composed': {
        const url = this.#objectUrls.create(event.image);
        this.#urls.push(url);
        const composition: LiveComposition = {
          id: this.#nextId++,
          iteration: event.iteration,
          round: event.round,
          purpose: event.purpose,
          url,
          width: event.image.width,
          height: event.image.height,
          ...(event.finding !== undefined ? { finding: event.finding } : {}),
          ...(event.box !== undefined ? { box: event.box } : {}),
        };
        this.compositions = [...this.compositions, composition];
        const stage: DiffStage = event.purpose === 'crops' ? 'crop' : 'compose';
        this.#row(roundKey(event.iteration, event.round), (row) => {
          const current = row.stages.find((s) => s.stage === stage);
          const done = (current?.done ?? 0) + 1;
          const total = current?.total ?? 0;
          return advance(row, stage, { done, total, state: total > 0 && done >= total ? 'done' : 'active' });
        });
        return;
      }
      case 'prompt': {
        const call: LiveCall = {
          id: this.#nextId++,
          iteration: event.iteration,
          round: event.round,
          purpose: event.purpose,
          messages: event.messages,
          attempts: [],
          outcome: 'pending',
        };
        this.calls = [...this.calls, call];
        // Summaries happen before the grids: they are part of gathering context, not a stage of their own.
        if (event.purpose !== 'summarize') {
          const stage: DiffStage = event.purpose === 'boxes' ? 'boxes' : 'propose';
          const label =
            event.purpose === 'refine' ? 'Refine' : event.purpose === 'propose' ? 'Propose' : undefined;
          this.#row(roundKey(event.iteration, event.round), (row) =>
            advance(row, stage, label ? { label } : {}),
          );
        }
        return;
      }
      case 'reply': {
        const attempt: LiveAttempt = {
          attempt: event.attempt,
          outcome: event.outcome,
          cached: event.cached,
          ...(event.text !== undefined ? { text: event.text } : {}),
          ...(event.problem !== undefined ? { problem: event.problem } : {}),
        };
        const calls = this.calls.slice();
        // Calls are sequential: the reply belongs to the latest prompt of its place and purpose.
        for (let i = calls.length - 1; i >= 0; i--) {
          const c = calls[i] as LiveCall;
          if (c.iteration === event.iteration && c.round === event.round && c.purpose === event.purpose) {
            calls[i] = { ...c, attempts: [...c.attempts, attempt], outcome: event.outcome };
            this.calls = calls;
            break;
          }
        }
        return;
      }
      case 'proposed':
        this.proposals = [
          ...this.proposals,
          {
            iteration: event.iteration,
            round: event.round,
            findings: event.findings,
            dropped: event.dropped,
          },
        ];
        if (event.round === 0) {
          // LLM-free proposers contribute before the first iteration.
          this.#row('setup', (row) => advance(row, 'propose', { state: 'done' }));
        } else {
          this.#row(roundKey(event.iteration, event.round), (row) =>
            finishRow(advance(row, 'propose', { state: 'done' }), 'done'),
          );
        }
        return;
      case 'boxes':
        this.boxes = [...this.boxes, { iteration: event.iteration, round: event.round, boxes: event.boxes }];
        this.#row(roundKey(event.iteration, event.round), (row) => {
          const withBoxes = advance(row, 'boxes', {
            state: 'done',
            done: event.boxes.length,
            total: event.boxes.length,
          });
          return {
            ...withBoxes,
            stages: withBoxes.stages.map((s) =>
              s.stage === 'crop' ? { ...s, total: event.boxes.length } : s,
            ),
          };
        });
        return;
      case 'round-failed':
        this.roundFailures = [
          ...this.roundFailures,
          { iteration: event.iteration, round: event.round, reason: event.reason },
        ];
        this.#row(roundKey(event.iteration, event.round), (row) => finishRow(row, 'failed', event.reason));
        return;
      case 'deduplicated':
        this.#row(iterationKey(event.iteration), (row) =>
          advance(advance(row, 'dedup', { state: 'done', done: event.kept, total: event.kept }), 'rank', {}),
        );
        return;
      case 'ranked':
        this.ranking = event.pool;
        this.#row(iterationKey(event.iteration), (row) =>
          finishRow(advance(row, 'rank', { state: 'done' }), 'done'),
        );
        return;
      case 'warning':
        if (!this.warnings.includes(event.message)) this.warnings = [...this.warnings, event.message];
        return;
      case 'done': {
        const record = event.record;
        this.record = record;
        this.ranking = record.ranking;
        const fresh = record.warnings.filter((w) => !this.warnings.includes(w));
        if (fresh.length) this.warnings = [...this.warnings, ...fresh];
        const status = record.status === 'running' ? 'done' : record.status;
        // Round failures are shown per round already; the rest say why the run stopped.
        const failures = record.failures
          .filter((f) => f.stage !== 'round')
          .map((f) => ({ stage: f.stage, message: f.message }));
        this.#end(status, failures);
        return;
      }
    }
  }

  /** Ends the run with `status`, settling the timeline's unfinished rows accordingly. */
  #end(status: 'done' | 'cancelled' | 'failed', failures: RunFailure[]): void {
    this.failures = failures;
    let rows = this.stages;
    if (status === 'failed') {
      const message = failures[0]?.message;
      const setupFailed = failures.some((f) => f.stage === 'setup' || f.stage === 'embed');
      rows = rows.map((row) =>
        row.state === 'active' || (setupFailed && row.key === 'setup')
          ? finishRow(row, 'failed', message)
          : row,
      );
    } else {
      // Cancelling is not a failure: interrupted stages go back to pending, finished ones stay. (A finished run has
      // no active stage left; if a stream ends early anyway, nothing should look as if it were still running.)
      const unwind = (s: TimelineStage): TimelineStage =>
        s.state === 'active' ? { ...s, state: 'pending' } : s;
      rows = rows.map((row) =>
        row.state === 'active' ? { ...row, state: 'pending', stages: row.stages.map(unwind) } : row,
      );
    }
    this.stages = rows;
    this.cancelRequested = false;
    this.status = status;
  }

  #row(key: string, update: (row: TimelineRow) => TimelineRow): void {
    this.stages = updateRow(this.stages, key, update);
  }

  #persist(): void {
    if (!this.#storage) return;
    const endpoint: Partial<EndpointDraft> = { ...$state.snapshot(this.endpoint) };
    // The key stays in memory only unless the user asked to remember it.
    if (!this.rememberKey) delete endpoint.apiKey;
    const value = {
      version: 1,
      providers: $state.snapshot(this.providers),
      endpoint,
      rememberKey: this.rememberKey,
    };
    try {
      this.#storage.setItem(SETUP_STORAGE_KEY, JSON.stringify(value));
    } catch {
      // Quota or privacy mode: the settings still work for this session.
    }
  }
}
