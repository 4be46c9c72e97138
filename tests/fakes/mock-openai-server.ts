// A scriptable local stand-in for an OpenAI-compatible server (node:http on 127.0.0.1): records every request,
// answers chat completions with a default "radiologist" that fills the requested JSON shape (differences, boxes) or
// writes a caption, lists one model, answers CORS preflight, and injects faults (HTTP errors, malformed or empty
// content, delays, hangs) per request index or predicate. Test-only; imports node:http and core phantom data only.

import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FINDINGS } from '../../src/lib/core/phantom/findings.ts';

/** One request as the mock received it. */
export interface RecordedRequest {
  /** 0-based order among all requests (preflights included). */
  index: number;
  /** 0-based order among POST /v1/chat/completions requests; undefined for other requests. */
  chatIndex: number | undefined;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  bodyText: string;
  /** The body parsed as JSON, or undefined when empty or not JSON. */
  json: unknown;
  /** True when the client closed the connection before the mock answered (abort, timeout). */
  clientAborted: boolean;
}

/** What the mock does with one chat-completion request. */
export type MockAction =
  /** The default radiologist responder. */
  | { type: 'default' }
  /** A 200 reply whose `choices[0].message.content` is exactly this (null: the field is null). */
  | { type: 'reply'; content: string | null | { type: 'text'; text: string }[] }
  /** A 200 reply with no `choices` at all. */
  | { type: 'no-choices' }
  /** An HTTP error; the body defaults to an OpenAI-style `{"error": {...}}`. */
  | { type: 'status'; status: number; body?: string }
  /** A 200 reply whose content is broken JSON (default: a truncated differences list). */
  | { type: 'malformed'; content?: string }
  /** A 200 reply with content ''. */
  | { type: 'empty' }
  /** A raw HTTP body (e.g. an HTML page from a wrongly configured URL). */
  | { type: 'raw'; status?: number; body: string; contentType?: string }
  /** Waits, then does `then` (default: the default responder). */
  | { type: 'delay'; ms: number; then?: MockAction }
  /** Never answers; the connection stays open until the client gives up or the mock closes. */
  | { type: 'hang' };

/** Chooses an action for a chat request; undefined falls through to `faults`, then to the default responder. */
export type MockScript = (request: RecordedRequest) => MockAction | undefined;

/** A fault injected by chat request index (`at`) or by predicate (`when`). */
export interface MockFault {
  at?: number | number[];
  when?: (request: RecordedRequest) => boolean;
  action: MockAction;
}

export interface MockOpenAiOptions {
  /** Port to bind on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The one model GET /v1/models lists (default 'mock-radiologist'). */
  model?: string;
  /** When true, chat requests naming another model get a 404 like Ollama's "model not found". */
  strictModel?: boolean;
  /**
   * Finding phrases the default radiologist "sees": the default differences list, and the findings boxed when the
   * prompt names none. Default: every phantom finding label.
   */
  findings?: string[];
  /** The differences the default responder proposes (default: `findings`). */
  differences?: string[];
  /** Caption text, or a function of the request (default: a fixed neutral description). */
  caption?: string | ((request: RecordedRequest) => string);
  /** Faults, checked in order after the script. */
  faults?: MockFault[];
}

/** A running mock. */
export interface MockOpenAi {
  /** `http://127.0.0.1:<port>` (the provider appends /v1). */
  url: string;
  port: number;
  /** Every request received, in order (mutable: tests may clear it). */
  requests: RecordedRequest[];
  /** Replaces the script (undefined removes it). */
  setScript(script: MockScript | undefined): void;
  /** Stops listening and drops every open connection (hanging requests included). */
  close(): Promise<void>;
}

const DEFAULT_MODEL = 'mock-radiologist';
const DEFAULT_CAPTION =
  'Frontal chest radiograph. The lungs are expanded; the cardiac silhouette and mediastinum are outlined; ' +
  'no line or tube is clearly seen.';

// Every response carries these, so a page on another origin (the built app on :4173) may read it.
const CORS_HEADERS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-max-age': '600',
};

