// Decode + preprocess of a whole set as a pull-based stream with a bounded window: at most `window` images are
// started and not yet taken by the consumer (the embedding stage), whatever the set size, so memory is bounded by
// the window, not by the set. Results come in input order; a file that fails to decode is a value, not an exception.
import type { Crop } from '../core/cache-keys.ts';
import type { Preprocessing } from '../core/types.ts';
import type {
  PreprocessOutcome,
  PreprocessRequest,
  ThumbnailSpec,
} from '../../../workers/image/image.api.ts';
import type { IntakeIssue } from '../../../workers/image/image-format.ts';
import { abortError, sharedImagePool, type ImageWorkerPool } from './image-pool.ts';
import { throttleProgress, type IntakeProgress } from './progress.ts';

/** What can be preprocessed: a file, or an intake image (whose known hash spares a second read). */
export type PreprocessSource = Blob | { file: Blob; sha256?: string };

/** One image ready for the model. `pixels` belongs to the consumer (it was transferred from the worker). */
export interface PreprocessedResult {
  /** Position in the input list. */
  index: number;
  sha256: string;
  /** `pixel_values` [3, size, size], CHW float32, normalized per the Preprocessing. */
  pixels: Float32Array;
  /** Decoded size (after EXIF orientation). */
  width: number;
  height: number;
  /** Small JPEG/WebP for the UI, unless disabled. */
  thumbnail?: Blob;
}

/** One image that could not be used (decode failure, too large, unreadable…). */
export interface FailedResult {
  index: number;
  sha256?: string;
  error: IntakeIssue;
}

export type PreprocessResult = PreprocessedResult | FailedResult;

/** Live counters of the stream, for tests and benchmarks: images started and not yet taken by the consumer. */
export interface StreamStats {
  inFlight: number;
  maxInFlight: number;
}

export interface PreprocessStreamOptions {
  /** Default: the app's shared pool. */
  pool?: ImageWorkerPool;
  /** Images decoded at once; default the pool's capacity. */
  concurrency?: number;
  /**
   * Most images started but not yet taken by the consumer (decoding, or done and waiting); default
   * 2 × concurrency, never below concurrency. File k + window is not started before result k was taken.
   */
  window?: number;
  /** Aborting stops scheduling, cancels running jobs, and makes the stream reject with an Error named 'AbortError'. */
  signal?: AbortSignal;
  /** Throttled to ~10 calls a second; `done` counts results taken by the consumer. */
  onProgress?: (progress: IntakeProgress) => void;
  /** Thumbnail made from the decoded image; default longest side 128 px, JPEG. `false`: none. */
  thumbnail?: Partial<ThumbnailSpec> | false;
  /** Largest accepted side in pixels; default 10,000 (checked on the header, before decoding). */
  maxSide?: number;
  /**
   * Preprocess only this normalized box of every image (localized ranking), exactly as if the box were the whole
   * image; default `'full'`. The thumbnail, if any, shows the box.
   */
  crop?: Crop;
  /** Filled in while the stream runs. */
  stats?: StreamStats;
}

export const DEFAULT_THUMBNAIL: ThumbnailSpec = { maxSide: 128, type: 'image/jpeg', quality: 0.85 };

/**
 * Decodes and preprocesses `sources` in the image workers and yields one result per source, in input order, with
 * backpressure: work runs ahead of the consumer by at most `window` images. Stopping early (`break`) cancels the
 * work in progress.
 */
export async function* preprocessStream(
  sources: readonly PreprocessSource[],
  preprocessing: Preprocessing,
  options: PreprocessStreamOptions = {},
): AsyncGenerator<PreprocessResult, void, undefined> {
  const pool = options.pool ?? sharedImagePool();
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? pool.capacity));
  const window = Math.max(concurrency, Math.floor(options.window ?? 2 * concurrency));
  const progress = throttleProgress(options.onProgress);
  const stats = options.stats;
  const thumbnail = options.thumbnail === false ? null : { ...DEFAULT_THUMBNAIL, ...options.thumbnail };
  const total = sources.length;

  if (options.signal?.aborted) throw abortError();
  // Aborted by the caller's signal, or by us when the consumer stops early: either way running jobs are cancelled.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const pending = new Map<number, Promise<PreprocessResult>>();
  let next = 0; // First index not started.
  let taken = 0; // Results handed to the consumer.
  let running = 0;

  const runOne = async (index: number): Promise<PreprocessResult> => {
    const source = sources[index]!;
    const file = source instanceof Blob ? source : source.file;
    const request: PreprocessRequest = { preprocessing, thumbnail };
    if (!(source instanceof Blob) && source.sha256) request.sha256 = source.sha256;
    if (options.maxSide !== undefined) request.maxSide = options.maxSide;
    // Absent rather than 'full', so whole-image requests stay exactly what they were.
    if (options.crop !== undefined && options.crop !== 'full') request.crop = options.crop;
    const outcome = await pool.run<PreprocessOutcome>(
      (api, jobId) => api.preprocess(file, request, jobId),
      stop.signal,
    );
    if (!outcome.ok) {
      const failed: FailedResult = { index, error: { code: outcome.code, reason: outcome.reason } };
      if (outcome.sha256) failed.sha256 = outcome.sha256;
      return failed;
    }
    const { sha256, pixels, width, height } = outcome;
    const result: PreprocessedResult = { index, sha256, pixels, width, height };
    if (outcome.thumbnail) result.thumbnail = outcome.thumbnail;
    return result;
  };

  const pump = () => {
    while (!stop.signal.aborted && next < total && running < concurrency && next - taken < window) {
      const index = next++;
      running++;
      const promise = runOne(index);
      pending.set(index, promise);
      // Refill as soon as a job ends (not only when the consumer pulls): the window, not the pull, bounds memory.
      promise
        .finally(() => {
          running--;
          pump();
        })
        .catch(() => undefined); // Errors are observed where the result is awaited.
      if (stats) {
        stats.inFlight = next - taken;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      }
    }
  };

  try {
    progress({ phase: 'preprocess', done: 0, total });
    for (let index = 0; index < total; index++) {
      pump();
      const result = await untilAborted(pending.get(index)!, stop.signal);
      pending.delete(index);
      taken++;
      if (stats) stats.inFlight = next - taken;
      // The consumer owns this result now: its slot in the window is free.
      pump();
      progress({ phase: 'preprocess', done: taken, total });
      yield result;
    }
  } catch (error) {
    throw options.signal?.aborted ? abortError() : error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

/** `promise`, or a rejection with an AbortError as soon as `signal` aborts (the work itself is cancelled elsewhere). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
