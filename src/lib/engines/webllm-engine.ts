// The proposer LLM on WebGPU (core's ProposerLlmPort) with web-llm in its own worker (workers/llm/llm.worker.ts,
// web-llm's handler, no comlink): picks the f16 or f32 build from the adapter, loads lazily, maps requests and
// progress through webllm-mapping.ts, turns abort into interruptGenerate(), and terminates the worker only when
// the device is lost or the worker hangs. Imports core, the pure mapping and web-llm (lazily) only.
import type { AppConfig, ChatCompletion, InitProgressReport, WebWorkerMLCEngine } from '@mlc-ai/web-llm';
import type { AbortSignalLike, LlmReply, LlmRequest } from '../core/llm.ts';
import { pickLlmVariant, type LlmModelSpec, type LlmVariant } from '../core/manifest.ts';
import type { ProposerLlmPort } from '../core/ports.ts';
import { namedError, type EngineProgress } from '../core/types.ts';
import { abortError, abortPromise, raceAbort } from './abort.ts';
import {
  parseInitProgress,
  progressGate,
  replyText,
  toWebLlmError,
  toWebLlmRequest,
} from './webllm-mapping.ts';

/** Construction options. */
export interface WebLlmEngineOptions {
  /** Skip the adapter probe and use this answer (tests, or a caller that probed already). */
  gpu?: { shaderF16: boolean };
  /** web-llm model list override (self-hosted weights: absolute URLs containing `/resolve/main/`). */
  appConfig?: AppConfig;
  /** A load with no progress report for this long is a hang: the worker is terminated. Default 3 minutes. */
  loadStallTimeoutMs?: number;
  /** After an abort, how long web-llm may take to stop before its worker is terminated. Default 30 s. */
  interruptGraceMs?: number;
  /** Spawns the worker; default workers/llm/llm.worker.ts as a module worker. */
  createWorker?: () => Worker;
}

/** Per-load options. */
export interface WebLlmLoadCall {
  signal?: AbortSignalLike;
  /** download (weights), compile (GPU shaders), ready; throttled to ~10/s. */
  onProgress?: (event: EngineProgress) => void;
}

const DEFAULT_LOAD_STALL_MS = 180_000;
const DEFAULT_INTERRUPT_GRACE_MS = 30_000;
/** web-llm forgets an interrupt that arrives before its request takes the model lock: repeat it until it sticks. */
const INTERRUPT_REPEAT_MS = 250;

interface Connection {
  worker: Worker;
  engine: WebWorkerMLCEngine;
  /** Rejects when the worker dies. */
  crashed: Promise<never>;
  /** Resolves when we terminate the worker (a call waiting on web-llm must stop waiting). */
  terminated: Promise<void>;
  terminate: () => void;
}

/** The web-llm worker died (not an error web-llm reported). */
class WorkerDied extends Error {
  override name = 'WorkerDied';
}

/**
 * Whether the adapter web-llm will use has shader-f16. web-llm asks for a `high-performance` adapter, so do we.
 * Throws WebGpuUnavailable without WebGPU or without an adapter.
 */
export async function probeShaderF16(): Promise<boolean> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) throw namedError('WebGpuUnavailable', 'this browser has no WebGPU (navigator.gpu is missing)');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    throw namedError(
      'WebGpuUnavailable',
      `requesting a WebGPU adapter failed: ${(error as Error).message}`,
      error,
    );
  }
  if (!adapter) {
    throw namedError(
      'WebGpuUnavailable',
      'no WebGPU adapter is available (WebGPU disabled, or the GPU is blocklisted)',
    );
  }
  return adapter.features.has('shader-f16');
}

function defaultWorker(): Worker {
  return new Worker(new URL('../../../workers/llm/llm.worker.ts', import.meta.url), {
    type: 'module',
    name: 'web-llm',
  });
}

/**
 * A web-llm model as the pipeline's proposer LLM.
 *
 * ```ts
 * const llm = await WebLlmEngine.create(spec);            // picks q4f16 or q4f32 from the adapter
 * await llm.load({ onProgress });                         // optional: the first completion loads too
 * const reply = await llm.complete({ messages, jsonSchema, seed: 1, temperature: 0.7 }, signal);
 * ```
 */
