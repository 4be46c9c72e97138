// The captioner worker: loads a vision-language model (SmolVLM, MedGemma) with transformers.js — WebGPU with a dtype
// per sub-model chosen by shader-f16, WASM fallback — and describes one image or a crop of it, token by token,
// cancellable, with typed progress. `VlmApi` (its type) is what src/ imports, type-only. Imports core types and
// workers/shared only; no worker-global-only types (it is also checked under lib DOM).
import {
  AutoModelForImageTextToText,
  AutoProcessor,
  RawImage,
  env,
  type PreTrainedModel,
  type Processor,
  type ProgressInfo,
  type Tensor,
} from '@huggingface/transformers';
import type { Crop } from '../../src/lib/core/cache-keys.ts';
import { cropSourceRect, fitWithin } from '../../src/lib/core/crop-rect.ts';
import type { CaptionerModelSpec, SubModelDtypes } from '../../src/lib/core/manifest.ts';
import { isAbort, namedError, type Device } from '../../src/lib/core/types.ts';
import { CancellationRegistry, type Job } from '../shared/cancellation.ts';
import { hasEngineName, toLoadError, toRunError } from '../shared/errors.ts';
import { externalDataFiles, localModelBase, onnxFile, verifyLocalModel } from '../shared/model-files.ts';
import { ModelSlot } from '../shared/model-slot.ts';
import {
  LibraryProgressMapper,
  throttleProgress,
  type ProgressSink,
  type ProgressThrottle,
} from '../shared/progress.ts';
import {
  DEFAULT_LOCAL_MODEL_PATH,
  DEFAULT_REMOTE_HOST,
  configureRuntime,
  useModelSource,
  withFetchSignal,
} from '../shared/runtime.ts';
import { generateNewText, releaseSink, SerialQueue, yieldBetweenTokens } from '../shared/text-generation.ts';
import { DeviceLossWatch, probeWebGpu, type GpuAdapterSummary } from '../shared/webgpu.ts';

/** How and from where to load a captioner. */
export interface VlmLoadOptions {
  /** `auto`: WebGPU when an adapter exists, falling back to WASM (when the spec has a wasm variant) on failure. */
  device: 'auto' | Device;
  /** True when the model is self-hosted under `localModelPath` (spec.source === 'local'). */
  local: boolean;
  /** URL path of the self-hosted model folders. Default `/models/`. */
  localModelPath?: string;
  /** Model host for non-local models. Default `https://huggingface.co/`. */
  remoteHost?: string;
}

/** What `load` reports: where the captioner ended up running and why. */
export interface VlmLoadResult {
  modelId: string;
  device: Device;
  /** dtype per sub-model actually loaded. */
  dtype: SubModelDtypes;
  /** The WebGPU adapter, when one exists (also when the model fell back to WASM). */
  adapter?: GpuAdapterSummary;
  /** Set when `auto` wanted WebGPU but ended on WASM. */
  fellBackFrom?: { device: 'webgpu'; reason: string };
  /** Wall time of download + session creation + warm-up, ms. */
  loadMs: number;
}

/** One caption request. */
export interface CaptionRequest {
  /** Cancel with `cancel(jobId)`. */
  jobId: string;
  /** The image file (PNG, JPEG or WebP). A Blob crosses the boundary as a handle, not a copy. */
  image: Blob;
  /** Normalized box to describe, or the whole image. */
  crop: Crop;
  /** The instruction, e.g. "Describe this chest radiograph." */
  prompt: string;
  /** Upper bound of generated tokens. */
  maxTokens: number;
}

interface LoadedVlm {
  spec: CaptionerModelSpec;
  result: VlmLoadResult;
  processor: Processor;
  model: PreTrainedModel;
}

/** Longest side handed to the processor: SmolVLM never looks at more (2048 px before tiling), Gemma 3 at 896 px. */
const MAX_IMAGE_SIDE = 2048;
/** Warm-up: a small gray image and one token compile the WebGPU kernels and prove the outputs decode. */
const WARMUP_SIDE = 64;

