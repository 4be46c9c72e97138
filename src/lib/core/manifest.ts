// The model manifest (public/models/manifest.json) and the local-models index: schema, validation and the merge
// that decides, per model id, whether it is fetched from the Hub or served from public/models/; the captioner (VLM)
// and proposer-LLM line-ups and the choice of an LLM's f16/f32 build. Pure: no fetch, no model library here.
import { z } from 'zod';
import type { DType, Device, RankerModelSpec } from './types.ts';

const dtype = z.enum(['fp32', 'fp16', 'q8', 'q4', 'q4f16']);

const preprocessingSchema = z.object({
  version: z.string().min(1),
  size: z.number().int().positive(),
  resize: z.enum(['shortest-edge-center-crop', 'pad-to-square', 'squash']),
  rescale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

const rankerSchema = z.object({
  id: z.string().min(1),
  label: z.string().min(1),
  family: z.enum(['clip', 'siglip']),
  source: z.enum(['hub', 'local']),
  dtype: z.object({ webgpu: dtype, webgpuNoF16: dtype, wasm: dtype }),
  preprocessing: preprocessingSchema,
  textTemplate: z.string().includes('{}'),
  maxTextTokens: z.number().int().positive(),
  approxDownloadMB: z.partialRecord(dtype, z.number().nonnegative()),
  licence: z.string().min(1),
  notes: z.string().optional(),
});

/** dtype per ONNX sub-model of a multi-file model, e.g. `{ vision_encoder: 'fp16', decoder_model_merged: 'q4f16' }`. */
const subModelDtypes = z
  .record(z.string().regex(/^[a-z0-9_]+$/, 'a sub-model name is an onnx/ file stem'), dtype)
  .refine((map) => Object.keys(map).length > 0, 'name at least one sub-model');

const captionerSchema = z.object({
  id: z.string().min(1),
  label: z.string().min(1),
  /** Only transformers.js runs captioners (web-llm's one VLM is offered as an LLM with `vision: true`). */
  runtime: z.literal('transformers'),
  source: z.enum(['hub', 'local']),
  /**
   * dtype per sub-model and device: `webgpu` when the adapter has shader-f16, `webgpuNoF16` otherwise, `wasm`
   * without WebGPU. No `wasm` entry: the model is WebGPU-only (too large for 32-bit wasm memory).
   */
  dtype: z.object({ webgpu: subModelDtypes, webgpuNoF16: subModelDtypes, wasm: subModelDtypes.optional() }),
  /**
   * Changes whenever anything that changes captions (dtype choices, systemPrompt, imageSplitting,
   * repetitionPenalty) changes;
   * it is part of the captioner's id and so of every caption cache key.
   */
  captionVersion: z.string().min(1),
  /** System message put before the pipeline's prompt (e.g. MedGemma's "You are an expert radiologist."). */
  systemPrompt: z.string().min(1).optional(),
  /**
   * Idefics3/SmolVLM processors cut large images into 512-px tiles plus a global view (up to 17 × 64 image tokens);
   * false sends the global view only. Absent: the processor's own default.
   */
  imageSplitting: z.boolean().optional(),
  /** > 1 discourages repeated tokens; small VLMs decoding greedily loop without it. Absent: 1 (off). */
  repetitionPenalty: z.number().min(1).max(2).optional(),
  /** Approximate download per device variant, megabytes. */
  approxDownloadMB: z.object({
    webgpu: z.number().nonnegative(),
    webgpuNoF16: z.number().nonnegative().optional(),
    wasm: z.number().nonnegative().optional(),
  }),
  /** Approximate GPU memory while captioning (weights, activations, KV cache) with the `webgpu` variant, megabytes. */
  approxGpuMB: z.number().nonnegative(),
  licence: z.string().min(1),
  notes: z.string().optional(),
});

const llmSchema = z
  .object({
    /** web-llm: a prebuilt model id (`prebuiltAppConfig`); transformers: a Hub repo id. */
    id: z.string().min(1),
    label: z.string().min(1),
    runtime: z.enum(['web-llm', 'transformers']),
    /** The model understands image parts (image grids); otherwise the engine replaces them with a note. */
    vision: z.boolean(),
    /**
     * `schema`: constrained decoding to the request's JSON schema (web-llm). `lenient`: free text, the pipeline
     * parses leniently and retries (transformers.js has no JSON mode).
     */
    jsonMode: z.enum(['schema', 'lenient']),
    /** The chat template has a thinking mode (Qwen3): the engines switch it off (`enable_thinking: false`). */
    thinking: z.boolean().optional(),
    /** web-llm build without shader-f16 (q4f32_1), used on adapters that lack it. */
    noF16Variant: z.string().min(1).optional(),
    /** transformers runtime: the dtype of `onnx/model_<dtype>.onnx` on WASM. */
    dtype: z.object({ wasm: dtype }).optional(),
    /** Context window in tokens (prompt + reply), as the runtime configures it. */
    contextTokens: z.number().int().positive().optional(),
    approxDownloadMB: z.number().nonnegative(),
    /** GPU memory of the default build, megabytes (web-llm's vram_required_MB); 0 for models that run on the CPU. */
    approxGpuMB: z.number().nonnegative(),
    /** GPU memory of `noF16Variant`, megabytes. */
    noF16ApproxGpuMB: z.number().nonnegative().optional(),
    licence: z.string().min(1),
    notes: z.string().optional(),
  })
  .refine((m) => m.runtime !== 'transformers' || m.dtype !== undefined, {
    message: 'a transformers.js LLM needs dtype.wasm',
    path: ['dtype'],
  })
  .refine((m) => m.runtime !== 'transformers' || m.jsonMode === 'lenient', {
    message: 'transformers.js has no JSON mode: jsonMode must be lenient',
    path: ['jsonMode'],
  });

const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  defaultRanker: z.string().min(1),
  rankers: z.array(rankerSchema).min(1),
  /** Absent in manifests written before captioners existed: no captioner on offer. */
  defaultCaptioner: z.string().min(1).optional(),
  captioners: z.array(captionerSchema).default([]),
  /** The default LLM where WebGPU works; without WebGPU the first `transformers` LLM is used. */
  defaultLlm: z.string().min(1).optional(),
  llms: z.array(llmSchema).default([]),
});

