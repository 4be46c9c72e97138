// Small AbortSignal helpers for the model engines: an AbortError that is never shown as an error, and waiting for a
// shared promise (a model load) with a caller's signal that stops only this caller's wait. Imports core only.
import type { AbortSignalLike } from '../core/llm.ts';
import { namedError } from '../core/types.ts';

/** The error every engine rejects with on abort (recognised by name across worker boundaries). */
export function abortError(message = 'cancelled'): Error {
  return namedError('AbortError', message);
}

/** A promise that rejects with AbortError when `signal` aborts (never settles without one); `dispose` detaches it. */
export function abortPromise(signal: AbortSignalLike | undefined): {
  promise: Promise<never>;
  dispose: () => void;
} {
  if (!signal) return { promise: new Promise<never>(() => {}), dispose: () => {} };
  let onAbort: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // Observed by whoever races it; unobserved when the work wins.
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** Waits for `work`, or rejects with AbortError as soon as `signal` aborts; `work` itself is not cancelled. */
export async function raceAbort<T>(work: Promise<T>, signal: AbortSignalLike | undefined): Promise<T> {
  const aborted = abortPromise(signal);
  try {
    return await Promise.race([work, aborted.promise]);
  } finally {
    aborted.dispose();
  }
}
