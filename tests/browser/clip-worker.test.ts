// The CLIP worker end to end in real Chromium: clip-engine.ts → comlink → clip.worker.ts → transformers.js → ORT,
// on WASM and on WebGPU (SwiftShader's software adapter: fp32 only, slow, so batches stay tiny), with the generated
// test models served by Vite from public/models/. Checks meaning (the matching finding scores higher on the
// matching images), normalization, WebGPU/WASM agreement, progress, cancel, named errors and tokenization edges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipEngine, rebuildWorkerError, type ClipLoadResult } from '../../src/lib/engines/clip-engine.ts';
import { namedError, type EngineProgress, type RankerModelSpec } from '../../src/lib/core/types.ts';
import { CancellationRegistry } from '../../workers/shared/cancellation.ts';
import { classifyRuntimeError, toLoadError } from '../../workers/shared/errors.ts';
import { LibraryProgressMapper, throttleProgress } from '../../workers/shared/progress.ts';
import {
  firstIndex,
  imageLeftLowerBright,
  lastIndex,
  maxAbsDiff,
  mean,
  pixelValues,
  row,
  scores,
  testClipSpec,
  testSiglipSpec,
  uniform,
  dot,
  type GrayImage,
} from './clip-helpers.ts';

/** Set A: the image-left lower quarter is bright ("right lower opacity"); set B: uniformly darker. */
const SET_A: GrayImage[] = [
  imageLeftLowerBright(70, 210),
  imageLeftLowerBright(80, 200),
  imageLeftLowerBright(60, 190),
];
const SET_B: GrayImage[] = [uniform(70), uniform(80), uniform(60)];
const FINDINGS = ['right lower opacity', 'left upper opacity', 'foo bar'];
const LONG_TEXT = Array.from({ length: 90 }, (_, i) => (i % 2 ? 'opacity' : 'right')).join(' ');
const NON_ASCII = ['épanchement pleural droit', '右下肺野の陰影 opacity', 'Ödem 🫁 lower'];

function unitNorms(matrix: Float32Array, dim: number): number[] {
  return Array.from({ length: matrix.length / dim }, (_, i) =>
    Math.sqrt(dot(row(matrix, dim, i), row(matrix, dim, i))),
  );
}

function expectSeparates(images: Float32Array, texts: Float32Array, dim: number, nA: number): void {
  const matching = scores(images, texts, dim, 0);
  const other = scores(images, texts, dim, 1);
  const a = matching.slice(0, nA);
  const b = matching.slice(nA);
  // Every A image scores higher than every B image on the matching finding …
  expect(Math.min(...a)).toBeGreaterThan(Math.max(...b));
  // … and the wrong side of the chest separates the sets less.
  const gap = mean(a) - mean(b);
  const otherGap = mean(other.slice(0, nA)) - mean(other.slice(nA));
  expect(gap).toBeGreaterThan(otherGap + 0.05);
}

function recorder(): { events: EngineProgress[]; onProgress: (e: EngineProgress) => void } {
  const events: EngineProgress[] = [];
  return { events, onProgress: (e) => events.push(e) };
}

let spec: RankerModelSpec;
const pixels = () => pixelValues(spec.preprocessing, [...SET_A, ...SET_B]);
// WASM results, the reference the WebGPU section compares against (tests in a file run in order).
let wasmImages: Float32Array;
let wasmTexts: Float32Array;

beforeAll(async () => {
  spec = await testClipSpec();
});

