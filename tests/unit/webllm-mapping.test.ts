// The pure mappings of the in-browser LLM engines: LlmRequest → web-llm body (image parts as data URLs with the
// exact bytes, schema as a string, seed/temperature/max_tokens, thinking off), the text-only conversation of the
// WASM fallback, web-llm's progress text → EngineProgress, the progress gate, error naming and build picking.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedImage, LlmRequest } from '../../src/lib/core/llm.ts';
import { parseManifest, pickLlmVariant } from '../../src/lib/core/manifest.ts';
import type { EngineProgress } from '../../src/lib/core/types.ts';
import {
  IMAGE_NOT_SEEN_NOTE,
  bytesToBase64,
  imageDataUrl,
  parseInitProgress,
  progressGate,
  replyText,
  toTextOnlyMessages,
  toWebLlmError,
  toWebLlmRequest,
  webLlmDtype,
} from '../../src/lib/engines/webllm-mapping.ts';

const manifest = parseManifest(JSON.parse(readFileSync('public/models/manifest.json', 'utf8')) as unknown);
const llm = (id: string) => manifest.llms.find((m) => m.id === id)!;
const QWEN = llm('Qwen3-1.7B-q4f16_1-MLC');
const PHI_VISION = llm('Phi-3.5-vision-instruct-q4f16_1-MLC');

/** A PNG signature plus bytes that exercise every base64 sextet boundary (0x00, 0xff, high bits). */
const GRID_BYTES = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80, 0x7f,
]);
const grid = (key: string, bytes = GRID_BYTES): EncodedImage => ({
  key,
  mime: 'image/png',
  bytes,
  width: 512,
  height: 256,
});

const SCHEMA = {
  type: 'object',
  properties: { differences: { type: 'array', items: { type: 'string' } } },
  required: ['differences'],
};

describe('bytesToBase64', () => {
  it('matches Node for fixed and random bytes, including every padding case', () => {
    expect(bytesToBase64(new Uint8Array())).toBe('');
    expect(bytesToBase64(new Uint8Array([0]))).toBe('AA==');
    expect(bytesToBase64(new Uint8Array([0, 1]))).toBe('AAE=');
    expect(bytesToBase64(new Uint8Array([251, 255, 191]))).toBe('+/+/');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40_000 }), (bytes) => {
        expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      }),
      { numRuns: 60 },
    );
  });

  it('makes a data URL whose payload decodes to exactly the image bytes', () => {
    const url = imageDataUrl(grid('g'));
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    const decoded = Buffer.from(url.slice('data:image/png;base64,'.length), 'base64');
    expect([...decoded]).toEqual([...GRID_BYTES]);
    expect(imageDataUrl({ ...grid('j'), mime: 'image/jpeg' })).toMatch(/^data:image\/jpeg;base64,/);
  });
});

