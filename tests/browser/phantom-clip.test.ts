// phantom-clip (public/models/phantom-clip, `npm run make:phantom-model`) through the real CLIP worker in Chromium,
// like any self-hosted CLIP: loads on WASM and on WebGPU (software adapter) in fp32, its phrases rank phantoms
// rendered in the page (at the model's input size, pixel_values from the image worker's pixel math), and WebGPU
// agrees with WASM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipEngine } from '../../src/lib/engines/clip-engine.ts';
import { generatePhantom, type FindingSpec } from '../../src/lib/core/phantom/index.ts';
import type { RankerModelSpec } from '../../src/lib/core/types.ts';
import { rgbaToChw } from '../../workers/image/preprocess.ts';
import { maxAbsDiff, scores } from './clip-helpers.ts';

const N = 3;
const PHRASES = ['left pleural effusion', 'right pleural effusion', 'endotracheal tube'];

let spec: RankerModelSpec;
/** pixel_values of the test images; a fresh copy per call (embedImages transfers its input). */
let pixels: () => Float32Array;
let wasm: { images: Float32Array; texts: Float32Array };

/** N phantoms with `findings`, then N normals, as pixel_values. */
function phantomPixels(findings: FindingSpec[]): Float32Array {
  const size = spec.preprocessing.size;
  const plane = 3 * size * size;
  const out = new Float32Array(2 * N * plane);
  for (let i = 0; i < 2 * N; i++) {
    const { pixels: gray } = generatePhantom({ seed: 4242, index: i, size, findings: i < N ? findings : [] });
    const rgba = new Uint8Array(size * size * 4);
    for (let j = 0; j < gray.length; j++) rgba.set([gray[j]!, gray[j]!, gray[j]!, 255], 4 * j);
    rgbaToChw(rgba, size, spec.preprocessing, out.subarray(i * plane, (i + 1) * plane));
  }
  return out;
}

/** Every finding image scores above every normal on phrase `t`. */
function separates(images: Float32Array, texts: Float32Array, dim: number, t: number): boolean {
  const s = scores(images, texts, dim, t);
  return Math.min(...s.slice(0, N)) > Math.max(...s.slice(N));
}

beforeAll(async () => {
  const manifest = (await (await fetch('/models/manifest.json')).json()) as { rankers: RankerModelSpec[] };
  spec = manifest.rankers.find((r) => r.id === 'phantom-clip')!;
  const values = phantomPixels([{ name: 'effusion', side: 'left', size: 'large' }]);
  pixels = () => values.slice();
});

describe('phantom-clip in the CLIP worker', () => {
  const engine = new ClipEngine();
  const gpu = new ClipEngine();
  afterAll(() => {
    engine.dispose();
    gpu.dispose();
  });

  it('loads on WASM in fp32 and ranks left effusions by "left pleural effusion" only', async () => {
    const info = await engine.load(spec, { device: 'wasm', local: true });
    expect(info).toMatchObject({ device: 'wasm', dtype: 'fp32', dim: 32, imageSize: 256 });
    const images = await engine.embedImages(pixels(), 2 * N);
    const { embeddings: texts } = await engine.embedTexts(PHRASES);
    expect(separates(images, texts, info.dim, 0)).toBe(true);
    expect(separates(images, texts, info.dim, 1)).toBe(false);
    expect(separates(images, texts, info.dim, 2)).toBe(false);
    wasm = { images, texts };
  });

  it('loads on WebGPU in fp32 and agrees with WASM to 1e-4', async () => {
    const info = await gpu.load(spec, { device: 'webgpu', local: true, imageBatchSize: 2 });
    expect(info).toMatchObject({ device: 'webgpu', dtype: 'fp32', dim: 32 });
    const images = await gpu.embedImages(pixels(), 2 * N);
    const { embeddings: texts } = await gpu.embedTexts(PHRASES);
    expect(maxAbsDiff(images, wasm.images)).toBeLessThan(1e-4);
    expect(maxAbsDiff(texts, wasm.texts)).toBeLessThan(1e-4);
    expect(separates(images, texts, info.dim, 0)).toBe(true);
  });
});
