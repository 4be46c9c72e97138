// Intake of one image set: enumerate, hash and header-check every file in the image workers (no decode), sort,
// deduplicate, and list every refused file with its reason. Also the cross-set confounder check. Hashes come first
// because the embedding cache is keyed by them: cached images are never decoded again.
import type { InspectOutcome } from '../../../workers/image/image.api.ts';
import type { ImageFormat, IntakeIssueCode } from '../../../workers/image/image-format.ts';
import { collectFromFileList, type CollectedFiles, type IntakeEntry } from './enumerate.ts';
import { abortError, sharedImagePool, type ImageWorkerPool } from './image-pool.ts';
import { comparePaths, dedupeByHash, findConfounders } from './intake-report.ts';
import { throttleProgress, type IntakeProgress } from './progress.ts';

/** An accepted image of a set. */
export interface IntakeImage {
  /** File name, e.g. `001.png`. */
  name: string;
  /** Path relative to what was dropped or picked, e.g. `cxr/a/001.png` (the name for loose files). */
  path: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the file's bytes, lowercase hex: the image's identity in every cache. */
  sha256: string;
  file: File;
  format: ImageFormat;
  /** Displayed size (EXIF orientation applied), read from the file header without decoding. */
  width: number;
  height: number;
}

/** A file that will not be used, with a reason the user can act on. */
export interface SkippedFile {
  name: string;
  path: string;
  code: IntakeIssueCode;
  reason: string;
}

/** A byte-identical copy of another file of the same set: counted once. */
export interface DuplicateFile {
  name: string;
  path: string;
  /** Path of the copy that was kept (the first by path order). */
  duplicateOf: string;
}

/** Result of intake for one set. */
export interface IntakeSet {
  /** Accepted, unique images, sorted by path. */
  images: IntakeImage[];
  skipped: SkippedFile[];
  duplicates: DuplicateFile[];
  /** Hidden/system files skipped silently (.DS_Store, Thumbs.db, ._*, hidden folders). */
  ignoredSystemFiles: number;
}

/** The same image in both sets: it cannot explain a difference between them. */
export interface SetConfounder {
  sha256: string;
  a: { name: string; path: string };
  b: { name: string; path: string };
}

export interface HashOptions {
  /** Default: the app's shared pool. */
  pool?: ImageWorkerPool;
  /** Files read at once (each is held in memory while hashed); default the pool's capacity. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Throttled to ~10 calls a second; the last call has done === total. */
  onProgress?: (progress: IntakeProgress) => void;
  /** Largest accepted side in pixels; default 10,000. */
  maxSide?: number;
}

/**
 * Hash + header stage: for each file, its SHA-256 and header facts, or why it is refused (empty, not an image,
 * unsupported format, truncated, too large). Reads each file once in a worker; decodes nothing. Results are in
 * input order. Rejects with an Error named 'AbortError' when `signal` aborts.
 */
export async function hashFiles(
  files: readonly Blob[],
  options: HashOptions = {},
): Promise<InspectOutcome[]> {
  const pool = options.pool ?? sharedImagePool();
  const progress = throttleProgress(options.onProgress);
  const total = files.length;
  const results = new Array<InspectOutcome>(total);
  // Linked to the caller's signal, and aborted on the first failure so the other lanes stop scheduling.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (options.signal?.aborted) throw abortError();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let done = 0;
  progress({ phase: 'hash', done, total });
  const lane = async () => {
    while (next < total) {
      if (stop.signal.aborted) throw abortError();
      const index = next++;
      const file = files[index]!;
      results[index] = await pool.run<InspectOutcome>(
        (api, jobId) => api.inspect(file, jobId, options.maxSide),
        stop.signal,
      );
      progress({ phase: 'hash', done: ++done, total });
    }
  };
  const lanes = Math.min(total, Math.max(1, options.concurrency ?? pool.capacity));
  try {
    await Promise.all(
      Array.from({ length: lanes }, () =>
        lane().catch((error: unknown) => {
          stop.abort();
          throw error;
        }),
      ),
    );
  } catch (error) {
    // When the caller aborted, every lane fails with AbortError; otherwise report the first real failure.
    throw options.signal?.aborted ? abortError() : error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return results;
}

/** What intake accepts: files from an input/folder picker, or the result of a collect* function (e.g. a drop). */
export type IntakeInput = FileList | readonly File[] | CollectedFiles;

/**
 * Intake of one set: enumerates (skipping system files), hashes and header-checks every file in the workers,
 * sorts by path, drops byte-identical copies and lists refused files with reasons. Decodes nothing: a truncated
 * file is caught by its structure; data corrupt inside an intact structure shows up later, at decode, as a
 * `decode-failed` result of {@link preprocessStream}.
 */
export async function intakeFiles(input: IntakeInput, options: HashOptions = {}): Promise<IntakeSet> {
  const collected = 'ignoredSystemFiles' in input ? input : collectFromFileList(input);
  const entries: IntakeEntry[] = [...collected.entries].sort((x, y) => comparePaths(x.path, y.path));
  const outcomes = await hashFiles(
    entries.map((entry) => entry.file),
    options,
  );

  const accepted: IntakeImage[] = [];
  const skipped: SkippedFile[] = collected.unlistable.map((u) => ({ ...u, code: 'unreadable' as const }));
  entries.forEach((entry, index) => {
    const outcome = outcomes[index]!;
    const name = entry.file.name;
    if (outcome.ok) {
      const { sha256, format, width, height } = outcome;
      accepted.push({
        name,
        path: entry.path,
        size: entry.file.size,
        sha256,
        file: entry.file,
        format,
        width,
        height,
      });
    } else {
      skipped.push({ name, path: entry.path, code: outcome.code, reason: outcome.reason });
    }
  });
  const { unique, duplicates } = dedupeByHash(accepted);
  return {
    images: unique,
    skipped: skipped.sort((x, y) => comparePaths(x.path, y.path)),
    duplicates: duplicates.map(({ item, duplicateOf }) => ({
      name: item.name,
      path: item.path,
      duplicateOf: duplicateOf.path,
    })),
    ignoredSystemFiles: collected.ignoredSystemFiles,
  };
}

/** Images present in both sets (same bytes), with their names in each; in set A's path order. */
export function crossSetConfounders(
  setA: IntakeSet | readonly IntakeImage[],
  setB: IntakeSet | readonly IntakeImage[],
): SetConfounder[] {
  const imagesOf = (set: IntakeSet | readonly IntakeImage[]) => ('images' in set ? set.images : set);
  return findConfounders(imagesOf(setA), imagesOf(setB)).map(({ sha256, a, b }) => ({
    sha256,
    a: { name: a.name, path: a.path },
    b: { name: b.name, path: b.path },
  }));
}
