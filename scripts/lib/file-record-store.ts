// RecordStore for Node scripts (benchmark runs from the command line): one pretty-printed JSON file per pair in a
// directory, written atomically (temp file, fsync, rename) so a killed run never leaves a half-written record.
// File names encode the pair id reversibly and safely for every file system (no '/', no case collisions).

import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { PairRecord, RecordStore } from '../../src/lib/core/bench-runner.ts';

const STATUSES = new Set(['done', 'failed', 'skipped']);
/** Leaves room for the temp suffix under the usual 255-byte name limit. */
const MAX_NAME_BYTES = 180;

/**
 * The file name of a pair's record: lower-case letters, digits, '_' and '-' are kept, every other byte of the
 * UTF-8 id becomes %XX (upper-case hex). Upper-case letters are escaped too, so ids differing only in case stay
 * distinct on case-insensitive file systems. Throws RangeError for an empty or over-long id.
 */
export function recordFileName(pairId: string): string {
  if (pairId === '') throw new RangeError('pair id is empty');
  let name = '';
  for (const byte of new TextEncoder().encode(pairId)) {
    const ch = String.fromCharCode(byte);
    name += /[a-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (name.length > MAX_NAME_BYTES) throw new RangeError(`pair id "${pairId}" is too long for a file name`);
  return `${name}.json`;
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function parseRecord(text: string, file: string): PairRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`record file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const record = value as Partial<PairRecord> | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    typeof record.pairId !== 'string' ||
    !STATUSES.has(record.status as string)
  ) {
    throw new Error(`record file ${file} is not a pair record (needs pairId and status)`);
  }
  return record as PairRecord;
}

/**
 * A RecordStore over `directory` (created on the first `put`). A record file that is not valid JSON or belongs to
 * another pair makes `get`/`list` throw with the file's path rather than silently rerunning or dropping the pair.
 */
export function createFileRecordStore(directory: string): RecordStore {
  return {
    async get(pairId) {
      const file = join(directory, recordFileName(pairId));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      }
      const record = parseRecord(text, file);
      if (record.pairId !== pairId)
        throw new Error(`record file ${file} holds pair "${record.pairId}", not "${pairId}"`);
      return record;
    },

    async put(record) {
      const file = join(directory, recordFileName(record.pairId));
      await mkdir(directory, { recursive: true });
      const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
      try {
        const handle = await open(temp, 'w');
        try {
          await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
          await handle.sync();
        } finally {
          await handle.close();
        }
        // rename() replaces the target atomically on POSIX and on NTFS: readers see the old or the new record.
        await rename(temp, file);
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        throw error;
      }
    },

    async list() {
      let names: string[];
      try {
        names = await readdir(directory);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return [];
        throw error;
      }
      const files = names.filter((n) => n.endsWith('.json')).sort();
      return Promise.all(
        files.map(async (n) => parseRecord(await readFile(join(directory, n), 'utf8'), join(directory, n))),
      );
    },
  };
}
