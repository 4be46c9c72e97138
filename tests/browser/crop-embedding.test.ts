// Localized ranking in real Chromium: preprocessing a crop of an image gives the tensor of the same region saved as
// its own file (every resize mode, enlarged and reduced, with EXIF orientation), and the ranker session embeds a
// crop as it embeds the pre-cropped file, caching and memoizing crops apart from whole images (test-clip, WASM).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crop } from '../../src/lib/core/cache-keys.ts';
import { cropSourceRect } from '../../src/lib/core/crop-rect.ts';
import type { Preprocessing, RankerModelSpec } from '../../src/lib/core/types.ts';
import { ClipEngine } from '../../src/lib/engines/clip-engine.ts';
import { RankerSession } from '../../src/lib/engines/ranker-session.ts';
import {
  ImageWorkerPool,
  preprocessStream,
  type PreprocessResult,
  type PreprocessedResult,
} from '../../src/lib/imaging/index.ts';
import { EmbeddingCache } from '../../src/lib/storage/embedding-cache.ts';
import { jpegWithOrientation } from '../fixtures/image-bytes.ts';
import { maxAbsDiff, testClipSpec } from './clip-helpers.ts';

type Gray = (x: number, y: number) => number;

/** Lossless PNG of a gray pattern, encoded by the browser. */
async function grayPng(width: number, height: number, gray: Gray): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = gray(x, y);
      image.data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Structure at every scale (gradients, stripes, noise), so a crop or resize off by one pixel shows. */
function pattern(seed: number): Gray {
  return (x, y) => {
    const noise = ((x * 73856093) ^ (y * 19349663) ^ (seed * 83492791)) >>> 0;
    return Math.round((x * 0.7 + y * 0.3 + 40 * Math.sin(x / 7 + seed) + (noise % 41)) % 256);
  };
}

async function one(
  file: Blob,
  preprocessing: Preprocessing,
  options: { crop?: Crop; thumbnail?: false | { maxSide: number } } = {},
): Promise<PreprocessedResult> {
  const results: PreprocessResult[] = [];
  for await (const r of preprocessStream([file], preprocessing, { pool, thumbnail: false, ...options })) {
    results.push(r);
  }
  const result = results[0];
  if (!result || 'error' in result) throw new Error(`expected an image, got ${JSON.stringify(result)}`);
  return result;
}

const base = {
  version: 't',
  size: 224,
  rescale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
} as const;
const MODES: Preprocessing[] = (['shortest-edge-center-crop', 'pad-to-square', 'squash'] as const).map(
  (resize) => ({
    ...base,
    mean: [...base.mean],
    std: [...base.std],
    resize,
  }),
);
// One level of 255 after (v/255 − 0.5)/0.5. The pre-cropped file is resized by the decoder, the crop by drawImage
// 'high': the same filter, identical when reducing, within one level of rounding when enlarging.
const ONE_LEVEL = 2 / 255 + 1e-6;

let pool: ImageWorkerPool;
beforeAll(() => {
  pool = new ImageWorkerPool({ size: 1 });
});
afterAll(() => pool.terminate());

