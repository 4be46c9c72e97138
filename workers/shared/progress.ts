// Progress for model workers: maps transformers.js progress callbacks onto core's EngineProgress union and throttles
// what crosses the worker boundary to ~10 events/s without ever dropping the first or last event of a phase, so the
// UI neither re-renders on every download chunk nor stalls at 97 %. Imports only core types.
import type { EngineProgress } from '../../src/lib/core/types.ts';

/** Receives progress. Across comlink it is a `Comlink.proxy` callback; its return value is ignored. */
export type ProgressSink = (event: EngineProgress) => unknown;

/**
 * The fields of transformers.js's `ProgressInfo` that we read. Structural on purpose: this module must not import
 * the library, and the library's union has more members (`initiate`, `progress_total`, `ready`) that we ignore.
 */
export interface LibraryProgressInfo {
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
}

/**
 * Turns the library's per-file events into EngineProgress: `progress` → `download`; `done` → a final `download`
 * (so every file ends at 100 %) and, for an `.onnx` file, `compile`, because the library creates the inference
 * session right after the file arrives.
 */
export class LibraryProgressMapper {
  readonly #files = new Map<string, { loaded: number; total: number }>();

  map(info: LibraryProgressInfo): EngineProgress[] {
    const file = info.file;
    if (file === undefined) return [];
    if (info.status === 'progress') {
      const loaded = finite(info.loaded);
      const total = Math.max(finite(info.total), 0);
      this.#files.set(file, { loaded, total });
      return [{ phase: 'download', file, loaded, total }];
    }
    if (info.status === 'done') {
      const out: EngineProgress[] = [];
      const seen = this.#files.get(file);
      if (seen) {
        const size = Math.max(seen.loaded, seen.total);
        if (seen.loaded < size || seen.total !== size) {
          out.push({ phase: 'download', file, loaded: size, total: size });
        }
      }
      if (file.endsWith('.onnx')) out.push({ phase: 'compile', file });
      return out;
    }
    return [];
  }
}

function finite(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? value : 0;
}

/** A throttled view of a ProgressSink. */
export interface ProgressThrottle {
  /** Queues or delivers `event`. */
  push(event: EngineProgress): void;
  /** Delivers everything still queued; call it when the operation ends, successfully or not. */
  flush(): void;
}

/** True for the last event of its phase (or of its file): those are never held back. */
export function isFinalEvent(event: EngineProgress): boolean {
  switch (event.phase) {
    case 'download':
      return event.total > 0 && event.loaded >= event.total;
    case 'embed':
      return event.done >= event.total;
    default:
      // compile, warmup and ready are one-shot milestones.
      return true;
  }
}

function keyOf(event: EngineProgress): string {
  return event.phase === 'download' ? `download:${event.file}` : event.phase;
}

/**
 * Throttles `sink` to one delivery per `intervalMs`, keeping only the newest event per phase (per file for
 * downloads). Delivered immediately: the first event of a new phase, the final event of a phase, and anything
 * arriving after a quiet interval. Held events are delivered by a trailing timer or by `flush()`, always before a
 * later event, so the order of phases is preserved. A throwing sink never breaks the operation it observes.
 */
export function throttleProgress(
  sink: ProgressSink | undefined,
  intervalMs = 100,
  now: () => number = () => performance.now(),
): ProgressThrottle {
  if (!sink) return { push: () => {}, flush: () => {} };
  const pending = new Map<string, EngineProgress>();
  let lastPhase: EngineProgress['phase'] | undefined;
  let lastAt = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const deliver = (event: EngineProgress) => {
    lastPhase = event.phase;
    lastAt = now();
    try {
      // A comlink callback returns a promise that rejects once the page side is gone; nobody awaits it.
      const result = sink(event);
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // Progress is advisory.
    }
  };
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const queued = [...pending.values()];
    pending.clear();
    for (const event of queued) deliver(event);
  };

  return {
    push(event) {
      const key = keyOf(event);
      if (isFinalEvent(event) || event.phase !== lastPhase) {
        pending.delete(key);
        flush();
        deliver(event);
        return;
      }
      if (now() - lastAt >= intervalMs && pending.size === 0) {
        deliver(event);
        return;
      }
      pending.set(key, event);
      timer ??= setTimeout(flush, Math.max(0, lastAt + intervalMs - now()));
    },
    flush,
  };
}
