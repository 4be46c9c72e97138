// Checks src/lib/core/benchmarks.ts on the shared reference files (/work/shared/data: RadDiffBench, VisDiffBench)
// with expectations computed independently from the raw files, and on small hand-made inputs for every failure
// path: malformed lines, wrong columns, duplicate ids, empty sets, unsafe image paths. Plus the CSV reader.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BenchmarkFormatError,
  parseCsv,
  parseRadDiffBench,
  parseVisDiffBench,
  resolveImagePaths,
  safeRelativePath,
  type BenchmarkPair,
} from '../../src/lib/core/benchmarks.ts';

const data = (path: string) => readFileSync(new URL(`../../../shared/data/${path}`, import.meta.url), 'utf8');

const RDB_JSONL = data('RadDiffBench.jsonl');
const RDB_CSV = data('RadDiffBenchDifficulty.csv');
const VD_CSV = data('visdiff/PairedImageSets.csv');
const VD_JSONL = {
  easy: data('visdiff/easy.jsonl'),
  medium: data('visdiff/medium.jsonl'),
  hard: data('visdiff/hard.jsonl'),
};

interface RawRdb {
  set1: string;
  set2: string;
  set1_images: string[];
  set2_images: string[];
}
const RAW_RDB = RDB_JSONL.trim()
  .split('\n')
  .map((line) => JSON.parse(line) as RawRdb);

function counts<T>(values: T[]): Map<T, number> {
  const map = new Map<T, number>();
  for (const v of values) map.set(v, (map.get(v) ?? 0) + 1);
  return map;
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BenchmarkFormatError);
    return (error as BenchmarkFormatError).problems;
  }
  throw new Error('expected a BenchmarkFormatError');
}

// ---------------------------------------------------------------------------------------------------------------

describe('parseRadDiffBench on the reference files', () => {
  const { pairs, warnings } = parseRadDiffBench(RDB_JSONL, RDB_CSV);

  it('reads 57 pairs with exactly the images of each line', () => {
    expect(RAW_RDB).toHaveLength(57);
    expect(pairs).toHaveLength(57);
    pairs.forEach((pair, i) => {
      const raw = RAW_RDB[i] as RawRdb;
      expect(pair.id).toBe(String(i));
      expect(pair.setA.images).toHaveLength(raw.set1_images.length);
      expect(pair.setB.images).toHaveLength(raw.set2_images.length);
      expect(pair.setA.images).toEqual(raw.set1_images);
      expect(pair.setB.images).toEqual(raw.set2_images);
    });
    const sizes = pairs.flatMap((p) => [p.setA.images.length, p.setB.images.length]);
    expect(Math.min(...sizes)).toBe(102);
    expect(Math.max(...sizes)).toBe(573);
  });

  it('keeps the ground truth verbatim, trailing space included', () => {
    pairs.forEach((pair, i) => {
      expect(pair.setA.description).toBe(RAW_RDB[i]?.set1);
      expect(pair.setB.description).toBe(RAW_RDB[i]?.set2);
      expect(pair.setA.description.endsWith(' ')).toBe(true);
    });
    expect(pairs[0]?.setA.description).toBe('moderate right pleural effusion ');
  });

  it('takes difficulty from the CSV: 23 easy, 21 medium, 13 hard', () => {
    const byLevel = counts(pairs.map((p) => p.difficulty));
    expect(Object.fromEntries(byLevel)).toEqual({ easy: 23, medium: 21, hard: 13 });
    expect(pairs[0]?.difficulty).toBe('medium'); // csv: 0,…,3.0,2.0
    expect(pairs[1]?.difficulty).toBe('easy');
    expect(pairs[2]?.difficulty).toBe('hard');
  });

  it('builds the four repeated group names into distinct per-pair sets', () => {
    const descriptions = RAW_RDB.flatMap((r, i) => [
      { text: r.set1, pair: i, images: r.set1_images },
      { text: r.set2, pair: i, images: r.set2_images },
    ]);
    const repeated = [...counts(descriptions.map((d) => d.text))].filter(([, n]) => n > 1).map(([t]) => t);
    expect(repeated.sort()).toEqual(
      [
        'Normal cardiac silhouette ',
        'lung well inflate and clear ',
        'no pleural effusion ',
        'no pneumothorax ',
      ].sort(),
    );
    for (const text of repeated) {
      const uses = descriptions.filter((d) => d.text === text);
      const imported = uses.map(({ pair }) => {
        const p = pairs[pair] as BenchmarkPair;
        return p.setA.description === text ? p.setA.images : p.setB.images;
      });
      imported.forEach((images, k) => expect(images).toEqual(uses[k]?.images));
      expect(new Set(imported.map((images) => images.join('\n'))).size).toBe(uses.length);
    }
  });

  it('warns about the one path that is a gsutil temp file, and nothing else', () => {
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'unexpected-extension', pairId: '4' });
    expect(warnings[0]?.message).toContain('.jpg_.gstmp');
  });

  it('works without the difficulty CSV', () => {
    const plain = parseRadDiffBench(RDB_JSONL);
    expect(plain.pairs).toHaveLength(57);
    expect(plain.pairs.every((p) => p.difficulty === undefined)).toBe(true);
  });
});