describe('worker plumbing (pure, no model)', () => {
  it('throttles progress to the interval but always delivers the first and the last event of a phase', () => {
    let clock = 0;
    const delivered: EngineProgress[] = [];
    const throttle = throttleProgress(
      (e) => delivered.push(e),
      100,
      () => clock,
    );
    for (let loaded = 1; loaded <= 100; loaded++) {
      clock += 1; // 100 events in 100 ms
      throttle.push({ phase: 'download', file: 'onnx/vision_model.onnx', loaded, total: 100 });
    }
    throttle.push({ phase: 'compile', file: 'onnx/vision_model.onnx' });
    throttle.flush();
    expect(delivered[0]).toMatchObject({ phase: 'download', loaded: 1 });
    expect(delivered).toContainEqual({
      phase: 'download',
      file: 'onnx/vision_model.onnx',
      loaded: 100,
      total: 100,
    });
    expect(delivered.at(-1)).toEqual({ phase: 'compile', file: 'onnx/vision_model.onnx' });
    expect(delivered.length).toBeLessThanOrEqual(4);
  });

  it('a held event is delivered before the next phase starts, so phases never interleave out of order', () => {
    let clock = 0;
    const delivered: EngineProgress[] = [];
    const throttle = throttleProgress(
      (e) => delivered.push(e),
      100,
      () => clock,
    );
    throttle.push({ phase: 'embed', done: 0, total: 10 });
    clock = 10;
    throttle.push({ phase: 'embed', done: 3, total: 10 }); // held
    throttle.push({ phase: 'warmup' }); // flushes the held one first
    expect(delivered.map((e) => (e.phase === 'embed' ? e.done : e.phase))).toEqual([0, 3, 'warmup']);
    throttle.flush();
  });

  it('maps transformers.js file events to download/compile', () => {
    const mapper = new LibraryProgressMapper();
    expect(mapper.map({ status: 'initiate', file: 'config.json' })).toEqual([]);
    expect(mapper.map({ status: 'progress', file: 'onnx/text_model.onnx', loaded: 5, total: 0 })).toEqual([
      { phase: 'download', file: 'onnx/text_model.onnx', loaded: 5, total: 0 },
    ]);
    expect(mapper.map({ status: 'done', file: 'onnx/text_model.onnx' })).toEqual([
      { phase: 'download', file: 'onnx/text_model.onnx', loaded: 5, total: 5 },
      { phase: 'compile', file: 'onnx/text_model.onnx' },
    ]);
  });

  it('names runtime failures: device lost, out of memory, anything else is a load failure', () => {
    expect(classifyRuntimeError(new Error('Device was lost: GPU hang'))).toBe('DeviceLost');
    expect(classifyRuntimeError(new Error("GPUDevice 'x' is lost"))).toBe('DeviceLost');
    expect(classifyRuntimeError(new Error('failed to allocate a buffer of size 1073741824'))).toBe(
      'OutOfMemory',
    );
    expect(classifyRuntimeError(new RangeError('Array buffer allocation failed'))).toBe('OutOfMemory');
    expect(classifyRuntimeError(new Error('Cannot enlarge memory, requested 4294967296 bytes'))).toBe(
      'OutOfMemory',
    );
    expect(classifyRuntimeError(new Error('Unexpected token < in JSON'))).toBeUndefined();
    expect(toLoadError(new Error('Unexpected token <'), 'm')).toMatchObject({
      name: 'ModelLoadFailed',
      message: 'm: Unexpected token <',
    });
    expect(toLoadError(namedError('ModelLoadFailed', 'host unreachable'), 'm').message).toBe(
      'm: host unreachable',
    );
    expect(toLoadError(new DOMException('aborted', 'AbortError'), 'm').name).toBe('AbortError');
  });

  it('rebuilds errors by name on the main side', () => {
    const wire = Object.assign(new Error('lost'), { name: 'DeviceLost' });
    expect(rebuildWorkerError(wire)).toMatchObject({ name: 'DeviceLost', message: 'lost' });
    expect(rebuildWorkerError('boom')).toMatchObject({ name: 'Error', message: 'boom' });
  });

  it('a cancel that arrives before its job began still cancels it', async () => {
    const jobs = new CancellationRegistry();
    expect(jobs.cancel('early')).toBe(false);
    const job = jobs.begin('early');
    await expect(job.checkpoint()).rejects.toMatchObject({ name: 'AbortError' });
    job.end();
    const running = jobs.begin('late');
    expect(jobs.cancel('late')).toBe(true);
    expect(() => running.throwIfCancelled()).toThrow(/cancelled/);
    running.end();
    expect(jobs.active()).toEqual([]);
  });
});