describe('toWebLlmRequest', () => {
  const request: LlmRequest = {
    messages: [
      { role: 'system', content: 'You compare two sets of radiographs.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Set A:' },
          { type: 'image', image: grid('grid-A') },
          { type: 'text', text: 'Set B:' },
          { type: 'image', image: grid('grid-B', new Uint8Array([1, 2, 3, 4])) },
          { type: 'text', text: 'Answer in JSON only.' },
        ],
      },
    ],
    jsonSchema: SCHEMA,
    temperature: 0.7,
    seed: 1234,
    maxTokens: 300,
  };

  it('sends images to a vision model as data URLs with the exact bytes, before one joined text part', () => {
    const body = toWebLlmRequest(request, PHI_VISION);
    expect(body.messages[0]).toEqual({ role: 'system', content: 'You compare two sets of radiographs.' });
    const user = body.messages[1]!;
    expect(user.role).toBe('user');
    const parts = user.content as { type: string; image_url?: { url: string }; text?: string }[];
    expect(parts.map((p) => p.type)).toEqual(['image_url', 'image_url', 'text']);
    const bytesOf = (url: string) => [...Buffer.from(url.replace(/^data:image\/png;base64,/, ''), 'base64')];
    expect(bytesOf(parts[0]!.image_url!.url)).toEqual([...GRID_BYTES]);
    expect(bytesOf(parts[1]!.image_url!.url)).toEqual([1, 2, 3, 4]);
    // web-llm allows one text part: joined, with markers where the images were.
    expect(parts[2]!.text).toBe('Set A:\n\n[image 1]\n\nSet B:\n\n[image 2]\n\nAnswer in JSON only.');
    // No `detail`: web-llm rejects it.
    expect(parts[0]!.image_url).toEqual({ url: expect.stringMatching(/^data:image\/png;base64,/) });
  });

  it('gives a text-only model a note instead of each image', () => {
    const body = toWebLlmRequest(request, QWEN);
    expect(body.messages[1]).toEqual({
      role: 'user',
      content: `Set A:\n\n${IMAGE_NOT_SEEN_NOTE}\n\nSet B:\n\n${IMAGE_NOT_SEEN_NOTE}\n\nAnswer in JSON only.`,
    });
    expect(JSON.stringify(body)).not.toContain('base64');
  });

  it('passes the schema as a JSON string with json_object, seed, temperature, max_tokens, thinking off', () => {
    const body = toWebLlmRequest(request, QWEN);
    expect(body.response_format).toEqual({ type: 'json_object', schema: JSON.stringify(SCHEMA) });
    expect(JSON.parse(body.response_format!.schema!)).toEqual(SCHEMA);
    expect(body).toMatchObject({ temperature: 0.7, seed: 1234, max_tokens: 300, stream: false });
    expect(body.extra_body).toEqual({ enable_thinking: false });
    // Phi has no thinking mode: the flag would make web-llm prepend an empty <think> block to its reply.
    expect(toWebLlmRequest(request, PHI_VISION).extra_body).toBeUndefined();
  });

  it('leaves out what the request does not set, floors seeds and skips the schema in lenient mode', () => {
    const bare = toWebLlmRequest({ messages: [{ role: 'user', content: 'hi' }] }, QWEN);
    expect(bare).toEqual({
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
      extra_body: { enable_thinking: false },
    });
    expect(toWebLlmRequest({ ...request, seed: 7.9 }, QWEN).seed).toBe(7);
    expect(toWebLlmRequest(request, { ...QWEN, jsonMode: 'lenient' }).response_format).toBeUndefined();
  });

  it('keeps assistant turns as text, moves a late system message into a user turn, and needs a final user turn', () => {
    const body = toWebLlmRequest(
      {
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: [{ type: 'text', text: 'not JSON' }] },
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'again, in JSON' },
        ],
      },
      PHI_VISION,
    );
    expect(body.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'first'],
      ['assistant', 'not JSON'],
      ['user', 'System: Be brief.'],
      ['user', 'again, in JSON'],
    ]);
    expect(() =>
      toWebLlmRequest(
        {
          messages: [
            { role: 'user', content: 'q' },
            { role: 'assistant', content: 'a' },
          ],
        },
        QWEN,
      ),
    ).toThrow(/end with a user message/);
  });

  it('reads the reply text, empty when there is none', () => {
    expect(
      replyText({
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            logprobs: null,
            message: { role: 'assistant', content: '{"a":1}' },
          },
        ],
      }),
    ).toBe('{"a":1}');
    expect(replyText({ choices: [] })).toBe('');
  });
});

describe('toTextOnlyMessages (WASM fallback)', () => {
  it('drops images with a note and spells out the JSON shape in the last user message only', () => {
    const messages = toTextOnlyMessages(
      [
        { role: 'system', content: 'sys' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image', image: grid('g') },
          ],
        },
        { role: 'assistant', content: 'prose' },
        { role: 'user', content: 'again' },
      ],
      SCHEMA,
    );
    expect(messages[1]).toEqual({ role: 'user', content: `look\n\n${IMAGE_NOT_SEEN_NOTE}` });
    expect(messages[3]!.content).toBe(
      `again\n\nReply with one JSON value only, no prose and no Markdown, matching this JSON Schema: ${JSON.stringify(SCHEMA)}`,
    );
    expect(toTextOnlyMessages([{ role: 'user', content: 'plain' }])).toEqual([
      { role: 'user', content: 'plain' },
    ]);
  });
});

describe('parseInitProgress', () => {
  const id = 'Qwen3-1.7B-q4f32_1-MLC';
  const MB = 1024 * 1024;

  it('maps fetching and cache loading to download of one file, with a total from the exact fraction', () => {
    expect(parseInitProgress({ progress: 0, timeElapsed: 0, text: 'Start to fetch params' }, id)).toEqual({
      phase: 'download',
      file: `${id} weights`,
      loaded: 0,
      total: 0,
    });
    const fetching = parseInitProgress(
      {
        progress: 0.25,
        timeElapsed: 3,
        text: 'Fetching param cache[5/40]: 250MB fetched. 25% completed, 3 secs elapsed. It can take a while when we first visit this page to populate the cache. Later refreshes will become faster.',
      },
      id,
    );
    expect(fetching).toEqual({
      phase: 'download',
      file: `${id} weights`,
      loaded: 250 * MB,
      total: 1000 * MB,
    });
    const cached = parseInitProgress(
      {
        progress: 1,
        timeElapsed: 9,
        text: 'Loading model from cache[40/40]: 1000MB loaded. 100% completed, 9 secs elapsed.',
      },
      id,
    );
    expect(cached).toEqual({ phase: 'download', file: `${id} weights`, loaded: 1000 * MB, total: 1000 * MB });
  });

  it('maps shader compilation, the finish line (with the build dtype) and ignores the rest', () => {
    expect(
      parseInitProgress(
        {
          progress: 0.5,
          timeElapsed: 1,
          text: 'Loading GPU shader modules[12/80]: 15% completed, 1 secs elapsed.',
        },
        id,
      ),
    ).toEqual({ phase: 'compile', file: 'GPU shaders 12/80' });
    expect(
      parseInitProgress({ progress: 1, timeElapsed: 20, text: 'Finish loading on WebGPU - SwiftShader' }, id),
    ).toEqual({ phase: 'ready', device: 'webgpu', dtype: 'q4' });
    expect(
      parseInitProgress({ progress: 0, timeElapsed: 0, text: 'Something new in web-llm 0.3' }, id),
    ).toBeUndefined();
    expect(webLlmDtype('Qwen3-1.7B-q4f16_1-MLC')).toBe('q4f16');
    expect(webLlmDtype('Qwen3-0.6B-q0f32-MLC')).toBe('fp32');
  });
});

