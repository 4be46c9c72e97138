// The in-browser generation engines in real Chromium, without any model weights (none can be downloaded here): the
// captioner worker's failure paths (a missing self-hosted folder is a ModelLoadFailed naming the missing file, a
// failed load is retried rather than replayed, unknown cancels are harmless), the same through VlmEngine and its
// real worker, the WASM fallback LLM likewise, and web-llm on Chromium's software WebGPU adapter: the q4f32 build
// is picked (no shader-f16) and a load with the network blocked ends in ModelLoadFailed rather than hanging.
import { prebuiltAppConfig, type AppConfig } from '@mlc-ai/web-llm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../workers/vlm/vlm.api.ts';
import { api as fallbackApi } from '../../workers/llm-fallback/llm-fallback.api.ts';
import { parseManifest, type CaptionerModelSpec, type LlmModelSpec } from '../../src/lib/core/manifest.ts';
import type { EngineProgress } from '../../src/lib/core/types.ts';
import { VlmEngine } from '../../src/lib/engines/vlm-engine.ts';
import { Tensor, type PreTrainedModel, type StoppingCriteria } from '@huggingface/transformers';
import { CancellationRegistry } from '../../workers/shared/cancellation.ts';
import { generateNewText, yieldBetweenTokens } from '../../workers/shared/text-generation.ts';
import { TransformersLlmEngine } from '../../src/lib/engines/transformers-llm-engine.ts';
import { WebLlmEngine, probeShaderF16 } from '../../src/lib/engines/webllm-engine.ts';

/** A folder under public/models/ that does not exist. */
const MISSING = '/models/__no-such-folder__/';

let captioner: CaptionerModelSpec;
let qwen: LlmModelSpec;
let fallback: LlmModelSpec;

beforeAll(async () => {
  const manifest = parseManifest(await (await fetch('/models/manifest.json')).json());
  captioner = manifest.captioners.find((c) => c.id === 'HuggingFaceTB/SmolVLM-256M-Instruct')!;
  qwen = manifest.llms.find((m) => m.id === 'Qwen3-1.7B-q4f16_1-MLC')!;
  fallback = manifest.llms.find((m) => m.runtime === 'transformers')!;
});

