// A lazily started comlink worker for model engines whose worker API has `cancel(jobId)` (the captioner and the WASM
// fallback LLM): AbortSignal in, `api.cancel(jobId)` out and an immediate AbortError; progress through one
// Comlink.proxy callback per call; errors rebuilt by name; the worker terminated and restarted only when it died,
// lost its GPU device or stopped answering. Imports core and comlink only (worker API types come from the caller).
import * as Comlink from 'comlink';
import type { AbortSignalLike } from '../core/llm.ts';
import { namedError, type EngineErrorName, type EngineProgress } from '../core/types.ts';
import { rebuildWorkerError } from './clip-engine.ts';

/** Per-call options. */
export interface WorkerCallOptions {
  /** Aborting sends `cancel(jobId)` to the worker and rejects the call at once with an AbortError. */
  signal?: AbortSignalLike;
  /** Throttled (~10/s) typed progress from the worker. */
  onProgress?: (event: EngineProgress) => void;
  /**
   * No reply within this many ms means the worker hangs (a stuck GPU queue, a runaway wasm call): it is terminated,
   * the call rejects, and the next call starts a fresh worker. Absent: wait forever.
   */
  hangTimeoutMs?: number;
}

/** The progress callback as the worker receives it. */
export type RemoteProgress = (((event: EngineProgress) => void) & Comlink.ProxyMarked) | undefined;

/** The worker died; distinguished from errors the worker threw, which only ever arrive by name and message. */
class WorkerCrashed extends Error {
  override name = 'WorkerCrashed';
}

interface Connection<Api> {
  worker: Worker;
  api: Comlink.Remote<Api>;
  /** Rejects when the worker dies (module failed to load, uncaught error); every call races against it. */
  crashed: Promise<never>;
}

/** One worker, started on first use, exposing `Api` with comlink. */
export class ComlinkWorker<Api extends { cancel(jobId: string): boolean }> {
  readonly #name: string;
  readonly #createWorker: () => Worker;
  readonly #onRestart: () => void;
  #connection: Connection<Api> | undefined;
  #nextJob = 0;

  /**
   * @param name Used in job ids and messages ("the captioner worker crashed").
   * @param createWorker Spawns the worker (`new Worker(new URL(...), { type: 'module' })`).
   * @param onRestart Called whenever the worker is terminated, so the owner forgets what it had loaded there.
   */
  constructor(name: string, createWorker: () => Worker, onRestart: () => void = () => {}) {
    this.#name = name;
    this.#createWorker = createWorker;
    this.#onRestart = onRestart;
  }

  /** True while a worker is running. */
  get started(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * Runs one worker call with a fresh job id. Rejects with AbortError as soon as `signal` aborts (the worker stops
   * at its next token or batch), with the worker's named error, or — when the worker died or hung — with
   * `crashName` (or a plain Error) after terminating it.
   */
  async call<T>(
    run: (api: Comlink.Remote<Api>, jobId: string, progress: RemoteProgress) => Promise<T>,
    { signal, onProgress, hangTimeoutMs }: WorkerCallOptions = {},
    crashName?: EngineErrorName,
  ): Promise<T> {
    if (signal?.aborted) throw namedError('AbortError', 'cancelled before it started');
    const connection = this.#connect();
    const jobId = `${this.#name}-${++this.#nextJob}`;
    let onAbort: (() => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        // comlink cannot carry an AbortSignal: the worker learns of the abort by job id.
        (connection.api as unknown as { cancel(id: string): Promise<boolean> }).cancel(jobId).catch(() => {});
        reject(namedError('AbortError', 'cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const hung =
      hangTimeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(
                new WorkerCrashed(
                  `the ${this.#name} worker did not answer within ${Math.round(hangTimeoutMs / 1000)} s and was restarted`,
                ),
              );
            }, hangTimeoutMs);
          });
    try {
      // A fresh wrapper: Comlink.proxy marks the function it is given, and the caller's is not ours to mark.
      const progress = onProgress ? Comlink.proxy((event: EngineProgress) => onProgress(event)) : undefined;
      const racers: Promise<T>[] = [run(connection.api, jobId, progress), connection.crashed, aborted];
      if (hung) racers.push(hung);
      return await Promise.race(racers);
    } catch (error) {
      if (signal?.aborted) throw namedError('AbortError', 'cancelled', error);
      const crashed = error instanceof WorkerCrashed;
      const rebuilt = crashed ? error : rebuildWorkerError(error);
      // Terminating is the only recovery from a dead worker, a hung one or a lost device.
      if ((crashed || rebuilt.name === 'DeviceLost') && this.#connection === connection) this.dispose();
      if (crashed && crashName) throw namedError(crashName, rebuilt.message, error);
      if (crashed) throw new Error(rebuilt.message, { cause: error });
      throw rebuilt;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Terminates the worker, freeing everything it holds (GPU buffers included). The next call starts a new one. */
  dispose(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    connection.api[Comlink.releaseProxy]();
    connection.worker.terminate();
    this.#onRestart();
  }

  #connect(): Connection<Api> {
    if (this.#connection) return this.#connection;
    const worker = this.#createWorker();
    const api = Comlink.wrap<Api>(worker);
    const crashed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (event) => {
        event.preventDefault();
        reject(
          new WorkerCrashed(`the ${this.#name} worker crashed: ${event.message || 'it failed to start'}`),
        );
      });
    });
    const connection: Connection<Api> = { worker, api, crashed };
    // A call in flight sees the crash through its race; with none in flight, the next call starts a fresh worker.
    crashed.catch(() => {
      if (this.#connection === connection) this.dispose();
    });
    this.#connection = connection;
    return connection;
  }
}
