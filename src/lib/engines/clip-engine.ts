// Main-thread adapter over the CLIP worker (workers/clip/): AbortSignal in, `api.cancel(jobId)` out; progress through
// one Comlink.proxy callback per call; errors rebuilt by name; a fresh worker after DeviceLost or a crash, since
// terminating is the only recovery. Imports the worker's API type only, never its code.
import * as Comlink from 'comlink';
import type {
  ClipApi,
  ClipLoadOptions,
  ClipLoadResult,
  TextEmbeddings,
} from '../../../workers/clip/clip.api.ts';
import {
  ERROR_NAMES,
  namedError,
  type EngineErrorName,
  type EngineProgress,
  type RankerModelSpec,
} from '../core/types.ts';

export type { ClipLoadOptions, ClipLoadResult, TextEmbeddings };

/** Per-call options: cancellation and progress. */
export interface ClipCallOptions {
  /** Aborting rejects the call with an AbortError once the worker has stopped (at the next batch boundary). */
  signal?: AbortSignal;
  /** Throttled (~10/s) typed progress; the first and last event of every phase always arrive. */
  onProgress?: (event: EngineProgress) => void;
}

/** Construction options; the default spawns workers/clip/clip.worker.ts as a module worker. */
export interface ClipEngineOptions {
  createWorker?: () => Worker;
}

function defaultWorker(): Worker {
  return new Worker(new URL('../../../workers/clip/clip.worker.ts', import.meta.url), {
    type: 'module',
    name: 'clip',
  });
}

/**
 * Rebuilds an error that crossed the worker boundary: only name and message survive comlink, so a known name
 * (core's ERROR_NAMES) becomes a fresh named error here, anything else stays a plain Error.
 */
export function rebuildWorkerError(error: unknown): Error {
  if (error instanceof Error) {
    if ((ERROR_NAMES as readonly string[]).includes(error.name)) {
      return namedError(error.name as EngineErrorName, error.message, error);
    }
    return error;
  }
  return new Error(String(error));
}

/** The worker died; distinguished from errors the worker threw, which only ever arrive by name and message. */
class WorkerCrashed extends Error {
  override name = 'WorkerCrashed';
}

interface Connection {
  worker: Worker;
  api: Comlink.Remote<ClipApi>;
  /** Rejects when the worker dies (module failed to load, uncaught error); every call races against it. */
  crashed: Promise<never>;
}

/**
 * The CLIP/SigLIP ranker engine as the app uses it: one worker, one loaded model at a time.
 *
 * ```ts
 * const engine = new ClipEngine();
 * const info = await engine.load(spec, { device: 'auto', local: spec.source === 'local' }, { onProgress });
 * const images = await engine.embedImages(pixels, count, { signal });   // count × info.dim
 * const { embeddings, truncated } = await engine.embedTexts(findings, { signal });
 * ```
 */
export class ClipEngine {
  readonly #createWorker: () => Worker;
  #connection: Connection | undefined;
  #loaded: ClipLoadResult | null = null;
  #nextJob = 0;

  constructor(options: ClipEngineOptions = {}) {
    this.#createWorker = options.createWorker ?? defaultWorker;
  }

  /** The model currently loaded (device, dtype, dim, adapter, fallback reason), or null. */
  get loaded(): ClipLoadResult | null {
    return this.#loaded;
  }