/** Rejects with a "hang" error after `ms`: a load that can fail must fail, not wait forever. */
function withinMs<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (hang)`)), ms);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

/** Counts this realm's fetches whose URL contains `part` while `work` runs. */
async function countingFetches<T>(
  part: string,
  work: () => Promise<T>,
): Promise<{ count: number; result: PromiseSettledResult<T> }> {
  const original = globalThis.fetch;
  let count = 0;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.includes(part)) count++;
    return original(input, init);
  };
  try {
    const [result] = await Promise.allSettled([work()]);
    return { count, result: result! };
  } finally {
    globalThis.fetch = original;
  }
}

function rejection(result: PromiseSettledResult<unknown>): Error {
  if (result.status !== 'rejected') throw new Error('expected a rejection');
  return result.reason as Error;
}

/**
 * A stand-in for a transformers.js model whose generate() loops like the library's: forward, append a token (100,
 * 101, …), ask the stopping criteria. Its forward settles in microtasks only, like ONNX Runtime on WASM.
 */
function scriptedModel(): { model: PreTrainedModel; forwards: () => number } {
  let forwards = 0;
  const fake = {
    forward: async () => {
      forwards++;
      return {};
    },
    async generate({
      input_ids,
      max_new_tokens,
      stopping_criteria,
    }: {
      input_ids: Tensor;
      max_new_tokens: number;
      stopping_criteria: StoppingCriteria;
    }): Promise<Tensor> {
      const ids = Array.from(input_ids.data as BigInt64Array);
      for (let i = 0; i < max_new_tokens; i++) {
        await this.forward();
        ids.push(BigInt(100 + i));
        if (stopping_criteria._call([[ids.length]], [])[0]) break;
      }
      return new Tensor('int64', BigInt64Array.from(ids), [1, ids.length]);
    },
  };
  return { model: fake as unknown as PreTrainedModel, forwards: () => forwards };
}

describe('cancellable generation (workers/shared/text-generation.ts) with a scripted model', () => {
  const prompt = () => ({ input_ids: new Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]) });
  const decode = (ids: Tensor) => [Array.from(ids.data as BigInt64Array).join(' ')];

  it('decodes only the new tokens and reports why it stopped', async () => {
    const { model } = scriptedModel();
    yieldBetweenTokens(model);
    const job = new CancellationRegistry().begin('g-1');
    const out = await generateNewText(model, decode, prompt(), 5, job);
    expect(out).toEqual({
      text: '100 101 102 103 104',
      promptTokens: 3,
      completionTokens: 5,
      finishReason: 'length',
    });
  });

  it('lets a cancel that arrives as a task stop generation between tokens (AbortError)', async () => {
    const { model, forwards } = scriptedModel();
    yieldBetweenTokens(model);
    const jobs = new CancellationRegistry();
    const job = jobs.begin('g-2');
    const run = generateNewText(model, decode, prompt(), 100_000, job);
    // A macrotask, as a comlink `cancel` message is: without a yield per token it would wait for all 100 000.
    setTimeout(() => jobs.cancel('g-2'), 20);
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(forwards()).toBeGreaterThan(0);
    expect(forwards()).toBeLessThan(100_000);
  });
});

describe('captioner worker API (in this realm, no comlink)', () => {
  it('fails a self-hosted load from a missing folder with ModelLoadFailed naming the file, and retries next time', async () => {
    const events: EngineProgress[] = [];
    const options = { device: 'wasm' as const, local: true, localModelPath: MISSING };
    const first = await countingFetches('config.json', () =>
      withinMs(
        30_000,
        api.load(captioner, options, (e) => events.push(e), 'load-1'),
      ),
    );
    const error = rejection(first.result);
    expect(error.name).toBe('ModelLoadFailed');
    expect(error.message).toContain('HuggingFaceTB/SmolVLM-256M-Instruct');
    expect(error.message).toMatch(/config\.json is missing/);
    expect(first.count).toBe(1);
    expect(await api.loaded()).toBeNull();
    expect(events.filter((e) => e.phase === 'ready')).toEqual([]);

    // The failure was not memoized: the same load really runs again (config.json is fetched again).
    const second = await countingFetches('config.json', () =>
      withinMs(30_000, api.load(captioner, options, undefined, 'load-2')),
    );
    expect(rejection(second.result).name).toBe('ModelLoadFailed');
    expect(second.count).toBe(1);
  });

  it('on auto, tries WebGPU then WASM and says both failed', async () => {
    const error = await withinMs(
      30_000,
      api.load(captioner, { device: 'auto', local: true, localModelPath: MISSING }).then(
        () => new Error('loaded?'),
        (e: Error) => e,
      ),
    );
    expect(error.name).toBe('ModelLoadFailed');
    expect(error.message).toMatch(/config\.json is missing/);
    // SwiftShader gives this Chromium a WebGPU adapter, so WebGPU was tried first.
    if ('gpu' in navigator && (await navigator.gpu.requestAdapter())) {
      expect(error.message).toMatch(/WebGPU failed first/);
    }
  });

  it('refuses a WASM load of a WebGPU-only captioner without fetching anything', async () => {
    const { dtype, ...rest } = captioner;
    const webgpuOnly: CaptionerModelSpec = {
      ...rest,
      dtype: { webgpu: dtype.webgpu, webgpuNoF16: dtype.webgpuNoF16 },
    };
    const run = await countingFetches('/models/', () =>
      api.load(webgpuOnly, { device: 'wasm', local: true, localModelPath: MISSING }),
    );
    expect(rejection(run.result)).toMatchObject({
      name: 'ModelLoadFailed',
      message: expect.stringMatching(/needs WebGPU/),
    });
    expect(run.count).toBe(0);
  });

  it('treats a cancel of an unknown job as harmless, and a caption without a model as a plain error', async () => {
    expect(api.cancel('no-such-job')).toBe(false);
    expect(api.cancel('no-such-job')).toBe(false);
    const error = await api
      .caption({
        jobId: 'c-1',
        image: new Blob([new Uint8Array([1, 2, 3])]),
        crop: 'full',
        prompt: 'Describe.',
        maxTokens: 8,
      })
      .then(
        () => new Error('captioned?'),
        (e: Error) => e,
      );
    expect(error.message).toMatch(/no captioner is loaded/);
    expect(error.name).toBe('Error');
    await api.unload();
    expect(await api.loaded()).toBeNull();
  });
});

describe('VlmEngine over its real worker', () => {
  let engine: VlmEngine;
  afterAll(() => engine?.dispose());

  it('loads lazily on the first caption, fails by name across comlink, and retries on the next caption', async () => {
    const asked: string[] = [];
    engine = new VlmEngine({
      spec: captioner,
      resolveImage: (id) => {
        asked.push(id);
        return new Blob([new Uint8Array([1])], { type: 'image/png' });
      },
      load: { device: 'wasm', local: true, localModelPath: MISSING },
    });
    expect(engine.id).toBe(`HuggingFaceTB/SmolVLM-256M-Instruct@${captioner.captionVersion}`);
    const request = { imageId: 'abc', crop: 'full' as const, prompt: 'Describe.', maxTokens: 8 };
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await withinMs(60_000, engine.caption(request)).then(
        () => new Error('captioned?'),
        (e: Error) => e,
      );
      expect(error.name).toBe('ModelLoadFailed');
      expect(error.message).toMatch(/config\.json is missing/);
    }
    // The image is only resolved once a model is loaded.
    expect(asked).toEqual([]);
    expect(engine.loaded).toBeNull();
  });

  it('rejects with AbortError when aborted, before or during the load', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      engine.caption({ imageId: 'x', crop: 'full', prompt: 'p', maxTokens: 4 }, controller.signal),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    const during = new AbortController();
    const load = engine.load({ signal: during.signal });
    during.abort();
    await expect(withinMs(30_000, load)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('WASM fallback LLM', () => {
  it('fails a self-hosted load from a missing folder by name (worker API and engine), twice', async () => {
    const direct = await withinMs(
      30_000,
      fallbackApi.load(fallback, { local: true, localModelPath: MISSING }).then(
        () => new Error('loaded?'),
        (e: Error) => e,
      ),
    );
    expect(direct).toMatchObject({
      name: 'ModelLoadFailed',
      message: expect.stringMatching(/config\.json is missing/),
    });
    expect(fallbackApi.cancel('nothing')).toBe(false);

    const engine = new TransformersLlmEngine(fallback, { load: { local: true, localModelPath: MISSING } });
    try {
      expect(engine.id).toBe('onnx-community/Qwen3-0.6B-ONNX@q4');
      expect(engine.vision).toBe(false);
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await withinMs(
          60_000,
          engine.complete({ messages: [{ role: 'user', content: 'hi' }], jsonSchema: { type: 'object' } }),
        ).then(
          () => new Error('completed?'),
          (e: Error) => e,
        );
        expect(error.name).toBe('ModelLoadFailed');
      }
    } finally {
      engine.dispose();
    }
  });
});

describe('web-llm engine on the software WebGPU adapter', () => {
  it('sees no shader-f16 on SwiftShader and picks the q4f32 build', async () => {
    expect(await probeShaderF16()).toBe(false);
    const engine = await WebLlmEngine.create(qwen);
    expect(engine.id).toBe('Qwen3-1.7B-q4f32_1-MLC');
    expect(engine.variant).toMatchObject({ f16: false, device: 'webgpu' });
    expect(engine.vision).toBe(false);
    expect(engine.loaded).toBe(false);
    engine.dispose();
  });

  it('ends a load with the network blocked in ModelLoadFailed naming the model, not a hang', async () => {
    // The model record of web-llm's own list with every URL on a closed local port: "blocked" on any machine, so this
    // test can never start a gigabyte download where a network exists.
    const record = prebuiltAppConfig.model_list.find((m) => m.model_id === 'Qwen3-1.7B-q4f32_1-MLC')!;
    expect(record).toBeDefined();
    const blocked: AppConfig = {
      model_list: [
        {
          ...record,
          model: 'http://127.0.0.1:9/mlc-ai/Qwen3-1.7B-q4f32_1-MLC/resolve/main/',
          model_lib: 'http://127.0.0.1:9/Qwen3-1.7B-q4f32_1-webgpu.wasm',
        },
      ],
    };
    const engine = await WebLlmEngine.create(qwen, { appConfig: blocked });
    const events: EngineProgress[] = [];
    try {
      const error = await withinMs(
        90_000,
        engine.load({ onProgress: (e) => events.push(e) }).then(
          () => new Error('loaded?'),
          (e: Error) => e,
        ),
      );
      expect(error.name).toBe('ModelLoadFailed');
      expect(error.message).toContain('Qwen3-1.7B-q4f32_1-MLC');
      expect(error.message).toMatch(/could not be reached/);
      expect(engine.loaded).toBe(false);
      expect(events.some((e) => e.phase === 'ready')).toBe(false);
    } finally {
      engine.dispose();
    }
  });

  it('terminates a worker that never answers the load (stall watchdog) and one whose load is aborted', async () => {
    const silent = () =>
      new Worker(URL.createObjectURL(new Blob(['// says nothing'], { type: 'text/javascript' })));
    const stalled = await WebLlmEngine.create(qwen, { createWorker: silent, loadStallTimeoutMs: 500 });
    const error = await withinMs(
      20_000,
      stalled.load().then(
        () => new Error('loaded?'),
        (e: Error) => e,
      ),
    );
    expect(error).toMatchObject({
      name: 'ModelLoadFailed',
      message: expect.stringMatching(/made no progress/),
    });

    const aborted = await WebLlmEngine.create(qwen, { createWorker: silent });
    const controller = new AbortController();
    const load = aborted.load({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(withinMs(20_000, load)).rejects.toMatchObject({ name: 'AbortError' });
    expect(aborted.loaded).toBe(false);
  });

  it('rejects a completion that is already aborted without starting a worker', async () => {
    const engine = await WebLlmEngine.create(qwen, { gpu: { shaderF16: true } });
    expect(engine.id).toBe('Qwen3-1.7B-q4f16_1-MLC');
    const controller = new AbortController();
    controller.abort();
    await expect(
      engine.complete({ messages: [{ role: 'user', content: 'hi' }] }, controller.signal),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(engine.loaded).toBe(false);
  });
});
