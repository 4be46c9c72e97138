// Cancellation registry for worker APIs. comlink cannot carry an AbortSignal, so every long call takes a `jobId`
// and the main side turns its own abort into `api.cancel(jobId)`; the worker checks its job between batches.
// Imports only core types; no worker-global APIs, so src/ can type-check it under lib DOM.
import { namedError } from '../../src/lib/core/types.ts';

/** One running call as the worker sees it. */
export interface Job {
  readonly id: string;
  /** Aborted by `cancel(id)`; hand it to fetches so a cancelled load stops downloading. */
  readonly signal: AbortSignal;
  /** Throws an `AbortError` once the job was cancelled. */
  throwIfCancelled(): void;
  /**
   * Lets queued messages (a `cancel`, progress timers) run, then throws if the job was cancelled. Call it between
   * batches: ORT's wasm runs settle in microtasks, so without a real yield a cancel would wait for the whole loop.
   */
  checkpoint(): Promise<void>;
  /** Forgets the job; call it in `finally`. */
  end(): void;
}

/** How many cancels for not-yet-started jobs are remembered (a bounded set: a stray cancel must not leak). */
const EARLY_CANCEL_LIMIT = 64;

/** Tracks the jobs in flight in one worker and the ones cancelled. */
export class CancellationRegistry {
  readonly #active = new Map<string, AbortController>();
  // A cancel can overtake its call when the call waits on an earlier one (e.g. the shared model load), so a
  // cancel for an unknown id is remembered and applied when the job begins.
  readonly #early = new Set<string>();

  /** Registers `jobId` and returns its handle; already cancelled when a cancel arrived first. */
  begin(jobId: string): Job {
    const controller = new AbortController();
    if (this.#early.delete(jobId)) controller.abort();
    this.#active.set(jobId, controller);
    const throwIfCancelled = () => {
      if (controller.signal.aborted) throw namedError('AbortError', `job ${jobId} was cancelled`);
    };
    return {
      id: jobId,
      signal: controller.signal,
      throwIfCancelled,
      checkpoint: async () => {
        await yieldToEventLoop();
        throwIfCancelled();
      },
      end: () => {
        if (this.#active.get(jobId) === controller) this.#active.delete(jobId);
      },
    };
  }

  /** Marks `jobId` cancelled. Returns true when the job was running. */
  cancel(jobId: string): boolean {
    const controller = this.#active.get(jobId);
    if (controller) {
      controller.abort();
      return true;
    }
    this.#early.add(jobId);
    if (this.#early.size > EARLY_CANCEL_LIMIT) {
      const oldest = this.#early.values().next().value;
      if (oldest !== undefined) this.#early.delete(oldest);
    }
    return false;
  }

  /** Ids of the jobs currently running (for diagnostics and tests). */
  active(): string[] {
    return [...this.#active.keys()];
  }
}

/**
 * Resolves on a fresh macrotask, after the messages already queued for this thread. A MessageChannel round trip
 * rather than setTimeout(0), which browsers clamp to 4 ms once nested.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
