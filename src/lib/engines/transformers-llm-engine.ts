// The proposer LLM for browsers without WebGPU (core's ProposerLlmPort) over the WASM fallback worker
// (workers/llm-fallback/): lazy load, text-only conversation (images become a note, a JSON request is spelled out
// in the last user message since transformers.js has no JSON mode), abort → `api.cancel(jobId)`. Imports core,
// comlink and the worker's API type only.
import type {
  LlmFallbackApi,
  LlmFallbackLoadOptions,
  LlmFallbackLoadResult,
} from '../../../workers/llm-fallback/llm-fallback.api.ts';
import type { AbortSignalLike, LlmReply, LlmRequest } from '../core/llm.ts';
import type { LlmModelSpec } from '../core/manifest.ts';
import type { ProposerLlmPort } from '../core/ports.ts';
import { namedError, type EngineProgress } from '../core/types.ts';
import { raceAbort } from './abort.ts';
import { ComlinkWorker } from './comlink-worker.ts';
import { toTextOnlyMessages } from './webllm-mapping.ts';

export type { LlmFallbackLoadOptions, LlmFallbackLoadResult };

/** Construction options. */
export interface TransformersLlmEngineOptions {
  /** Model source. Default: the Hub. */
  load?: Partial<LlmFallbackLoadOptions>;
  /** Reply length when the request names none. Default 512 tokens. */
  defaultMaxTokens?: number;
  /** A completion with no reply for this long means the worker hangs and is restarted. Default 15 minutes. */
  hangTimeoutMs?: number;
  /** Spawns the worker; default workers/llm-fallback/llm-fallback.worker.ts as a module worker. */
  createWorker?: () => Worker;
}

/** Per-load options. */
export interface TransformersLlmLoadCall {
  signal?: AbortSignalLike;
  onProgress?: (event: EngineProgress) => void;
}

const DEFAULT_MAX_TOKENS = 512;
// A 0.6B model on one wasm thread writes a few tokens per second: a long proposal can take minutes.
const DEFAULT_HANG_TIMEOUT_MS = 900_000;

function defaultWorker(): Worker {
  return new Worker(new URL('../../../workers/llm-fallback/llm-fallback.worker.ts', import.meta.url), {
    type: 'module',
    name: 'llm-fallback',
  });
}

/**
 * A transformers.js LLM on WASM as the pipeline's proposer LLM. Never sees images (`vision` is false) and never
 * constrains JSON: the pipeline parses leniently and retries.
 */
export class TransformersLlmEngine implements ProposerLlmPort {
  readonly id: string;
  readonly vision = false;
  readonly #spec: LlmModelSpec;
  readonly #loadOptions: LlmFallbackLoadOptions;
  readonly #defaultMaxTokens: number;
  readonly #hangTimeoutMs: number;
  readonly #worker: ComlinkWorker<LlmFallbackApi>;
  #loading: Promise<LlmFallbackLoadResult> | undefined;

  /** Throws a TypeError for a spec that is not a transformers.js model. */
  constructor(spec: LlmModelSpec, options: TransformersLlmEngineOptions = {}) {
    if (spec.runtime !== 'transformers' || !spec.dtype) {
      throw new TypeError(`${spec.id} is not a transformers.js LLM (runtime ${spec.runtime})`);
    }
    this.#spec = JSON.parse(JSON.stringify(spec)) as LlmModelSpec;
    // The dtype changes replies (q4 vs q8), so it is part of the reply cache key.
    this.id = `${spec.id}@${spec.dtype.wasm}`;
    this.#loadOptions = { local: false, ...options.load };
    this.#defaultMaxTokens = options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS;
    this.#hangTimeoutMs = options.hangTimeoutMs ?? DEFAULT_HANG_TIMEOUT_MS;
    this.#worker = new ComlinkWorker<LlmFallbackApi>(
      'llm-fallback',
      options.createWorker ?? defaultWorker,
      () => {
        this.#loading = undefined;
      },
    );
  }

  /**
   * Loads the model (download → compile → warm-up → ready); cheap when already loaded or loading; a failed or
   * cancelled load is forgotten so calling again retries. Rejects with ModelLoadFailed, OutOfMemory or AbortError.
   */
  load(call: TransformersLlmLoadCall = {}): Promise<LlmFallbackLoadResult> {
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
    loading.catch(() => {
      if (this.#loading === loading) this.#loading = undefined;
    });
    return loading;
  }

  /**
   * One completion (loading the model first if needed). Rejects with AbortError as soon as `signal` aborts. The
   * reply's `model` says that no JSON constraint was applied when the request asked for one.
   */
  async complete(request: LlmRequest, signal?: AbortSignalLike): Promise<LlmReply> {
    if (signal?.aborted) throw namedError('AbortError', 'cancelled before it started');
    const messages = toTextOnlyMessages(request.messages, request.jsonSchema);
    // A load started here is not tied to this call's signal (often a per-call deadline): the caller stops waiting
    // on abort, the load goes on and the next call joins it. Call load({ signal }) to cancel a load.
    await raceAbort(this.load(), signal);
    const reply = await this.#worker.call(
      (api, jobId) =>
        api.complete({
          jobId,
          messages,
          maxTokens: request.maxTokens ?? this.#defaultMaxTokens,
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.seed !== undefined ? { seed: request.seed } : {}),
        }),
      { ...(signal ? { signal } : {}), hangTimeoutMs: this.#hangTimeoutMs },
    );
    return {
      text: reply.text,
      model: request.jsonSchema !== undefined ? `${this.id} (JSON not constrained)` : this.id,
    };
  }

  /** Frees the model's memory but keeps the worker. */
  async unload(): Promise<void> {
    this.#loading = undefined;
    if (this.#worker.started) await this.#worker.call((api) => api.unload());
  }

  /** Terminates the worker. The next call starts a new one. */
  dispose(): void {
    this.#worker.dispose();
  }
}
