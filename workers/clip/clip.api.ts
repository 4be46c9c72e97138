// The CLIP/SigLIP ranker worker: loads a model's two towers with transformers.js (WebGPU with fp16 when the adapter
// has shader-f16, else fp32; WASM fallback), and turns preprocessed pixel_values and finding texts into
// L2-normalized embeddings, in batches, cancellable, with typed progress. `ClipApi` (its type) is what src/ imports,
// type-only; keep this module free of worker-global-only types (it is also checked under lib DOM).
import {
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  SiglipTextModel,
  SiglipVisionModel,
  Tensor,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type ProgressInfo,
} from '@huggingface/transformers';
import * as Comlink from 'comlink';
import {
  isAbort,
  namedError,
  type DType,
  type Device,
  type ModelFamily,
  type RankerModelSpec,
} from '../../src/lib/core/types.ts';
import { CancellationRegistry, type Job } from '../shared/cancellation.ts';
import { hasEngineName, toLoadError, toRunError } from '../shared/errors.ts';
import { externalDataFiles, localModelBase, onnxFile, verifyLocalModel } from '../shared/model-files.ts';
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
import { DeviceLossWatch, probeWebGpu, type GpuAdapterSummary } from '../shared/webgpu.ts';

/** How and from where to load a ranker model. */
export interface ClipLoadOptions {
  /** `auto`: WebGPU when an adapter exists, falling back to WASM if WebGPU fails to load or warm up. */
  device: 'auto' | Device;
  /** True when the model is self-hosted (spec.source === 'local' or found in the local index). */
  local: boolean;
  /** URL path of the self-hosted model folders. Default `/models/`. */
  localModelPath?: string;
  /** Model host for non-local models. Default `https://huggingface.co/`. */
  remoteHost?: string;
  /** Images per vision-model run. Default 8 on WebGPU, 4 on WASM. */
  imageBatchSize?: number;
  /** Texts per text-model run. Default 32. */
  textBatchSize?: number;
}

/** What `load` reports: where the model ended up running and why. */
export interface ClipLoadResult {
  modelId: string;
  family: ModelFamily;
  device: Device;
  dtype: DType;
  /** Embedding width d: every embedding array is count × d. */
  dim: number;
  /** Side S of the square pixel_values the vision tower takes (from spec.preprocessing.size). */
  imageSize: number;
  imageBatchSize: number;
  textBatchSize: number;
  /** The WebGPU adapter, when one exists (also when the model fell back to WASM). */
  adapter?: GpuAdapterSummary;
  /** Set when `auto` wanted WebGPU but ended on WASM. */
  fellBackFrom?: { device: 'webgpu'; reason: string };
  /** Wall time of download + compile + warm-up, ms. */
  loadMs: number;
}

/** Text embeddings plus what tokenization did to each text. */
export interface TextEmbeddings {
  /** count × dim, L2-normalized rows, in input order. */
  embeddings: Float32Array;
  dim: number;
  /** Tokens per text (template applied, special tokens included) before truncation. */
  tokenCounts: number[];
  /** True where the text was longer than `spec.maxTextTokens` and was cut. */
  truncated: boolean[];
}

interface LoadedClip {
  spec: RankerModelSpec;
  result: ClipLoadResult;
  tokenizer: PreTrainedTokenizer;
  text: PreTrainedModel;
  vision: PreTrainedModel;
  /** Set by unload: a call still holding this model must stop. */
  disposed: boolean;
}

/** Output names, best first: projected towers (CLIP) name them *_embeds, SigLIP's heads give pooler_output. */
const OUTPUTS: Record<ModelFamily, { text: string[]; image: string[] }> = {
  clip: { text: ['text_embeds', 'pooler_output'], image: ['image_embeds', 'pooler_output'] },
  siglip: { text: ['pooler_output', 'text_embeds'], image: ['pooler_output', 'image_embeds'] },
};

const DEFAULT_TEXT_BATCH = 32;
const WARMUP_TEXT = 'warm-up';

const jobs = new CancellationRegistry();
const deviceLoss = new DeviceLossWatch();
let current: { key: string; job: Job; promise: Promise<LoadedClip> } | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Loading

