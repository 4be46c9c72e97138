// ReplyCachePort for the headless runner: one small JSON file per reply in a folder, named by the SHA-256 of its key
// (keys are long and full of '|' and ':'), fanned out over 256 subfolders, written atomically (temp file + rename)
// so concurrent runs and killed processes never leave a torn entry. Imports core types and node only.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReplyCachePort } from '../../src/lib/core/ports.ts';

/** One stored reply: the full key is kept so a file can be checked against (and listed by) its key. */
interface StoredReply {
  key: string;
  value: string;
  model?: string;
  savedAt: number;
}

/** A ReplyCachePort with the diagnostics the browser cache has too. */
export interface FileReplyCache extends ReplyCachePort {
  /** Stores a reply; `model` (who produced it) is kept for diagnostics only. */
  set(key: string, value: string, model?: string): Promise<void>;
  /** Deletes every reply whose key starts with `prefix`; returns how many. */
  clearByPrefix(prefix: string): Promise<number>;
  /** Number of stored replies (with `prefix`: of those whose key starts with it). */
  count(prefix?: string): Promise<number>;
  /** The folder holding the replies. */
  readonly directory: string;
}

/** Path of a key's file, relative to the cache folder: `ab/abcdef….json` (SHA-256 of the UTF-8 key, hex). */
export function replyFileName(key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  return join(hash.slice(0, 2), `${hash}.json`);
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * Parses one reply file; undefined for a file that is not a reply (a torn write from a crashed older tool, a stray
 * file): a cache miss costs one model call, a crash would cost the run.
 */
function parseReply(text: string): StoredReply | undefined {
  try {
    const row = JSON.parse(text) as Partial<StoredReply> | null;
    return row && typeof row.key === 'string' && typeof row.value === 'string'
      ? (row as StoredReply)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A reply cache in `directory` (created on the first `set`). A file whose stored key differs from the requested
 * one (a hash collision, or a file copied by hand) reads as a miss, never as someone else's reply.
 */
export function createFileReplyCache(directory: string): FileReplyCache {
  const pathOf = (key: string) => join(directory, replyFileName(key));

  /** Every stored reply file with its parsed content (skipping unreadable ones). */
  async function* entries(): AsyncGenerator<{ file: string; row: StoredReply }> {
    let buckets: string[];
    try {
      buckets = await readdir(directory);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    for (const bucket of buckets.sort()) {
      if (!/^[0-9a-f]{2}$/.test(bucket)) continue;
      const names = await readdir(join(directory, bucket));
      for (const name of names.sort()) {
        if (!name.endsWith('.json')) continue;
        const file = join(directory, bucket, name);
        const row = parseReply(await readFile(file, 'utf8').catch(() => ''));
        if (row) yield { file, row };
      }
    }
  }

  return {
    directory,

    async get(key) {
      let text: string;
      try {
        text = await readFile(pathOf(key), 'utf8');
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      }
      const row = parseReply(text);
      return row?.key === key ? row.value : undefined;
    },

    async set(key, value, model) {
      const file = pathOf(key);
      const row: StoredReply = { key, value, savedAt: Date.now() };
      if (model !== undefined) row.model = model;
      await mkdir(join(file, '..'), { recursive: true });
      const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
      try {
        await writeFile(temp, `${JSON.stringify(row)}\n`, 'utf8');
        // rename() replaces the target atomically: readers see the old reply or the new one, never half of one.
        await rename(temp, file);
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw error;
      }
    },

    async clearByPrefix(prefix) {
      let deleted = 0;
      for await (const { file, row } of entries()) {
        if (!row.key.startsWith(prefix)) continue;
        await unlink(file).catch((error: unknown) => {
          if (!isErrno(error, 'ENOENT')) throw error;
        });
        deleted++;
      }
      return deleted;
    },

    async count(prefix) {
      let n = 0;
      for await (const { row } of entries()) if (prefix === undefined || row.key.startsWith(prefix)) n++;
      return n;
    },
  };
}