describe('parseRadDiffBench on bad input', () => {
  const line = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      set1: 'a ',
      set2: 'b ',
      set1_images: ['x/1.jpg', 'x/2.jpg'],
      set2_images: ['y/1.jpg'],
      ...over,
    });

  it('names every malformed line', () => {
    const problems = problemsOf(() =>
      parseRadDiffBench([line(), '{"set1": "a", ', line(), 'not json', '[1, 2]'].join('\n')),
    );
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^jsonl line 2: not valid JSON/);
    expect(problems[1]).toMatch(/^jsonl line 4: not valid JSON/);
    expect(problems[2]).toBe('jsonl line 5: expected a JSON object');
  });

  it('names missing keys and wrong types', () => {
    const problems = problemsOf(() =>
      parseRadDiffBench(
        [
          JSON.stringify({ set1: 'a', set2: 'b' }),
          line({ set1_images: 'x/1.jpg' }),
          line({ set2: 7, set2_images: [1] }),
        ].join('\n'),
      ),
    );
    expect(problems).toEqual([
      'jsonl line 1: missing key(s) set1_images, set2_images',
      'jsonl line 2: set1_images must be an array of strings',
      'jsonl line 3: set2 must be a string; set2_images must be an array of strings',
    ]);
  });

  it('warns about unknown keys, blank lines, duplicates, shared images and empty sets', () => {
    const { pairs, warnings } = parseRadDiffBench(
      [
        line({ extra: 1 }),
        '',
        line({ set1_images: ['x/1.jpg', 'x/1.jpg', 'shared.jpg'], set2_images: ['shared.jpg'] }),
        line({ set2_images: [] }),
        '',
      ].join('\r\n'),
    );
    expect(pairs.map((p) => p.id)).toEqual(['0', '2', '3']);
    expect(pairs[1]?.setA.images).toEqual(['x/1.jpg', 'shared.jpg']);
    expect(warnings.map((w) => w.code).sort()).toEqual(
      ['blank-line', 'duplicate-image', 'empty-set', 'image-in-both-sets', 'unknown-key'].sort(),
    );
    expect(warnings.find((w) => w.code === 'empty-set')).toMatchObject({ pairId: '3' });
    expect(warnings.find((w) => w.code === 'unknown-key')?.message).toContain('"extra"');
  });

  it('checks the difficulty CSV: columns, indices, values', () => {
    const jsonl = [line(), line()].join('\n');
    expect(problemsOf(() => parseRadDiffBench(jsonl, 'index,level\n0,1\n'))).toEqual([
      'difficulty CSV: missing column(s) "difficulty" (header: index,level)',
    ]);
    expect(
      problemsOf(() => parseRadDiffBench(jsonl, 'index,difficulty\n0,1.0\n0,2\n5,1\nx,1\n1,4\n')),
    ).toEqual([
      'difficulty CSV line 3: index 0 repeats line 2',
      'difficulty CSV line 4: index 5 has no jsonl line',
      'difficulty CSV line 5: index "x" is not a 0-based line number',
      'difficulty CSV line 6: difficulty "4" is not 1, 2 or 3',
    ]);
    const ok = parseRadDiffBench(jsonl, 'index,difficulty,condition_A,notes\n0,3,a,hi\n1,,zzz,\n');
    expect(ok.pairs.map((p) => p.difficulty)).toEqual(['hard', undefined]);
    expect(ok.warnings.map((w) => w.code).sort()).toEqual([
      'condition-mismatch',
      'no-difficulty',
      'unknown-column',
    ]);
  });

  it('refuses an empty file', () => {
    expect(() => parseRadDiffBench('\n\n')).toThrow(BenchmarkFormatError);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('parseVisDiffBench on the reference files', () => {
  const { pairs, warnings } = parseVisDiffBench(VD_CSV, VD_JSONL);
  const rawRows = VD_CSV.trim().split('\n').slice(1);

  it('forms 150 pairs of 100 + 100 images from the 30,000 rows', () => {
    expect(rawRows).toHaveLength(30_000);
    expect(pairs).toHaveLength(150);
    for (const pair of pairs) {
      expect(pair.setA.images).toHaveLength(100);
      expect(pair.setB.images).toHaveLength(100);
      for (const p of pair.setA.images) expect(p).toContain(`/${pair.id}_a/`);
      for (const p of pair.setB.images) expect(p).toContain(`/${pair.id}_b/`);
    }
    expect(pairs.map((p) => p.id).slice(0, 3)).toEqual(['easy/1', 'easy/2', 'easy/3']);
    expect(new Set(pairs.flatMap((p) => [...p.setA.images, ...p.setB.images])).size).toBe(30_000);
  });

  it('takes difficulty from the folder, not the shifted column', () => {
    expect(Object.fromEntries(counts(pairs.map((p) => p.difficulty)))).toEqual({
      easy: 50,
      medium: 50,
      hard: 50,
    });
    for (const pair of pairs) expect(pair.id.startsWith(`${pair.difficulty}/`)).toBe(true);
    const column = new Map(
      rawRows.map((r) => [r.slice(r.indexOf('./data'), r.indexOf('.jpg')), r.slice(r.lastIndexOf(',') + 1)]),
    );
    expect(column.get('./data/VisDiffBench/medium/1_a/000001')).toBe('easy'); // the shift the README warns about
    expect(warnings.find((w) => w.code === 'difficulty-column-ignored')?.message).toMatch(/for 100 pair/);
  });

  it('keeps group names and differences verbatim, commas included', () => {
    expect(pairs[0]).toMatchObject({
      setA: { description: 'Dogs playing in a park' },
      setB: { description: 'Cats playing in a park' },
      difference: 'Animal species (Dogs vs Cats)',
    });
    expect(pairs.find((p) => p.id === 'hard/14')?.setA.description).toBe('Sunrise over Santorini, Greece');
  });

  it('matches every pair file line to a pair by group names; 26 sit in the other difficulty', () => {
    const definitions = (['easy', 'medium', 'hard'] as const).flatMap((d) =>
      VD_JSONL[d]
        .trim()
        .split('\n')
        .map((l) => ({ d, ...(JSON.parse(l) as { set1: string; set2: string; difference: string }) })),
    );
    expect(definitions).toHaveLength(150);
    let moved = 0;
    for (const def of definitions) {
      const matches = pairs.filter((p) => p.setA.description === def.set1 && p.setB.description === def.set2);
      expect(matches).toHaveLength(1);
      expect(matches[0]?.difference).toBe(def.difference);
      if (matches[0]?.difficulty !== def.d) moved += 1;
    }
    expect(moved).toBe(26);
    const disagree = warnings.find((w) => w.code === 'difficulty-disagrees');
    expect(disagree?.message).toMatch(/^26 pair\(s\)/);
    expect(disagree?.message).toContain('medium/38 (hard.jsonl line 2)');
    expect(disagree?.message).toContain('hard/1 (medium.jsonl line 4)');
    expect(warnings.map((w) => w.code).sort()).toEqual(['difficulty-column-ignored', 'difficulty-disagrees']);
  });

  it("can take difficulty from the pair files instead (VisDiff's own sweep does)", () => {
    const byJsonl = parseVisDiffBench(VD_CSV, VD_JSONL, { difficultySource: 'jsonl' }).pairs;
    expect(byJsonl.find((p) => p.id === 'medium/38')?.difficulty).toBe('hard');
    expect(byJsonl.find((p) => p.id === 'hard/1')?.difficulty).toBe('medium');
    expect(byJsonl.find((p) => p.id === 'easy/7')?.difficulty).toBe('easy');
  });

  it('reads the Examples.csv pair', () => {
    const { pairs: examples } = parseVisDiffBench(data('visdiff/Examples.csv'));
    expect(examples).toHaveLength(1);
    expect(examples[0]).toMatchObject({
      id: 'data/examples/set',
      setA: { description: 'People practicing yoga in a mountainous setting' },
      setB: { description: 'People meditating in a mountainous setting' },
    });
    expect(examples[0]?.setA.images).toHaveLength(100);
    expect(examples[0]?.setB.images).toHaveLength(100);
  });
});

describe('parseVisDiffBench on bad input', () => {
  const header = 'group_name,path,difference,difficulty';
  const rows = (dir: string, name: string, n: number) =>
    Array.from({ length: n }, (_, i) => `${name},${dir}/${String(i + 1).padStart(6, '0')}.jpg,diff,easy`);

  it('names missing columns and warns about unknown ones', () => {
    expect(problemsOf(() => parseVisDiffBench('group,path\nx,./easy/1_a/1.jpg\n'))).toEqual([
      'PairedImageSets CSV: missing column(s) "group_name" (header: group,path)',
    ]);
    const { warnings } = parseVisDiffBench(
      `${header},source\nA,./easy/1_a/1.jpg,d,easy,web\nB,./easy/1_b/1.jpg,d,easy,web\n`,
    );
    expect(warnings[0]).toMatchObject({ code: 'unknown-column' });
    expect(warnings[0]?.message).toContain('"source"');
  });

  it('names rows whose path is not in an _a/_b folder, and rows with the wrong field count', () => {
    expect(
      problemsOf(() =>
        parseVisDiffBench(`${header}\nA,./easy/1_a/1.jpg,d,easy\nB,./easy/set/2.jpg,d,easy\n`),
      ),
    ).toEqual([
      'PairedImageSets CSV line 3: path "./easy/set/2.jpg" is not inside a <name>_a or <name>_b folder',
    ]);
    expect(problemsOf(() => parseVisDiffBench(`${header}\nA,./easy/1_a/1.jpg,d\n`))).toEqual([
      'PairedImageSets CSV line 2: 3 fields, the header has 4',
    ]);
  });

  it('refuses duplicate pair ids', () => {
    const text = [header, ...rows('./one/easy/1_a', 'A', 2), ...rows('./two/easy/1_a', 'A', 2)].join('\n');
    expect(problemsOf(() => parseVisDiffBench(text))[0]).toMatch(
      /line 4: pair id "easy\/1" also names folder/,
    );
  });

  it('lists empty sets and inconsistent groups instead of dropping them', () => {
    const text = [
      header,
      ...rows('./easy/1_a', 'A', 3),
      ...rows('./easy/2_a', 'C', 2),
      ...rows('./easy/2_b', 'D', 1),
      'E,./easy/2_b/9.jpg,diff,easy',
    ].join('\n');
    const { pairs, warnings } = parseVisDiffBench(text);
    expect(pairs.map((p) => [p.id, p.setA.images.length, p.setB.images.length])).toEqual([
      ['easy/1', 3, 0],
      ['easy/2', 2, 2],
    ]);
    expect(warnings).toContainEqual(expect.objectContaining({ code: 'empty-set', pairId: 'easy/1' }));
    expect(warnings).toContainEqual(
      expect.objectContaining({ code: 'inconsistent-group', pairId: 'easy/2' }),
    );
  });

  it('names malformed pair-file lines and reports unmatched definitions', () => {
    const text = [header, ...rows('./easy/1_a', 'A', 2), ...rows('./easy/1_b', 'B', 2)].join('\n');
    expect(
      problemsOf(() => parseVisDiffBench(text, { hard: '{"set1": "A", "set2": "B"}\n{oops\n' })),
    ).toEqual([expect.stringMatching(/^hard\.jsonl line 2: not valid JSON/)]);
    const { warnings } = parseVisDiffBench(text, { easy: '{"set1": "X", "set2": "Y"}\n' });
    expect(warnings.map((w) => w.code).sort()).toEqual([
      'definition-without-images',
      'pair-without-definition',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('parseCsv', () => {
  it('reads RFC 4180: quotes, escaped quotes, embedded commas and newlines, CRLF, BOM, blank lines', () => {
    const table = parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n\r\n"multi\nline",\n');
    expect(table.header).toEqual(['a', 'b']);
    expect(table.rows).toEqual([
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['multi\nline', ''] },
    ]);
  });

  it('names the line of an unterminated quote or stray text after one', () => {
    expect(problemsOf(() => parseCsv('a,b\n1,2\n"open,3\n'))).toEqual([
      'CSV line 3: unterminated quoted field',
    ]);
    expect(problemsOf(() => parseCsv('a,b\n"x"y,2\n'))).toEqual([
      'CSV line 2: unexpected text after a closing quote',
    ]);
  });

  it('round-trips any table', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', 'é') });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 8 }),
        (width, body) => {
          const header = Array.from({ length: width }, (_, i) => `c${i}`);
          const records = body
            .map((r) => r.slice(0, width))
            .filter((r) => r.some((c) => c !== '') || width > 1);
          const quote = (c: string) => `"${c.replace(/"/g, '""')}"`;
          const text = [header, ...records].map((r) => r.map(quote).join(',')).join('\r\n');
          const parsed = parseCsv(text);
          expect(parsed.header).toEqual(header);
          expect(parsed.rows.map((r) => r.fields)).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('safeRelativePath', () => {
  it.each([
    ['./data/VisDiffBench/easy/1_a/000001.jpg', 'data/VisDiffBench/easy/1_a/000001.jpg'],
    ['p10/p10000032/s50414267/x.jpg', 'p10/p10000032/s50414267/x.jpg'],
    ['a//b/./c.jpg', 'a/b/c.jpg'],
  ])('normalizes %j', (path, expected) => {
    expect(safeRelativePath(path)).toEqual({ ok: true, path: expected });
  });

  it.each([
    ['../secret.jpg', /'\.\.'/],
    ['a/../../b.jpg', /'\.\.'/],
    ['a/..', /'\.\.'/],
    ['/etc/passwd', /absolute/],
    ['C:\\Windows\\x.jpg', /backslash/],
    ['C:/Windows/x.jpg', /drive letter/],
    ['a\\..\\b.jpg', /backslash/],
    ['file:///etc/passwd', /URL/],
    ['https://example.org/x.jpg', /URL/],
    ['a/b\u0000.jpg', /control/],
    ['', /empty/],
    ['./', /names no file/],
  ])('refuses %j', (path, reason) => {
    const result = safeRelativePath(path);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('resolveImagePaths', () => {
  const pair: BenchmarkPair = {
    id: 'p',
    setA: { description: 'a', images: ['x/1.jpg', './x/2.jpg', '../escape.jpg', 'x/3.jpg'] },
    setB: { description: 'b', images: ['y/1.jpg', 'y/2.jpg', '/abs/y.jpg'] },
  };

  it('sorts paths into resolved, missing and rejected', () => {
    const result = resolveImagePaths(pair, new Set(['x/1.jpg', 'x/2.jpg', 'y/1.jpg', 'y/2.jpg']));
    expect(result.status).toBe('ready');
    expect(result.setA).toEqual({
      resolved: ['x/1.jpg', 'x/2.jpg'],
      missing: ['x/3.jpg'],
      rejected: [{ path: '../escape.jpg', reason: "'..' would leave the chosen folder" }],
    });
    expect(result.setB.resolved).toEqual(['y/1.jpg', 'y/2.jpg']);
    expect(result.setB.rejected[0]?.reason).toBe('absolute path');
  });

  it('skips a pair with too few images per set, saying which set', () => {
    const result = resolveImagePaths(pair, (p) => p === 'x/1.jpg' || p.startsWith('y/'));
    expect(result.status).toBe('skipped');
    expect(result.reason).toBe('set A: 1 of 4 images found (need ≥ 2 per set)');
    expect(resolveImagePaths(pair, () => true, { minImagesPerSet: 3 }).reason).toBe(
      'set B: 2 of 3 images found (need ≥ 3 per set)',
    );
  });

  it('applies a prefix (MIMIC root) or strips one (VisDiffBench folder picked itself)', () => {
    const [rdb] = parseRadDiffBench(RDB_JSONL).pairs;
    const first = rdb?.setA.images[0] as string;
    const withFiles = resolveImagePaths(rdb as BenchmarkPair, (p) => p === `files/${first}`, {
      prefix: 'files',
      minImagesPerSet: 0,
    });
    expect(withFiles.setA.resolved).toEqual([`files/${first}`]);
    const vd: BenchmarkPair = {
      id: 'easy/1',
      setA: { description: '', images: ['./data/VisDiffBench/easy/1_a/000001.jpg'] },
      setB: { description: '', images: [] },
    };
    const stripped = resolveImagePaths(vd, new Set(['easy/1_a/000001.jpg']), {
      stripPrefix: './data/VisDiffBench/',
      minImagesPerSet: 0,
    });
    expect(stripped.setA.resolved).toEqual(['easy/1_a/000001.jpg']);
    expect(() => resolveImagePaths(vd, new Set(), { prefix: '../up' })).toThrow(RangeError);
  });

  it('never resolves a path outside the root, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', '.', '/', '\\', ':', 'C') }), { maxLength: 6 }),
        (images) => {
          const result = resolveImagePaths(
            { id: 'f', setA: { description: '', images }, setB: { description: '', images: [] } },
            () => true,
          );
          for (const p of result.setA.resolved) {
            expect(p.split('/')).not.toContain('..');
            expect(p.startsWith('/')).toBe(false);
            expect(p).not.toContain('\\');
          }
        },
      ),
    );
  });
});