export class WebLlmEngine implements ProposerLlmPort {
  /** The build actually loaded (e.g. `Qwen3-1.7B-q4f32_1-MLC`): part of the reply cache key. */
  readonly id: string;
  readonly vision: boolean;
  /** The chosen build, with its GPU memory estimate. */
  readonly variant: LlmVariant;
  readonly #spec: LlmModelSpec;
  readonly #options: WebLlmEngineOptions;
  #loading: Promise<Connection> | undefined;
  #stopLoading: (() => void) | undefined;
  #connection: Connection | undefined;
  #tail: Promise<void> = Promise.resolve();

  /**
   * Probes the WebGPU adapter (unless `options.gpu` answers) and picks the build: `noF16Variant` without
   * shader-f16. Loads nothing yet. Throws WebGpuUnavailable without WebGPU or when no build fits the adapter,
   * and a TypeError for a spec that is not a web-llm model.
   */
  static async create(spec: LlmModelSpec, options: WebLlmEngineOptions = {}): Promise<WebLlmEngine> {
    if (spec.runtime !== 'web-llm')
      throw new TypeError(`${spec.id} is not a web-llm model (runtime ${spec.runtime})`);
    const shaderF16 = options.gpu?.shaderF16 ?? (await probeShaderF16());
    const variant = pickLlmVariant(spec, { shaderF16 });
    if (variant.unsupported) throw namedError('WebGpuUnavailable', variant.unsupported);
    return new WebLlmEngine(spec, variant, options);
  }

  private constructor(spec: LlmModelSpec, variant: LlmVariant, options: WebLlmEngineOptions) {
    this.#spec = spec;
    this.#options = options;
    this.variant = variant;
    this.id = variant.modelId;
    this.vision = spec.vision;
  }