const jobs = new CancellationRegistry();
const deviceLoss = new DeviceLossWatch();
const generation = new SerialQueue();
const slot = new ModelSlot<LoadedVlm>(jobs, async (loaded) => {
  await loaded.model.dispose();
});

// ---------------------------------------------------------------------------------------------------------------
// Loading

function loadKey(spec: CaptionerModelSpec, options: VlmLoadOptions): string {
  return JSON.stringify([
    spec,
    options.device,
    options.local,
    options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    options.remoteHost ?? DEFAULT_REMOTE_HOST,
  ]);
}

/** Files a self-hosted captioner folder must hold for `dtypes` (processor, tokenizer, every sub-model). */
function requiredFiles(config: unknown, dtypes: SubModelDtypes): string[] {
  return [
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    ...Object.entries(dtypes).flatMap(([name, dtype]) => [
      onnxFile(name, dtype),
      ...externalDataFiles(config, name, dtype),
    ]),
  ];
}

/** One attempt to load processor + model on one device, then warm up. */
async function loadOn(
  spec: CaptionerModelSpec,
  options: VlmLoadOptions,
  device: Device,
  dtypes: SubModelDtypes,
  job: Job,
  progress: ProgressThrottle,
): Promise<Omit<LoadedVlm, 'result'>> {
  job.throwIfCancelled();
  if (options.local) {
    const base = localModelBase(options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH, spec.id);
    await verifyLocalModel(base, spec.id, (config) => requiredFiles(config, dtypes), job.signal);
  }
  const mapper = new LibraryProgressMapper();
  const progress_callback = (info: ProgressInfo) => {
    for (const event of mapper.map(info)) progress.push(event);
  };
  // Parallel downloads; the library serializes session creation itself.
  const [processor, model] = await Promise.allSettled([
    AutoProcessor.from_pretrained(spec.id, { progress_callback }),
    AutoModelForImageTextToText.from_pretrained(spec.id, { device, dtype: dtypes, progress_callback }),
  ]);
  if (processor.status === 'rejected' || model.status === 'rejected') {
    if (model.status === 'fulfilled') await model.value.dispose().catch(() => {});
    throw (processor.status === 'rejected' ? processor : (model as PromiseRejectedResult)).reason;
  }
  const parts = { spec, processor: processor.value, model: model.value };
  try {
    if (device === 'webgpu') {
      // ORT creates its GPUDevice with the first WebGPU session; from here on it can be lost.
      const gpuDevice = await env.backends.onnx.webgpu?.device;
      if (gpuDevice) deviceLoss.watch(gpuDevice);
    }
    yieldBetweenTokens(parts.model);
    job.throwIfCancelled();
    progress.push({ phase: 'warmup' });
    const gray = new RawImage(
      new Uint8ClampedArray(WARMUP_SIDE * WARMUP_SIDE * 3).fill(128),
      WARMUP_SIDE,
      WARMUP_SIDE,
      3,
    );
    await describe(parts, gray, 'Describe the image.', 1, job);
    return parts;
  } catch (error) {
    await parts.model.dispose().catch(() => {});
    throw error;
  }
}

