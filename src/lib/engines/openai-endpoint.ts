// The OpenAI-compatible chat-completions provider (llama.cpp server, Ollama, vLLM, LM Studio, OpenAI): settings
// validation, request/reply mapping for the proposer LLM and the captioner, error mapping, model listing, and the
// plain-language statement of what leaves the machine. Uses only fetch, AbortController and btoa, so it runs in the
// browser and in Node 20 alike. Imports core types only: never state, components, storage, imaging or workers.

import type { Crop } from '../core/cache-keys.ts';
import type {
  AbortSignalLike,
  EncodedImage,
  LlmContentPart,
  LlmMessage,
  LlmReply,
  LlmRequest,
} from '../core/llm.ts';
import type { CaptionerPort, ProposerLlmPort } from '../core/ports.ts';
import { imageDataUrl } from './data-url.ts';

/** How the reply is constrained to JSON when a request carries a schema (servers differ in what they accept). */
export type JsonMode = 'json_schema' | 'json_object' | 'none';

/** Where and how to reach an OpenAI-compatible server. */
export interface EndpointSettings {
  /**
   * The API base, normalized by {@link parseEndpointSettings} to end in a version segment (`…/v1`): requests go to
   * `${baseUrl}/chat/completions` and `${baseUrl}/models`. See {@link normalizeEndpointBaseUrl} for the rule.
   */
  baseUrl: string;
  /** Model name as the server knows it (`qwen2.5vl:7b`, `gpt-4o-mini`, a GGUF alias…). */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>` when present; local servers usually need none. */
  apiKey?: string;
  /** True when the model understands images; otherwise image parts are replaced by a text note. */
  vision: boolean;
  /** `response_format` sent when a request has a JSON schema. */
  jsonMode: JsonMode;
  /** Per-request timeout in ms, covering the whole reply; default {@link DEFAULT_ENDPOINT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Default per-request timeout. Generous on purpose: a CPU-only llama.cpp reading two 20-image grids can take
 * minutes before the first token, and a timeout there would only turn a slow run into a failed one.
 */
export const DEFAULT_ENDPOINT_TIMEOUT_MS = 300_000;

/** Timeout of the model listing ("Test connection"): a healthy server answers it at once. */
const LIST_TIMEOUT_MS = 15_000;

/** Upper bound for `timeoutMs`, so a typo (ms vs s) cannot make a run wait for days. */
const MAX_TIMEOUT_MS = 3_600_000;

/** Text put where an image was when the model cannot see: the prompt still reads coherently. */
export const IMAGE_OMITTED_NOTE = '[image omitted: model has no vision]';

/** Names of the errors this provider rejects with (errors cross worker boundaries by name). */
export type EndpointErrorName = 'EndpointError' | 'TimeoutError' | 'AbortError';

/**
 * An error from the endpoint. `retryable` says whether the same request may succeed later unchanged (rate limits,
 * overload, timeouts); `status` is the HTTP status when the server answered.
 */
export interface EndpointError extends Error {
  name: EndpointErrorName;
  retryable: boolean;
  status?: number;
}

/** True when `error` is an endpoint failure that is worth retrying with backoff. */
export function isRetryableEndpointError(error: unknown): boolean {
  return error instanceof Error && (error as Partial<EndpointError>).retryable === true;
}

/**
 * The subset of `fetch` this module uses. The global `fetch` of browsers and Node satisfies it; tests can pass a
 * scripted function without implementing all of `Response`.
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; statusText: string; text(): Promise<string> }>;

// ---------------------------------------------------------------------------------------------------------------
// Settings

/**
 * Normalizes a user-typed base URL to the API base we append `/chat/completions` and `/models` to.
 *
 * Rule: trailing slashes are removed; a pasted full endpoint (`…/chat/completions` or `…/models`) is cut back to
 * its base; then, if no path segment is a version segment (`v1`, `v1beta`, `v2`, …), `/v1` is appended. So
 * `http://127.0.0.1:8080` → `http://127.0.0.1:8080/v1`, `https://api.openai.com/v1/` → `https://api.openai.com/v1`,
 * `https://host/v1beta/openai` stays as is, and `http://host/proxy` → `http://host/proxy/v1`.
 * Only http(s) without credentials, query or fragment is accepted. Throws an Error saying what is wrong.
 */
export function normalizeEndpointBaseUrl(raw: string): string {
  const text = raw.trim();
  if (text === '') throw new Error('the server URL is empty');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the server URL must start with http:// or https://, got ${url.protocol}`);
  }
  // fetch refuses URLs with credentials; the API key field is the place for a secret.
  if (url.username !== '' || url.password !== '') {
    throw new Error(
      'the server URL must not contain a user name or password: put a key in the API key field',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new Error('the server URL must not contain a query (?…) or fragment (#…)');
  }
  let segments = url.pathname.split('/').filter((segment) => segment !== '');
  const tail = segments.slice(-2).join('/');
  if (tail === 'chat/completions') segments = segments.slice(0, -2);
  else if (segments.at(-1) === 'models') segments = segments.slice(0, -1);
  if (!segments.some((segment) => /^v\d+[a-z0-9]*$/i.test(segment))) segments.push('v1');
  return `${url.origin}/${segments.join('/')}`;
}

/**
 * Validates endpoint settings as typed in the UI or read back from storage. Fills defaults (`vision: false`,
 * `jsonMode: 'json_schema'`), trims strings, drops an empty API key and normalizes `baseUrl`
 * ({@link normalizeEndpointBaseUrl}). Returns readable problems instead of throwing; unknown keys are ignored.
 */
export function parseEndpointSettings(
  raw: unknown,
): { ok: true; settings: EndpointSettings } | { ok: false; problems: string[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: ['endpoint settings must be an object'] };
  }
  const input = raw as Record<string, unknown>;
  const problems: string[] = [];

