// The proposer LLM for browsers without WebGPU: a small causal LM (Qwen3-0.6B) with transformers.js on WASM.
// Plain chat messages in, the new text out; thinking switched off in the chat template; no JSON mode (the pipeline
// parses leniently and retries); cancellable between tokens. `LlmFallbackApi` (its type) is what src/ imports,
// type-only. Imports core types and workers/shared only.
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  type PreTrainedModel,
  type PreTrainedTokenizer,
  type ProgressInfo,
  type Tensor,
} from '@huggingface/transformers';
import type { LlmModelSpec } from '../../src/lib/core/manifest.ts';
import { namedError, type DType } from '../../src/lib/core/types.ts';
import { CancellationRegistry, type Job } from '../shared/cancellation.ts';
import { toLoadError, toRunError } from '../shared/errors.ts';
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
import {
  generateNewText,
  releaseSink,
  SerialQueue,
  yieldBetweenTokens,
  type GeneratedText,
} from '../shared/text-generation.ts';

/** Where the fallback LLM's files come from. */
export interface LlmFallbackLoadOptions {
  /** True when the model is self-hosted under `localModelPath`. */
  local: boolean;
  /** URL path of the self-hosted model folders. Default `/models/`. */
  localModelPath?: string;
  /** Model host for non-local models. Default `https://huggingface.co/`. */
  remoteHost?: string;
}

/** What `load` reports. */
export interface LlmFallbackLoadResult {
  modelId: string;
  device: 'wasm';
  dtype: DType;
  /** Wall time of download + session creation + warm-up, ms. */
  loadMs: number;
}

/** One text-only chat message (images were replaced by notes on the main side). */
export interface PlainChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One completion request. */
export interface LlmFallbackRequest {
  /** Cancel with `cancel(jobId)`. */
  jobId: string;
  /** Ends with a user message. */
  messages: PlainChatMessage[];
  maxTokens: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  /** Seeds sampling (ignored when greedy). */
  seed?: number;
}

/** The reply, with token counts. */
export type LlmFallbackReply = GeneratedText;

interface LoadedLlm {
  spec: LlmModelSpec;
  result: LlmFallbackLoadResult;
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
}

const jobs = new CancellationRegistry();
const generation = new SerialQueue();
const slot = new ModelSlot<LoadedLlm>(jobs, async (loaded) => {
  await loaded.model.dispose();
});

function loadKey(spec: LlmModelSpec, options: LlmFallbackLoadOptions): string {
  return JSON.stringify([
    spec,
    options.local,
    options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    options.remoteHost ?? DEFAULT_REMOTE_HOST,
  ]);
}

/** Token ids of the chat-templated conversation, ready for generate(). */
function encodeChat(
  loaded: Pick<LoadedLlm, 'spec' | 'tokenizer'>,
  messages: PlainChatMessage[],
): { input_ids: Tensor; attention_mask: Tensor } {
  // Extra keys reach the Jinja template as variables: Qwen3's reads `enable_thinking` and, when false, pre-fills
  // an empty <think></think> block so the reply starts with the answer. Templates without it ignore the key.
  const options = {
    add_generation_prompt: true,
    return_dict: true,
    ...(loaded.spec.thinking ? { enable_thinking: false } : {}),
  } as const;
  return loaded.tokenizer.apply_chat_template(messages, options) as unknown as {
    input_ids: Tensor;
    attention_mask: Tensor;
  };
}