async function loadVlm(
  spec: CaptionerModelSpec,
  options: VlmLoadOptions,
  job: Job,
  progress: ProgressThrottle,
): Promise<LoadedVlm> {
  const started = performance.now();
  configureRuntime();
  useModelSource({
    local: options.local,
    localModelPath: options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    remoteHost: options.remoteHost ?? DEFAULT_REMOTE_HOST,
  });
  const wasmDtypes = spec.dtype.wasm;
  if (options.device === 'wasm' && !wasmDtypes) {
    throw namedError('ModelLoadFailed', `${spec.id}: this model is too large for WASM and needs WebGPU`);
  }
  const probe = options.device === 'wasm' ? undefined : await probeWebGpu();
  if (probe && !probe.ok && (options.device === 'webgpu' || !wasmDtypes)) {
    throw namedError('WebGpuUnavailable', `${spec.id} needs WebGPU, which is not available: ${probe.reason}`);
  }
  const adapter = probe?.ok ? probe.adapter : undefined;

  const finish = (
    parts: Omit<LoadedVlm, 'result'>,
    device: Device,
    dtype: SubModelDtypes,
    fellBackFrom?: VlmLoadResult['fellBackFrom'],
  ): LoadedVlm => {
    const result: VlmLoadResult = {
      modelId: spec.id,
      device,
      dtype,
      ...(adapter ? { adapter } : {}),
      ...(fellBackFrom ? { fellBackFrom } : {}),
      loadMs: Math.round(performance.now() - started),
    };
    // EngineProgress names one dtype: the decoder's, which dominates size and speed.
    progress.push({
      phase: 'ready',
      device,
      dtype: dtype['decoder_model_merged'] ?? Object.values(dtype)[0]!,
    });
    return { ...parts, result };
  };

  return withFetchSignal(job.signal, async () => {
    let fellBackFrom: VlmLoadResult['fellBackFrom'];
    if (adapter) {
      const dtypes = adapter.shaderF16 ? spec.dtype.webgpu : spec.dtype.webgpuNoF16;
      try {
        return finish(await loadOn(spec, options, 'webgpu', dtypes, job, progress), 'webgpu', dtypes);
      } catch (error) {
        const mapped = toLoadError(error, spec.id);
        if (options.device === 'webgpu' || !wasmDtypes || isAbort(mapped)) throw mapped;
        fellBackFrom = { device: 'webgpu', reason: mapped.message };
      }
    } else if (probe && !probe.ok) {
      fellBackFrom = { device: 'webgpu', reason: probe.reason };
    }
    // Reached only with a wasm variant (checked above).
    const dtypes = wasmDtypes!;
    try {
      return finish(await loadOn(spec, options, 'wasm', dtypes, job, progress), 'wasm', dtypes, fellBackFrom);
    } catch (error) {
      const mapped = toLoadError(error, spec.id);
      if (!fellBackFrom || isAbort(mapped)) throw mapped;
      throw namedError(mapped.name, `${mapped.message} (WebGPU failed first: ${fellBackFrom.reason})`, error);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Captioning

/**
 * Decodes `image` (EXIF orientation applied, as everywhere else in the app), cuts out `crop` and scales it so its
 * longest side is at most MAX_IMAGE_SIDE. Returns RGB: radiographs are gray, but every processor wants 3 channels.
 */
async function decodeCrop(image: Blob, crop: Crop): Promise<RawImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image);
  } catch (error) {
    throw new Error(`the image could not be decoded (${(error as Error).message || 'unknown format'})`, {
      cause: error,
    });
  }
  try {
    // The same pixels the compositor and the image worker cut for this crop (core's one implementation).
    const { sx, sy, sw, sh } = cropSourceRect(bitmap.width, bitmap.height, crop);
    const { width, height } = fitWithin(sw, sh, MAX_IMAGE_SIDE);
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2D canvas context in this worker');
    context.drawImage(bitmap, sx, sy, sw, sh, 0, 0, width, height);
    const { data } = context.getImageData(0, 0, width, height);
    return new RawImage(data, width, height, 4).rgb();
  } finally {
    bitmap.close();
  }
}

/** Chat-templates `prompt` with one image, runs the processor and generates; returns the new text, trimmed. */
async function describe(
  loaded: Omit<LoadedVlm, 'result'>,
  image: RawImage,
  prompt: string,
  maxTokens: number,
  job: Job,
): Promise<string> {
  const { spec, processor, model } = loaded;
  // Content as parts for every role: both the Idefics3/SmolVLM and the Gemma 3 templates accept that form.
  const messages = [
    ...(spec.systemPrompt ? [{ role: 'system', content: [{ type: 'text', text: spec.systemPrompt }] }] : []),
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompt }] },
  ];
  const text = processor.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false });
  const processorOptions =
    spec.imageSplitting === undefined ? {} : { do_image_splitting: spec.imageSplitting };
  const inputs = (await processor(text, [image], processorOptions)) as { input_ids: Tensor } & Record<
    string,
    unknown
  >;
  const decode = (ids: Tensor) => processor.batch_decode(ids, { skip_special_tokens: true });
  const { text: reply } = await generateNewText(model, decode, inputs, maxTokens, job, {
    ...(spec.repetitionPenalty !== undefined ? { repetitionPenalty: spec.repetitionPenalty } : {}),
  });
  return reply.trim();
}