describe('CLIP worker on WASM', () => {
  // Every engine is a worker that instantiates ORT's 27 MB wasm: two workers serve the whole section.
  const engine = new ClipEngine();
  const other = new ClipEngine();
  let loaded: ClipLoadResult;
  afterAll(() => {
    engine.dispose();
    other.dispose();
  });

  it('loads test-clip with download → compile → warm-up → ready progress', async () => {
    const { events, onProgress } = recorder();
    loaded = await engine.load(spec, { device: 'wasm', local: true }, { onProgress });
    expect(loaded).toMatchObject({
      modelId: 'test-clip',
      family: 'clip',
      device: 'wasm',
      dtype: 'fp32',
      dim: 32,
      imageBatchSize: 4,
    });
    expect(loaded.fellBackFrom).toBeUndefined();
    expect(engine.loaded).toEqual(loaded);

    const compiles = events.flatMap((e) => (e.phase === 'compile' ? [e.file] : []));
    expect(compiles).toEqual(expect.arrayContaining(['onnx/text_model.onnx', 'onnx/vision_model.onnx']));
    expect(firstIndex(events, 'download')).toBeGreaterThanOrEqual(0);
    expect(lastIndex(events, 'compile')).toBeLessThan(firstIndex(events, 'warmup'));
    expect(firstIndex(events, 'warmup')).toBeLessThan(firstIndex(events, 'ready'));
    expect(events.at(-1)).toEqual({ phase: 'ready', device: 'wasm', dtype: 'fp32' });
    // Every file's last download event says it is complete.
    const lastPerFile = new Map<string, EngineProgress>();
    for (const e of events) if (e.phase === 'download') lastPerFile.set(e.file, e);
    expect(lastPerFile.has('onnx/vision_model.onnx')).toBe(true);
    for (const e of lastPerFile.values()) {
      if (e.phase === 'download') expect(e.loaded).toBe(e.total);
    }
  });

  it('a second load with the same arguments is memoized and reports ready at once', async () => {
    const { events, onProgress } = recorder();
    const again = await engine.load(spec, { device: 'wasm', local: true }, { onProgress });
    expect(again).toEqual(loaded);
    expect(events).toEqual([{ phase: 'ready', device: 'wasm', dtype: 'fp32' }]);
  });

  it('embeds images and findings: normalized, and the matching finding ranks set A above set B', async () => {
    const { events, onProgress } = recorder();
    wasmImages = await engine.embedImages(pixels(), SET_A.length + SET_B.length, { onProgress });
    expect(wasmImages.length).toBe(6 * loaded.dim);
    for (const n of unitNorms(wasmImages, loaded.dim)) expect(n).toBeCloseTo(1, 5);
    const embeds = events.filter((e) => e.phase === 'embed');
    expect(embeds[0]).toEqual({ phase: 'embed', done: 0, total: 6 });
    expect(embeds.at(-1)).toEqual({ phase: 'embed', done: 6, total: 6 });

    const texts = await engine.embedTexts(FINDINGS);
    wasmTexts = texts.embeddings;
    expect(texts.dim).toBe(loaded.dim);
    expect(texts.truncated).toEqual([false, false, false]);
    for (const n of unitNorms(wasmTexts, loaded.dim)) expect(n).toBeCloseTo(1, 5);
    expectSeparates(wasmImages, wasmTexts, loaded.dim, SET_A.length);
  });

  it('reports truncation of a long finding and keeps its embedding meaningful', async () => {
    const { embeddings, tokenCounts, truncated } = await engine.embedTexts([
      LONG_TEXT,
      'right lower opacity',
    ]);
    expect(tokenCounts[0]).toBeGreaterThan(spec.maxTextTokens);
    expect(tokenCounts[1]).toBe(5); // <|startoftext|> right lower opacity <|endoftext|>
    expect(truncated).toEqual([true, false]);
    for (const n of unitNorms(embeddings, loaded.dim)) expect(n).toBeCloseTo(1, 5);
    // The cut text is still about the image-left (patient's right) and brightness: it separates A from B.
    const cut = scores(wasmImages, embeddings, loaded.dim, 0);
    expect(Math.min(...cut.slice(0, 3))).toBeGreaterThan(Math.max(...cut.slice(3)));
  });

  it('embeds non-ASCII findings', async () => {
    const { embeddings, truncated } = await engine.embedTexts(NON_ASCII);
    expect(truncated).toEqual([false, false, false]);
    expect(embeddings.every(Number.isFinite)).toBe(true);
    for (const n of unitNorms(embeddings, loaded.dim)) expect(n).toBeCloseTo(1, 5);
  });

  it('gives the same embeddings whatever the batch size (changing it does not reload)', async () => {
    const { events, onProgress } = recorder();
    const one = await engine.load(spec, { device: 'wasm', local: true, imageBatchSize: 1 }, { onProgress });
    expect(one.imageBatchSize).toBe(1);
    expect(events.map((e) => e.phase)).toEqual(['ready']);
    expect(maxAbsDiff(await engine.embedImages(pixels(), 6), wasmImages)).toBeLessThan(1e-5);
  });

  it('cancelling mid-embedding rejects with AbortError, and the engine keeps working', async () => {
    const controller = new AbortController();
    const seen: EngineProgress[] = [];
    const count = 64;
    const many = pixelValues(
      spec.preprocessing,
      Array.from({ length: count }, (_, i) => uniform(i * 4)),
    );
    // Batches of one (previous test); abort on the first progress event: the worker must stop between batches.
    const call = engine.embedImages(many, count, {
      signal: controller.signal,
      onProgress: (e) => {
        seen.push(e);
        controller.abort();
      },
    });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    const last = seen.filter((e) => e.phase === 'embed').at(-1);
    expect(last?.phase === 'embed' && last.done).toBeLessThan(count);
    // Not an error state: the next call works.
    expect(maxAbsDiff(await engine.embedImages(pixels(), 6), wasmImages)).toBeLessThan(1e-5);
    // An already aborted signal never reaches the worker.
    await expect(engine.embedTexts(['x'], { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('a load cancelled while compiling is forgotten at once: the next load starts afresh and succeeds', async () => {
    // A model not loaded in `other` yet; cancel when it starts compiling (ORT session creation cannot be
    // interrupted, so the cancelled load is still settling in the worker when the next load arrives).
    const sSpec = testSiglipSpec(spec);
    const controller = new AbortController();
    const cancelled = other.load(
      sSpec,
      { device: 'wasm', local: true },
      {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.phase === 'compile') controller.abort();
        },
      },
    );
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' });
    // Immediately again, while the cancelled download may still be settling in the worker: it must not be joined.
    await expect(other.load(sSpec, { device: 'wasm', local: true })).resolves.toMatchObject({
      modelId: sSpec.id,
      device: 'wasm',
    });
  });

  it('a model id with no folder fails with ModelLoadFailed naming config.json; then a retry loads', async () => {
    const missing = { ...spec, id: 'clip-test-no-such-model' };
    const error = await other.load(missing, { device: 'wasm', local: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ModelLoadFailed' });
    expect((error as Error).message).toMatch(/^clip-test-no-such-model: config\.json is missing \(/);
    // Eviction on failure: the same engine (and worker) loads a good model afterwards.
    await expect(other.load(spec, { device: 'wasm', local: true })).resolves.toMatchObject({
      device: 'wasm',
    });
  });

  it('a folder lacking the weights for the dtype names each missing file', async () => {
    const q4 = { ...spec, dtype: { webgpu: 'q4', webgpuNoF16: 'q4', wasm: 'q4' } } satisfies RankerModelSpec;
    const error = await other.load(q4, { device: 'wasm', local: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ModelLoadFailed' });
    expect((error as Error).message).toMatch(/^test-clip: onnx\/text_model_q4\.onnx is missing \(/);
    expect((error as Error).message).toMatch(/onnx\/vision_model_q4\.onnx is missing/);
    expect(other.loaded).toBeNull();
  });

  it('auto falls back to WASM when WebGPU cannot load, and says why', async () => {
    const gpuBroken = {
      ...spec,
      dtype: { webgpu: 'q4', webgpuNoF16: 'q4', wasm: 'fp32' },
    } satisfies RankerModelSpec;
    const result = await other.load(gpuBroken, { device: 'auto', local: true });
    expect(result).toMatchObject({ device: 'wasm', dtype: 'fp32' });
    expect(result.fellBackFrom?.device).toBe('webgpu');
    // With an adapter (this Chromium has a software one) the q4 files are missing; without, there is no adapter.
    expect(result.fellBackFrom?.reason).toMatch(/onnx\/text_model_q4\.onnx is missing|WebGPU/);
    if (result.adapter) expect(result.fellBackFrom?.reason).toMatch(/text_model_q4\.onnx is missing/);
    expect(maxAbsDiff(await other.embedImages(pixels(), 6), wasmImages)).toBeLessThan(1e-5);
  });

  it('an unreachable model host is a ModelLoadFailed that says the Hub is fetched by the browser', async () => {
    const hubSpec = { ...spec, id: 'Xenova/clip-vit-base-patch16', source: 'hub' } satisfies RankerModelSpec;
    // A closed local port: fetch fails with the same TypeError as being offline, without touching the network.
    const error = await other
      .load(hubSpec, { device: 'wasm', local: false, remoteHost: 'http://127.0.0.1:59999/' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ModelLoadFailed' });
    expect((error as Error).message).toMatch(
      /^Xenova\/clip-vit-base-patch16: 127\.0\.0\.1:59999 could not be reached .*Hugging Face Hub by your browser/,
    );
  });

  it('SigLIP family: pooler_output towers, pad to max length, truncation at 64 tokens', async () => {
    const sSpec = testSiglipSpec(spec);
    const info = await other.load(sSpec, { device: 'wasm', local: true });
    expect(info).toMatchObject({ modelId: 'test-siglip', family: 'siglip', device: 'wasm', dim: 32 });
    const images = await other.embedImages(pixelValues(sSpec.preprocessing, [...SET_A, ...SET_B]), 6);
    const texts = await other.embedTexts([...FINDINGS, LONG_TEXT, ...NON_ASCII]);
    expect(texts.truncated).toEqual([false, false, false, true, false, false, false]);
    expect(texts.tokenCounts[3]).toBeGreaterThan(64);
    for (const n of unitNorms(images, info.dim)) expect(n).toBeCloseTo(1, 5);
    expectSeparates(images, texts.embeddings, info.dim, SET_A.length);
  });
});

describe('CLIP worker on WebGPU (software adapter)', () => {
  const gpu = new ClipEngine();
  afterAll(() => gpu.dispose());

  it('loads on WebGPU in fp32, reports the adapter, and agrees with WASM to 1e-4', async () => {
    const { events, onProgress } = recorder();
    const info = await gpu.load(spec, { device: 'webgpu', local: true, imageBatchSize: 2 }, { onProgress });
    expect(info).toMatchObject({ device: 'webgpu', dtype: 'fp32', dim: 32, imageBatchSize: 2 });
    expect(info.adapter).toBeDefined();
    expect(typeof info.adapter?.vendor).toBe('string');
    expect(info.adapter?.shaderF16).toBe(false);
    expect(lastIndex(events, 'compile')).toBeLessThan(firstIndex(events, 'warmup'));
    expect(events.at(-1)).toEqual({ phase: 'ready', device: 'webgpu', dtype: 'fp32' });

    const embedEvents = recorder();
    const images = await gpu.embedImages(pixels(), 6, { onProgress: embedEvents.onProgress });
    expect(embedEvents.events.at(-1)).toEqual({ phase: 'embed', done: 6, total: 6 });
    const texts = await gpu.embedTexts(FINDINGS);
    for (const n of unitNorms(images, info.dim)) expect(n).toBeCloseTo(1, 5);
    expect(maxAbsDiff(images, wasmImages)).toBeLessThan(1e-4);
    expect(maxAbsDiff(texts.embeddings, wasmTexts)).toBeLessThan(1e-4);
    expectSeparates(images, texts.embeddings, info.dim, SET_A.length);
  });

  it('cancelling a WebGPU embedding rejects with AbortError', async () => {
    const controller = new AbortController();
    const many = pixelValues(
      spec.preprocessing,
      Array.from({ length: 12 }, (_, i) => uniform(i * 20)),
    );
    const call = gpu.embedImages(many, 12, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.phase === 'embed' && e.done >= 2) controller.abort();
      },
    });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('engine resilience', () => {
  it('a worker that dies rejects the pending call (ModelLoadFailed while loading) instead of hanging', async () => {
    const script = URL.createObjectURL(
      new Blob(['throw new Error("boom at startup")'], { type: 'text/javascript' }),
    );
    const engine = new ClipEngine({ createWorker: () => new Worker(script, { type: 'module' }) });
    try {
      const error = await engine.load(spec, { device: 'wasm', local: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ModelLoadFailed' });
      expect((error as Error).message).toMatch(/CLIP worker crashed/);
      expect(engine.loaded).toBeNull();
    } finally {
      engine.dispose();
      URL.revokeObjectURL(script);
    }
  });
});
