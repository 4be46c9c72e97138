// Page side of bench/intake.bench.ts: generates radiograph-like JPEGs in the browser and times, with the same K
// workers, raw createImageBitmap decoding, the two resampling strategies, hashing, and the product's real
// preprocessStream; plus a long run whose memory the Node side samples. Exposed as window.intakeBench.
/// <reference lib="dom" />
import * as Comlink from 'comlink';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import {
  defaultPoolSize,
  hashFiles,
  ImageWorkerPool,
  preprocessStream,
  type StreamStats,
} from '../../src/lib/imaging/index.ts';
import type { DecodeApi } from './decode.worker.ts';

const CLIP: Preprocessing = {
  version: 'bench',
  size: 224,
  resize: 'shortest-edge-center-crop',
  rescale: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

const K = defaultPoolSize();
const sets = new Map<string, File[]>();
const pools = new Map<number, ImageWorkerPool>();
let decoders: Comlink.Remote<DecodeApi>[] | undefined;
const hashes = new WeakMap<File, string>();

/** A chest-film-like gray image: smooth body gradient, rib-like bands, noise (so the JPEG decode is realistic). */
function paint(size: number, seed: number): ImageData {
  const image = new ImageData(size, size);
  const data = image.data;
  let state = (seed + 1) * 2654435761;
  for (let y = 0; y < size; y++) {
    const fy = y / size;
    const rib = 22 * Math.sin((y + seed * 37) / (size / 90));
    for (let x = 0; x < size; x++) {
      const fx = x / size;
      state = (state * 1664525 + 1013904223) >>> 0;
      const body = 170 * Math.sin(Math.PI * fx) * (0.4 + 0.6 * fy);
      const lung = fx > 0.2 && fx < 0.8 && fy > 0.15 && fy < 0.75 ? rib - 40 : 0;
      const v = 30 + body + lung + ((state >>> 24) % 24) - 12;
      const i = (y * size + x) * 4;
      data[i] = data[i + 1] = data[i + 2] = v;
      data[i + 3] = 255;
    }
  }
  return image;
}

async function encodeJpeg(size: number, seed: number, quality: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(size, size);
  canvas.getContext('2d')!.putImageData(paint(size, seed), 0, 0);
  return canvas.convertToBlob({ type: 'image/jpeg', quality });
}

function poolWith(jobsPerWorker: number): ImageWorkerPool {
  let pool = pools.get(jobsPerWorker);
  if (!pool) {
    pool = new ImageWorkerPool({ size: K, jobsPerWorker });
    pools.set(jobsPerWorker, pool);
  }
  return pool;
}

function files(name: string): File[] {
  const set = sets.get(name);
  if (!set) throw new Error(`no generated set "${name}"`);
  return set;
}

const bench = {
  K,
  /** Results taken by the consumer in the current memory run (read by the Node side while it runs). */
  progress: 0,

  /**
   * Generates `count` JPEG files of `size`² px. With `distinct` < count, files reuse `distinct` encoded images by
   * reference, so the input's own memory does not grow with `count` (real Files are disk-backed).
   */
  async generate(name: string, count: number, size: number, distinct = count, quality = 0.9) {
    const blobs: Blob[] = [];
    for (let i = 0; i < distinct; i++) blobs.push(await encodeJpeg(size, i, quality));
    sets.set(
      name,
      Array.from(
        { length: count },
        (_, i) => new File([blobs[i % distinct]!], `img-${i}.jpg`, { type: 'image/jpeg' }),
      ),
    );
    return { count, distinct, bytes: blobs.reduce((n, b) => n + b.size, 0) };
  },

  /**
   * Baseline: the same files through K plain workers with `jobsPerWorker` calls in flight on each, dispatched like
   * the pool (a shared queue).
   */
  async rawDecode(name: string, mode: 'decode' | 'decodeResize' | 'decodeDraw', jobsPerWorker = 1) {
    decoders ??= Array.from({ length: K }, () =>
      Comlink.wrap<DecodeApi>(new Worker(new URL('./decode.worker.ts', import.meta.url), { type: 'module' })),
    );
    const list = files(name);
    let next = 0;
    const lanes = decoders.flatMap((worker) => Array.from({ length: jobsPerWorker }, () => worker));
    const t0 = performance.now();
    await Promise.all(
      lanes.map(async (worker) => {
        while (next < list.length) {
          const file = list[next++]!;
          if (mode === 'decode') await worker.decode(file);
          else if (mode === 'decodeResize') await worker.decodeResize(file, CLIP.size);
          else await worker.decodeDraw(file, CLIP.size);
        }
      }),
    );
    return { ms: performance.now() - t0 };
  },

  /**
   * The product path: preprocessStream to CLIP pixel_values (224, center crop), the consumer takes every result.
   * `knownHash`: sources carry the SHA-256 from intake (the normal flow), so the worker does not re-read and hash.
   */
  async intake(name: string, options: { thumbnail: boolean; jobsPerWorker: number; knownHash: boolean }) {
    const pool = poolWith(options.jobsPerWorker);
    const list = files(name);
    const sources = options.knownHash ? list.map((file) => ({ file, sha256: hashes.get(file)! })) : list;
    if (options.knownHash && sources.some((s) => !('sha256' in s) || !s.sha256)) {
      throw new Error('run hash() on this set first');
    }
    await pool.resetStats();
    const stats: StreamStats = { inFlight: 0, maxInFlight: 0 };
    const t0 = performance.now();
    let count = 0;
    for await (const result of preprocessStream(sources, CLIP, {
      pool,
      stats,
      thumbnail: options.thumbnail ? {} : false,
    })) {
      if ('error' in result) throw new Error(`image ${result.index}: ${result.error.reason}`);
      count++;
    }
    const ms = performance.now() - t0;
    const workers = await pool.stats();
    return {
      ms,
      count,
      maxInFlight: stats.maxInFlight,
      maxDecodedPerWorker: workers.map((w) => w.maxLiveDecoded),
    };
  },

  /** Hash + header stage only (what a second run over cached images does). */
  async hash(name: string) {
    const list = files(name);
    const t0 = performance.now();
    const outcomes = await hashFiles(list, { pool: poolWith(1) });
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) throw new Error(`hashing refused generated image ${i}: ${outcome.reason}`);
      hashes.set(list[i]!, outcome.sha256);
    });
    return { ms: performance.now() - t0, bytes: list.reduce((n, f) => n + f.size, 0) };
  },

  /**
   * A long run shaped like the embedding stage: the consumer gathers batches of `batchSize` tensors, "embeds"
   * them (a yield to the event loop) and drops them. Returns the stream's and workers' in-flight maxima.
   */
  async memoryRun(name: string, batchSize: number, jobsPerWorker: number) {
    const pool = poolWith(jobsPerWorker);
    await pool.resetStats();
    const stats: StreamStats = { inFlight: 0, maxInFlight: 0 };
    const t0 = performance.now();
    let batch: Float32Array[] = [];
    let checksum = 0;
    const embed = async () => {
      for (const pixels of batch) checksum += pixels[0]!;
      batch = [];
      await new Promise((resolve) => setTimeout(resolve, 0));
    };
    bench.progress = 0;
    for await (const result of preprocessStream(files(name), CLIP, { pool, stats, thumbnail: false })) {
      if ('error' in result) throw new Error(`image ${result.index}: ${result.error.reason}`);
      bench.progress++;
      batch.push(result.pixels);
      if (batch.length === batchSize) await embed();
    }
    await embed();
    const workers = await pool.stats();
    return {
      ms: performance.now() - t0,
      checksum,
      maxInFlight: stats.maxInFlight,
      maxDecodedPerWorker: workers.map((w) => w.maxLiveDecoded),
    };
  },

  /** Drops generated sets so the next measurement starts from the same baseline. */
  forget(name: string) {
    sets.delete(name);
  },
};

export type IntakeBench = typeof bench;

declare global {
  interface Window {
    intakeBench: IntakeBench;
  }
}

window.intakeBench = bench;