/** Maps a failure while captioning; a lost device is reported as such even when ORT words it differently. */
function runFailure(error: unknown, loaded: LoadedVlm | undefined): Error {
  if (hasEngineName(error)) return error;
  const lost = deviceLoss.lostReason;
  if (lost && loaded?.result.device === 'webgpu') return namedError('DeviceLost', lost, error);
  return toRunError(error);
}

// ---------------------------------------------------------------------------------------------------------------
// The API

/**
 * The worker's API, exposed with comlink by vlm.worker.ts. Tests may call it directly (same realm, no comlink).
 * Errors carry a name from core's ERROR_NAMES: WebGpuUnavailable, ModelLoadFailed, DeviceLost, OutOfMemory,
 * AbortError; a bad image or prompt is a plain Error.
 */
export const api = {
  /**
   * Loads `spec` (processor + sub-models), warms it up and returns where it runs. Memoized per (spec, device,
   * source): a second call joins the first; a failed load is forgotten so Retry works; loading another captioner
   * unloads the current one. Progress: download (per file), compile (per sub-model), warmup, ready.
   */
  async load(
    spec: CaptionerModelSpec,
    options: VlmLoadOptions,
    onProgress?: ProgressSink,
    jobId = 'vlm-load',
  ): Promise<VlmLoadResult> {
    const progress = throttleProgress(onProgress);
    try {
      const { model, joined } = await slot.acquire(loadKey(spec, options), jobId, (job) =>
        loadVlm(spec, options, job, progress),
      );
      if (joined) {
        const { device, dtype } = model.result;
        progress.push({
          phase: 'ready',
          device,
          dtype: dtype['decoder_model_merged'] ?? Object.values(dtype)[0]!,
        });
      }
      return model.result;
    } finally {
      progress.flush();
      releaseSink(onProgress);
    }
  },

  /**
   * Describes `request.image` cropped to `request.crop`: decodes it, applies the model's chat template to the
   * prompt with the image, generates greedily (do_sample false: the same image gives the same caption) and returns
   * the new text, trimmed. `cancel(jobId)` stops it before the next token (AbortError). Captions run one at a time.
   */
  async caption(request: CaptionRequest): Promise<string> {
    const job = jobs.begin(request.jobId);
    let loaded: LoadedVlm | undefined;
    try {
      return await generation.run(async () => {
        job.throwIfCancelled();
        loaded = await slot.current();
        if (!loaded) throw new Error('no captioner is loaded: call load() first');
        const lost = deviceLoss.lostReason;
        if (lost && loaded.result.device === 'webgpu') throw namedError('DeviceLost', lost);
        if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
          throw new RangeError(`maxTokens must be a positive integer, got ${request.maxTokens}`);
        }
        const image = await decodeCrop(request.image, request.crop);
        await job.checkpoint();
        return await describe(loaded, image, request.prompt, request.maxTokens, job);
      });
    } catch (error) {
      throw runFailure(error, loaded);
    } finally {
      job.end();
    }
  },

  /** Cancels job `jobId` (a load or a caption). Returns true when it was running; unknown ids are harmless. */
  cancel(jobId: string): boolean {
    return jobs.cancel(jobId);
  },

  /** The loaded captioner's load result, or null. */
  async loaded(): Promise<VlmLoadResult | null> {
    return (await slot.current())?.result ?? null;
  },

  /** Frees the model (GPU buffers and wasm memory). A later load() starts from scratch. */
  async unload(): Promise<void> {
    await slot.unload();
  },
};

/** The worker API as the main side sees its type (imported type-only). */
export type VlmApi = typeof api;
