// Waiting and deadlines for model calls, shared by the pipeline and the LLM judge: a cancellable sleep for retry
// backoff, and a race that settles a call when its caller aborts or its deadline passes, even if the engine
// ignores its signal. Core has no DOM/Node types; every realm we run in has these timers on globalThis. Pure.

import type { AbortSignalLike } from './llm.ts';
import { namedError } from './types.ts';

interface TimerHost {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}
interface ControllerLike {
  readonly signal: AbortSignalLike;
  abort(reason?: unknown): void;
}

function timers(): TimerHost | undefined {
  const host = globalThis as unknown as Partial<TimerHost>;
  return typeof host.setTimeout === 'function' && typeof host.clearTimeout === 'function'
    ? (host as TimerHost)
    : undefined;
}

/** Thrown when a call's deadline passes. */
class DeadlineError extends Error {
  override name = 'TimeoutError';
}

/**
 * Resolves after `ms`, or rejects with an AbortError (`cancelled` as its message) as soon as `signal` aborts.
 * Without timers in the realm, or for `ms <= 0`, it resolves at once.
 */
export function sleep(ms: number, signal?: AbortSignalLike, cancelled = 'cancelled'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(namedError('AbortError', cancelled));
    const host = timers();
    if (!host || ms <= 0) return resolve();
    const onAbort = () => {
      host.clearTimeout(id);
      reject(namedError('AbortError', cancelled));
    };
    const id = host.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs one call, settling at the latest when `outer` aborts (AbortError with message `cancelled`) or the deadline
 * passes (TimeoutError "no reply within N ms"; `timeoutMs` undefined = no deadline), even if the engine ignores
 * its signal. The call gets a child signal that aborts in both cases (when the realm has AbortController), so a
 * hung engine call is also told to stop.
 */
export async function callWithDeadline<T>(
  run: (signal?: AbortSignalLike) => Promise<T>,
  timeoutMs: number | undefined,
  outer?: AbortSignalLike,
  cancelled = 'cancelled',
): Promise<T> {
  const host = timers();
  const Controller = (globalThis as unknown as { AbortController?: new () => ControllerLike })
    .AbortController;
  const child = Controller ? new Controller() : undefined;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(namedError('AbortError', cancelled));
      child?.abort(outer?.reason);
    };
  });
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  let id: unknown;
  const racers: Promise<T>[] = [run(child?.signal ?? outer), aborted];
  if (timeoutMs !== undefined && host) {
    racers.push(
      new Promise<never>((_, reject) => {
        id = host.setTimeout(() => {
          reject(new DeadlineError(`no reply within ${timeoutMs} ms`));
          child?.abort(new DeadlineError('deadline'));
        }, timeoutMs);
      }),
    );
  }
  try {
    return await Promise.race(racers);
  } finally {
    if (id !== undefined) host?.clearTimeout(id);
    outer?.removeEventListener('abort', onAbort);
  }
}