describe('preprocessing a crop', () => {
  // Enlarged (a 150×140 region to 224) and reduced (a 600×700 region to 224).
  const cases = [
    { width: 300, height: 200, crop: { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.9 } },
    { width: 1200, height: 1000, crop: { x1: 0.5, y1: 0.3, x2: 1, y2: 1 } },
  ];
  for (const { width, height, crop } of cases) {
    it(`equals the pre-cropped file, in every resize mode (${width}×${height})`, async () => {
      const gray = pattern(width);
      const whole = await grayPng(width, height, gray);
      const r = cropSourceRect(width, height, crop);
      const cut = await grayPng(r.sw, r.sh, (x, y) => gray(x + r.sx, y + r.sy));
      for (const p of MODES) {
        const fromCrop = await one(whole, p, { crop });
        const fromFile = await one(cut, p);
        expect(maxAbsDiff(fromCrop.pixels, fromFile.pixels), p.resize).toBeLessThanOrEqual(ONE_LEVEL);
        // The whole image's size is still reported.
        expect([fromCrop.width, fromCrop.height]).toEqual([width, height]);
      }
    });
  }

  it("'full' is the whole image, bit for bit", async () => {
    const whole = await grayPng(300, 200, pattern(3));
    const p = MODES[0]!;
    expect(maxAbsDiff((await one(whole, p, { crop: 'full' })).pixels, (await one(whole, p)).pixels)).toBe(0);
  });

  it('cuts in displayed coordinates: the EXIF orientation is applied before the crop', async () => {
    // A 64×32 JPEG turned 90° clockwise (orientation 6) displays as 32×64 with its left half on top.
    const canvas = new OffscreenCanvas(64, 32);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, 32, 32);
    ctx.fillStyle = '#000';
    ctx.fillRect(32, 0, 32, 32);
    const jpeg = new Uint8Array(
      await (await canvas.convertToBlob({ type: 'image/jpeg', quality: 1 })).arrayBuffer(),
    );
    const file = new Blob([jpegWithOrientation(jpeg, 6)]);
    const p = MODES[2]!;
    const top = await one(file, p, { crop: { x1: 0, y1: 0, x2: 1, y2: 0.5 } });
    const bottom = await one(file, p, { crop: { x1: 0, y1: 0.5, x2: 1, y2: 1 } });
    expect([top.width, top.height]).toEqual([32, 64]);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(top.pixels)).toBeGreaterThan(0.9); // white → (1 − 0.5)/0.5 = 1
    expect(mean(bottom.pixels)).toBeLessThan(-0.9); // black → −1
  });

  it('makes the thumbnail of the crop', async () => {
    const whole = await grayPng(300, 200, pattern(4));
    const result = await one(whole, MODES[0]!, {
      crop: { x1: 0, y1: 0, x2: 0.5, y2: 1 },
      thumbnail: { maxSide: 50 },
    });
    const bitmap = await createImageBitmap(result.thumbnail!);
    // The crop is 150×200: its thumbnail is 38×50, not the whole image's 50×33.
    expect([bitmap.width, bitmap.height]).toEqual([38, 50]);
    bitmap.close();
  });
});

describe('RankerSession.embedImages with a crop (test-clip on WASM)', () => {
  let spec: RankerModelSpec;
  let session: RankerSession;
  const engine = new ClipEngine();
  afterAll(() => engine.dispose());

  beforeAll(async () => {
    spec = await testClipSpec();
    session = new RankerSession(
      engine,
      EmbeddingCache.open(`raddiff-crop-${Math.random().toString(36).slice(2)}`),
    );
    await session.load({
      spec,
      device: 'wasm',
      signal: new AbortController().signal,
      onProgress: () => undefined,
    });
  });

  it('embeds a crop as it embeds the pre-cropped file, and keeps crops apart from whole images', async () => {
    const crop = { x1: 0, y1: 0.5, x2: 0.5, y2: 1 }; // The image-left lower quarter.
    const images = await Promise.all(
      [0, 1, 2].map(async (seed) => {
        const gray = pattern(seed);
        const whole = await grayPng(448, 448, gray);
        const r = cropSourceRect(448, 448, crop);
        const cut = await grayPng(r.sw, r.sh, (x, y) => gray(x + r.sx, y + r.sy));
        return { whole: { sha256: `whole-${seed}`, file: whole }, cut: { sha256: `cut-${seed}`, file: cut } };
      }),
    );
    const signal = new AbortController().signal;
    const wholes = images.map((i) => i.whole);
    const fromCrop = await session.embedImages(wholes, { signal, crop });
    const fromFiles = await session.embedImages(
      images.map((i) => i.cut),
      { signal },
    );
    expect(fromCrop.failures).toEqual([]);
    expect(fromCrop.dim).toBe(fromFiles.dim);
    expect(maxAbsDiff(fromCrop.matrix, fromFiles.matrix)).toBeLessThan(1e-4);

    // The whole images are other embeddings: neither memo nor cache serves the crop's rows for them.
    const asWhole = await session.embedImages(wholes, { signal });
    expect(asWhole.fromMemo).toBe(false);
    expect(asWhole.computed).toBe(3);
    expect(maxAbsDiff(asWhole.matrix, fromCrop.matrix)).toBeGreaterThan(1e-3);
    // The crop again: from the persistent cache (the memo holds the whole set now), no forward pass.
    const again = await session.embedImages(wholes, { signal, crop });
    expect(again.computed).toBe(0);
    expect(Array.from(again.matrix)).toEqual(Array.from(fromCrop.matrix));
  });
});