function loadKey(spec: RankerModelSpec, options: ClipLoadOptions): string {
  return JSON.stringify([
    spec,
    options.device,
    options.local,
    options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    options.remoteHost ?? DEFAULT_REMOTE_HOST,
  ]);
}

async function disposeModels(...models: (PreTrainedModel | undefined)[]): Promise<void> {
  await Promise.all(models.map((m) => m?.dispose().catch(() => {})));
}

async function unloadCurrent(): Promise<void> {
  const old = current;
  current = undefined;
  if (!old) return;
  // A load still in flight is cancelled (its downloads abort) and cleaned up when it settles.
  jobs.cancel(old.job.id);
  const loaded = await old.promise.catch(() => undefined);
  if (loaded && !loaded.disposed) {
    loaded.disposed = true;
    await disposeModels(loaded.text, loaded.vision);
  }
}

/** transformers.js tower classes per family (split towers: we never run the joint model). */
function towerClasses(family: ModelFamily) {
  return family === 'clip'
    ? { Text: CLIPTextModelWithProjection, Vision: CLIPVisionModelWithProjection }
    : { Text: SiglipTextModel, Vision: SiglipVisionModel };
}

/** One attempt to load both towers on one device, compile them and warm them up. */
async function loadOn(
  spec: RankerModelSpec,
  options: ClipLoadOptions,
  device: Device,
  dtype: DType,
  job: Job,
  progress: ProgressThrottle,
): Promise<Omit<LoadedClip, 'result'> & { dim: number }> {
  job.throwIfCancelled();
  if (options.local) {
    const base = localModelBase(options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH, spec.id);
    await verifyLocalModel(
      base,
      spec.id,
      (config) => [
        'tokenizer.json',
        'tokenizer_config.json',
        onnxFile('text_model', dtype),
        onnxFile('vision_model', dtype),
        ...externalDataFiles(config, 'text_model', dtype),
        ...externalDataFiles(config, 'vision_model', dtype),
      ],
      job.signal,
    );
  }
  const mapper = new LibraryProgressMapper();
  const progress_callback = (info: ProgressInfo) => {
    for (const event of mapper.map(info)) progress.push(event);
  };
  const { Text, Vision } = towerClasses(spec.family);
  const modelOptions = { device, dtype, progress_callback };
  // Parallel downloads; the library serializes session creation itself.
  const [tokenizer, text, vision] = await Promise.allSettled([
    AutoTokenizer.from_pretrained(spec.id, { progress_callback }),
    Text.from_pretrained(spec.id, modelOptions),
    Vision.from_pretrained(spec.id, modelOptions),
  ]);
  if (tokenizer.status === 'rejected' || text.status === 'rejected' || vision.status === 'rejected') {
    await disposeModels(
      text.status === 'fulfilled' ? text.value : undefined,
      vision.status === 'fulfilled' ? vision.value : undefined,
    );
    const failed = [tokenizer, text, vision].find((r) => r.status === 'rejected');
    throw (failed as PromiseRejectedResult).reason;
  }
  const parts = { spec, tokenizer: tokenizer.value, text: text.value, vision: vision.value, disposed: false };
  try {
    if (device === 'webgpu') {
      // ORT creates its GPUDevice with the first WebGPU session; from here on it can be lost.
      const gpuDevice = await env.backends.onnx.webgpu?.device;
      if (gpuDevice) deviceLoss.watch(gpuDevice);
    }
    job.throwIfCancelled();
    progress.push({ phase: 'warmup' });
    const dim = await warmUp(parts, device);
    return { ...parts, dim };
  } catch (error) {
    await disposeModels(parts.text, parts.vision);
    throw error;
  }
}

/**
 * Runs one tiny image batch and one text: on WebGPU this compiles the shaders (the slow part of a first run), and it
 * proves the outputs are usable (finite, same width on both towers) before we claim `ready`. A broken fp16 or GPU
 * path fails here, where `auto` can still fall back to WASM.
 */
