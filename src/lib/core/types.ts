// Shared vocabulary of the product: model manifest entries, preprocessing specs, ranked findings, engine progress
// and the named errors that cross worker boundaries. Pure types and tiny helpers; imports nothing.

/** How an image becomes the model's `pixel_values`. Part of every embedding cache key through `version`. */
export interface Preprocessing {
  /** Changes whenever any field below changes meaning; cached embeddings are keyed by it. */
  version: string;
  /** Square side of the model input, e.g. 224. */
  size: number;
  /**
   * `shortest-edge-center-crop`: stock CLIP (resize shortest edge to `size`, center crop).
   * `pad-to-square`: aspect kept, letterboxed with black to a square, then resized (CheXzero's training recipe).
   * `squash`: resize both axes to `size` (SigLIP's processor).
   */
  resize: 'shortest-edge-center-crop' | 'pad-to-square' | 'squash';
  /** Multiplier applied to 0–255 values before mean/std, e.g. 1/255 (CLIP) or 1 (CheXzero). */
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export type ModelFamily = 'clip' | 'siglip';
export type Device = 'webgpu' | 'wasm';
export type DType = 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16';

/** One ranker model as the manifest (public/models/manifest.json) describes it. */
export interface RankerModelSpec {
  id: string;
  label: string;
  family: ModelFamily;
  /** dtype per device; `webgpu` applies when the adapter has shader-f16, `webgpuNoF16` otherwise. */
  dtype: { webgpu: DType; webgpuNoF16: DType; wasm: DType };
  preprocessing: Preprocessing;
  /** Text template applied to every finding before embedding; `{}` is the finding. `{}` alone = reference parity. */
  textTemplate: string;
  /** Longest token sequence the text tower accepts (CLIP 77, SigLIP 64). */
  maxTextTokens: number;
  /** Approximate download per dtype, megabytes (both towers). */
  approxDownloadMB: Partial<Record<DType, number>>;
  licence: string;
  /** `hub`: fetched by the browser from the Hugging Face Hub; `local`: served from public/models/<id>/. */
  source: 'hub' | 'local';
  notes?: string;
}

/** Confidence interval. */
export interface Interval {
  lo: number;
  hi: number;
}

/** Every statistic the ranker reports for one finding. Scores are cosine similarities. */
export interface RankedFinding {
  /** Position of the finding in the input list (stable identity across re-rankings). */
  index: number;
  finding: string;
  auroc: number;
  aurocCI: Interval;
  meanA: number;
  meanB: number;
  pWelch: number;
  pMannWhitney: number;
  /** Benjamini–Hochberg q-value of pMannWhitney across the findings of one ranking call. */
  q: number;
  cliffsDelta: number;
  /** Fraction of A scoring above `threshold` minus fraction of B above it. */
  classificationDelta: number;
  threshold: number;
  nA: number;
  nB: number;
  /** True when the CI contains 0.5: the finding does not separate the sets at this confidence. */
  ciContainsHalf: boolean;
}

/** Typed progress from a model engine; one union for every model family. */
export type EngineProgress =
  | { phase: 'download'; file: string; loaded: number; total: number }
  | { phase: 'compile'; file?: string }
  | { phase: 'warmup' }
  | { phase: 'ready'; device: Device; dtype: DType }
  | { phase: 'embed'; done: number; total: number };

/** Errors that cross worker boundaries are recognised by `name` (only name/message/stack survive cloning). */
export const ERROR_NAMES = [
  'WebGpuUnavailable',
  'ModelLoadFailed',
  'DeviceLost',
  'OutOfMemory',
  'QuotaExceeded',
  'AbortError',
] as const;
export type EngineErrorName = (typeof ERROR_NAMES)[number];

/** Creates an Error whose `name` is one of ERROR_NAMES. */
export function namedError(name: EngineErrorName, message: string, cause?: unknown): Error {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = name;
  return error;
}

/** True for a cancellation, which is never shown to the user as an error. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
