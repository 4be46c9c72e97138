// Image embeddings for a set of images, cache first: looks every image up in the embedding cache by
// (model, preprocessing version, SHA-256, crop), decodes and embeds only the misses — streamed through the bounded
// preprocessing pool in batches, so memory is bounded by the batch, not by the set — and stores the new vectors.
import { embeddingKey, type Crop } from '../core/cache-keys.ts';
import type { Preprocessing } from '../core/types.ts';
import { namedError } from '../core/types.ts';

/** The part of a loaded CLIP-style model this service needs. */
export interface ImageEmbedder {
  readonly modelId: string;
  readonly preprocessing: Preprocessing;
  /** `pixels` holds `count` CHW tensors back to back; returns count × d L2-normalized embeddings. */
  embedImages(pixels: Float32Array, count: number, signal: AbortSignal): Promise<Float32Array>;
}

/** The part of the embedding cache this service needs. */
export interface VectorCache {
  getMany(keys: string[]): Promise<(Float32Array | undefined)[]>;
  putMany(entries: { key: string; modelId: string; vector: Float32Array }[]): Promise<void>;
}

/** One preprocessed image out of the bounded decode pool, or why it could not be decoded. */
export type PreprocessedItem = { index: number; pixels: Float32Array } | { index: number; error: string };

/**
 * Streams preprocessed tensors for `files` in bounded memory (src/lib/imaging); with `crop`, of that normalized box
 * of every image, preprocessed as if it were the whole image.
 */
export type PreprocessStream = (
  /** The hash is passed along so the decode stage need not read and hash each file a second time. */
  images: { file: Blob; sha256: string }[],
  preprocessing: Preprocessing,
  options: { signal: AbortSignal; crop?: Crop },
) => AsyncIterable<PreprocessedItem>;

export interface EmbedProgress {
  phase: 'cache' | 'embed';
  done: number;
  total: number;
}

export interface EmbeddedSet {
  /** N × dim, row i = images[i]; rows of failed images are zero. */
  matrix: Float32Array;
  dim: number;
  /** Indices of images that could not be decoded, with the reason. */
  failures: { index: number; reason: string }[];
  /** Forward passes run (images embedded by the model) and cache hits. */
  computed: number;
  cached: number;
}

/**
 * Embeds `images` (cache first); never holds more than one batch of decoded tensors besides the pool's window.
 * With `crop` (default `'full'`), every image is embedded cropped to that normalized box, cached under its own key.
 */
export async function embedImageSet(
  images: readonly { sha256: string; file: Blob }[],
  deps: { embedder: ImageEmbedder; cache: VectorCache; preprocess: PreprocessStream },
  options: {
    signal: AbortSignal;
    batchSize?: number;
    onProgress?: (p: EmbedProgress) => void;
    crop?: Crop;
  },
): Promise<EmbeddedSet> {
  const { embedder, cache, preprocess } = deps;
  const { signal, batchSize = 8, onProgress, crop = 'full' } = options;
  const keys = images.map((img) =>
    embeddingKey(embedder.modelId, embedder.preprocessing.version, img.sha256, crop),
  );
  onProgress?.({ phase: 'cache', done: 0, total: images.length });
  const hits = await cache.getMany(keys);
  if (signal.aborted) throw namedError('AbortError', 'cancelled');

  let dim = hits.find((h) => h)?.length ?? 0;
  const rows: (Float32Array | undefined)[] = [...hits];
  const misses = hits.flatMap((hit, i) => (hit ? [] : [i]));
  const failures: { index: number; reason: string }[] = [];
  let computed = 0;
  onProgress?.({ phase: 'embed', done: 0, total: misses.length });

  const size = embedder.preprocessing.size;
  const perImage = 3 * size * size;
  let batch: { index: number; pixels: Float32Array }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const pixels = new Float32Array(batch.length * perImage);
    batch.forEach((item, j) => pixels.set(item.pixels, j * perImage));
    const vectors = await embedder.embedImages(pixels, batch.length, signal);
    dim = vectors.length / batch.length;
    const entries = batch.map((item, j) => {
      const vector = vectors.slice(j * dim, (j + 1) * dim);
      rows[item.index] = vector;
      return { key: keys[item.index]!, modelId: embedder.modelId, vector };
    });
    await cache.putMany(entries);
    computed += batch.length;
    batch = [];
    onProgress?.({ phase: 'embed', done: computed + failures.length, total: misses.length });
  };

  if (misses.length > 0) {
    const stream = preprocess(
      misses.map((i) => images[i]!),
      embedder.preprocessing,
      // Whole images get exactly the options they always had.
      crop === 'full' ? { signal } : { signal, crop },
    );
    for await (const item of stream) {
      const index = misses[item.index]!;
      if ('error' in item) {
        failures.push({ index, reason: item.error });
        onProgress?.({ phase: 'embed', done: computed + failures.length, total: misses.length });
        continue;
      }
      batch.push({ index, pixels: item.pixels });
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  }
  if (signal.aborted) throw namedError('AbortError', 'cancelled');

  const matrix = new Float32Array(images.length * dim);
  rows.forEach((row, i) => {
    if (row) matrix.set(row, i * dim);
  });
  return { matrix, dim, failures, computed, cached: images.length - misses.length };
}