  /** True once the model is loaded in a live worker. */
  get loaded(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * Loads the model in a new worker: download (weights, cached by web-llm in Cache Storage) → compile (GPU shaders)
   * → ready. Cheap when loaded or loading. A failed, stalled or cancelled load terminates its worker (nothing is
   * loaded yet; downloaded shards stay cached) and is forgotten, so calling again retries. Rejects with
   * ModelLoadFailed (model id and cause), WebGpuUnavailable, DeviceLost, OutOfMemory, QuotaExceeded or AbortError.
   */
  async load(call: WebLlmLoadCall = {}): Promise<void> {
    await this.#ensureLoaded(call);
  }

  /**
   * One completion (loading first if needed). Requests run one at a time, in call order. Aborting rejects at once
   * with an AbortError and interrupts web-llm's generation; the next request starts when web-llm has stopped.
   */
  async complete(request: LlmRequest, signal?: AbortSignalLike): Promise<LlmReply> {
    if (signal?.aborted) throw abortError('cancelled before it started');
    const body = toWebLlmRequest(request, this.#spec);
    const previous = this.#tail;
    let leave!: () => void;
    this.#tail = new Promise<void>((resolve) => (leave = resolve));
    // Released when web-llm has really finished with this request, which after an abort is later than our reply.
    let releaseAfter: Promise<unknown> = Promise.resolve();
    try {
      await raceAbort(previous, signal);
      // A load started here is not tied to this call's signal (often a per-call deadline): the caller stops
      // waiting on abort, the load goes on and the next call joins it. Call load({ signal }) to cancel a load.
      const connection = await raceAbort(this.#ensureLoaded({}), signal);
      const run = connection.engine.chat.completions.create(body) as Promise<ChatCompletion>;
      const finished = Promise.race([
        run.then(
          () => {},
          () => {},
        ),
        connection.terminated,
      ]);
      releaseAfter = finished;
      const aborted = abortPromise(signal);
      const stopOnAbort = () => this.#interrupt(connection, finished);
      signal?.addEventListener('abort', stopOnAbort, { once: true });
      try {
        const completion = await Promise.race([run, connection.crashed, aborted.promise]);
        return { text: replyText(completion), model: this.id };
      } catch (error) {
        if (signal?.aborted) throw abortError();
        const mapped = toWebLlmError(error, this.id, 'generate');
        if (mapped.name === 'DeviceLost' || error instanceof WorkerDied) this.#terminate(connection);
        throw mapped;
      } finally {
        aborted.dispose();
        signal?.removeEventListener('abort', stopOnAbort);
      }
    } finally {
      // The next request waits for the previous one too: a request aborted while queued must not open the gate early.
      void previous.then(() => releaseAfter).then(() => leave());
    }
  }

  /** Unloads the model and terminates its worker (web-llm frees GPU memory reliably only that way). */
  async unload(): Promise<void> {
    this.dispose();
  }

  /** Terminates the worker, freeing its GPU memory. The next completion loads again. */
  dispose(): void {
    if (this.#connection) this.#terminate(this.#connection);
    this.#loading = undefined;
    // A load in flight stops now (its worker is terminated) instead of finishing into nowhere.
    this.#stopLoading?.();
  }

  #terminate(connection: Connection): void {
    connection.terminate();
    if (this.#connection === connection) this.#connection = undefined;
  }

  /** Stops generation: interruptGenerate() now and until web-llm has finished; a worker that ignores it is a hang. */
  #interrupt(connection: Connection, finished: Promise<unknown>): void {
    const interrupt = () => {
      try {
        connection.engine.interruptGenerate();
      } catch {
        // The worker is gone: nothing to interrupt.
      }
    };
    interrupt();
    const repeat = setInterval(interrupt, INTERRUPT_REPEAT_MS);
    const grace = setTimeout(() => {
      // A generation that ignores interrupts for this long means a hung GPU queue or worker.
      this.#terminate(connection);
    }, this.#options.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS);
    void finished.then(() => {
      clearInterval(repeat);
      clearTimeout(grace);
    });
  }

  #ensureLoaded(call: WebLlmLoadCall): Promise<Connection> {
    if (this.#connection) return Promise.resolve(this.#connection);
    if (this.#loading) return raceAbort(this.#loading, call.signal);
    const loading = this.#load(call);
    this.#loading = loading;
    loading.then(
      (connection) => {
        if (this.#loading !== loading) {
          connection.terminate();
          return;
        }
        this.#connection = connection;
        this.#loading = undefined;
        // A worker that dies between calls is forgotten, so the next completion starts (and loads) a new one.
        connection.crashed.catch(() => this.#terminate(connection));
      },
      () => {
        if (this.#loading === loading) this.#loading = undefined;
      },
    );
    return loading;
  }

  async #load({ signal, onProgress }: WebLlmLoadCall): Promise<Connection> {
    if (signal?.aborted) throw abortError('cancelled before it started');
    const modelId = this.id;
    // Lazy: web-llm is megabytes of JavaScript that a session without a proposer LLM never needs.
    const { CreateWebWorkerMLCEngine } = await import('@mlc-ai/web-llm');
    const worker = (this.#options.createWorker ?? defaultWorker)();
    let resolveTerminated!: () => void;
    const terminated = new Promise<void>((resolve) => (resolveTerminated = resolve));
    const terminate = () => {
      worker.terminate();
      resolveTerminated();
    };
    const crashed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        reject(new WorkerDied(`the web-llm worker crashed: ${event.message || 'it failed to start'}`));
      });
    });
    crashed.catch(() => {});

    // Stall watchdog: re-armed by every progress report, so only silence (not a slow download) trips it.
    const stallMs = this.#options.loadStallTimeoutMs ?? DEFAULT_LOAD_STALL_MS;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    let rejectStall!: (error: Error) => void;
    const stalled = new Promise<never>((_, reject) => (rejectStall = reject));
    const stop = () => rejectStall(abortError(`loading ${modelId} was stopped: the engine was disposed`));
    this.#stopLoading = stop;
    const arm = () => {
      if (stallTimer !== undefined) clearTimeout(stallTimer);
      stallTimer = setTimeout(
        () => rejectStall(new Error(`loading made no progress for ${Math.round(stallMs / 1000)} s`)),
        stallMs,
      );
    };
    arm();
    const pass = progressGate();
    const initProgressCallback = (report: InitProgressReport) => {
      arm();
      const event = parseInitProgress(report, modelId);
      if (event && onProgress && pass(event)) {
        try {
          onProgress(event);
        } catch {
          // Progress is advisory.
        }
      }
    };
    const aborted = abortPromise(signal);
    try {
      const engine = await Promise.race([
        CreateWebWorkerMLCEngine(worker, modelId, {
          initProgressCallback,
          ...(this.#options.appConfig ? { appConfig: this.#options.appConfig } : {}),
        }),
        crashed,
        stalled,
        aborted.promise,
      ]);
      return { worker, engine, crashed, terminated, terminate };
    } catch (error) {
      // Nothing is loaded yet, so terminating loses nothing; web-llm's own reload abort neither covers shader
      // compilation nor rejects (it resolves as if loaded), which would leave us unsure what the worker holds.
      terminate();
      if (signal?.aborted) throw abortError(`loading ${modelId} was cancelled`);
      throw toWebLlmError(error, modelId, 'load');
    } finally {
      if (stallTimer !== undefined) clearTimeout(stallTimer);
      aborted.dispose();
      if (this.#stopLoading === stop) this.#stopLoading = undefined;
    }
  }
}
