// Pure mappings between core's LLM port and the in-browser LLM runtimes: an LlmRequest as a web-llm chat-completion
// body (image parts as data URLs for vision models, a note for text-only ones), the same conversation as plain text
// for the WASM fallback, web-llm's progress text as typed EngineProgress, and web-llm's errors (which cross its
// worker as strings) as named errors. Imports core and web-llm's types only, so it runs in Node tests.
import type {
  ChatCompletion,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionRequestNonStreaming,
  InitProgressReport,
} from '@mlc-ai/web-llm';
import type { LlmContentPart, LlmMessage, LlmRequest } from '../core/llm.ts';
import type { LlmModelSpec } from '../core/manifest.ts';
import { namedError, type DType, type EngineProgress } from '../core/types.ts';
import { imageDataUrl } from './data-url.ts';

/** What the mapping needs to know about the model. */
export type LlmTraits = Pick<LlmModelSpec, 'vision' | 'jsonMode' | 'thinking'>;

// ---------------------------------------------------------------------------------------------------------------
// Images

// web-llm accepts only `data:image/...;base64,` URLs (or http), never `blob:` URLs: the shared encoder makes them.
export { bytesToBase64, imageDataUrl } from './data-url.ts';

/** Text put where an image was when the model cannot see: the prompt still reads coherently. */
export const IMAGE_NOT_SEEN_NOTE = '[an image was attached here, but this model cannot see images]';

// ---------------------------------------------------------------------------------------------------------------
// Requests

/** The message as one string: images become `IMAGE_NOT_SEEN_NOTE`. */
function flatten(content: string | LlmContentPart[]): string {
  if (typeof content === 'string') return content;
  return content
    .map((part) => (part.type === 'text' ? part.text : IMAGE_NOT_SEEN_NOTE))
    .filter((text) => text !== '')
    .join('\n\n');
}

/**
 * A user message for a vision model. web-llm allows at most one text part per message and puts the images before
 * it (Phi-3.5-vision's `<|image_1|>` placeholders), so every image becomes an image part in order and the texts
 * are joined into one, with `[image N]` where image N was, so "the first grid shows set A" keeps its meaning.
 */
function visionUserMessage(content: LlmContentPart[]): ChatCompletionMessageParam {
  const images: ChatCompletionContentPart[] = [];
  const texts: string[] = [];
  for (const part of content) {
    if (part.type === 'image') {
      images.push({ type: 'image_url', image_url: { url: imageDataUrl(part.image) } });
      texts.push(`[image ${images.length}]`);
    } else if (part.text !== '') {
      texts.push(part.text);
    }
  }
  if (images.length === 0) return { role: 'user', content: texts.join('\n\n') };
  return { role: 'user', content: [...images, { type: 'text', text: texts.join('\n\n') }] };
}

/**
 * The web-llm messages for `messages`. web-llm only takes images in user messages, only a system message in first
 * position and only string content outside user messages, so: images elsewhere (and all images for text-only
 * models) become a note, and a later system message becomes a user message prefixed "System:".
 */
export function toWebLlmMessages(
  messages: readonly LlmMessage[],
  vision: boolean,
): ChatCompletionMessageParam[] {
  return messages.map((message, index): ChatCompletionMessageParam => {
    switch (message.role) {
      case 'system':
        return index === 0
          ? { role: 'system', content: flatten(message.content) }
          : { role: 'user', content: `System: ${flatten(message.content)}` };
      case 'assistant':
        return { role: 'assistant', content: flatten(message.content) };
      case 'user':
        return vision && typeof message.content !== 'string'
          ? visionUserMessage(message.content)
          : { role: 'user', content: flatten(message.content) };
    }
  });
}

/**
 * The web-llm chat-completion body for `request`:
 * - `response_format: { type: 'json_object', schema: <JSON string> }` when the request has a schema and the model
 *   decodes under a schema (web-llm does not accept OpenAI's `json_schema` form);
 * - `extra_body.enable_thinking: false` for models with a thinking mode (Qwen3), so replies start with the answer;
 * - temperature, seed (web-llm rejects non-integers: floored) and max_tokens when given.
 * Throws a TypeError when the conversation does not end with a user message (web-llm would reject it).
 */