  let baseUrl = '';
  if (typeof input['baseUrl'] !== 'string') problems.push('baseUrl: the server URL is required');
  else {
    try {
      baseUrl = normalizeEndpointBaseUrl(input['baseUrl']);
    } catch (error) {
      problems.push(`baseUrl: ${(error as Error).message}`);
    }
  }

  const model = typeof input['model'] === 'string' ? input['model'].trim() : '';
  if (model === '') problems.push('model: the model name is required');

  const apiKeyRaw = input['apiKey'];
  if (apiKeyRaw !== undefined && apiKeyRaw !== null && typeof apiKeyRaw !== 'string') {
    problems.push('apiKey: must be text');
  }
  const apiKey = typeof apiKeyRaw === 'string' && apiKeyRaw.trim() !== '' ? apiKeyRaw.trim() : undefined;

  const vision = input['vision'] ?? false;
  if (typeof vision !== 'boolean') problems.push('vision: must be true or false');

  const jsonMode = input['jsonMode'] ?? 'json_schema';
  if (jsonMode !== 'json_schema' && jsonMode !== 'json_object' && jsonMode !== 'none') {
    problems.push(`jsonMode: must be json_schema, json_object or none, got ${JSON.stringify(jsonMode)}`);
  }

  const timeoutMs = input['timeoutMs'];
  if (
    timeoutMs !== undefined &&
    timeoutMs !== null &&
    (typeof timeoutMs !== 'number' ||
      !Number.isInteger(timeoutMs) ||
      timeoutMs <= 0 ||
      timeoutMs > MAX_TIMEOUT_MS)
  ) {
    problems.push(`timeoutMs: must be a whole number of milliseconds between 1 and ${MAX_TIMEOUT_MS}`);
  }

  if (problems.length > 0) return { ok: false, problems };
  const settings: EndpointSettings = {
    baseUrl,
    model,
    vision: vision as boolean,
    jsonMode: jsonMode as JsonMode,
  };
  if (apiKey !== undefined) settings.apiKey = apiKey;
  if (typeof timeoutMs === 'number') settings.timeoutMs = timeoutMs;
  return { ok: true, settings };
}

// ---------------------------------------------------------------------------------------------------------------
// Request mapping

// One encoder serves every image-taking interface (re-exported for this module's callers and tests).
export { bytesToBase64, imageDataUrl } from './data-url.ts';

type OpenAiContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

interface OpenAiMessage {
  role: LlmMessage['role'];
  content: string | OpenAiContentPart[];
}

function mapContent(content: string | LlmContentPart[], vision: boolean): string | OpenAiContentPart[] {
  if (typeof content === 'string') return content;
  const hasImage = content.some((part) => part.type === 'image');
  if (!vision || !hasImage) {
    // Text-only servers and chat templates (older llama.cpp, many Ollama text models) reject array content, so a
    // message without images is flattened to one string, in order.
    return content.map((part) => (part.type === 'text' ? part.text : IMAGE_OMITTED_NOTE)).join('\n');
  }
  return content.map((part): OpenAiContentPart =>
    part.type === 'text'
      ? { type: 'text', text: part.text }
      : { type: 'image_url', image_url: { url: imageDataUrl(part.image) } },
  );
}

