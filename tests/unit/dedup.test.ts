// Checks src/lib/core/dedup.ts: the normalization key, greedy first-seen deduplication by exact key and embedding
// cosine (with its invariants fuzzed: idempotent, deterministic, kept ⊆ input, every item accounted for once), and
// cleaning of proposer replies on arbitrary JSON (never throws).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cleanFindingList, dedupFindings, normalizeFinding } from '../../src/lib/core/dedup.ts';

/** L2-normalized rows, flattened. */
function rows(vectors: number[][]): Float32Array {
  const dim = vectors[0]?.length ?? 0;
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => {
    const norm = Math.hypot(...v) || 1;
    v.forEach((x, k) => (out[i * dim + k] = x / norm));
  });
  return out;
}

const item = (text: string) => ({ text });

describe('normalizeFinding', () => {
  it.each([
    ['  Right   Pleural Effusion. ', 'right pleural effusion'],
    ['"Cardiomegaly"', 'cardiomegaly'],
    ['“enlarged cardiac silhouette”', 'enlarged cardiac silhouette'],
    ['More prominent interstitial markings', 'prominent interstitial markings'],
    ['Presence of a right pleural effusion', 'right pleural effusion'],
    ['evidence of the pneumothorax', 'pneumothorax'],
    ['Images with pacemaker leads', 'pacemaker leads'],
    ['image with sternotomy wires;', 'sternotomy wires'],
    ['An endotracheal tube', 'endotracheal tube'],
    ['"More evidence of the effusion."', 'effusion'],
    ['- bibasilar atelectasis', 'bibasilar atelectasis'],
    ['effusion (left)', 'effusion (left)'],
    ['the', 'the'], // never stripped down to nothing
    ['more', 'more'],
    ['moreover', 'moreover'],
    ['  ', ''],
  ])('%j → %j', (text, key) => {
    expect(normalizeFinding(text)).toBe(key);
  });

  it('property: idempotent', () => {
    const words = fc.constantFrom(
      'more',
      'the',
      'a',
      'presence',
      'of',
      'images',
      'with',
      'effusion',
      'Big',
      ' ',
      '.',
    );
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc
        .array(fc.oneof(words, fc.constantFrom('"', '“', '”', '-', ':', '\n', '\u00a0', 'İ', 'ß')), {
          maxLength: 12,
        })
        .map((w) => w.join(' ')),
    );
    fc.assert(
      fc.property(text, (t) => {
        const once = normalizeFinding(t);
        expect(normalizeFinding(once)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('dedupFindings', () => {
  it('merges exact duplicates after normalization, keeping the first and first-seen order', () => {
    const items = [
      item('Pleural effusion'),
      item('cardiomegaly'),
      item('pleural effusion.'),
      item('The cardiomegaly'),
    ];
    const r = dedupFindings(items, null, 0, 0.9);
    expect(r.kept.map((i) => i.text)).toEqual(['Pleural effusion', 'cardiomegaly']);
    expect(r.keptIndices).toEqual([0, 1]);
    expect(r.merged).toEqual([
      { from: items[2], into: items[0], fromIndex: 2, intoIndex: 0, cosine: null },
      { from: items[3], into: items[1], fromIndex: 3, intoIndex: 1, cosine: null },
    ]);
    // The very objects are returned, with their extra fields.
    expect(r.kept[0]).toBe(items[0]);
  });

  it('merges by cosine > threshold into the earliest kept item, not the most similar one', () => {
    const items = [item('effusion'), item('cardiomegaly'), item('pleural effusion'), item('heart enlarged')];
    const embeddings = rows([
      [1, 0, 0],
      [0, 1, 0],
      [0.95, 0.05, 0.1],
      [0.6, 0.8, 0], // cosine 0.6 with #0, 0.8 with #1: below 0.9 for both → kept
    ]);
    const r = dedupFindings(items, embeddings, 3, 0.9);
    expect(r.kept.map((i) => i.text)).toEqual(['effusion', 'cardiomegaly', 'heart enlarged']);
    expect(r.merged).toHaveLength(1);
    expect(r.merged[0]).toMatchObject({ fromIndex: 2, intoIndex: 0 });
    expect(r.merged[0]?.cosine).toBeCloseTo(0.95 / Math.hypot(0.95, 0.05, 0.1), 6);
    // Lower the threshold: #3 now merges into the EARLIEST kept item above it (#0, cosine 0.6), not #1 (0.8).
    const loose = dedupFindings(items, embeddings, 3, 0.5);
    expect(loose.merged.find((m) => m.fromIndex === 3)).toMatchObject({ intoIndex: 0 });
    // Strictly greater: a cosine equal to the threshold does not merge.
    const equal = dedupFindings(
      [item('x'), item('y')],
      rows([
        [1, 0],
        [1, 0],
      ]),
      2,
      1,
    );
    expect(equal.kept).toHaveLength(2);
  });

  it('rejects an embedding matrix that does not match the items', () => {
    expect(() => dedupFindings([item('a')], new Float32Array(3), 2, 0.9)).toThrow(RangeError);
    expect(() => dedupFindings([item('a')], new Float32Array(2), 0, 0.9)).toThrow(RangeError);
    expect(() => dedupFindings([item('a')], null, 0, Number.NaN)).toThrow(RangeError);
    expect(dedupFindings([], new Float32Array(0), 4, 0.9)).toEqual({ kept: [], keptIndices: [], merged: [] });
  });

  const corpus = fc
    .record({
      dim: fc.integer({ min: 1, max: 4 }),
      texts: fc.array(
        fc.constantFrom('effusion', 'Effusion.', 'the effusion', 'nodule', 'mass', 'edema', 'x', ''),
        {
          maxLength: 25,
        },
      ),
      threshold: fc.double({ min: -1, max: 1, noNaN: true }),
    })
    .chain(({ dim, texts, threshold }) =>
      fc
        .array(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: dim, maxLength: dim }), {
          minLength: texts.length,
          maxLength: texts.length,
        })
        .map((vectors) => ({ dim, texts, threshold, embeddings: rows(vectors) })),
    );

  it('property: kept ⊆ input in order, every item kept or merged once into an earlier kept item', () => {
    fc.assert(
      fc.property(corpus, ({ dim, texts, threshold, embeddings }) => {
        const items = texts.map((text, id) => ({ text, id }));
        const r = dedupFindings(items, embeddings, dim, threshold);
        expect(r.kept.length + r.merged.length).toBe(items.length);
        expect(r.keptIndices).toEqual([...r.keptIndices].sort((a, b) => a - b));
        expect(r.kept).toEqual(r.keptIndices.map((i) => items[i]));
        const seen = new Set([...r.keptIndices, ...r.merged.map((m) => m.fromIndex)]);
        expect(seen.size).toBe(items.length);
        for (const m of r.merged) {
          expect(m.intoIndex).toBeLessThan(m.fromIndex);
          expect(r.keptIndices).toContain(m.intoIndex);
          if (m.cosine === null) expect(normalizeFinding(m.from.text)).toBe(normalizeFinding(m.into.text));
          else expect(m.cosine).toBeGreaterThan(threshold);
        }
        // Kept items have distinct keys.
        expect(new Set(r.kept.map((i) => normalizeFinding(i.text))).size).toBe(r.kept.length);
      }),
      { numRuns: 500 },
    );
  });

  it('property: deterministic and idempotent', () => {
    fc.assert(
      fc.property(corpus, ({ dim, texts, threshold, embeddings }) => {
        const items = texts.map((text) => ({ text }));
        const first = dedupFindings(items, embeddings, dim, threshold);
        expect(dedupFindings(items, embeddings.slice(), dim, threshold)).toEqual(first);
        const keptRows = new Float32Array(first.kept.length * dim);
        first.keptIndices.forEach((i, j) =>
          keptRows.set(embeddings.subarray(i * dim, (i + 1) * dim), j * dim),
        );
        const again = dedupFindings(first.kept, keptRows, dim, threshold);
        expect(again.kept).toEqual(first.kept);
        expect(again.merged).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('cleanFindingList', () => {
  it('cleans list markers, quotes, whitespace and trailing periods, keeping order', () => {
    const r = cleanFindingList([
      '1. Right pleural effusion.',
      '2) Cardiomegaly',
      '- bibasilar   atelectasis',
      '* "endotracheal tube"',
      '• Sternotomy wires...',
      '1.5 cm nodule in the right upper lobe',
    ]);
    expect(r.findings).toEqual([
      'Right pleural effusion',
      'Cardiomegaly',
      'bibasilar atelectasis',
      'endotracheal tube',
      'Sternotomy wires',
      '1.5 cm nodule in the right upper lobe',
    ]);
    expect(r.dropped).toEqual([]);
  });

  it('drops non-strings, empty, overlong, duplicate and surplus items with reasons', () => {
    const long = 'a'.repeat(161);
    const r = cleanFindingList(
      [
        'pleural effusion',
        42,
        null,
        { finding: 'x' },
        '  ',
        '- ',
        long,
        'Pleural effusion.',
        'edema',
        'nodule',
      ],
      { maxItems: 2 },
    );
    expect(r.findings).toEqual(['pleural effusion', 'edema']);
    expect(r.dropped).toEqual([
      { text: '42', reason: 'not a string' },
      { text: 'null', reason: 'not a string' },
      { text: '{"finding":"x"}', reason: 'not a string' },
      { text: '  ', reason: 'empty' },
      { text: '- ', reason: 'empty' },
      { text: long, reason: 'too long: 161 characters (at most 160)' },
      { text: 'Pleural effusion', reason: 'duplicate of "pleural effusion"' },
      { text: 'nodule', reason: 'beyond the first 2 findings' },
    ]);
    expect(cleanFindingList(['a'.repeat(160)]).findings).toHaveLength(1);
    expect(cleanFindingList(['abc'], { maxChars: 2 }).dropped[0]?.reason).toBe(
      'too long: 3 characters (at most 2)',
    );
  });

  it('turns a value that is not a list into one dropped entry', () => {
    expect(cleanFindingList('pleural effusion')).toEqual({
      findings: [],
      dropped: [{ text: 'pleural effusion', reason: 'not a list' }],
    });
    expect(cleanFindingList(undefined).dropped).toEqual([{ text: 'undefined', reason: 'not a list' }]);
  });

  it('property: never throws on any value; findings are clean, unique and within limits', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.array(fc.oneof(fc.string(), fc.jsonValue(), fc.constantFrom('1. a.', '- b', '"c"', '')), {
        maxLength: 20,
      }),
      fc.anything(),
      fc.constant([1n, Object.create(null), Symbol('s'), () => 1]),
    );
    fc.assert(
      fc.property(
        value,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 10 }),
        (raw, maxChars, maxItems) => {
          const r = cleanFindingList(raw, { maxChars, maxItems });
          expect(r.findings.length).toBeLessThanOrEqual(maxItems);
          const keys = r.findings.map(normalizeFinding);
          expect(new Set(keys).size).toBe(keys.length);
          for (const f of r.findings) {
            expect(f.length).toBeGreaterThan(0);
            expect([...f].length).toBeLessThanOrEqual(maxChars);
            expect(f).toBe(f.trim());
            expect(f.endsWith('.')).toBe(false);
          }
          for (const d of r.dropped) expect(typeof d.text === 'string' && d.reason.length > 0).toBe(true);
          if (Array.isArray(raw)) expect(r.findings.length + r.dropped.length).toBe(raw.length);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