  /**
   * Loads `spec` in the worker (download → compile → warm-up → ready) and reports where it runs. Calling it again
   * with the same arguments is cheap (memoized in the worker); after a failure it retries from scratch; after
   * DeviceLost it starts a new worker. Rejects with WebGpuUnavailable, ModelLoadFailed, DeviceLost, OutOfMemory or
   * AbortError.
   */
  async load(
    spec: RankerModelSpec,
    options: ClipLoadOptions,
    call: ClipCallOptions = {},
  ): Promise<ClipLoadResult> {
    // Plain JSON copies: a Svelte $state proxy cannot be structured-cloned into the worker.
    const plainSpec = JSON.parse(JSON.stringify(spec)) as RankerModelSpec;
    const plainOptions = JSON.parse(JSON.stringify(options)) as ClipLoadOptions;
    this.#loaded = null;
    const result = await this.#call(
      (api, jobId, progress) => api.load(plainSpec, plainOptions, jobId, progress),
      call,
      'ModelLoadFailed',
    );
    this.#loaded = result;
    return result;
  }

  /**
   * Embeds `count` preprocessed images: `pixels` is count × 3 × S × S float32 from the image worker (S =
   * spec.preprocessing.size). Its buffer is transferred to the worker, so `pixels` is detached afterwards (a view
   * into a larger buffer is copied first instead). Resolves to count × dim L2-normalized rows.
   */
  async embedImages(pixels: Float32Array, count: number, call: ClipCallOptions = {}): Promise<Float32Array> {
    const owned =
      pixels.buffer instanceof ArrayBuffer &&
      pixels.byteOffset === 0 &&
      pixels.byteLength === pixels.buffer.byteLength
        ? pixels
        : pixels.slice();
    return this.#call(
      (api, jobId, progress) =>
        api.embedImages(jobId, Comlink.transfer(owned, [owned.buffer]), count, progress),
      call,
    );
  }

  /** Embeds finding texts (template applied in the worker); reports token counts and which texts were truncated. */
  async embedTexts(texts: readonly string[], call: ClipCallOptions = {}): Promise<TextEmbeddings> {
    const plain = [...texts];
    return this.#call((api, jobId, progress) => api.embedTexts(jobId, plain, progress), call);
  }

  /** Frees the loaded model's memory but keeps the worker. */
  async unload(): Promise<void> {
    this.#loaded = null;
    if (this.#connection) await this.#connection.api.unload();
  }

  /** Terminates the worker, freeing everything it holds (GPU buffers included). The next call starts a new one. */
  dispose(): void {
    this.#loaded = null;
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      connection.api[Comlink.releaseProxy]();
      connection.worker.terminate();
    }
  }

  #connect(): Connection {
    if (this.#connection) return this.#connection;
    const worker = this.#createWorker();
    const api = Comlink.wrap<ClipApi>(worker);
    const crashed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        reject(new WorkerCrashed(`the CLIP worker crashed: ${event.message || 'it failed to start'}`));
      });
    });
    // Nobody may be waiting when it dies; the rejection is observed by the next call instead.
    crashed.catch(() => {});
    const connection = { worker, api, crashed };
    this.#connection = connection;
    return connection;
  }

  async #call<T>(
    run: (
      api: Comlink.Remote<ClipApi>,
      jobId: string,
      progress: (((event: EngineProgress) => void) & Comlink.ProxyMarked) | undefined,
    ) => Promise<T>,
    { signal, onProgress }: ClipCallOptions,
    crashName?: EngineErrorName,
  ): Promise<T> {
    if (signal?.aborted) throw namedError('AbortError', 'cancelled before it started');
    const connection = this.#connect();
    const jobId = `clip-${++this.#nextJob}`;
    const onAbort = () => {
      connection.api.cancel(jobId).catch(() => {});
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // A fresh wrapper: Comlink.proxy marks the function it is given, and the caller's is not ours to mark.
      const progress = onProgress ? Comlink.proxy((event: EngineProgress) => onProgress(event)) : undefined;
      const result = await Promise.race([run(connection.api, jobId, progress), connection.crashed]);
      // Finished just as the caller gave up: honour the abort, the caller no longer wants the result.
      if (signal?.aborted) throw namedError('AbortError', 'cancelled');
      return result;
    } catch (error) {
      const crashed = error instanceof WorkerCrashed;
      const rebuilt = crashed ? error : rebuildWorkerError(error);
      if (crashed || rebuilt.name === 'DeviceLost') {
        // Terminating is the only recovery from a lost device or a dead worker; the next call starts a new one.
        if (this.#connection === connection) this.dispose();
      }
      // The caller cancelled: whatever the worker threw while being interrupted (an aborted download surfaces in
      // transformers.js as an unrelated TypeError, sometimes uncaught, which kills the worker: it was disposed
      // above and the next call starts a fresh one) is a consequence of the cancel, never an error to show.
      if (signal?.aborted) throw namedError('AbortError', 'cancelled', error);
      if (crashed && crashName) throw namedError(crashName, rebuilt.message, error);
      throw rebuilt;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
