// What a RadDiff run will cost before it starts: downloads, GPU memory held at once, model calls and a time range,
// from the config (METHOD.md §2), per-model cost figures and the set sizes. The counts mirror what pipeline.ts
// does; the time range is a rough guide, not a promise. Pure: imports only core.

import { requiredPorts, type DiffConfig } from './diff-config.ts';

/** What one model costs. Endpoint models (a server elsewhere) download nothing and hold no GPU memory here. */
export interface ModelCost {
  id: string;
  /** Weights to download, MB (0 when cached already or served by an endpoint). */
  downloadMB: number;
  /** GPU (or wasm heap) memory while loaded, MB. */
  gpuMB: number;
  /** Seconds per generation call (captioner: per caption; LLM: per proposal, refinement or box call). */
  secondsPerCall?: number;
  /** Seconds per image (ranker: per embedding; captioner: per caption, preferred over `secondsPerCall`). */
  secondsPerImage?: number;
}

/** The models a run may use; absent roles are models not chosen yet. */
export interface RunModels {
  ranker: ModelCost;
  captioner?: ModelCost;
  llm?: ModelCost;
}

/** How a run is expected to go. */
export interface RunEstimate {
  /** Sum of the downloads of the models the config needs (a model serving two roles counts once). */
  downloadMB: number;
  /** Memory of the models loaded at the same time (see {@link EstimateOptions.swapGenerators}). */
  peakGpuMB: number;
  calls: {
    /** Upper bound: every draw of every round; captions of images drawn again come from the cache. */
    captions: number;
    /** Proposal/refinement calls plus box-selection calls; retries and report summaries not counted. */
    llm: number;
    /** Image embeddings: every image once, plus every image per zoom box for localized ranking. */
    embeddings: number;
  };
  /** Wall-clock range in seconds, excluding downloads, compilation and warm caches from earlier runs. */
  seconds: { low: number; high: number };
  /** Roles the config needs but no model was given for (their cost is missing from the totals). */
  missing: ('captioner' | 'llm')[];
  /** Timings that were not given and fell back to {@link DEFAULT_TIMINGS}; the UI says the range is a guess. */
  assumed: string[];
}

/** Options of {@link estimateRun}. */
export interface EstimateOptions {
  /**
   * True when the engines unload the captioner before loading the LLM and vice versa. Default false: both stay
   * resident (reloading a VLM every round would cost far more than it saves), so peak = ranker + captioner + LLM.
   * With swapping, peak = ranker + the larger of the two.
   */
  swapGenerators?: boolean;
}

/**
 * Nominal timings used when a model does not state its own: a CLIP ViT-B/32 image embedding on WebGPU, a
 * ~160-token caption from a small VLM, and a ~1000-token proposal from a small LLM reading 40 captions and two
 * grids, all in a browser. Order-of-magnitude figures; the range below widens them both ways.
 */
export const DEFAULT_TIMINGS = {
  rankerSecondsPerImage: 0.05,
  captionerSecondsPerImage: 4,
  llmSecondsPerCall: 30,
} as const;

/** The time range spans this factor below and above the nominal figures (hardware varies that much). */
const LOW_FACTOR = 0.5;
const HIGH_FACTOR = 2;

/** True for the proposers that run LLM rounds (the others rank once, with no captions and no LLM). */
function usesRounds(config: DiffConfig): boolean {
  return (
    config.proposer === 'raddiff' || config.proposer === 'caption-only' || config.proposer === 'report-guided'
  );
}

/**
 * Estimates one run of `config` on sets of `counts.A` and `counts.B` images. Counts follow pipeline.ts:
 * - captions = iterations × rounds × (min(samplesPerSet, nA) + min(samplesPerSet, nB)), captioning proposers only;
 * - LLM calls = iterations × rounds, plus one box call per round of iterations ≥ 2 when visual search is on;
 * - embeddings = nA + nB, plus (nA + nB) × topK × (iterations − 1) for localized ranking (each iteration ≥ 2 can
 *   box at most topK new findings; with the default 2 iterations this is (nA + nB) × topK).
 * Concept-bank, report-mining and user proposers rank once: embeddings only.
 */
export function estimateRun(
  config: DiffConfig,
  models: RunModels,
  counts: { A: number; B: number },
  options: EstimateOptions = {},
): RunEstimate {
  const nA = Math.max(0, Math.floor(counts.A));
  const nB = Math.max(0, Math.floor(counts.B));
  const needs = requiredPorts(config);
  const rounds = usesRounds(config) ? config.iterations * config.rounds : 0;
  const drawA = Math.min(config.samplesPerSet, nA);
  const drawB = Math.min(config.samplesPerSet, nB);

  const captions = needs.captioner ? rounds * (drawA + drawB) : 0;
  // The caption cache key has no round: an image drawn twice in a run is captioned once. At most every image.
  const distinctCaptions = needs.captioner ? Math.min(nA, rounds * drawA) + Math.min(nB, rounds * drawB) : 0;
  const refinementRounds = usesRounds(config) ? (config.iterations - 1) * config.rounds : 0;
  const llm = needs.llm ? rounds + (config.visualSearch ? refinementRounds : 0) : 0;
  const localized =
    usesRounds(config) && config.visualSearch && config.localizedRanking && config.iterations >= 2
      ? (nA + nB) * config.topK * (config.iterations - 1)
      : 0;
  const embeddings = nA + nB + localized;

  const missing: RunEstimate['missing'] = [];
  const captioner = needs.captioner ? models.captioner : undefined;
  const llmModel = needs.llm ? models.llm : undefined;
  if (needs.captioner && !captioner) missing.push('captioner');
  if (needs.llm && !llmModel) missing.push('llm');

  // One VLM may serve both roles (same id): it downloads and occupies memory once.
  const generators = [captioner, llmModel].filter((m): m is ModelCost => m !== undefined);
  const distinct = generators.filter((m, i) => generators.findIndex((n) => n.id === m.id) === i);
  const downloadMB = models.ranker.downloadMB + distinct.reduce((s, m) => s + m.downloadMB, 0);
  const generatorGpu = options.swapGenerators
    ? Math.max(0, ...distinct.map((m) => m.gpuMB))
    : distinct.reduce((s, m) => s + m.gpuMB, 0);
  const peakGpuMB = models.ranker.gpuMB + generatorGpu;

  const assumed: string[] = [];
  const timing = (given: number | undefined, fallback: number, label: string): number => {
    if (given !== undefined && Number.isFinite(given) && given >= 0) return given;
    assumed.push(label);
    return fallback;
  };
  const perEmbedding = timing(
    models.ranker.secondsPerImage,
    DEFAULT_TIMINGS.rankerSecondsPerImage,
    'ranker seconds per image',
  );
  const perCaption =
    captions > 0
      ? timing(
          captioner?.secondsPerImage ?? captioner?.secondsPerCall,
          DEFAULT_TIMINGS.captionerSecondsPerImage,
          'captioner seconds per image',
        )
      : 0;
  const perLlmCall =
    llm > 0 ? timing(llmModel?.secondsPerCall, DEFAULT_TIMINGS.llmSecondsPerCall, 'LLM seconds per call') : 0;

  const fixed = embeddings * perEmbedding + llm * perLlmCall;
  const low = LOW_FACTOR * (fixed + distinctCaptions * perCaption);
  const high = HIGH_FACTOR * (fixed + captions * perCaption);
  return {
    downloadMB,
    peakGpuMB,
    calls: { captions, llm, embeddings },
    seconds: { low, high },
    missing,
    assumed,
  };
}
