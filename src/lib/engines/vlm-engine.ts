// The captioner as the pipeline sees it (core's CaptionerPort), over the VLM worker (workers/vlm/): the model loads
// lazily on the first caption (or on an explicit load), images are resolved by id to Blobs and handed to the worker
// as handles, abort becomes `api.cancel(jobId)`. No caching here: the pipeline caches captions via ReplyCachePort.
// Imports core, comlink and the worker's API type only (never its code).
import type { VlmApi, VlmLoadOptions, VlmLoadResult } from '../../../workers/vlm/vlm.api.ts';
import type { AbortSignalLike } from '../core/llm.ts';
import type { CaptionerModelSpec } from '../core/manifest.ts';
import type { CaptionerPort, Crop } from '../core/ports.ts';
import { namedError, type EngineProgress } from '../core/types.ts';
import { raceAbort } from './abort.ts';
import { ComlinkWorker } from './comlink-worker.ts';

export type { VlmLoadOptions, VlmLoadResult };

/** Finds the image file of a pipeline image id (its SHA-256). */
export type ImageResolver = (imageId: string) => Blob | Promise<Blob>;

/** Construction options. */
export interface VlmEngineOptions {
  /** The captioner to run. */
  spec: CaptionerModelSpec;
  /** Resolves image ids to files (the image sets keep them). */
  resolveImage: ImageResolver;
  /** Device and model source. Default: `auto`, and local when `spec.source === 'local'`. */
  load?: Partial<VlmLoadOptions>;
  /**
   * A caption with no reply for this long means the worker hangs: it is terminated (the model reloads on the next
   * caption). Default 5 minutes, far above a 256-token caption on WASM.
   */
  hangTimeoutMs?: number;
  /** Spawns the worker; default workers/vlm/vlm.worker.ts as a module worker. */
  createWorker?: () => Worker;
}

/** Per-load options. */
export interface VlmLoadCall {
  signal?: AbortSignalLike;
  onProgress?: (event: EngineProgress) => void;
}

const DEFAULT_HANG_TIMEOUT_MS = 300_000;

function defaultWorker(): Worker {
  return new Worker(new URL('../../../workers/vlm/vlm.worker.ts', import.meta.url), {
    type: 'module',
    name: 'vlm',
  });
}

/**
 * The captioner engine: one worker, one model.
 *
 * ```ts
 * const captioner = new VlmEngine({ spec, resolveImage: (id) => files.get(id)! });
 * await captioner.load({ onProgress });                       // optional: the first caption loads too
 * const text = await captioner.caption({ imageId, crop: 'full', prompt, maxTokens: 128 }, signal);
 * ```
 */
export class VlmEngine implements CaptionerPort {
  readonly #spec: CaptionerModelSpec;
  readonly #resolveImage: ImageResolver;
  readonly #loadOptions: VlmLoadOptions;
  readonly #hangTimeoutMs: number;
  readonly #worker: ComlinkWorker<VlmApi>;
  #loading: Promise<VlmLoadResult> | undefined;
  #loaded: VlmLoadResult | null = null;

  constructor(options: VlmEngineOptions) {
    // Plain JSON copy: a Svelte $state proxy cannot be structured-cloned into the worker.
    this.#spec = JSON.parse(JSON.stringify(options.spec)) as CaptionerModelSpec;
    this.#resolveImage = options.resolveImage;
    this.#loadOptions = {
      device: options.load?.device ?? 'auto',
      local: options.load?.local ?? options.spec.source === 'local',
      ...(options.load?.localModelPath !== undefined ? { localModelPath: options.load.localModelPath } : {}),
      ...(options.load?.remoteHost !== undefined ? { remoteHost: options.load.remoteHost } : {}),
    };
    this.#hangTimeoutMs = options.hangTimeoutMs ?? DEFAULT_HANG_TIMEOUT_MS;
    this.#worker = new ComlinkWorker<VlmApi>('captioner', options.createWorker ?? defaultWorker, () => {
      // A new worker has nothing loaded.
      this.#loading = undefined;
      this.#loaded = null;
    });
  }

  /**
   * Model id and caption version (`HuggingFaceTB/SmolVLM-256M-Instruct@smolvlm-256m-v1-global-view`): what the
   * caption cache key needs. Device and dtype are left out on purpose: greedy captions barely differ between fp16
   * and q8, and keying by device would make every cached caption useless after a GPU/CPU switch.
   */
  get id(): string {
    return `${this.#spec.id}@${this.#spec.captionVersion}`;
  }

  /** Where the model runs, once loaded; null before. */
  get loaded(): VlmLoadResult | null {
    return this.#loaded;
  }

  /**
   * Loads the captioner (download → compile → warm-up → ready); cheap when already loaded or loading. A failed or
   * cancelled load is forgotten, so calling again retries. Rejects with WebGpuUnavailable, ModelLoadFailed,
   * DeviceLost, OutOfMemory or AbortError.
   */
  load(call: VlmLoadCall = {}): Promise<VlmLoadResult> {
    if (this.#loading) return raceAbort(this.#loading, call.signal);
    const spec = this.#spec;
    const options = this.#loadOptions;
    const loading = this.#worker.call(
      (api, jobId, progress) => api.load(spec, options, progress, jobId),
      {
        ...(call.signal ? { signal: call.signal } : {}),
        ...(call.onProgress ? { onProgress: call.onProgress } : {}),
      },
      'ModelLoadFailed',
    );
    this.#loading = loading;
    loading.then(
      (result) => {
        if (this.#loading === loading) this.#loaded = result;
      },
      () => {
        // Evict on failure (cancel included), so the next call loads again.
        if (this.#loading === loading) this.#loading = undefined;
      },
    );
    return loading;
  }

  /**
   * Describes the image `request.imageId` cropped to `request.crop` (loading the model first if needed). Resolves
   * to the generated text, trimmed (possibly empty). Rejects with AbortError as soon as `signal` aborts; the worker
   * stops generating at its next token.
   */
  async caption(
    request: { imageId: string; crop: Crop; prompt: string; maxTokens: number },
    signal?: AbortSignalLike,
  ): Promise<string> {
    if (signal?.aborted) throw namedError('AbortError', 'cancelled before it started');
    // A load started here is not tied to this call's signal (often a per-call deadline): the caller stops waiting
    // on abort, the load goes on and the next caption joins it. Call load({ signal }) to cancel a load.
    await raceAbort(this.load(), signal);
    const image = await this.#resolveImage(request.imageId);
    if (signal?.aborted) throw namedError('AbortError', 'cancelled');
    // A plain copy of the crop: a $state proxy cannot cross into the worker.
    const crop: Crop = request.crop === 'full' ? 'full' : { ...request.crop };
    return this.#worker.call(
      (api, jobId) =>
        api.caption({ jobId, image, crop, prompt: request.prompt, maxTokens: request.maxTokens }),
      { ...(signal ? { signal } : {}), hangTimeoutMs: this.#hangTimeoutMs },
    );
  }

  /** Frees the model's memory but keeps the worker. */
  async unload(): Promise<void> {
    this.#loading = undefined;
    this.#loaded = null;
    if (this.#worker.started) await this.#worker.call((api) => api.unload());
  }

  /** Terminates the worker, freeing everything it holds. The next caption starts a new one. */
  dispose(): void {
    this.#worker.dispose();
  }
}
