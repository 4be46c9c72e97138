import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  IMAGE_OMITTED_NOTE,
  bytesToBase64,
  createEndpointCaptioner,
  createEndpointLlm,
  describeEndpointTraffic,
  isRetryableEndpointError,
  listEndpointModels,
  normalizeEndpointBaseUrl,
  parseEndpointSettings,
  type EndpointError,
  type EndpointSettings,
} from '../../src/lib/engines/openai-endpoint.ts';
import type { EncodedImage, LlmRequest } from '../../src/lib/core/llm.ts';
import { startMockOpenAi, type MockOpenAi, type RecordedRequest } from '../fakes/mock-openai-server.ts';

/** Deterministic pseudo-random bytes; the length straddles the encoder's chunk boundary on purpose. */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function image(
  key: string,
  length: number,
  seed: number,
  mime: EncodedImage['mime'] = 'image/png',
): EncodedImage {
  return { key, mime, bytes: bytes(length, seed), width: 10, height: 10 };
}

/** Decodes a `data:` URL back to its mime type and bytes. */
function decodeDataUrl(url: string): { mime: string; bytes: Uint8Array } {
  const match = /^data:([^;]+);base64,(.*)$/s.exec(url);
  if (!match) throw new Error(`not a base64 data URL: ${url.slice(0, 40)}`);
  return { mime: match[1]!, bytes: new Uint8Array(Buffer.from(match[2]!, 'base64')) };
}