export type ModelManifest = z.infer<typeof manifestSchema>;

/** One captioner (vision-language model) as the manifest describes it. */
export type CaptionerModelSpec = z.infer<typeof captionerSchema>;

/** dtype per ONNX sub-model (`vision_encoder`, `embed_tokens`, `decoder_model_merged`, …). */
export type SubModelDtypes = Record<string, DType>;

/** One proposer LLM as the manifest describes it. */
export type LlmModelSpec = z.infer<typeof llmSchema>;

/** A model folder found under public/models/ by the build (scripts/vite-local-models.ts). */
export interface LocalModelFolder {
  id: string;
  files: string[];
}

/** Parses and validates the manifest; throws an Error naming the first invalid field. */
export function parseManifest(json: unknown): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`models manifest is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const manifest = result.data;
  if (!manifest.rankers.some((r) => r.id === manifest.defaultRanker)) {
    throw new Error(`models manifest: defaultRanker "${manifest.defaultRanker}" is not among its rankers`);
  }
  const { defaultCaptioner, defaultLlm } = manifest;
  if (defaultCaptioner !== undefined && !manifest.captioners.some((c) => c.id === defaultCaptioner)) {
    throw new Error(`models manifest: defaultCaptioner "${defaultCaptioner}" is not among its captioners`);
  }
  if (defaultLlm !== undefined && !manifest.llms.some((m) => m.id === defaultLlm)) {
    throw new Error(`models manifest: defaultLlm "${defaultLlm}" is not among its llms`);
  }
  return manifest;
}

/** Parses /models/local-index.json; anything malformed counts as "no local models" rather than an error. */
export function parseLocalIndex(json: unknown): LocalModelFolder[] {
  const schema = z.object({ models: z.array(z.object({ id: z.string(), files: z.array(z.string()) })) });
  const result = schema.safeParse(json);
  return result.success ? result.data.models : [];
}

/** Stock CLIP preprocessing; used for local folders that the manifest does not describe. */
const CLIP_PREPROCESSING = preprocessingSchema.parse({
  version: 'clip-224-center-v1',
  size: 224,
  resize: 'shortest-edge-center-crop',
  rescale: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
});

/**
 * The ranker models the app offers: every manifest entry (marked `local` when its folder is self-hosted under
 * public/models/), then every local folder the manifest does not know, described with stock CLIP defaults so that
 * "drop a model folder into public/models/" works without editing the manifest.
 */
export function availableRankers(manifest: ModelManifest, local: LocalModelFolder[]): RankerModelSpec[] {
  const localIds = new Set(local.map((m) => m.id));
  const known: RankerModelSpec[] = manifest.rankers.map((spec) => ({
    ...spec,
    source: localIds.has(spec.id) ? 'local' : spec.source,
  }));
  const knownIds = new Set(known.map((m) => m.id));
  const extra: RankerModelSpec[] = local
    .filter((m) => !knownIds.has(m.id))
    .map((m) => ({
      id: m.id,
      label: `${m.id} (local folder)`,
      family: /siglip/i.test(m.id) ? 'siglip' : 'clip',
      source: 'local',
      dtype: { webgpu: 'fp32', webgpuNoF16: 'fp32', wasm: 'fp32' },
      preprocessing: CLIP_PREPROCESSING,
      textTemplate: '{}',
      maxTextTokens: /siglip/i.test(m.id) ? 64 : 77,
      approxDownloadMB: {},
      licence: 'see the model folder',
      notes: 'Self-hosted folder not described in manifest.json: stock CLIP preprocessing and fp32 assumed.',
    }));
  return [...known, ...extra];
}

/**
 * The captioners the app offers: every manifest entry, marked `local` when its folder is self-hosted under
 * public/models/. Unlike rankers, unknown local folders are not guessed at: a VLM's sub-models, dtypes and chat
 * template cannot be defaulted safely.
 */
export function availableCaptioners(
  manifest: ModelManifest,
  local: readonly LocalModelFolder[] = [],
): CaptionerModelSpec[] {
  const localIds = new Set(local.map((m) => m.id));
  return manifest.captioners.map((spec) => ({
    ...spec,
    source: localIds.has(spec.id) ? 'local' : spec.source,
  }));
}

/** What the browser can run, for filtering LLMs. */
export interface LlmEnvironment {
  /** A WebGPU adapter exists. Without it only `transformers` (WASM) LLMs are offered. */
  webgpu: boolean;
}

/**
 * The proposer LLMs the app offers, in manifest order. With `environment.webgpu === false`, only the ones that
 * run without WebGPU; with no environment given, all of them.
 */
export function availableLlms(manifest: ModelManifest, environment?: LlmEnvironment): LlmModelSpec[] {
  if (!environment || environment.webgpu) return [...manifest.llms];
  return manifest.llms.filter((m) => m.runtime === 'transformers');
}

/**
 * The LLM to preselect: `defaultLlm` where WebGPU works, else the first LLM that runs on WASM. Undefined when the
 * manifest offers none that fits.
 */
export function defaultLlmFor(
  manifest: ModelManifest,
  environment: LlmEnvironment,
): LlmModelSpec | undefined {
  const offered = availableLlms(manifest, environment);
  return offered.find((m) => m.id === manifest.defaultLlm) ?? offered[0];
}

/** The build of an LLM that will actually be loaded. */
export interface LlmVariant {
  /** The id to load (web-llm model id or Hub repo id). */
  modelId: string;
  /** True when the build computes in fp16 and so needs shader-f16. */
  f16: boolean;
  device: Device;
  approxGpuMB: number;
  /** Set when this browser cannot run the model at all (an f16-only web-llm build without shader-f16). */
  unsupported?: string;
}

/** web-llm's builds encode their float type in the id: `…-q4f16_1-MLC`, `…-q0f16-MLC`. */
function isF16Build(modelId: string): boolean {
  return /-q\d+f16(?:_\d+)?-MLC$/i.test(modelId);
}

/**
 * Picks the build to load. web-llm's q4f16 builds need the adapter's shader-f16 feature, which many integrated and
 * all software adapters lack; those get `noF16Variant` (q4f32, ~30 % more GPU memory). transformers.js LLMs run on
 * WASM and never need it.
 */
export function pickLlmVariant(spec: LlmModelSpec, gpu: { shaderF16: boolean }): LlmVariant {
  if (spec.runtime === 'transformers') {
    return { modelId: spec.id, f16: false, device: 'wasm', approxGpuMB: spec.approxGpuMB };
  }
  const f16 = isF16Build(spec.id);
  if (!f16 || gpu.shaderF16)
    return { modelId: spec.id, f16, device: 'webgpu', approxGpuMB: spec.approxGpuMB };
  if (spec.noF16Variant) {
    return {
      modelId: spec.noF16Variant,
      f16: false,
      device: 'webgpu',
      approxGpuMB: spec.noF16ApproxGpuMB ?? spec.approxGpuMB,
    };
  }
  return {
    modelId: spec.id,
    f16: true,
    device: 'webgpu',
    approxGpuMB: spec.approxGpuMB,
    unsupported: `${spec.id} needs the WebGPU feature shader-f16, which this GPU lacks, and has no f32 build`,
  };
}