function chatBody(settings: EndpointSettings, request: LlmRequest): Record<string, unknown> {
  const messages: OpenAiMessage[] = request.messages.map((message) => ({
    role: message.role,
    content: mapContent(message.content, settings.vision),
  }));
  // Ollama and llama.cpp stream unless told otherwise on some versions; we always want one JSON reply.
  const body: Record<string, unknown> = { model: settings.model, messages, stream: false };
  if (request.temperature !== undefined) body['temperature'] = request.temperature;
  if (request.seed !== undefined) body['seed'] = request.seed;
  if (request.maxTokens !== undefined) body['max_tokens'] = request.maxTokens;
  if (request.jsonSchema !== undefined) {
    if (settings.jsonMode === 'json_schema') {
      body['response_format'] = {
        type: 'json_schema',
        json_schema: { name: 'reply', schema: request.jsonSchema, strict: true },
      };
    } else if (settings.jsonMode === 'json_object') {
      body['response_format'] = { type: 'json_object' };
    }
  }
  return body;
}

/** The reply text: `choices[0].message.content` as a string, or its text parts joined; '' when absent. */
function replyText(json: unknown): string {
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return '';
  const content = (choices[0] as { message?: { content?: unknown } } | undefined)?.message?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => {
        const text = (part as { text?: unknown } | null)?.text;
        return typeof text === 'string' ? text : '';
      })
      .join('');
  }
  return '';
}

// ---------------------------------------------------------------------------------------------------------------
// Transport and error mapping

function endpointError(
  name: EndpointErrorName,
  message: string,
  details: { retryable: boolean; status?: number; cause?: unknown },
): EndpointError {
  const error = new Error(
    message,
    details.cause === undefined ? undefined : { cause: details.cause },
  ) as EndpointError;
  error.name = name;
  error.retryable = details.retryable;
  if (details.status !== undefined) error.status = details.status;
  return error;
}

function abortError(): EndpointError {
  return endpointError('AbortError', 'The request to the language model was cancelled.', {
    retryable: false,
  });
}

/** Rate limits, overload and gateway hiccups pass with time; everything else needs a change to the request. */
const RETRYABLE_STATUSES = new Set([408, 429, 502, 503, 504]);

function statusHint(status: number): string {
  if (status === 401 || status === 403) return ' Check the API key.';
  if (status === 404) return ' Check the server URL and the model name.';
  if (status === 429) return ' The server is rate-limiting; try again later.';
  if (status === 503) return ' The server is busy or still loading the model; try again later.';
  return '';
}

/** The page's origin in a browser or worker; undefined in Node (which has no `location`). */
function pageOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' ? origin : undefined;
}