async function warmUp(parts: Omit<LoadedClip, 'result'>, device: Device): Promise<number> {
  const size = parts.spec.preprocessing.size;
  const image = await runVision(parts, new Float32Array(3 * size * size), 1);
  const text = await runText(parts, [applyTemplate(parts.spec.textTemplate, WARMUP_TEXT)]);
  if (image.dim !== text.dim) {
    throw new Error(`image embeddings have ${image.dim} dimensions but text embeddings ${text.dim}`);
  }
  for (const [tower, values] of [
    ['vision', image.rows],
    ['text', text.rows],
  ] as const) {
    if (!values.every(Number.isFinite)) {
      throw new Error(`the ${tower} tower produced non-finite values on ${device} during warm-up`);
    }
  }
  return image.dim;
}

async function loadClip(
  spec: RankerModelSpec,
  options: ClipLoadOptions,
  job: Job,
  progress: ProgressThrottle,
): Promise<LoadedClip> {
  const started = performance.now();
  configureRuntime();
  useModelSource({
    local: options.local,
    localModelPath: options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    remoteHost: options.remoteHost ?? DEFAULT_REMOTE_HOST,
  });
  const probe = options.device === 'wasm' ? undefined : await probeWebGpu();
  if (options.device === 'webgpu' && probe && !probe.ok) {
    throw namedError('WebGpuUnavailable', `WebGPU was requested but is not available: ${probe.reason}`);
  }
  const adapter = probe?.ok ? probe.adapter : undefined;

  const finish = (
    parts: Omit<LoadedClip, 'result'> & { dim: number },
    device: Device,
    dtype: DType,
    fellBackFrom?: ClipLoadResult['fellBackFrom'],
  ): LoadedClip => {
    const { dim, ...rest } = parts;
    const result: ClipLoadResult = {
      modelId: spec.id,
      family: spec.family,
      device,
      dtype,
      dim,
      imageSize: spec.preprocessing.size,
      ...batchSizes(options, device),
      ...(adapter ? { adapter } : {}),
      ...(fellBackFrom ? { fellBackFrom } : {}),
      loadMs: Math.round(performance.now() - started),
    };
    progress.push({ phase: 'ready', device, dtype });
    return { ...rest, result };
  };

  return withFetchSignal(job.signal, async () => {
    let fellBackFrom: ClipLoadResult['fellBackFrom'];
    if (adapter) {
      const dtype = adapter.shaderF16 ? spec.dtype.webgpu : spec.dtype.webgpuNoF16;
      try {
        return finish(await loadOn(spec, options, 'webgpu', dtype, job, progress), 'webgpu', dtype);
      } catch (error) {
        const mapped = toLoadError(error, spec.id);
        if (options.device === 'webgpu' || isAbort(mapped)) throw mapped;
        fellBackFrom = { device: 'webgpu', reason: mapped.message };
      }
    } else if (probe && !probe.ok) {
      fellBackFrom = { device: 'webgpu', reason: probe.reason };
    }
    try {
      return finish(
        await loadOn(spec, options, 'wasm', spec.dtype.wasm, job, progress),
        'wasm',
        spec.dtype.wasm,
        fellBackFrom,
      );
    } catch (error) {
      const mapped = toLoadError(error, spec.id);
      if (!fellBackFrom || isAbort(mapped)) throw mapped;
      throw namedError(mapped.name, `${mapped.message} (WebGPU failed first: ${fellBackFrom.reason})`, error);
    }
  });
}

