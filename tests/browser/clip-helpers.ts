// Helpers for the CLIP worker browser tests: the generated test models' specs, synthetic gray images turned into
// pixel_values exactly as the Preprocessing spec says (no image decoding involved), and small vector maths.
// The test models map words to image brightness (scripts/gen-models/, public/models/test-clip/vocab-meaning.json).
import type { EngineProgress, Preprocessing, RankerModelSpec } from '../../src/lib/core/types.ts';

/** The test-clip entry of public/models/manifest.json (fp32 on every device). */
export async function testClipSpec(): Promise<RankerModelSpec> {
  const response = await fetch('/models/manifest.json');
  const manifest = (await response.json()) as { rankers: RankerModelSpec[] };
  const spec = manifest.rankers.find((r) => r.id === 'test-clip');
  if (!spec) throw new Error('public/models/manifest.json has no test-clip entry');
  return spec;
}

/** test-siglip, described like a real SigLIP (squash resize, mean/std 0.5, 64 tokens, pad to max length). */
export function testSiglipSpec(clip: RankerModelSpec): RankerModelSpec {
  return {
    ...clip,
    id: 'test-siglip',
    label: 'test-siglip',
    family: 'siglip',
    preprocessing: {
      version: 'siglip-224-squash-v1',
      size: 224,
      resize: 'squash',
      rescale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    },
    maxTextTokens: 64,
  };
}

/** Gray value 0–255 at pixel (x, y) of an S × S image; x grows to the image-right, y downwards. */
export type GrayImage = (x: number, y: number) => number;

/** Uniform gray. */
export const uniform =
  (gray: number): GrayImage =>
  () =>
    gray;

/**
 * The test models' "right lower opacity": the image-LEFT lower quarter (the patient's right, radiology convention)
 * brighter than the rest.
 */
export const imageLeftLowerBright =
  (background: number, bright: number): GrayImage =>
  (x, y) =>
    x < 112 && y >= 112 ? bright : background;

/** pixel_values (count × 3 × S × S) for gray images under `pre`: (gray × rescale − mean[c]) / std[c]. */
export function pixelValues(pre: Preprocessing, images: GrayImage[]): Float32Array {
  const s = pre.size;
  const out = new Float32Array(images.length * 3 * s * s);
  images.forEach((image, i) => {
    for (let c = 0; c < 3; c++) {
      const base = (i * 3 + c) * s * s;
      const m = pre.mean[c] ?? 0;
      const sd = pre.std[c] ?? 1;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          out[base + y * s + x] = (image(x, y) * pre.rescale - m) / sd;
        }
      }
    }
  });
  return out;
}

/** Row `i` of a count × dim matrix. */
export function row(matrix: Float32Array, dim: number, i: number): Float32Array {
  return matrix.subarray(i * dim, (i + 1) * dim);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += (a[k] ?? 0) * (b[k] ?? 0);
  return sum;
}

/** Cosine scores of text `t` against every image row. */
export function scores(images: Float32Array, texts: Float32Array, dim: number, t: number): number[] {
  const text = row(texts, dim, t);
  return Array.from({ length: images.length / dim }, (_, i) => dot(row(images, dim, i), text));
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs((a[k] ?? 0) - (b[k] ?? 0)));
  return worst;
}

/** Index of the first event of `phase`, or -1. */
export function firstIndex(events: EngineProgress[], phase: EngineProgress['phase']): number {
  return events.findIndex((e) => e.phase === phase);
}

/** Index of the last event of `phase`, or -1. */
export function lastIndex(events: EngineProgress[], phase: EngineProgress['phase']): number {
  return events.map((e) => e.phase).lastIndexOf(phase);
}
