// Intake bookkeeping in Node: duplicates within a set, confounders across sets, system files, path order and the
// progress throttle.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  comparePaths,
  dedupeByHash,
  findConfounders,
  isSystemPath,
} from '../../src/lib/imaging/intake-report.ts';
import { throttleProgress, type IntakeProgress } from '../../src/lib/imaging/progress.ts';

const item = (path: string, sha256: string) => ({ path, sha256 });

describe('dedupeByHash', () => {
  it('keeps the first of each hash and says which file each copy duplicates', () => {
    const items = [item('a.png', 'h1'), item('b.png', 'h2'), item('c.png', 'h1'), item('d.png', 'h1')];
    const { unique, duplicates } = dedupeByHash(items);
    expect(unique.map((i) => i.path)).toEqual(['a.png', 'b.png']);
    expect(duplicates.map((d) => [d.item.path, d.duplicateOf.path])).toEqual([
      ['c.png', 'a.png'],
      ['d.png', 'a.png'],
    ]);
  });

  it('unique + duplicates partition the input; unique hashes are distinct', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('h1', 'h2', 'h3', 'h4'), { maxLength: 30 }), (hashes) => {
        const items = hashes.map((h, i) => item(`${i}`, h));
        const { unique, duplicates } = dedupeByHash(items);
        expect(unique.length + duplicates.length).toBe(items.length);
        expect(new Set(unique.map((u) => u.sha256)).size).toBe(unique.length);
        for (const d of duplicates) expect(d.duplicateOf.sha256).toBe(d.item.sha256);
      }),
    );
  });
});

describe('findConfounders', () => {
  it('reports images in both sets with both names, in A order', () => {
    const a = [item('a/1.png', 'x'), item('a/2.png', 'y'), item('a/3.png', 'z')];
    const b = [item('b/9.png', 'z'), item('b/8.png', 'x'), item('b/7.png', 'w')];
    expect(findConfounders(a, b).map((c) => [c.sha256, c.a.path, c.b.path])).toEqual([
      ['x', 'a/1.png', 'b/8.png'],
      ['z', 'a/3.png', 'b/9.png'],
    ]);
    expect(findConfounders(a, [])).toEqual([]);
  });

  it('is symmetric up to naming', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 's', 't')),
        fc.uniqueArray(fc.constantFrom('p', 'q', 'r', 's', 't')),
        (ha, hb) => {
          const a = ha.map((h) => item(`a/${h}`, h));
          const b = hb.map((h) => item(`b/${h}`, h));
          const ab = findConfounders(a, b).map((c) => c.sha256);
          const ba = findConfounders(b, a).map((c) => c.sha256);
          expect([...ab].sort()).toEqual([...ba].sort());
        },
      ),
    );
  });
});

describe('isSystemPath', () => {
  it.each([
    ['.DS_Store', true],
    ['cxr/.DS_Store', true],
    ['cxr/Thumbs.db', true],
    ['cxr/thumbs.DB', true],
    ['cxr/desktop.ini', true],
    ['cxr/._001.png', true],
    ['__MACOSX/cxr/001.png', true],
    ['.git/objects/ab', true],
    ['cxr/001.png', false],
    ['my.scans/001.png', false],
  ])('%s → %s', (path, expected) => {
    expect(isSystemPath(path)).toBe(expected);
  });
});

describe('comparePaths', () => {
  it('orders digits numerically and is deterministic', () => {
    const paths = ['img10.png', 'img2.png', 'b/img1.png', 'a/img1.png', 'img1.png'];
    expect([...paths].sort(comparePaths)).toEqual([
      'a/img1.png',
      'b/img1.png',
      'img1.png',
      'img2.png',
      'img10.png',
    ]);
  });
});

describe('throttleProgress', () => {
  it('passes the first and last events and at most one per interval in between', () => {
    let t = 0;
    const seen: IntakeProgress[] = [];
    const report = throttleProgress<IntakeProgress>(
      (p) => seen.push(p),
      100,
      () => t,
    );
    for (let done = 0; done <= 50; done++) {
      report({ phase: 'hash', done, total: 50 });
      t += 7; // 51 events over 357 ms.
    }
    expect(seen[0]!.done).toBe(0);
    expect(seen.at(-1)!.done).toBe(50);
    expect(seen.length).toBeLessThanOrEqual(6);
  });
});