/** Batch sizes are run-time settings, not part of the load key: changing them never reloads the model. */
function batchSizes(
  options: ClipLoadOptions,
  device: Device,
): Pick<ClipLoadResult, 'imageBatchSize' | 'textBatchSize'> {
  return {
    imageBatchSize: positive(options.imageBatchSize) ?? (device === 'webgpu' ? 8 : 4),
    textBatchSize: positive(options.textBatchSize) ?? DEFAULT_TEXT_BATCH,
  };
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

async function requireModel(): Promise<LoadedClip> {
  const loaded = current ? await current.promise : undefined;
  if (!loaded || loaded.disposed) throw new Error('no CLIP model is loaded: call load() first');
  return loaded;
}

// ---------------------------------------------------------------------------------------------------------------
// Running the towers

/** `{}` in the template is the finding. */
function applyTemplate(template: string, finding: string): string {
  return template.includes('{}') ? template.replaceAll('{}', finding) : `${template}${finding}`;
}

/** Takes the embedding output as float32 rows; the first name in `names` the model has wins. */
function embeddingRows(
  output: Record<string, Tensor>,
  names: string[],
  tower: string,
): { rows: Float32Array; dim: number } {
  const name = names.find((n) => output[n] !== undefined);
  const tensor = name ? output[name] : undefined;
  if (!tensor) {
    throw new Error(
      `the ${tower} model has none of the outputs ${names.join(', ')} (it has ${Object.keys(output).join(', ')})`,
    );
  }
  if (tensor.dims.length !== 2) {
    throw new Error(
      `the ${tower} output ${name} has shape [${tensor.dims.join(', ')}], expected [batch, dim]`,
    );
  }
  const asFloat = tensor.type === 'float32' ? tensor : tensor.to('float32');
  const rows = asFloat.data as Float32Array;
  return { rows, dim: tensor.dims[1] ?? 0 };
}

function disposeOutput(output: Record<string, Tensor>): void {
  for (const tensor of Object.values(output)) tensor.dispose();
}

/** Runs the vision tower on `count` images of pixel_values (count × 3 × S × S). Rows are not normalized. */
async function runVision(
  model: Pick<LoadedClip, 'spec' | 'vision'>,
  pixels: Float32Array,
  count: number,
): Promise<{ rows: Float32Array; dim: number }> {
  const size = model.spec.preprocessing.size;
  const pixel_values = new Tensor('float32', pixels, [count, 3, size, size]);
  const output = (await model.vision({ pixel_values })) as Record<string, Tensor>;
  try {
    const { rows, dim } = embeddingRows(output, OUTPUTS[model.spec.family].image, 'vision');
    return { rows: rows.slice(), dim };
  } finally {
    disposeOutput(output);
  }
}

/** Token ids of one text, truncated to `max` the way CLIP's reference tokenizer does: the final special token stays. */
function truncateIds(ids: number[], max: number, specialIds: ReadonlySet<number>): number[] {
  if (ids.length <= max) return ids;
  const cut = ids.slice(0, max);
  const last = ids[ids.length - 1];
  // transformers.js cuts the end off, EOS included; CLIP pools at EOS, so a text without it embeds as noise.
  if (last !== undefined && specialIds.has(last)) cut[max - 1] = last;
  return cut;
}

/** Tokenizes with truncation and padding (SigLIP: always to max length, as it was trained) and runs the text tower. */
async function runText(
  model: Pick<LoadedClip, 'spec' | 'tokenizer' | 'text'>,
  texts: string[],
): Promise<{ rows: Float32Array; dim: number; tokenCounts: number[] }> {
  const { spec, tokenizer } = model;
  const max = spec.maxTextTokens;
  const specialIds = new Set(tokenizer.all_special_ids);
  const full = texts.map((t) => tokenizer.encode(t));
  const ids = full.map((t) => truncateIds(t, max, specialIds));
  const length = spec.family === 'siglip' ? max : Math.max(1, ...ids.map((t) => t.length));
  const pad = tokenizer.pad_token_id ?? tokenizer.eos_token_id ?? 0;
  const inputIds = new BigInt64Array(texts.length * length).fill(BigInt(pad));
  const mask = new BigInt64Array(texts.length * length);
  ids.forEach((row, i) => {
    row.forEach((id, j) => {
      inputIds[i * length + j] = BigInt(id);
      mask[i * length + j] = 1n;
    });
  });
  const output = (await model.text({
    input_ids: new Tensor('int64', inputIds, [texts.length, length]),
    attention_mask: new Tensor('int64', mask, [texts.length, length]),
  })) as Record<string, Tensor>;
  try {
    const { rows, dim } = embeddingRows(output, OUTPUTS[spec.family].text, 'text');
    return { rows: rows.slice(), dim, tokenCounts: full.map((t) => t.length) };
  } finally {
    disposeOutput(output);
  }
}

/** Copies `rows` (n × dim) into `out` at row `at`, each scaled to unit L2 norm (split towers are not normalized). */
function writeNormalized(
  rows: Float32Array,
  dim: number,
  out: Float32Array,
  at: number,
  tower: string,
): void {
  const n = rows.length / dim;
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let k = 0; k < dim; k++) {
      const v = rows[r * dim + k] ?? 0;
      sum += v * v;
    }
    if (!Number.isFinite(sum)) {
      throw new Error(`the ${tower} tower produced non-finite values (row ${at + r})`);
    }
    // An all-zero embedding stays zero (cosine 0 with everything) instead of becoming NaN.
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let k = 0; k < dim; k++) out[(at + r) * dim + k] = (rows[r * dim + k] ?? 0) * scale;
  }
}