async function loadLlm(
  spec: LlmModelSpec,
  options: LlmFallbackLoadOptions,
  job: Job,
  progress: ProgressThrottle,
): Promise<LoadedLlm> {
  const started = performance.now();
  if (spec.runtime !== 'transformers' || !spec.dtype) {
    throw namedError(
      'ModelLoadFailed',
      `${spec.id} is not a transformers.js model (runtime ${spec.runtime})`,
    );
  }
  const dtype = spec.dtype.wasm;
  configureRuntime();
  useModelSource({
    local: options.local,
    localModelPath: options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH,
    remoteHost: options.remoteHost ?? DEFAULT_REMOTE_HOST,
  });
  return withFetchSignal(job.signal, async () => {
    try {
      if (options.local) {
        const base = localModelBase(options.localModelPath ?? DEFAULT_LOCAL_MODEL_PATH, spec.id);
        await verifyLocalModel(
          base,
          spec.id,
          (config) => [
            'tokenizer.json',
            'tokenizer_config.json',
            onnxFile('model', dtype),
            ...externalDataFiles(config, 'model', dtype),
          ],
          job.signal,
        );
      }
      const mapper = new LibraryProgressMapper();
      const progress_callback = (info: ProgressInfo) => {
        for (const event of mapper.map(info)) progress.push(event);
      };
      const [tokenizer, model] = await Promise.allSettled([
        AutoTokenizer.from_pretrained(spec.id, { progress_callback }),
        AutoModelForCausalLM.from_pretrained(spec.id, { device: 'wasm', dtype, progress_callback }),
      ]);
      if (tokenizer.status === 'rejected' || model.status === 'rejected') {
        if (model.status === 'fulfilled') await model.value.dispose().catch(() => {});
        throw (tokenizer.status === 'rejected' ? tokenizer : (model as PromiseRejectedResult)).reason;
      }
      const parts = { spec, tokenizer: tokenizer.value, model: model.value };
      try {
        yieldBetweenTokens(parts.model);
        job.throwIfCancelled();
        progress.push({ phase: 'warmup' });
        // One token proves the session runs and the template renders before we claim `ready`.
        await run(parts, [{ role: 'user', content: 'Say OK.' }], 1, job);
      } catch (error) {
        await parts.model.dispose().catch(() => {});
        throw error;
      }
      progress.push({ phase: 'ready', device: 'wasm', dtype });
      const result: LlmFallbackLoadResult = {
        modelId: spec.id,
        device: 'wasm',
        dtype,
        loadMs: Math.round(performance.now() - started),
      };
      return { ...parts, result };
    } catch (error) {
      throw toLoadError(error, spec.id);
    }
  });
}

async function run(
  loaded: Pick<LoadedLlm, 'spec' | 'tokenizer' | 'model'>,
  messages: PlainChatMessage[],
  maxTokens: number,
  job: Job,
  sampling: { temperature?: number; seed?: number } = {},
): Promise<GeneratedText> {
  const inputs = encodeChat(loaded, messages);
  const decode = (ids: Tensor) => loaded.tokenizer.batch_decode(ids, { skip_special_tokens: true });
  return generateNewText(loaded.model, decode, inputs, maxTokens, job, sampling);
}

/**
 * The worker's API, exposed with comlink by llm-fallback.worker.ts. Tests may call it directly. Errors carry a
 * name from core's ERROR_NAMES (ModelLoadFailed, OutOfMemory, AbortError); a bad request is a plain Error.
 */
export const api = {
  /**
   * Loads the tokenizer and the model on WASM with `spec.dtype.wasm`, warms it up (one token) and reports.
   * Memoized per (spec, source); a failed load is forgotten so Retry works. Progress: download, compile, warmup,
   * ready.
   */
  async load(
    spec: LlmModelSpec,
    options: LlmFallbackLoadOptions,
    onProgress?: ProgressSink,
    jobId = 'llm-fallback-load',
  ): Promise<LlmFallbackLoadResult> {
    const progress = throttleProgress(onProgress);
    try {
      const { model, joined } = await slot.acquire(loadKey(spec, options), jobId, (job) =>
        loadLlm(spec, options, job, progress),
      );
      if (joined) progress.push({ phase: 'ready', device: 'wasm', dtype: model.result.dtype });
      return model.result;
    } finally {
      progress.flush();
      releaseSink(onProgress);
    }
  },

  /**
   * Generates the assistant's reply to `request.messages` (thinking off, greedy unless a temperature is given) and
   * returns the new text exactly as generated. `cancel(jobId)` stops it before the next token (AbortError).
   * Completions run one at a time.
   */
  async complete(request: LlmFallbackRequest): Promise<LlmFallbackReply> {
    const job = jobs.begin(request.jobId);
    try {
      return await generation.run(async () => {
        job.throwIfCancelled();
        const loaded = await slot.current();
        if (!loaded) throw new Error('no fallback LLM is loaded: call load() first');
        if (!Number.isInteger(request.maxTokens) || request.maxTokens < 1) {
          throw new RangeError(`maxTokens must be a positive integer, got ${request.maxTokens}`);
        }
        if (request.messages.at(-1)?.role !== 'user') {
          throw new Error('the conversation must end with a user message');
        }
        return await run(loaded, request.messages, request.maxTokens, job, {
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request.seed !== undefined ? { seed: request.seed } : {}),
        });
      });
    } catch (error) {
      throw toRunError(error);
    } finally {
      job.end();
    }
  },

  /** Cancels job `jobId` (a load or a completion). Returns true when it was running; unknown ids are harmless. */
  cancel(jobId: string): boolean {
    return jobs.cancel(jobId);
  },

  /** The loaded model's load result, or null. */
  async loaded(): Promise<LlmFallbackLoadResult | null> {
    return (await slot.current())?.result ?? null;
  },

  /** Frees the model's memory. A later load() starts from scratch. */
  async unload(): Promise<void> {
    await slot.unload();
  },
};

/** The worker API as the main side sees its type (imported type-only). */
export type LlmFallbackApi = typeof api;
