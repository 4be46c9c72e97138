// Cancellable text generation with transformers.js for the VLM and fallback-LLM workers: one generation at a time
// per model, a real yield between tokens so a `cancel` message can arrive, an InterruptableStoppingCriteria tied to
// the job, and decoding of the new tokens only. Imports transformers.js, comlink and workers/shared only.
import {
  InterruptableStoppingCriteria,
  random,
  type PreTrainedModel,
  type Tensor,
} from '@huggingface/transformers';
import * as Comlink from 'comlink';
import { namedError } from '../../src/lib/core/types.ts';
import { yieldToEventLoop, type Job } from './cancellation.ts';
import type { ProgressSink } from './progress.ts';

/**
 * Runs tasks one after another. ONNX Runtime sessions must not run two generations at once (they share the KV
 * cache buffers on WebGPU), and comlink delivers concurrent calls concurrently.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => {});
    return result;
  }
}

const yielding = new WeakSet<PreTrainedModel>();

/**
 * Makes every forward pass of `model` start on a fresh macrotask. On WASM, ONNX Runtime's run settles in
 * microtasks, so `generate()` would otherwise hold the thread until the last token and a `cancel` message would
 * queue behind it. The cost is one MessageChannel round trip per token (well under a millisecond).
 */
export function yieldBetweenTokens(model: PreTrainedModel): void {
  if (yielding.has(model)) return;
  yielding.add(model);
  const forward = model.forward.bind(model);
  // An own property shadows the prototype method that generate() calls as `this.forward(...)`.
  model.forward = async (inputs: unknown) => {
    await yieldToEventLoop();
    return forward(inputs);
  };
}

/** How to pick each next token. */
export interface Sampling {
  /** 0 or absent: greedy (deterministic). */
  temperature?: number;
  /** Seeds transformers.js's sampler (its global Mersenne Twister) before sampling. */
  seed?: number;
  /** > 1 discourages repeating tokens already in the text; small models loop without it. */
  repetitionPenalty?: number;
}

/** What one generation produced. */
export interface GeneratedText {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** `length` when `maxNewTokens` cut the reply. */
  finishReason: 'stop' | 'length';
}

/**
 * Generates up to `maxNewTokens` after `inputs` (the processor's or tokenizer's output, with `input_ids`) and
 * decodes only the new tokens. Cancelling `job` stops generation before the next token and rejects with an
 * AbortError. Call {@link yieldBetweenTokens} on the model once after loading so that the cancel can arrive.
 */
export async function generateNewText(
  model: PreTrainedModel,
  decode: (ids: Tensor) => string[],
  inputs: { input_ids: Tensor } & Record<string, unknown>,
  maxNewTokens: number,
  job: Job,
  sampling: Sampling = {},
): Promise<GeneratedText> {
  job.throwIfCancelled();
  const stop = new InterruptableStoppingCriteria();
  const interrupt = () => stop.interrupt();
  job.signal.addEventListener('abort', interrupt, { once: true });
  const temperature = sampling.temperature ?? 0;
  const sample = temperature > 0;
  if (sample && sampling.seed !== undefined) random.seed(sampling.seed);
  try {
    const output = await model.generate({
      ...inputs,
      max_new_tokens: maxNewTokens,
      do_sample: sample,
      ...(sample ? { temperature } : {}),
      ...(sampling.repetitionPenalty !== undefined ? { repetition_penalty: sampling.repetitionPenalty } : {}),
      stopping_criteria: stop,
    });
    // An interrupted generate() returns normally with what it had: the caller asked for nothing of it.
    job.throwIfCancelled();
    const sequences = output as Tensor;
    const promptTokens = inputs.input_ids.dims.at(-1) ?? 0;
    const fresh = sequences.slice(null, [promptTokens, sequences.dims.at(-1) ?? promptTokens]);
    const completionTokens = fresh.dims.at(-1) ?? 0;
    const [text = ''] = decode(fresh);
    return {
      text,
      promptTokens,
      completionTokens,
      finishReason: completionTokens >= maxNewTokens ? 'length' : 'stop',
    };
  } catch (error) {
    if (job.signal.aborted) throw namedError('AbortError', `job ${job.id} was cancelled`, error);
    throw error;
  } finally {
    job.signal.removeEventListener('abort', interrupt);
  }
}

/** Frees the main side's end of a comlink callback once a call is over (a no-op for a plain function). */
export function releaseSink(sink: ProgressSink | undefined): void {
  const releasable = sink as (ProgressSink & { [Comlink.releaseProxy]?: () => void }) | undefined;
  try {
    releasable?.[Comlink.releaseProxy]?.();
  } catch {
    // Already released, or the page is gone.
  }
}