/** Maps a failure while embedding; a lost device is reported as such even when ORT words it differently. */
function runFailure(error: unknown): Error {
  if (hasEngineName(error)) return error;
  const lost = deviceLoss.lostReason;
  if (lost) return namedError('DeviceLost', lost, error);
  return toRunError(error);
}

/** Checked between batches, next to cancellation. */
function throwIfUnusable(model: LoadedClip): void {
  if (model.disposed) throw new Error('the CLIP model was unloaded while it was embedding');
  const lost = deviceLoss.lostReason;
  if (lost && model.result.device === 'webgpu') throw namedError('DeviceLost', lost);
}

/** Frees the main side's end of a comlink callback once a call is over (a no-op for a plain function). */
function release(sink: ProgressSink | undefined): void {
  const releasable = sink as (ProgressSink & { [Comlink.releaseProxy]?: () => void }) | undefined;
  try {
    releasable?.[Comlink.releaseProxy]?.();
  } catch {
    // Already released or the page is gone.
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The API

/**
 * The worker's API, exposed with comlink by clip.worker.ts. Tests may call it directly (same realm, no comlink).
 * Every long call takes a `jobId`; `cancel(jobId)` makes it reject with an AbortError at the next batch boundary.
 * Errors carry a name from core's ERROR_NAMES: WebGpuUnavailable, ModelLoadFailed, DeviceLost, OutOfMemory,
 * AbortError.
 */
export const api = {
  /**
   * Loads `spec` (both towers + tokenizer), warms it up and returns where it runs. Memoized per (spec, device,
   * source): a second call joins the first (and may change the batch sizes); a failed load is forgotten so Retry
   * works; loading another model unloads the current one. Progress: download (per file), compile (per tower), warmup, ready.
   */
  async load(
    spec: RankerModelSpec,
    options: ClipLoadOptions,
    jobId: string,
    onProgress?: ProgressSink,
  ): Promise<ClipLoadResult> {
    const progress = throttleProgress(onProgress);
    const key = loadKey(spec, options);
    try {
      if (current?.key === key) {
        const loaded = await current.promise;
        Object.assign(loaded.result, batchSizes(options, loaded.result.device));
        progress.push({ phase: 'ready', device: loaded.result.device, dtype: loaded.result.dtype });
        return loaded.result;
      }
      await unloadCurrent();
      const job = jobs.begin(jobId);
      const promise = loadClip(spec, options, job, progress).finally(() => job.end());
      const entry = { key, job, promise };
      current = entry;
      // Evict on failure, so the next load() tries again instead of replaying the error.
      promise.catch(() => {
        if (current === entry) current = undefined;
      });
      const loaded = await promise;
      return loaded.result;
    } finally {
      progress.flush();
      release(onProgress);
    }
  },

  /**
   * Embeds `count` preprocessed images. `pixels` is count × 3 × S × S float32 (S = the spec's preprocessing.size),
   * exactly what the image worker produces; no transformers.js image processor runs here. Returns count × dim
   * L2-normalized rows (transferred). Progress: embed (images done of total) per batch.
   */
  async embedImages(
    jobId: string,
    pixels: Float32Array,
    count: number,
    onProgress?: ProgressSink,
  ): Promise<Float32Array> {
    const job = jobs.begin(jobId);
    const progress = throttleProgress(onProgress);
    try {
      const model = await requireModel();
      const { dim, imageSize: size, imageBatchSize } = model.result;
      const perImage = 3 * size * size;
      if (!Number.isInteger(count) || count < 0 || pixels.length !== count * perImage) {
        throw new RangeError(
          `pixel_values hold ${pixels.length} floats, expected ${count} images × 3 × ${size} × ${size}`,
        );
      }
      const out = new Float32Array(count * dim);
      progress.push({ phase: 'embed', done: 0, total: count });
      for (let start = 0; start < count; start += imageBatchSize) {
        await job.checkpoint();
        throwIfUnusable(model);
        const n = Math.min(imageBatchSize, count - start);
        // A copy per batch: ORT may keep or detach its input, and `pixels` is the caller's.
        const batch = pixels.slice(start * perImage, (start + n) * perImage);
        const { rows } = await runVision(model, batch, n);
        writeNormalized(rows, dim, out, start, 'vision');
        progress.push({ phase: 'embed', done: start + n, total: count });
      }
      return Comlink.transfer(out, [out.buffer]);
    } catch (error) {
      throw runFailure(error);
    } finally {
      progress.flush();
      job.end();
      release(onProgress);
    }
  },

  /**
   * Embeds finding texts: applies the spec's textTemplate, tokenizes with truncation at spec.maxTextTokens (and
   * reports which texts were cut), runs the text tower in batches. Returns count × dim L2-normalized rows.
   */
  async embedTexts(jobId: string, texts: string[], onProgress?: ProgressSink): Promise<TextEmbeddings> {
    const job = jobs.begin(jobId);
    const progress = throttleProgress(onProgress);
    try {
      const model = await requireModel();
      const { dim, textBatchSize } = model.result;
      const out = new Float32Array(texts.length * dim);
      const tokenCounts: number[] = [];
      progress.push({ phase: 'embed', done: 0, total: texts.length });
      for (let start = 0; start < texts.length; start += textBatchSize) {
        await job.checkpoint();
        throwIfUnusable(model);
        const batch = texts
          .slice(start, start + textBatchSize)
          .map((t) => applyTemplate(model.spec.textTemplate, t));
        const { rows, tokenCounts: counts } = await runText(model, batch);
        writeNormalized(rows, dim, out, start, 'text');
        tokenCounts.push(...counts);
        progress.push({ phase: 'embed', done: start + batch.length, total: texts.length });
      }
      const result: TextEmbeddings = {
        embeddings: out,
        dim,
        tokenCounts,
        truncated: tokenCounts.map((n) => n > model.spec.maxTextTokens),
      };
      return Comlink.transfer(result, [out.buffer]);
    } catch (error) {
      throw runFailure(error);
    } finally {
      progress.flush();
      job.end();
      release(onProgress);
    }
  },

  /** Cancels job `jobId` (a load, or an embedding call). Returns true when it was running. */
  cancel(jobId: string): boolean {
    const running = jobs.cancel(jobId);
    const entry = current;
    if (entry?.job.id === jobId) {
      // A cancelled load is forgotten at once: the aborted download can still settle later with an unrelated
      // error (e.g. a half-read tokenizer config), and a load() that joined it would report that error instead of
      // starting afresh. If it settles with towers after all, free them.
      current = undefined;
      void entry.promise.then(
        (loaded) => {
          if (loaded.disposed) return;
          loaded.disposed = true;
          return disposeModels(loaded.text, loaded.vision);
        },
        () => {},
      );
    }
    return running;
  },

  /** The loaded model's load result, or null. */
  async loaded(): Promise<ClipLoadResult | null> {
    const loaded = await current?.promise.catch(() => undefined);
    return loaded && !loaded.disposed ? loaded.result : null;
  },

  /** Frees both towers (GPU buffers and wasm memory). A later load() starts from scratch. */
  async unload(): Promise<void> {
    await unloadCurrent();
  },
};

/** The worker API as the main side sees its type (imported type-only). */
export type ClipApi = typeof api;