function networkError(origin: string, cause: unknown): EndpointError {
  // Node's fetch says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND) is in its cause.
  const nested = (cause as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const detail =
    typeof nested?.code === 'string' ? nested.code : cause instanceof Error ? cause.message : String(cause);
  let message = `The server at ${origin} could not be reached (${detail}). Check that it is running and that the URL is right.`;
  const page = pageOrigin();
  if (page !== undefined) {
    // Browsers report a CORS refusal as the same opaque network error, so name it as the likely cause.
    message +=
      ` In a browser the server must also allow requests from this page's origin (${page}) through CORS` +
      ' (Access-Control-Allow-Origin; for Ollama set OLLAMA_ORIGINS).';
    if (page.startsWith('https:') && origin.startsWith('http:') && !isLoopback(origin)) {
      message += ' A page served over https cannot call a plain-http server on another machine.';
    }
  }
  return endpointError('EndpointError', message, { retryable: false, cause });
}

function isLoopback(origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host.endsWith('.localhost');
}

/** Everything one HTTP exchange needs. */
interface Exchange {
  method: 'GET' | 'POST';
  url: string;
  settings: EndpointSettings;
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignalLike;
}

/**
 * Sends one request and returns the parsed JSON reply. The caller's signal and the timeout share one
 * AbortController, so either cancels the socket; which one fired decides between AbortError and TimeoutError.
 */
async function exchange(fetchImpl: FetchLike, request: Exchange): Promise<unknown> {
  const { settings, signal } = request;
  const origin = new URL(request.url).origin;
  if (signal?.aborted) throw abortError();

  const controller = new AbortController();
  let cause: 'abort' | 'timeout' | undefined;
  let rejectStopped: (error: unknown) => void = () => {};
  // Raced against the fetch so that a fetch implementation that ignores its signal still cannot hang us.
  const stopped = new Promise<never>((_, reject) => (rejectStopped = reject));
  const stop = (why: 'abort' | 'timeout') => {
    if (cause !== undefined) return;
    cause = why;
    controller.abort();
    rejectStopped(why === 'abort' ? abortError() : timeoutError(origin, request.timeoutMs));
  };
  const onAbort = () => stop('abort');
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => stop('timeout'), request.timeoutMs);

  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (settings.apiKey !== undefined) headers['authorization'] = `Bearer ${settings.apiKey}`;

  let status: number;
  let statusText: string;
  let text: string;
  try {
    const response = await Promise.race([
      fetchImpl(request.url, {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        signal: controller.signal,
      }),
      stopped,
    ]);
    // The body is read under the same race: a server may send headers and then stall.
    text = await Promise.race([response.text(), stopped]);
    status = response.status;
    statusText = response.statusText;
    if (!response.ok) throw httpError(origin, request.url, status, statusText, text);
  } catch (error) {
    if (cause === 'abort') throw abortError();
    if (cause === 'timeout') throw timeoutError(origin, request.timeoutMs);
    if ((error as Partial<EndpointError>).name === 'EndpointError') throw error;
    throw networkError(origin, error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    // Swallow the race loser so an abort after completion is not an unhandled rejection.
    stopped.catch(() => {});
  }

  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw endpointError(
      'EndpointError',
      `The server at ${origin} answered ${status} to ${new URL(request.url).pathname} with something that is not ` +
        `JSON (is this an OpenAI-compatible API?): ${snippet(text)}`,
      { retryable: false, status, cause: error },
    );
  }
}

function snippet(body: string): string {
  return body.slice(0, 300);
}

function httpError(
  origin: string,
  url: string,
  status: number,
  statusText: string,
  body: string,
): EndpointError {
  const path = new URL(url).pathname;
  return endpointError(
    'EndpointError',
    `The server at ${origin} answered ${status} ${statusText} to ${path}: ${snippet(body)}${statusHint(status)}`,
    { retryable: RETRYABLE_STATUSES.has(status), status },
  );
}

function timeoutError(origin: string, timeoutMs: number): EndpointError {
  return endpointError(
    'TimeoutError',
    `The server at ${origin} did not answer within ${Math.round(timeoutMs / 1000)} s.`,
    { retryable: true },
  );
}