/** Rejection of `promise` as an EndpointError (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<EndpointError> {
  try {
    await promise;
  } catch (error) {
    return error as EndpointError;
  }
  throw new Error('expected a rejection');
}

interface SentBody {
  model: string;
  messages: { role: string; content: unknown }[];
  temperature?: number;
  seed?: number;
  max_tokens?: number;
  stream?: boolean;
  response_format?: unknown;
}

const lastChat = (mock: MockOpenAi): RecordedRequest => {
  const chats = mock.requests.filter((r) => r.chatIndex !== undefined);
  const last = chats.at(-1);
  if (!last) throw new Error('no chat request recorded');
  return last;
};

const ask: LlmRequest = { messages: [{ role: 'user', content: 'hello' }] };

let mock: MockOpenAi;

beforeAll(async () => {
  mock = await startMockOpenAi({ findings: ['pleural effusion', 'cardiomegaly', 'pneumothorax'] });
});
afterAll(async () => {
  await mock.close();
});
afterEach(() => {
  mock.setScript(undefined);
  mock.requests.length = 0;
  vi.unstubAllGlobals();
});

function settings(overrides: Partial<EndpointSettings> = {}): EndpointSettings {
  return {
    baseUrl: mock.url,
    model: 'mock-radiologist',
    vision: true,
    jsonMode: 'json_schema',
    ...overrides,
  };
}

describe('settings', () => {
  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/v1'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080/v1'],
    ['  http://LOCALHOST:11434  ', 'http://localhost:11434/v1'],
    ['https://api.openai.com/v1', 'https://api.openai.com/v1'],
    ['https://api.openai.com/v1/', 'https://api.openai.com/v1'],
    ['https://api.groq.com/openai/v1', 'https://api.groq.com/openai/v1'],
    [
      'https://generativelanguage.googleapis.com/v1beta/openai/',
      'https://generativelanguage.googleapis.com/v1beta/openai',
    ],
    ['http://127.0.0.1:8080/v1/chat/completions', 'http://127.0.0.1:8080/v1'],
    ['http://127.0.0.1:8080/v1/models', 'http://127.0.0.1:8080/v1'],
    ['http://host/proxy', 'http://host/proxy/v1'],
  ])('normalizes %s to %s', (raw, expected) => {
    expect(normalizeEndpointBaseUrl(raw)).toBe(expected);
    // Idempotent: normalizing the result changes nothing.
    expect(normalizeEndpointBaseUrl(expected)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['localhost:8080', /http/],
    ['not a url', /not a URL/],
    ['ftp://host/v1', /http:\/\/ or https:\/\//],
    ['http://user:secret@host/v1', /user name or password/],
    ['http://host/v1?key=1', /query/],
  ])('rejects base URL %j', (raw, message) => {
    expect(() => normalizeEndpointBaseUrl(raw)).toThrow(message);
  });

  it('fills defaults, trims and normalizes', () => {
    const result = parseEndpointSettings({
      baseUrl: 'http://127.0.0.1:11434/',
      model: ' qwen2.5vl:7b ',
      apiKey: '  ',
      extra: 'ignored',
    });
    expect(result).toEqual({
      ok: true,
      settings: {
        baseUrl: 'http://127.0.0.1:11434/v1',
        model: 'qwen2.5vl:7b',
        vision: false,
        jsonMode: 'json_schema',
      },
    });
  });

  it('keeps a key, vision, json mode and timeout', () => {
    const result = parseEndpointSettings({
      baseUrl: 'https://api.openai.com/v1',
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      vision: true,
      jsonMode: 'json_object',
      timeoutMs: 60_000,
    });
    expect(result).toEqual({
      ok: true,
      settings: {
        baseUrl: 'https://api.openai.com/v1',
        model: 'gpt-4o-mini',
        apiKey: 'sk-test',
        vision: true,
        jsonMode: 'json_object',
        timeoutMs: 60_000,
      },
    });
  });

  it('lists every problem at once', () => {
    const result = parseEndpointSettings({
      baseUrl: 'ftp://x',
      model: '',
      apiKey: 3,
      vision: 'yes',
      jsonMode: 'grammar',
      timeoutMs: -1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.split(':')[0])).toEqual([
      'baseUrl',
      'model',
      'apiKey',
      'vision',
      'jsonMode',
      'timeoutMs',
    ]);
  });

  it('rejects non-objects and a missing URL', () => {
    expect(parseEndpointSettings(null)).toEqual({
      ok: false,
      problems: ['endpoint settings must be an object'],
    });
    const result = parseEndpointSettings({ model: 'm' });
    expect(result.ok === false && result.problems).toEqual(['baseUrl: the server URL is required']);
  });
});

describe('base64', () => {
  it('matches Buffer for lengths around the chunk size', () => {
    for (const length of [0, 1, 2, 3, 24_575, 24_576, 24_577, 49_153]) {
      const data = bytes(length, length + 1);
      expect(bytesToBase64(data)).toBe(Buffer.from(data).toString('base64'));
    }
  });
});

describe('chat completions', () => {
  it('maps messages, images, sampling and the JSON schema onto the OpenAI body', async () => {
    const grid = image('grid-a', 3 * 8192 * 2 + 7, 1);
    const crop = image('crop-1', 1000, 2, 'image/jpeg');
    const schema = {
      type: 'object',
      properties: { differences: { type: 'array', items: { type: 'string' } } },
    };
    const llm = createEndpointLlm(settings({ apiKey: 'sk-secret' }));
    const reply = await llm.complete({
      messages: [
        { role: 'system', content: 'You are a radiologist.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Group A:' },
            { type: 'image', image: grid },
            { type: 'text', text: 'Crop:' },
            { type: 'image', image: crop },
          ],
        },
      ],
      jsonSchema: schema,
      temperature: 0.2,
      seed: 7,
      maxTokens: 512,
    });

    expect(JSON.parse(reply.text)).toEqual({
      differences: ['pleural effusion', 'cardiomegaly', 'pneumothorax'],
    });
    expect(reply.model).toBe(`endpoint:mock-radiologist@${mock.url}`);
    expect(llm.id).toBe(`endpoint:mock-radiologist@${mock.url}`);
    expect(llm.vision).toBe(true);

    const request = lastChat(mock);
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers['authorization']).toBe('Bearer sk-secret');
    expect(request.headers['content-type']).toBe('application/json');
    const body = request.json as SentBody;
    expect(body.model).toBe('mock-radiologist');
    expect(body.stream).toBe(false);
    expect(body.temperature).toBe(0.2);
    expect(body.seed).toBe(7);
    expect(body.max_tokens).toBe(512);
    expect(body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'reply', schema, strict: true },
    });
    expect(body.messages[0]).toEqual({ role: 'system', content: 'You are a radiologist.' });
    const parts = body.messages[1]!.content as { type: string; text?: string; image_url?: { url: string } }[];
    expect(parts.map((p) => p.type)).toEqual(['text', 'image_url', 'text', 'image_url']);
    expect(parts[0]!.text).toBe('Group A:');
    const sentGrid = decodeDataUrl(parts[1]!.image_url!.url);
    expect(sentGrid.mime).toBe('image/png');
    expect(sentGrid.bytes).toEqual(grid.bytes);
    const sentCrop = decodeDataUrl(parts[3]!.image_url!.url);
    expect(sentCrop.mime).toBe('image/jpeg');
    expect(sentCrop.bytes).toEqual(crop.bytes);
  });

  it('sends json_object, or no response_format, per jsonMode; and none without a schema', async () => {
    const schema = { type: 'object', properties: { differences: { type: 'array' } } };
    await createEndpointLlm(settings({ jsonMode: 'json_object' })).complete({ ...ask, jsonSchema: schema });
    expect((lastChat(mock).json as SentBody).response_format).toEqual({ type: 'json_object' });

    await createEndpointLlm(settings({ jsonMode: 'none' })).complete({ ...ask, jsonSchema: schema });
    expect(lastChat(mock).json as SentBody).not.toHaveProperty('response_format');

    await createEndpointLlm(settings()).complete(ask);
    const body = lastChat(mock).json as SentBody;
    expect(body).not.toHaveProperty('response_format');
    // Unset sampling options are left out, so the server's defaults apply.
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('seed');
    expect(body).not.toHaveProperty('max_tokens');
    expect(lastChat(mock).headers).not.toHaveProperty('authorization');
  });

  it('drops images for a model without vision and flattens the message to text', async () => {
    const llm = createEndpointLlm(settings({ vision: false }));
    expect(llm.vision).toBe(false);
    await llm.complete({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Group A grid:' },
            { type: 'image', image: image('g', 100, 3) },
            { type: 'text', text: 'List differences.' },
          ],
        },
      ],
    });
    const body = lastChat(mock).json as SentBody;
    expect(body.messages[0]!.content).toBe(`Group A grid:\n${IMAGE_OMITTED_NOTE}\nList differences.`);
    expect(lastChat(mock).bodyText).not.toContain('data:image');
  });

  it('returns the text of content given as parts, and "" for empty or missing content', async () => {
    const llm = createEndpointLlm(settings());
    mock.setScript(() => ({
      type: 'reply',
      content: [
        { type: 'text', text: '{"differences":' },
        { type: 'text', text: ' ["x"]}' },
      ],
    }));
    expect((await llm.complete(ask)).text).toBe('{"differences": ["x"]}');

    mock.setScript(() => ({ type: 'empty' }));
    expect((await llm.complete(ask)).text).toBe('');
    mock.setScript(() => ({ type: 'reply', content: null }));
    expect((await llm.complete(ask)).text).toBe('');
    mock.setScript(() => ({ type: 'no-choices' }));
    expect((await llm.complete(ask)).text).toBe('');
  });

  it('passes malformed JSON content through as text (parsing is the caller’s job)', async () => {
    mock.setScript(() => ({ type: 'malformed' }));
    expect((await createEndpointLlm(settings()).complete(ask)).text).toBe('{"differences": ["a",');
  });
});

describe('errors', () => {
  it('maps HTTP 500 to a non-retryable EndpointError with status, status text and the body start', async () => {
    const body = JSON.stringify({ error: { message: 'boom '.repeat(100) } });
    mock.setScript(() => ({ type: 'status', status: 500, body }));
    const error = await failure(createEndpointLlm(settings()).complete(ask));
    expect(error.name).toBe('EndpointError');
    expect(error.status).toBe(500);
    expect(error.retryable).toBe(false);
    expect(isRetryableEndpointError(error)).toBe(false);
    expect(error.message).toContain('500 Internal Server Error');
    expect(error.message).toContain(mock.url);
    expect(error.message).toContain(body.slice(0, 300));
    expect(error.message).not.toContain(body.slice(0, 301));
  });

  it.each([429, 503])('marks HTTP %i as retryable', async (status) => {
    mock.setScript(() => ({ type: 'status', status }));
    const error = await failure(createEndpointLlm(settings()).complete(ask));
    expect(error.name).toBe('EndpointError');
    expect(error.status).toBe(status);
    expect(error.retryable).toBe(true);
    expect(isRetryableEndpointError(error)).toBe(true);
  });

  it('says which model was not found', async () => {
    const strict = await startMockOpenAi({ strictModel: true });
    try {
      const error = await failure(
        createEndpointLlm(settings({ baseUrl: strict.url, model: 'llava:13b' })).complete(ask),
      );
      expect(error.status).toBe(404);
      expect(error.message).toContain("model 'llava:13b' not found");
      expect(error.message).toContain('Check the server URL and the model name');
    } finally {
      await strict.close();
    }
  });

  it('rejects a 200 that is not JSON (e.g. an HTML page)', async () => {
    mock.setScript(() => ({ type: 'raw', body: '<!doctype html><title>app</title>' }));
    const error = await failure(createEndpointLlm(settings()).complete(ask));
    expect(error.name).toBe('EndpointError');
    expect(error.message).toContain('not JSON');
    expect(error.message).toContain('<!doctype html>');
  });

  it('says an unreachable server could not be reached, and in a browser names CORS', async () => {
    const gone = await startMockOpenAi();
    const url = gone.url;
    await gone.close();

    const error = await failure(createEndpointLlm(settings({ baseUrl: url })).complete(ask));
    expect(error.name).toBe('EndpointError');
    expect(error.message).toContain(`The server at ${url} could not be reached`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain('CORS');

    vi.stubGlobal('location', { origin: 'http://127.0.0.1:4173' });
    const inBrowser = await failure(createEndpointLlm(settings({ baseUrl: url })).complete(ask));
    expect(inBrowser.message).toContain('CORS');
    expect(inBrowser.message).toContain('http://127.0.0.1:4173');
  });

  it('times out with a TimeoutError and closes the connection', async () => {
    mock.setScript(() => ({ type: 'hang' }));
    const error = await failure(createEndpointLlm(settings({ timeoutMs: 300 })).complete(ask));
    expect(error.name).toBe('TimeoutError');
    expect(error.retryable).toBe(true);
    await vi.waitFor(() => expect(lastChat(mock).clientAborted).toBe(true));
  });

  it('times out when the server is slower than the timeout', async () => {
    mock.setScript(() => ({ type: 'delay', ms: 2_000 }));
    const error = await failure(createEndpointLlm(settings({ timeoutMs: 200 })).complete(ask));
    expect(error.name).toBe('TimeoutError');
  });

  it('answers after a delay shorter than the timeout', async () => {
    mock.setScript(() => ({ type: 'delay', ms: 100 }));
    const reply = await createEndpointLlm(settings({ timeoutMs: 10_000 })).complete(ask);
    expect(reply.text).toBe('OK');
  });

  it('aborts mid-request with an AbortError and cancels the HTTP request', async () => {
    mock.setScript(() => ({ type: 'hang' }));
    const controller = new AbortController();
    const pending = failure(createEndpointLlm(settings()).complete(ask, controller.signal));
    await vi.waitFor(() => expect(mock.requests.some((r) => r.chatIndex !== undefined)).toBe(true));
    controller.abort();
    const error = await pending;
    expect(error.name).toBe('AbortError');
    expect(error.retryable).toBe(false);
    await vi.waitFor(() => expect(lastChat(mock).clientAborted).toBe(true));
  });

  it('rejects at once, without a request, when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(createEndpointLlm(settings()).complete(ask, controller.signal));
    expect(error.name).toBe('AbortError');
    expect(mock.requests).toHaveLength(0);
  });

  it('reports an error object in a 200 body', async () => {
    mock.setScript(() => ({
      type: 'raw',
      body: '{"error":"model is loading"}',
      contentType: 'application/json',
    }));
    const error = await failure(createEndpointLlm(settings()).complete(ask));
    expect(error.name).toBe('EndpointError');
    expect(error.message).toContain('model is loading');
  });
});

describe('model listing', () => {
  it('lists model ids via GET /v1/models', async () => {
    expect(await listEndpointModels(settings({ apiKey: 'k' }))).toEqual(['mock-radiologist']);
    const request = mock.requests.at(-1)!;
    expect(request.method).toBe('GET');
    expect(request.path).toBe('/v1/models');
    expect(request.headers['authorization']).toBe('Bearer k');
  });

  it('maps failures like completions do', async () => {
    const error = await failure(listEndpointModels(settings({ baseUrl: `${mock.url}/other` })));
    expect(error.name).toBe('EndpointError');
    expect(error.status).toBe(404);
    expect(error.message).toContain('/other/v1/models');
  });
});

describe('captioner', () => {
  it('sends the image then the prompt, at temperature 0, without a response format', async () => {
    const loaded: unknown[] = [];
    const picture = image('img-1', 5000, 9);
    const captioner = createEndpointCaptioner(
      settings({ jsonMode: 'json_schema' }),
      async (imageId, crop) => {
        loaded.push({ imageId, crop });
        return picture;
      },
    );
    expect(captioner.id).toBe(`endpoint:mock-radiologist@${mock.url}`);
    const crop = { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.9 };
    const caption = await captioner.caption({
      imageId: 'sha-1',
      crop,
      prompt: 'Describe this chest radiograph in detail.',
      maxTokens: 128,
    });
    expect(caption).toMatch(/^Frontal chest radiograph/);
    expect(loaded).toEqual([{ imageId: 'sha-1', crop }]);

    const body = lastChat(mock).json as SentBody;
    expect(body).not.toHaveProperty('response_format');
    expect(body.temperature).toBe(0);
    expect(body.max_tokens).toBe(128);
    expect(body.messages).toHaveLength(1);
    const parts = body.messages[0]!.content as { type: string; text?: string; image_url?: { url: string } }[];
    expect(parts.map((p) => p.type)).toEqual(['image_url', 'text']);
    expect(decodeDataUrl(parts[0]!.image_url!.url).bytes).toEqual(picture.bytes);
    expect(parts[1]!.text).toBe('Describe this chest radiograph in detail.');
  });

  it('refuses a model without vision', () => {
    expect(() =>
      createEndpointCaptioner(settings({ vision: false }), () => Promise.reject(new Error('x'))),
    ).toThrow(/vision/);
  });

  it('does not load the image when already aborted', async () => {
    const load = vi.fn(async () => image('x', 10, 1));
    const controller = new AbortController();
    controller.abort();
    const captioner = createEndpointCaptioner(settings(), load);
    const error = await failure(
      captioner.caption({ imageId: 'a', crop: 'full', prompt: 'describe', maxTokens: 8 }, controller.signal),
    );
    expect(error.name).toBe('AbortError');
    expect(load).not.toHaveBeenCalled();
  });
});

describe('traffic description', () => {
  it('states the destination and, with vision, the pictures', () => {
    const lines = describeEndpointTraffic(settings({ apiKey: 'k' }));
    const text = lines.join('\n');
    expect(text).toContain(mock.url);
    expect(text).toContain('runs on this computer');
    expect(text).toContain('captions');
    expect(text).toContain('reports');
    expect(text).toContain('PNG');
    expect(text).toContain('API key');
  });

  it('says no images leave without vision, and warns about remote plain http', () => {
    const text = describeEndpointTraffic(
      settings({ baseUrl: 'http://gpu-box.lan:8000', vision: false }),
    ).join('\n');
    expect(text).toContain('http://gpu-box.lan:8000');
    expect(text).toContain('No images are sent');
    expect(text).not.toContain('PNG');
    expect(text).toContain('another machine');
    expect(text).toContain('plain http');
  });
});

describe('mock server', () => {
  it('answers CORS preflight and puts CORS headers on every response', async () => {
    const preflight = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:4173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');

    for (const response of [
      await fetch(`${mock.url}/v1/models`),
      await fetch(`${mock.url}/nowhere`),
      await fetch(`${mock.url}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ messages: [] }),
      }),
    ]) {
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    }
  });

  it('boxes the findings named in the prompt, exactly as many as the schema asks', async () => {
    const schema = {
      type: 'object',
      properties: {
        boxes: {
          type: 'array',
          minItems: 3,
          maxItems: 3,
          items: {
            type: 'object',
            properties: {
              finding: { type: 'string' },
              x1: { type: 'number' },
              y1: { type: 'number' },
              x2: { type: 'number' },
              y2: { type: 'number' },
            },
          },
        },
      },
    };
    const prompt = [
      'Previous findings with AUROC:',
      '1. right upper lobe consolidation (AUROC 0.81)',
      '2. left pleural effusion (AUROC 0.74)',
      'Return one box per finding.',
    ].join('\n');
    const reply = await createEndpointLlm(settings()).complete({
      messages: [{ role: 'user', content: prompt }],
      jsonSchema: schema,
    });
    const boxes = (JSON.parse(reply.text) as { boxes: { finding: string; x1: number; x2: number }[] }).boxes;
    expect(boxes.map((b) => b.finding)).toEqual([
      'right upper lobe consolidation',
      'left pleural effusion',
      'pleural effusion',
    ]);
    // Patient right is image left.
    expect(boxes[0]!.x2).toBeLessThanOrEqual(0.5);
    expect(boxes[1]!.x1).toBeGreaterThanOrEqual(0.5);
  });

  it('keeps the differences within the schema’s item bounds', async () => {
    const bounded = (min: number, max: number) => ({
      type: 'object',
      properties: { differences: { type: 'array', items: { type: 'string' }, minItems: min, maxItems: max } },
    });
    const llm = createEndpointLlm(settings());
    const reply = async (min: number, max: number) =>
      (
        JSON.parse((await llm.complete({ ...ask, jsonSchema: bounded(min, max) })).text) as {
          differences: string[];
        }
      ).differences;
    expect(await reply(1, 2)).toEqual(['pleural effusion', 'cardiomegaly']);
    expect(await reply(5, 10)).toEqual([
      'pleural effusion',
      'cardiomegaly',
      'pneumothorax',
      'finding 4',
      'finding 5',
    ]);
  });

  it('recognizes the JSON key in the prompt when no schema is sent (json_object mode)', async () => {
    const reply = await createEndpointLlm(settings({ jsonMode: 'json_object' })).complete({
      messages: [{ role: 'user', content: 'Answer as {"differences": [...]}' }],
      jsonSchema: { type: 'object' },
    });
    expect(JSON.parse(reply.text)).toEqual({
      differences: ['pleural effusion', 'cardiomegaly', 'pneumothorax'],
    });
  });

  it('injects faults by chat request index and by predicate', async () => {
    const faulty = await startMockOpenAi({
      faults: [
        { at: [1], action: { type: 'status', status: 429 } },
        {
          when: (r) => JSON.stringify(r.json).includes('break me'),
          action: { type: 'malformed', content: '{' },
        },
      ],
    });
    try {
      const llm = createEndpointLlm(settings({ baseUrl: faulty.url }));
      expect((await llm.complete(ask)).text).toBe('OK');
      expect((await failure(llm.complete(ask))).status).toBe(429);
      expect((await llm.complete(ask)).text).toBe('OK');
      expect((await llm.complete({ messages: [{ role: 'user', content: 'break me' }] })).text).toBe('{');
      expect(faulty.requests.map((r) => r.chatIndex)).toEqual([0, 1, 2, 3]);
    } finally {
      await faulty.close();
    }
  });

  it('closes while a request hangs', async () => {
    const hanging = await startMockOpenAi();
    hanging.setScript(() => ({ type: 'hang' }));
    const pending = failure(createEndpointLlm(settings({ baseUrl: hanging.url })).complete(ask));
    await vi.waitFor(() => expect(hanging.requests).toHaveLength(1));
    await hanging.close();
    expect((await pending).name).toBe('EndpointError');
  });
});