/** Starts the mock on 127.0.0.1. */
export async function startMockOpenAi(options: MockOpenAiOptions = {}): Promise<MockOpenAi> {
  const model = options.model ?? DEFAULT_MODEL;
  const findings = options.findings ?? FINDINGS.map((info) => info.label);
  const differences = options.differences ?? findings;
  const requests: RecordedRequest[] = [];
  let script: MockScript | undefined;
  let requestCount = 0;
  let chatCount = 0;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const bodyText = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const isChat = req.method === 'POST' && path === '/v1/chat/completions';
      const record: RecordedRequest = {
        index: requestCount++,
        chatIndex: isChat ? chatCount++ : undefined,
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        bodyText,
        json: parseJson(bodyText),
        clientAborted: false,
      };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableEnded) record.clientAborted = true;
      });

      if (req.method === 'OPTIONS') {
        // Chrome's Private Network Access preflight asks for this too; granting it is harmless on loopback.
        const extra: Record<string, string> =
          req.headers['access-control-request-private-network'] === 'true'
            ? { 'access-control-allow-private-network': 'true' }
            : {};
        res.writeHead(204, { ...CORS_HEADERS, ...extra }).end();
        return;
      }
      if (req.method === 'GET' && path === '/v1/models') {
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: model, object: 'model', created: 0, owned_by: 'mock' }],
        });
        return;
      }
      if (!isChat) {
        sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}`, type: 'not_found' } });
        return;
      }
      if (record.json === undefined) {
        sendJson(res, 400, { error: { message: 'request body is not JSON', type: 'invalid_request_error' } });
        return;
      }
      const requestedModel = (record.json as { model?: unknown }).model;
      if (options.strictModel && requestedModel !== model) {
        sendJson(res, 404, {
          error: { message: `model '${String(requestedModel)}' not found`, type: 'not_found_error' },
        });
        return;
      }
      const action = script?.(record) ?? faultFor(options.faults ?? [], record) ?? { type: 'default' };
      perform(action, record, res);
    });
  });

  const perform = (action: MockAction, record: RecordedRequest, res: ServerResponse): void => {
    switch (action.type) {
      case 'default':
        sendCompletion(res, model, respond(record));
        return;
      case 'reply':
        sendCompletion(res, model, action.content);
        return;
      case 'no-choices':
        sendJson(res, 200, { id: 'mock', object: 'chat.completion', model, choices: [] });
        return;
      case 'status': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        // Real servers tell a rate-limited client when to come back.
        if (action.status === 429 || action.status === 503) headers['retry-after'] = '1';
        const body =
          action.body ??
          JSON.stringify({ error: { message: `mock failure ${action.status}`, type: 'server_error' } });
        res.writeHead(action.status, { ...CORS_HEADERS, ...headers }).end(body);
        return;
      }
      case 'malformed':
        sendCompletion(res, model, action.content ?? '{"differences": ["a",');
        return;
      case 'empty':
        sendCompletion(res, model, '');
        return;
      case 'raw':
        res
          .writeHead(action.status ?? 200, {
            ...CORS_HEADERS,
            'content-type': action.contentType ?? 'text/html',
          })
          .end(action.body);
        return;
      case 'delay': {
        const timer = setTimeout(() => {
          if (!res.destroyed) perform(action.then ?? { type: 'default' }, record, res);
        }, action.ms);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'hang':
        return;
    }
  };

  /** The default radiologist: fills whichever JSON shape the request asks for, or captions an image. */
  const respond = (record: RecordedRequest): string => {
    const body = record.json as ChatBody;
    const schema = requestedSchema(body);
    const prompt = lastUserText(body);
    const asks = (key: string) =>
      schema !== undefined ? hasProperty(schema, key) : new RegExp(`"${key}"`).test(prompt);
    if (asks('boxes')) {
      const named = findingsFromSchema(schema) ?? findingsFromPrompt(prompt);
      const wanted = exactCount(schema);
      let list = named.length > 0 ? named : findings.slice(0, wanted ?? 5);
      if (wanted !== undefined) list = padTo(list, findings, wanted);
      return JSON.stringify({ boxes: list.map((finding) => ({ finding, ...boxFor(finding) })) });
    }
    if (asks('differences')) {
      // Honour the schema's item bounds, as constrained decoding on a real server would.
      const { min, max } = itemBounds(schema, 'differences');
      const list = differences.slice(0, max ?? differences.length);
      return JSON.stringify({ differences: padTo(list, findings, Math.max(min ?? 0, list.length)) });
    }
    if (lastUserHasImage(body) && /describe/i.test(prompt)) {
      return typeof options.caption === 'function'
        ? options.caption(record)
        : (options.caption ?? DEFAULT_CAPTION);
    }
    return 'OK';
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setScript(next) {
      script = next;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets and hanging requests would otherwise hold close() open forever.
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface ChatBody {
  messages?: { role?: string; content?: unknown }[];
  response_format?: { type?: string; json_schema?: { schema?: unknown }; schema?: unknown };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...CORS_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendCompletion(res: ServerResponse, model: string, content: unknown): void {
  sendJson(res, 200, {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  });
}

function faultFor(faults: MockFault[], record: RecordedRequest): MockAction | undefined {
  for (const fault of faults) {
    const indices = fault.at === undefined ? [] : Array.isArray(fault.at) ? fault.at : [fault.at];
    const byIndex = record.chatIndex !== undefined && indices.includes(record.chatIndex);
    if (byIndex || fault.when?.(record)) return fault.action;
  }
  return undefined;
}

/** The schema the reply must follow: OpenAI's json_schema form, or web-llm's `{type, schema}` (object or string). */
function requestedSchema(body: ChatBody): Record<string, unknown> | undefined {
  const format = body.response_format;
  const schema = format?.json_schema?.schema ?? format?.schema;
  const parsed = typeof schema === 'string' ? parseJson(schema) : schema;
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
}

function hasProperty(schema: Record<string, unknown>, key: string): boolean {
  const properties = schema['properties'];
  return properties !== null && typeof properties === 'object' && key in properties;
}

function propertySchema(
  schema: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  const property = (schema?.['properties'] as Record<string, unknown> | undefined)?.[key];
  return property !== null && typeof property === 'object'
    ? (property as Record<string, unknown>)
    : undefined;
}

function boxesSchema(schema: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return propertySchema(schema, 'boxes');
}

/** `minItems` / `maxItems` of an array property, when given. */
function itemBounds(
  schema: Record<string, unknown> | undefined,
  key: string,
): { min: number | undefined; max: number | undefined } {
  const property = propertySchema(schema, key);
  const bound = (name: string) => {
    const value = property?.[name];
    return typeof value === 'number' ? value : undefined;
  };
  return { min: bound('minItems'), max: bound('maxItems') };
}

/** Findings listed in the schema as `boxes.items.properties.finding.enum`, when the caller constrains them. */
function findingsFromSchema(schema: Record<string, unknown> | undefined): string[] | undefined {
  const items = boxesSchema(schema)?.['items'] as
    { properties?: { finding?: { enum?: unknown } } } | undefined;
  const values = items?.properties?.finding?.enum;
  return Array.isArray(values) && values.every((v) => typeof v === 'string')
    ? (values as string[])
    : undefined;
}

/** `minItems === maxItems` on `boxes`: the caller wants exactly that many. */
function exactCount(schema: Record<string, unknown> | undefined): number | undefined {
  const { min, max } = itemBounds(schema, 'boxes');
  return min !== undefined && min === max ? min : undefined;
}

/**
 * Findings named in list lines of the prompt: `1. pleural effusion (AUROC 0.81)`, `- cardiomegaly: AUROC 0.7`,
 * `"nodule" AUROC=0.6`. Only lines with an AUROC value count, so instructions written as bullets are not boxed.
 */
function findingsFromPrompt(prompt: string): string[] {
  const found: string[] = [];
  for (const line of prompt.split('\n')) {
    if (!/auroc\W*\d/i.test(line)) continue;
    const match = /^\s*(?:\d+[.)]|[-*•])?\s*"?(.+?)"?\s*(?:\(|:|,|=|\s[-–—]\s|\bauroc\b)/i.exec(line);
    const phrase = match?.[1]?.trim();
    if (phrase && !/^auroc$/i.test(phrase) && !found.includes(phrase)) found.push(phrase);
  }
  return found;
}

/** `list` cut or padded to `count`: first with unused phrases of `pool`, then with "finding <position>". */
function padTo(list: string[], pool: string[], count: number): string[] {
  const out = list.slice(0, count);
  for (const phrase of pool) {
    if (out.length >= count) break;
    if (!out.includes(phrase)) out.push(phrase);
  }
  while (out.length < count) out.push(`finding ${out.length + 1}`);
  return out;
}

/**
 * A plausible box for a finding, from its words (radiographic convention: the patient's right is the image left).
 * Every side is at least 0.35 long, well above the pipeline's minimum box size.
 */
function boxFor(finding: string): { x1: number; y1: number; x2: number; y2: number } {
  const text = finding.toLowerCase();
  const [x1, x2] = /\bright\b/.test(text) ? [0.05, 0.5] : /\bleft\b/.test(text) ? [0.5, 0.95] : [0.25, 0.75];
  const [y1, y2] = /upper|apex|apical/.test(text)
    ? [0.08, 0.45]
    : /lower|base|basal|costophrenic|effusion|volume/.test(text)
      ? [0.5, 0.92]
      : /cardi|heart|mediastin|pacemaker/.test(text)
        ? [0.35, 0.8]
        : /tube|catheter|line/.test(text)
          ? [0.05, 0.6]
          : [0.2, 0.8];
  return { x1, y1, x2, y2 };
}

function lastUser(body: ChatBody): { content?: unknown } | undefined {
  return [...(body.messages ?? [])].reverse().find((message) => message.role === 'user');
}

function lastUserText(body: ChatBody): string {
  const content = lastUser(body)?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: string; text?: unknown }) => (typeof part.text === 'string' ? part.text : ''))
    .join('\n');
}

function lastUserHasImage(body: ChatBody): boolean {
  const content = lastUser(body)?.content;
  return Array.isArray(content) && content.some((part: { type?: string }) => part.type === 'image_url');
}
