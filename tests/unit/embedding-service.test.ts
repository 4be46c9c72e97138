import { describe, expect, it } from 'vitest';
import {
  embedImageSet,
  type ImageEmbedder,
  type PreprocessStream,
  type VectorCache,
} from '../../src/lib/engines/embedding-service.ts';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import { embeddingKey, type Crop } from '../../src/lib/core/cache-keys.ts';

const prep: Preprocessing = {
  version: 'tiny-v1',
  size: 2,
  resize: 'squash',
  rescale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

/** Each "image" is a Blob whose first byte is its value; embedding = [value, 1] normalized. */
function images(values: number[]) {
  return values.map((v, i) => ({ sha256: `hash-${v}-${i}`, file: new Blob([new Uint8Array([v])]) }));
}

class MapCache implements VectorCache {
  map = new Map<string, Float32Array>();
  async getMany(keys: string[]) {
    return keys.map((k) => this.map.get(k));
  }
  async putMany(entries: { key: string; vector: Float32Array }[]) {
    for (const e of entries) this.map.set(e.key, e.vector);
  }
}

function fakeEmbedder(): ImageEmbedder & { batches: number[] } {
  const batches: number[] = [];
  return {
    modelId: 'fake',
    preprocessing: prep,
    batches,
    async embedImages(pixels, count) {
      batches.push(count);
      const out = new Float32Array(count * 2);
      for (let i = 0; i < count; i++) {
        const v = pixels[i * 12]!;
        const norm = Math.hypot(v, 1);
        out[i * 2] = v / norm;
        out[i * 2 + 1] = 1 / norm;
      }
      return out;
    },
  };
}

const preprocess: PreprocessStream = async function* (images) {
  for (let index = 0; index < images.length; index++) {
    const byte = new Uint8Array(await images[index]!.file.arrayBuffer())[0]!;
    if (byte === 255) yield { index, error: 'corrupt JPEG' };
    else yield { index, pixels: new Float32Array(12).fill(byte) };
  }
};

describe('embedImageSet', () => {
  it('embeds misses in batches and serves a second run entirely from the cache', async () => {
    const cache = new MapCache();
    const embedder = fakeEmbedder();
    const set = images([1, 2, 3, 4, 5]);
    const first = await embedImageSet(
      set,
      { embedder, cache, preprocess },
      { signal: new AbortController().signal, batchSize: 2 },
    );
    expect(first.computed).toBe(5);
    expect(first.cached).toBe(0);
    expect(embedder.batches).toEqual([2, 2, 1]);
    expect(first.dim).toBe(2);
    expect(first.matrix[2 * 2]! / first.matrix[2 * 2 + 1]!).toBeCloseTo(3);

    const second = await embedImageSet(
      set,
      { embedder, cache, preprocess },
      { signal: new AbortController().signal },
    );
    expect(second.computed).toBe(0);
    expect(second.cached).toBe(5);
    expect(embedder.batches).toEqual([2, 2, 1]);
    expect(Array.from(second.matrix)).toEqual(Array.from(first.matrix));
  });

  it('reports undecodable images by index and keeps the rest', async () => {
    const result = await embedImageSet(
      images([1, 255, 3]),
      { embedder: fakeEmbedder(), cache: new MapCache(), preprocess },
      { signal: new AbortController().signal },
    );
    expect(result.failures).toEqual([{ index: 1, reason: 'corrupt JPEG' }]);
    expect(result.computed).toBe(2);
    expect(result.matrix[2]).toBe(0);
  });

  it('rejects with AbortError when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      embedImageSet(
        images([1]),
        { embedder: fakeEmbedder(), cache: new MapCache(), preprocess },
        { signal: controller.signal },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('embeds crops under their own cache keys and hands the crop to the decode stage', async () => {
    const cache = new MapCache();
    const embedder = fakeEmbedder();
    const seen: (Crop | undefined)[] = [];
    const spy: PreprocessStream = (imgs, p, options) => {
      seen.push(options.crop);
      return preprocess(imgs, p, options);
    };
    const set = images([1, 2]);
    const box: Crop = { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.9 };
    const signal = new AbortController().signal;
    await embedImageSet(set, { embedder, cache, preprocess: spy }, { signal });
    const cropped = await embedImageSet(set, { embedder, cache, preprocess: spy }, { signal, crop: box });
    // Whole images were cached, yet the crop is a miss: computed again, with the crop passed on.
    expect(cropped.computed).toBe(2);
    expect(seen).toEqual([undefined, box]);
    expect([...cache.map.keys()].sort()).toEqual(
      [
        ...set.map((img) => embeddingKey('fake', 'tiny-v1', img.sha256)),
        ...set.map((img) => embeddingKey('fake', 'tiny-v1', img.sha256, box)),
      ].sort(),
    );
    // The same crop again is served from the cache; 'full' is the whole image's key.
    expect(
      (await embedImageSet(set, { embedder, cache, preprocess: spy }, { signal, crop: box })).cached,
    ).toBe(2);
    expect(
      (await embedImageSet(set, { embedder, cache, preprocess: spy }, { signal, crop: 'full' })).cached,
    ).toBe(2);
    expect(seen).toHaveLength(2);
  });
});