describe('progressGate', () => {
  it('passes phase changes and final events at once, the rest at most once per interval', () => {
    let clock = 0;
    const pass = progressGate(100, () => clock);
    const shader = (i: number): EngineProgress => ({ phase: 'compile', file: `GPU shaders ${i}/80` });
    const dl = (loaded: number): EngineProgress => ({ phase: 'download', file: 'w', loaded, total: 100 });
    expect(pass(dl(0))).toBe(true);
    clock = 10;
    expect(pass(dl(10))).toBe(false);
    clock = 120;
    expect(pass(dl(50))).toBe(true);
    clock = 130;
    expect(pass(dl(100))).toBe(true); // final
    expect(pass(shader(1))).toBe(true); // new phase
    const passed = [2, 3, 4, 5, 6].filter((i) => pass(shader(i)));
    expect(passed).toEqual([]);
    expect(pass(shader(80))).toBe(true); // last module
    expect(pass(shader(8))).toBe(false); // "8/80" is not "80/80"
    expect(pass({ phase: 'ready', device: 'webgpu', dtype: 'q4' })).toBe(true);
  });
});

describe('toWebLlmError', () => {
  const id = 'Qwen3-1.7B-q4f32_1-MLC';

  it('recognises web-llm errors by class name inside the strings its worker sends', () => {
    expect(
      toWebLlmError(
        'DeviceLostError: The WebGPU device was lost while loading the model. …out of memory (OOM)',
        id,
        'load',
      ).name,
    ).toBe('DeviceLost');
    expect(toWebLlmError('WebGPUNotAvailableError: WebGPU is not supported', id, 'load').name).toBe(
      'WebGpuUnavailable',
    );
    expect(
      toWebLlmError('ShaderF16SupportError: This model requires WebGPU extension shader-f16', id, 'load')
        .name,
    ).toBe('WebGpuUnavailable');
    expect(toWebLlmError(new DOMException('quota', 'QuotaExceededError'), id, 'load').name).toBe(
      'QuotaExceeded',
    );
    expect(toWebLlmError('Error: Failed to allocate buffer', id, 'generate').name).toBe('OutOfMemory');
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    expect(toWebLlmError(abort, id, 'load').name).toBe('AbortError');
  });

  it('names the model and the cause of a failed load, and says "offline" for a network failure', () => {
    const offline = toWebLlmError('TypeError: Failed to fetch', id, 'load');
    expect(offline.name).toBe('ModelLoadFailed');
    expect(offline.message).toContain(id);
    expect(offline.message).toMatch(/offline/);
    expect(offline.message).toContain('Failed to fetch');
    const other = toWebLlmError(new Error('Cannot find model record in appConfig for nope'), id, 'load');
    expect(other).toMatchObject({
      name: 'ModelLoadFailed',
      message: `${id}: Error: Cannot find model record in appConfig for nope`,
    });
  });

  it('treats a model that vanished mid-run as a lost device, and other run failures as plain errors', () => {
    expect(toWebLlmError('WorkerEngineModelNotLoadedError: …', id, 'generate').name).toBe('DeviceLost');
    const plain = toWebLlmError('MessageOrderError: Last message should be from user', id, 'generate');
    expect(plain.name).toBe('Error');
  });
});

describe('pickLlmVariant on the shipped manifest', () => {
  it('switches every f16 web-llm build to its f32 build without shader-f16', () => {
    for (const spec of manifest.llms.filter((m) => m.runtime === 'web-llm')) {
      const variant = pickLlmVariant(spec, { shaderF16: false });
      expect(variant.modelId).toMatch(/-q4f32_1-MLC$/);
      expect(variant.unsupported).toBeUndefined();
      expect(pickLlmVariant(spec, { shaderF16: true }).modelId).toBe(spec.id);
    }
  });
});
