// A pool of K image workers (K = min(4, hardwareConcurrency)) with a FIFO queue of jobs: never more than
// K × jobsPerWorker jobs run at once, whoever submits them (hashing, preprocessing, both sets). Turns an
// AbortSignal into the worker's cancel(jobId), since comlink cannot carry signals. Imports the worker's API as a type.
import * as Comlink from 'comlink';
import { namedError } from '../core/types.ts';
import type { ImageApi, ImageWorkerStats } from '../../../workers/image/image.api.ts';

/** The image worker's API as seen from the main thread (every call is async). */
export type ImageWorkerApi = Comlink.Remote<ImageApi>;

export interface ImageWorkerPoolOptions {
  /** Number of workers; default min(4, navigator.hardwareConcurrency). Workers start on first demand. */
  size?: number;
  /**
   * Jobs sent to one worker at once; default 2: a job mostly waits (blob read over IPC, decode on the browser's
   * decoder thread), so a second one keeps the worker busy. Also the most images one worker decodes at once.
   */
  jobsPerWorker?: number;
  /** Worker factory, for tests; default the module worker workers/image/image.worker.ts. */
  createWorker?: () => Worker;
}

interface Slot {
  worker: Worker;
  api: ImageWorkerApi;
  running: number;
  /** Rejecters of the jobs running on this worker, called if the worker dies. */
  failures: Set<(error: Error) => void>;
}

interface Waiter {
  start: (slot: Slot) => void;
}

/** Default worker count: at most 4 (decoding is memory-bound beyond that), at most the number of cores. */
export function defaultPoolSize(): number {
  const cores = typeof navigator === 'undefined' ? 2 : navigator.hardwareConcurrency || 2;
  return Math.max(1, Math.min(4, cores));
}

export function createImageWorker(): Worker {
  return new Worker(new URL('../../../workers/image/image.worker.ts', import.meta.url), { type: 'module' });
}

/** Runs image jobs on a bounded set of workers. */
export class ImageWorkerPool {
  readonly size: number;
  readonly jobsPerWorker: number;
  #createWorker: () => Worker;
  #slots: Slot[] = [];
  #queue: Waiter[] = [];
  #nextJobId = 1;
  #terminated = false;

  constructor(options: ImageWorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? defaultPoolSize()));
    this.jobsPerWorker = Math.max(1, Math.floor(options.jobsPerWorker ?? 2));
    this.#createWorker = options.createWorker ?? createImageWorker;
  }

  /** Jobs that can run at once. */
  get capacity(): number {
    return this.size * this.jobsPerWorker;
  }

  /**
   * Queues `task` until a worker has room, then runs it with a fresh job id. If `signal` aborts while queued, the job
   * never starts; while running, the worker is told to cancel(jobId) and the promise rejects at once with an Error
   * named 'AbortError' (the slot is freed when the worker actually stops).
   */
  run<T>(task: (api: ImageWorkerApi, jobId: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#terminated) return Promise.reject(new Error('the image worker pool was terminated'));
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      let cancelRunning: (() => void) | undefined;
      const waiter: Waiter = {
        start: (slot) => {
          const jobId = this.#nextJobId++;
          slot.running++;
          const fail = (error: Error) => settle(() => reject(error));
          slot.failures.add(fail);
          cancelRunning = () => void slot.api.cancel(jobId).catch(() => undefined);
          task(slot.api, jobId)
            .then(
              (value) => settle(() => resolve(value)),
              (error: unknown) => settle(() => reject(error)),
            )
            .finally(() => {
              slot.failures.delete(fail);
              slot.running--;
              this.#dispatch();
            });
        },
      };
      const onAbort = () => {
        const queued = this.#queue.indexOf(waiter);
        if (queued >= 0) this.#queue.splice(queued, 1);
        cancelRunning?.();
        settle(() => reject(abortError()));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.#dispatch();
    });
  }

  /** Per-worker instrumentation (decoded bitmaps alive, now and at most), for tests and benchmarks. */
  stats(): Promise<ImageWorkerStats[]> {
    return Promise.all(this.#slots.map((slot) => slot.api.stats()));
  }

  async resetStats(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.api.resetStats()));
  }

  /** Stops every worker; running and queued jobs reject. The pool cannot be used afterwards. */
  terminate(): void {
    this.#terminated = true;
    const error = new Error('the image worker pool was terminated');
    for (const slot of this.#slots) this.#kill(slot, error);
    this.#queue.length = 0;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#freeSlot();
      if (!slot) return;
      this.#queue.shift()!.start(slot);
    }
  }

  /** The least busy worker with room; a new worker while fewer than `size` exist and all are busy. */
  #freeSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.running < this.jobsPerWorker && (!best || slot.running < best.running)) best = slot;
    }
    if (best?.running === 0 || this.#slots.length >= this.size) return best;
    return this.#spawn();
  }

  #spawn(): Slot {
    const worker = this.#createWorker();
    const slot: Slot = { worker, api: Comlink.wrap<ImageApi>(worker), running: 0, failures: new Set() };
    // A worker that fails to load or crashes answers nothing: fail its jobs instead of hanging them.
    const onError = (event: Event) => {
      // Handled here (the jobs fail with the message), so not also reported as an uncaught error.
      event.preventDefault();
      const message =
        event instanceof ErrorEvent && event.message ? event.message : 'it failed to start or crashed';
      const error = new Error(`image worker failed: ${message}`);
      error.name = 'ImageWorkerFailed';
      this.#kill(slot, error);
      this.#dispatch();
    };
    worker.addEventListener('error', onError);
    worker.addEventListener('messageerror', onError);
    this.#slots.push(slot);
    return slot;
  }

  #kill(slot: Slot, error: Error): void {
    slot.worker.terminate();
    this.#slots = this.#slots.filter((s) => s !== slot);
    for (const fail of [...slot.failures]) fail(error);
    slot.failures.clear();
  }
}

let shared: ImageWorkerPool | undefined;

/** The app's pool, created on first use, so image sets A and B and every stage share the same K workers. */
export function sharedImagePool(): ImageWorkerPool {
  shared ??= new ImageWorkerPool();
  return shared;
}

export function abortError(message = 'image intake was cancelled'): Error {
  return namedError('AbortError', message);
}