export function toWebLlmRequest(request: LlmRequest, traits: LlmTraits): ChatCompletionRequestNonStreaming {
  const messages = toWebLlmMessages(request.messages, traits.vision);
  if (messages.at(-1)?.role !== 'user') {
    throw new TypeError('the conversation must end with a user message');
  }
  const body: ChatCompletionRequestNonStreaming = { messages, stream: false };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.seed !== undefined) body.seed = Math.floor(request.seed);
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.jsonSchema !== undefined && traits.jsonMode === 'schema') {
    body.response_format = { type: 'json_object', schema: JSON.stringify(request.jsonSchema) };
  }
  if (traits.thinking) body.extra_body = { enable_thinking: false };
  return body;
}

/** The reply text of a web-llm completion ('' when the model produced none). */
export function replyText(completion: Pick<ChatCompletion, 'choices'>): string {
  return completion.choices[0]?.message.content ?? '';
}

/**
 * The conversation as plain-text messages for a model without images or JSON mode (the WASM fallback): images
 * become a note, and with a schema the last user message gets a sentence asking for JSON in that shape (the
 * pipeline's prompts already ask for JSON; a small model unconstrained needs the shape spelled out).
 */
export function toTextOnlyMessages(
  messages: readonly LlmMessage[],
  jsonSchema?: object,
): { role: LlmMessage['role']; content: string }[] {
  const out = messages.map((m) => ({ role: m.role, content: flatten(m.content) }));
  if (jsonSchema !== undefined) {
    const last = out.findLastIndex((m) => m.role === 'user');
    if (last >= 0) {
      const message = out[last]!;
      message.content =
        `${message.content}\n\nReply with one JSON value only, no prose and no Markdown, matching this JSON Schema: ` +
        JSON.stringify(jsonSchema);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Progress

/** EngineProgress names one dtype: web-llm's `q4f16_1` computes in fp16 with 4-bit weights, `q4f32_1` in fp32. */
export function webLlmDtype(modelId: string): DType {
  const match = /-q(\d+)f(16|32)(?:_\d+)?-MLC$/i.exec(modelId);
  if (!match) return 'q4f16';
  const [, bits, float] = match;
  if (bits === '0') return float === '16' ? 'fp16' : 'fp32';
  return float === '16' ? 'q4f16' : 'q4';
}

const MB = 1024 * 1024;

/**
 * Turns one web-llm init report into EngineProgress, or undefined for reports that carry nothing to show.
 * web-llm reports free text with a fraction; these shapes are stable across 0.2.x:
 * - `Start to fetch params` / `Fetching param cache[i/n]: X MB fetched. P% completed, …` → download;
 * - `Loading model from cache[i/n]: X MB loaded. …` (weights already in Cache Storage, going to the GPU) →
 *   download of the same file, so the bar does not jump backwards between the two;
 * - `Loading GPU shader modules[i/n]: …` → compile (file `GPU shaders i/n`);
 * - `Finish loading on WebGPU - <adapter>` → ready.
 */
export function parseInitProgress(report: InitProgressReport, modelId: string): EngineProgress | undefined {
  const text = report.text.trim();
  const fraction = Number.isFinite(report.progress) ? Math.min(1, Math.max(0, report.progress)) : 0;
  const file = `${modelId} weights`;
  if (text.startsWith('Start to fetch params')) return { phase: 'download', file, loaded: 0, total: 0 };
  const weights =
    /^(?:Fetching param cache|Loading model from cache)\[\d+\/\d+\]: (\d+)MB (?:fetched|loaded)/.exec(text);
  if (weights) {
    const loaded = Number(weights[1]) * MB;
    // The MB figure is rounded up and the fraction exact: the total follows from both.
    const total = fraction > 0 ? Math.max(loaded, Math.round(loaded / fraction)) : 0;
    return { phase: 'download', file, loaded: fraction >= 1 ? total : loaded, total };
  }
  const shaders = /^Loading GPU shader modules\[(\d+)\/(\d+)\]/.exec(text);
  if (shaders) return { phase: 'compile', file: `GPU shaders ${shaders[1]}/${shaders[2]}` };
  if (text.startsWith('Finish loading on'))
    return { phase: 'ready', device: 'webgpu', dtype: webLlmDtype(modelId) };
  return undefined;
}

/**
 * Lets through at most one event per `intervalMs`, except that a change of phase (or of download file) and the
 * last event of a phase (a complete download, the last shader module, ready) always pass. web-llm reports every
 * shader module, hundreds within a second; the UI needs ten a second at most.
 */
export function progressGate(
  intervalMs = 100,
  now: () => number = () => Date.now(),
): (event: EngineProgress) => boolean {
  let lastKey: string | undefined;
  let lastAt = -Infinity;
  return (event) => {
    const key = event.phase === 'download' ? `download:${event.file}` : event.phase;
    const final =
      (event.phase === 'download' && event.total > 0 && event.loaded >= event.total) ||
      (event.phase === 'compile' && / (\d+)\/\1$/.test(event.file ?? '')) ||
      event.phase === 'ready';
    const t = now();
    if (key !== lastKey || final || t - lastAt >= intervalMs) {
      lastKey = key;
      lastAt = t;
      return true;
    }
    return false;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

function textOf(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Maps what web-llm rejects with to a named error. Its worker sends errors as `err.toString()` strings
 * ("DeviceLostError: …"), so classes are recognised by name within the text:
 * - DeviceLostError, a lost device, or a model that vanished after loading (web-llm unloads on device loss) →
 *   DeviceLost;
 * - WebGPUNotAvailableError / WebGPUNotFoundError / ShaderF16SupportError → WebGpuUnavailable;
 * - QuotaExceededError (Cache Storage full) → QuotaExceeded; allocation failures → OutOfMemory;
 * - an abort → AbortError;
 * - anything else while loading → ModelLoadFailed naming the model and the cause; while generating → a plain Error.
 */
export function toWebLlmError(error: unknown, modelId: string, phase: 'load' | 'generate'): Error {
  const text = textOf(error);
  if (/\bAbortError\b/.test(text)) return namedError('AbortError', `${modelId}: cancelled`, error);
  if (/DeviceLostError|device (?:was |is |has been )?lost/i.test(text)) {
    return namedError('DeviceLost', `${modelId}: the GPU device was lost (${text})`, error);
  }
  if (phase === 'generate' && /(?:WorkerEngine)?ModelNotLoadedError|EngineNotLoadedError/.test(text)) {
    return namedError(
      'DeviceLost',
      `${modelId} was unloaded by web-llm while in use, which it does when the GPU device is lost (${text})`,
      error,
    );
  }
  if (/WebGPUNotAvailableError|WebGPUNotFoundError|ShaderF16SupportError|FeatureSupportError/.test(text)) {
    return namedError('WebGpuUnavailable', `${modelId}: ${text}`, error);
  }
  if (/QuotaExceededError|quota/i.test(text)) {
    return namedError(
      'QuotaExceeded',
      `${modelId}: the browser's storage is full, so the weights cannot be cached (${text})`,
      error,
    );
  }
  if (
    /out of memory|not enough memory|allocation failed|failed to allocate|cannot enlarge memory/i.test(text)
  ) {
    return namedError('OutOfMemory', `${modelId}: ${text}`, error);
  }
  if (phase === 'generate') return error instanceof Error ? error : new Error(text);
  if (/Failed to fetch|NetworkError|network error|Load failed|ERR_/i.test(text)) {
    return namedError(
      'ModelLoadFailed',
      `${modelId}: the model host could not be reached (are you offline?). web-llm fetches the weights and the ` +
        `compiled model library from the Hugging Face Hub and GitHub once, then caches them (${text})`,
      error,
    );
  }
  return namedError('ModelLoadFailed', `${modelId}: ${text}`, error);
}
