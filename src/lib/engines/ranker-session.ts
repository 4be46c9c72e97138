// The ranker as the app runs it: one CLIP engine (worker), the persistent embedding cache, and two in-memory memos
// — the last embedded image matrix (so new findings on the same sets skip even the cache lookups) and text
// embeddings per (model, finding) — glued to the bounded preprocessing stream. Not reactive: state wraps it.
import { ClipEngine, type ClipLoadResult } from './clip-engine.ts';
import {
  embedImageSet,
  type EmbeddedSet,
  type EmbedProgress,
  type PreprocessStream,
} from './embedding-service.ts';
import { EmbeddingCache } from '../storage/embedding-cache.ts';
import { preprocessStream } from '../imaging/preprocess-stream.ts';
import type { Crop } from '../core/cache-keys.ts';
import type { EngineProgress, RankerModelSpec } from '../core/types.ts';

/** Adapts the imaging stream (rich results) to the embedding service's port (pixels or a reason). */
const imagingStream: PreprocessStream = async function* (images, preprocessing, { signal, crop }) {
  for await (const item of preprocessStream(images, preprocessing, { signal, thumbnail: false, crop })) {
    if ('error' in item) yield { index: item.index, error: item.error.reason };
    else yield { index: item.index, pixels: item.pixels };
  }
};

export interface LoadRequest {
  spec: RankerModelSpec;
  device: 'auto' | 'webgpu' | 'wasm';
  signal: AbortSignal;
  onProgress: (event: EngineProgress) => void;
}

export class RankerSession {
  readonly #engine: ClipEngine;
  readonly #cache: Promise<EmbeddingCache>;
  #loadedKey: string | null = null;
  #spec: RankerModelSpec | null = null;
  #lastSet: { key: string; result: EmbeddedSet } | null = null;
  #texts = new Map<string, { vector: Float32Array; truncated: boolean }>();
  /** Image forward passes run by this session (the e2e and benchmarks read it through the UI). */
  forwardPasses = 0;

  constructor(engine = new ClipEngine(), cache = EmbeddingCache.open()) {
    this.#engine = engine;
    this.#cache = cache;
  }

  /** Why embeddings are not persisted across reloads, if they are not. */
  async storageWarning(): Promise<string | undefined> {
    return (await this.#cache).warning;
  }

  /** Loads (or keeps) the model; a failure leaves nothing loaded so the next call retries from scratch. */
  async load(request: LoadRequest): Promise<ClipLoadResult> {
    const { spec, device, signal, onProgress } = request;
    const key = `${spec.id}|${device}`;
    if (this.#loadedKey === key && this.#engine.loaded) return this.#engine.loaded;
    this.#loadedKey = null;
    const result = await this.#engine.load(
      spec,
      { device, local: spec.source === 'local' },
      { signal, onProgress },
    );
    this.#loadedKey = key;
    this.#spec = spec;
    this.#lastSet = null;
    return result;
  }

  /**
   * Embeds the images (memo → IndexedDB → model), in order. With `crop` (localized ranking), every image is
   * embedded cropped to that normalized box; crops are cached and memoized apart from whole images.
   */
  async embedImages(
    images: readonly { sha256: string; file: Blob }[],
    options: { signal: AbortSignal; onProgress?: (p: EmbedProgress) => void; crop?: Crop },
  ): Promise<EmbeddedSet & { fromMemo: boolean }> {
    const spec = this.#requireSpec();
    // The memo is in memory only, so the exact crop (not the cache's rounded notation) keys it.
    const crop = JSON.stringify(options.crop ?? 'full');
    const key = `${spec.id}|${spec.preprocessing.version}|${crop}|${images.map((i) => i.sha256).join(',')}`;
    if (this.#lastSet?.key === key) {
      return { ...this.#lastSet.result, computed: 0, cached: images.length, fromMemo: true };
    }
    const cache = await this.#cache;
    const engine = this.#engine;
    const result = await embedImageSet(
      images,
      {
        embedder: {
          modelId: spec.id,
          preprocessing: spec.preprocessing,
          embedImages: (pixels, count, signal) => engine.embedImages(pixels, count, { signal }),
        },
        cache,
        preprocess: imagingStream,
      },
      { ...options, batchSize: engine.loaded?.imageBatchSize ?? 8 },
    );
    this.forwardPasses += result.computed;
    if (result.failures.length === 0) this.#lastSet = { key, result };
    return { ...result, fromMemo: false };
  }

  /** Embeds findings (template applied in the worker), memoized per model; returns H × d and truncation flags. */
  async embedTexts(
    findings: readonly string[],
    signal: AbortSignal,
  ): Promise<{ embeddings: Float32Array; dim: number; truncated: boolean[] }> {
    const spec = this.#requireSpec();
    const memoKey = (f: string) => `${spec.id}|${spec.textTemplate}|${f}`;
    const missing = [...new Set(findings.filter((f) => !this.#texts.has(memoKey(f))))];
    if (missing.length) {
      const out = await this.#engine.embedTexts(missing, { signal });
      missing.forEach((f, i) =>
        this.#texts.set(memoKey(f), {
          vector: out.embeddings.slice(i * out.dim, (i + 1) * out.dim),
          truncated: out.truncated[i] ?? false,
        }),
      );
    }
    const rows = findings.map((f) => this.#texts.get(memoKey(f))!);
    const dim = rows[0]?.vector.length ?? 0;
    const embeddings = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => embeddings.set(r.vector, i * dim));
    return { embeddings, dim, truncated: rows.map((r) => r.truncated) };
  }

  #requireSpec(): RankerModelSpec {
    if (!this.#spec || !this.#engine.loaded) throw new Error('no ranker model is loaded');
    return this.#spec;
  }
}
