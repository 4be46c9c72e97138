// The headless runner's reply cache: persistence across instances (a new process opens a new one), keys of any
// shape, prefix clearing and counting, and robustness to torn or foreign files.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileReplyCache, replyFileName } from '../../scripts/lib/file-reply-cache.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reply-cache-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createFileReplyCache', () => {
  it('persists replies across instances, under keys of any shape', async () => {
    const folder = join(dir, 'cache'); // Created on the first set.
    const first = createFileReplyCache(folder);
    expect(await first.get('missing')).toBeUndefined();
    const keys = [
      'caption|smolvlm|p3|' + 'a'.repeat(64) + '|0.1000,0.2000,0.5000,0.9000',
      'llm|qwen3:1.7b/q4|prompt-v2|{"x":"../../etc/passwd"}',
      'ünïcödé 🫁 key with spaces and \\ backslashes',
      '',
    ];
    for (const [i, key] of keys.entries()) await first.set(key, `reply ${i}\nwith "quotes"`, 'model-x');
    const second = createFileReplyCache(folder);
    for (const [i, key] of keys.entries()) expect(await second.get(key)).toBe(`reply ${i}\nwith "quotes"`);
    expect(await second.count()).toBe(keys.length);
    // Overwriting replaces: still one entry per key.
    await second.set(keys[0]!, 'newer');
    expect(await first.get(keys[0]!)).toBe('newer');
    expect(await second.count()).toBe(keys.length);
    // No temp files are left behind.
    const buckets = await readdir(folder);
    for (const b of buckets)
      expect((await readdir(join(folder, b))).every((n) => n.endsWith('.json'))).toBe(true);
  });

  it('clears and counts by key prefix', async () => {
    const cache = createFileReplyCache(dir);
    await cache.set('caption|m1|a', '1');
    await cache.set('caption|m1|b', '2');
    await cache.set('caption|m2|a', '3');
    await cache.set('llm|m1|a', '4');
    expect(await cache.count('caption|')).toBe(3);
    expect(await cache.count('caption|m1|')).toBe(2);
    expect(await cache.clearByPrefix('caption|m1|')).toBe(2);
    expect(await cache.get('caption|m1|a')).toBeUndefined();
    expect(await cache.get('caption|m2|a')).toBe('3');
    expect(await cache.count()).toBe(2);
    expect(await createFileReplyCache(join(dir, 'never-written')).count()).toBe(0);
  });

  it('reads a torn or foreign file as a miss, never as another key’s reply', async () => {
    const cache = createFileReplyCache(dir);
    const torn = join(dir, replyFileName('torn'));
    await mkdir(dirname(torn), { recursive: true });
    await writeFile(torn, '{"key":"torn","val');
    expect(await cache.get('torn')).toBeUndefined();
    // A file holding another key (copied by hand, or a hash collision).
    const foreign = join(dir, replyFileName('mine'));
    await mkdir(dirname(foreign), { recursive: true });
    await writeFile(foreign, JSON.stringify({ key: 'theirs', value: 'not yours', savedAt: 0 }));
    expect(await cache.get('mine')).toBeUndefined();
    // Diagnostics skip the torn file (not fatal) and count the foreign one under its own key.
    expect(await cache.count()).toBe(1);
    expect(await cache.count('theirs')).toBe(1);
  });
});