/** Some servers answer 200 with `{"error": …}` instead of an HTTP error status. */
function errorInBody(json: unknown, origin: string): EndpointError | undefined {
  if (json === null || typeof json !== 'object' || 'choices' in json) return undefined;
  const error = (json as { error?: unknown }).error;
  if (error === undefined) return undefined;
  const message =
    typeof error === 'string'
      ? error
      : ((error as { message?: unknown } | null)?.message ?? JSON.stringify(error));
  return endpointError(
    'EndpointError',
    `The server at ${origin} reported an error: ${snippet(String(message))}`,
    {
      retryable: false,
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Ports

function endpointId(settings: EndpointSettings): string {
  return `endpoint:${settings.model}@${new URL(settings.baseUrl).origin}`;
}

/**
 * The proposer LLM over an OpenAI-compatible server. `id` is `endpoint:<model>@<origin>` (part of the reply cache
 * key); `vision` mirrors the settings. An empty or missing reply content resolves to text '' (the pipeline treats
 * it as a malformed reply); transport failures reject with {@link EndpointError}s named `EndpointError`,
 * `TimeoutError` or `AbortError`.
 */
export function createEndpointLlm(settings: EndpointSettings, fetchImpl: FetchLike = fetch): ProposerLlmPort {
  // Normalizing again is idempotent and protects callers that built settings by hand.
  const base = normalizeEndpointBaseUrl(settings.baseUrl);
  const resolved: EndpointSettings = { ...settings, baseUrl: base };
  const id = endpointId(resolved);
  const timeoutMs = settings.timeoutMs ?? DEFAULT_ENDPOINT_TIMEOUT_MS;
  return {
    id,
    vision: settings.vision,
    async complete(request: LlmRequest, signal?: AbortSignalLike): Promise<LlmReply> {
      const url = `${base}/chat/completions`;
      const json = await exchange(fetchImpl, {
        method: 'POST',
        url,
        settings: resolved,
        body: chatBody(resolved, request),
        timeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
      const failure = errorInBody(json, new URL(base).origin);
      if (failure !== undefined) throw failure;
      // The port id, not the server's echo of the model name: replies must be attributable to the same id that
      // keyed the cache.
      return { text: replyText(json), model: id };
    },
  };
}

/**
 * A captioner over a vision model on an OpenAI-compatible server: one chat request per image with the image
 * (loaded and cropped by `loadImage`) followed by the prompt, at temperature 0 so captions are reproducible.
 * `id` is `endpoint:<model>@<origin>`. Throws at creation when `settings.vision` is false: a text-only model
 * cannot caption.
 */
export function createEndpointCaptioner(
  settings: EndpointSettings,
  loadImage: (imageId: string, crop: Crop) => Promise<EncodedImage>,
  fetchImpl: FetchLike = fetch,
): CaptionerPort {
  if (!settings.vision) {
    throw new Error(`captioning needs a vision model, but ${settings.model} is configured without vision`);
  }
  // Captions are free text: a JSON constraint would only get in the way.
  const llm = createEndpointLlm({ ...settings, jsonMode: 'none' }, fetchImpl);
  return {
    id: llm.id,
    async caption(request, signal) {
      if (signal?.aborted) throw abortError();
      const image = await loadImage(request.imageId, request.crop);
      if (signal?.aborted) throw abortError();
      // Image first, then the question: the order small open VLMs (LLaVA-style, SmolVLM) were trained on.
      const reply = await llm.complete(
        {
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image', image },
                { type: 'text', text: request.prompt },
              ],
            },
          ],
          maxTokens: request.maxTokens,
          temperature: 0,
        },
        signal,
      );
      return reply.text.trim();
    },
  };
}

/**
 * Plain-language sentences for the UI stating what this endpoint receives and where it goes. Derived from the
 * settings only, so it can be shown before anything is sent.
 */
export function describeEndpointTraffic(settings: EndpointSettings): string[] {
  const base = normalizeEndpointBaseUrl(settings.baseUrl);
  const origin = new URL(base).origin;
  const lines = [
    `Requests go to ${origin} (${base}/chat/completions), model "${settings.model}", and nowhere else.`,
    isLoopback(origin)
      ? 'That server runs on this computer: nothing leaves your machine unless that server forwards it.'
      : 'That server is on another machine: what is listed here leaves your computer.',
    'Sent as text: the proposer prompts, with the captions of the sampled images, the reports of the sampled ' +
      'images when a report-guided proposer is used, and earlier findings with their scores.',
  ];
  if (settings.vision) {
    lines.push(
      'Sent as pictures (PNG, inside the request): grids of the sampled images, zoomed crops of them, and each ' +
        'image to be captioned when this model is the captioner.',
    );
  } else {
    lines.push('No images are sent: this model is set up without vision.');
  }
  if (settings.apiKey !== undefined) {
    lines.push(`Your API key is sent to ${origin} with every request.`);
  }
  if (origin.startsWith('http:') && !isLoopback(origin)) {
    lines.push('The connection is plain http: anyone on the network path can read it.');
  }
  return lines;
}

/**
 * Lists the model ids the server offers (`GET ${baseUrl}/models`), for a "Test connection" button. Rejects with
 * the same errors as a completion.
 */
export async function listEndpointModels(
  settings: EndpointSettings,
  fetchImpl: FetchLike = fetch,
  signal?: AbortSignalLike,
): Promise<string[]> {
  const base = normalizeEndpointBaseUrl(settings.baseUrl);
  const json = await exchange(fetchImpl, {
    method: 'GET',
    url: `${base}/models`,
    settings,
    timeoutMs: Math.min(settings.timeoutMs ?? LIST_TIMEOUT_MS, LIST_TIMEOUT_MS),
    ...(signal === undefined ? {} : { signal }),
  });
  const failure = errorInBody(json, new URL(base).origin);
  if (failure !== undefined) throw failure;
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  return data
    .map((entry: unknown) => (entry as { id?: unknown } | null)?.id)
    .filter((id): id is string => typeof id === 'string');
}
