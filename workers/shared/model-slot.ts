// One loaded model per worker, memoized by what it was loaded with: a second load with the same key joins the first,
// a different key unloads the current model first, and a failed load is forgotten so that Retry really retries.
// Generic over the loaded value; imports only workers/shared (no model library, no worker-global APIs).
import type { CancellationRegistry, Job } from './cancellation.ts';

interface Entry<T> {
  key: string;
  job: Job;
  promise: Promise<T>;
}

/** The memoized model of one worker. */
export class ModelSlot<T> {
  readonly #jobs: CancellationRegistry;
  readonly #dispose: (model: T) => Promise<void>;
  #current: Entry<T> | undefined;

  /**
   * @param jobs The worker's cancellation registry: a load is a job, so `cancel(jobId)` stops its downloads.
   * @param dispose Frees a model (GPU buffers, wasm memory); called on unload and when another key is loaded.
   */
  constructor(jobs: CancellationRegistry, dispose: (model: T) => Promise<void>) {
    this.#jobs = jobs;
    this.#dispose = dispose;
  }

  /**
   * Returns the model loaded under `key`, loading it with `load` when needed. `joined` is true when the call
   * reused a load that was already done or in flight. Rejects with whatever `load` rejects with; the slot is then
   * empty again.
   */
  async acquire(
    key: string,
    jobId: string,
    load: (job: Job) => Promise<T>,
  ): Promise<{ model: T; joined: boolean }> {
    if (this.#current?.key === key) return { model: await this.#current.promise, joined: true };
    await this.unload();
    const job = this.#jobs.begin(jobId);
    const promise = load(job).finally(() => job.end());
    const entry: Entry<T> = { key, job, promise };
    this.#current = entry;
    // Evict on failure, so the next acquire() tries again instead of replaying the error.
    promise.catch(() => {
      if (this.#current === entry) this.#current = undefined;
    });
    return { model: await promise, joined: false };
  }

  /** The loaded model, waiting for a load in flight; undefined when nothing is (or could be) loaded. */
  async current(): Promise<T | undefined> {
    return this.#current?.promise.catch(() => undefined);
  }

  /** Cancels a load in flight and frees the loaded model. A later acquire() starts from scratch. */
  async unload(): Promise<void> {
    const old = this.#current;
    this.#current = undefined;
    if (!old) return;
    this.#jobs.cancel(old.job.id);
    const model = await old.promise.catch(() => undefined);
    if (model !== undefined) await this.#dispose(model).catch(() => {});
  }
}
