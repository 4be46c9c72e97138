// Checks src/lib/core/evidence.ts: finding scores equal the ranker's kernel, the ROC area equals the ranker's
// AUROC bit for bit (ties included, property-tested), the curve and histogram are well formed, the extreme
// images are the right ones in a deterministic order, and caption/report mentions respect negation and plurals.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  buildEvidence,
  findingMentions,
  indexMentions,
  findingScores,
  type EmbeddedImages,
} from '../../src/lib/core/evidence.ts';
import { createRng } from '../../src/lib/core/random.ts';
import { rankFromScores, scoreMatrix } from '../../src/lib/core/ranker.ts';

function unitRows(rows: number, dim: number, stream: string): Float32Array {
  const rng = createRng(3, stream);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let k = 0; k < dim; k++) {
      const v = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      out[r * dim + k] = v;
      norm += v * v;
    }
    for (let k = 0; k < dim; k++) out[r * dim + k]! /= Math.sqrt(norm);
  }
  return out;
}

/** Images with the given labels and no meaningful embedding (for tests that pass scores directly). */
function imagesOf(labels: number[], dim = 1): EmbeddedImages {
  return {
    ids: labels.map((_, i) => `img${i}`),
    labels: Uint8Array.from(labels),
    matrix: new Float32Array(labels.length * dim),
    dim,
  };
}

/** The ranker's AUROC for the same scores and labels (A columns first, as rankFromScores wants them). */
function rankerAuroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] === 1 ? a : b).push(scores[i] as number);
  const row = Float32Array.from([...a, ...b]);
  return rankFromScores({ scores: row, nA: a.length, nB: b.length, findings: ['f'] })[0]!.auroc;
}

describe('findingScores', () => {
  it('equals the ranker kernel and naive dot products', () => {
    const dim = 37;
    const n = 50;
    const images: EmbeddedImages = {
      ids: Array.from({ length: n }, (_, i) => `i${i}`),
      labels: Uint8Array.from({ length: n }, (_, i) => i % 2),
      matrix: unitRows(n, dim, 'images'),
      dim,
    };
    const text = unitRows(1, dim, 'text');
    const scores = findingScores(images, text);
    expect(scores).toEqual(scoreMatrix(images.matrix, text, dim));
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += images.matrix[i * dim + k]! * text[k]!;
      expect(scores[i]).toBeCloseTo(dot, 5);
    }
  });

  it('rejects a text vector of the wrong length and inconsistent images', () => {
    const images = imagesOf([1, 0], 4);
    expect(() => findingScores(images, new Float32Array(3))).toThrow(/dim = 4/);
    expect(() => findingScores({ ...images, labels: new Uint8Array(3) }, new Float32Array(4))).toThrow(
      /labels/,
    );
    expect(() => findingScores({ ...images, matrix: new Float32Array(7) }, new Float32Array(4))).toThrow(
      /matrix/,
    );
  });
});

describe('buildEvidence', () => {
  it('has the ranker AUROC on real scores', () => {
    const dim = 16;
    const n = 400;
    const labels = Uint8Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const images: EmbeddedImages = {
      ids: Array.from({ length: n }, (_, i) => `i${i}`),
      labels,
      matrix: unitRows(n, dim, 'real'),
      dim,
    };
    const scores = findingScores(images, unitRows(1, dim, 'real-text'));
    const evidence = buildEvidence(images, scores);
    expect(evidence.roc.auroc).toBe(rankerAuroc(scores, labels));
    expect(evidence.scores).toBe(scores);
  });

  it('has the ranker AUROC, and a well-formed curve, for any scores with ties (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -4, max: 4 }), fc.boolean()), { minLength: 2, maxLength: 40 }),
        (pairs) => {
          const labels = pairs.map(([, a]) => (a ? 1 : 0));
          fc.pre(labels.includes(1) && labels.includes(0));
          const scores = Float32Array.from(pairs.map(([v]) => v / 8));
          const { roc } = buildEvidence(imagesOf(labels), scores);
          expect(roc.auroc).toBe(rankerAuroc(scores, labels));
          expect(roc.fpr[0]).toBe(0);
          expect(roc.tpr[0]).toBe(0);
          expect(roc.fpr.at(-1)).toBe(1);
          expect(roc.tpr.at(-1)).toBe(1);
          // One point per distinct score after the origin.
          expect(roc.fpr.length).toBe(new Set(scores).size + 1);
          let area = 0;
          for (let i = 1; i < roc.fpr.length; i++) {
            expect(roc.fpr[i]!).toBeGreaterThanOrEqual(roc.fpr[i - 1]!);
            expect(roc.tpr[i]!).toBeGreaterThanOrEqual(roc.tpr[i - 1]!);
            area += ((roc.fpr[i]! - roc.fpr[i - 1]!) * (roc.tpr[i]! + roc.tpr[i - 1]!)) / 2;
          }
          expect(area).toBeCloseTo(roc.auroc, 12);
        },
      ),
    );
  });

  it('treats tied scores as one diagonal step', () => {
    const { roc } = buildEvidence(imagesOf([1, 0, 1, 0]), Float32Array.from([0.2, 0.2, 0.2, 0.2]));
    expect(roc).toEqual({ fpr: [0, 1], tpr: [0, 1], auroc: 0.5 });
    const perfect = buildEvidence(imagesOf([1, 1, 0, 0]), Float32Array.from([0.9, 0.8, 0.1, 0.2]));
    expect(perfect.roc).toEqual({ fpr: [0, 0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1, 1], auroc: 1 });
  });

  it('builds densities on shared edges', () => {
    const labels = [1, 1, 1, 1, 0, 0];
    const scores = Float32Array.from([0, 0.25, 0.5, 1, 0, 1]);
    const { histogram, meanA, meanB } = buildEvidence(imagesOf(labels), scores, { bins: 4 });
    expect(histogram.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(histogram.a).toEqual([0.25, 0.25, 0.25, 0.25]); // the maximum falls in the last bin
    expect(histogram.b).toEqual([0.5, 0, 0, 0.5]);
    expect(meanA).toBeCloseTo(0.4375, 12);
    expect(meanB).toBeCloseTo(0.5, 12);
  });

  it('sums each histogram side to 1 on random scores', () => {
    const n = 1000;
    const rng = createRng(1, 'hist');
    const labels = Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
    const scores = Float32Array.from({ length: n }, () => rng.next() * 0.4 - 0.1);
    const { histogram } = buildEvidence(imagesOf(labels), scores);
    expect(histogram.edges).toHaveLength(31);
    expect(histogram.a.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(histogram.b.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    expect(histogram.edges[0]).toBe(Math.min(...scores));
    expect(histogram.edges[30]).toBe(Math.max(...scores));
  });

  it('widens a zero-width axis', () => {
    const { histogram } = buildEvidence(imagesOf([1, 0]), Float32Array.from([0.3, 0.3]), { bins: 2 });
    expect(histogram.edges[0]).toBeLessThan(0.3);
    expect(histogram.edges[2]).toBeGreaterThan(0.3);
    expect(histogram.a.reduce((s, v) => s + v, 0)).toBe(1);
  });

  it('lists the top and bottom k of each set, ties in input order', () => {
    const labels = [1, 0, 1, 0, 1, 0, 1];
    const scores = Float32Array.from([0.5, 0.9, 0.7, 0.1, 0.5, 0.3, 0.2]);
    const e = buildEvidence(imagesOf(labels), scores, { k: 2 });
    expect(e.topA.map((x) => x.id)).toEqual(['img2', 'img0']); // img0 and img4 tie at 0.5: input order
    expect(e.topB).toEqual([
      { id: 'img1', score: scores[1], set: 'B' },
      { id: 'img5', score: scores[5], set: 'B' },
    ]);
    expect(e.bottomA.map((x) => x.id)).toEqual(['img6', 'img4']); // lowest first
    expect(e.bottomB.map((x) => x.id)).toEqual(['img3', 'img5']);
    const all = buildEvidence(imagesOf(labels), scores, { k: 10 });
    expect(all.topA).toHaveLength(4);
    expect(buildEvidence(imagesOf(labels), scores, { k: 0 }).topA).toEqual([]);
  });

  it('reports NaN for an empty set instead of throwing', () => {
    const e = buildEvidence(imagesOf([1, 1]), Float32Array.from([0.1, 0.2]));
    expect(e.meanB).toBeNaN();
    expect(e.roc.auroc).toBeNaN();
    expect(e.histogram.b.every((v) => v === 0)).toBe(true);
    expect(e.bottomB).toEqual([]);
  });

  it('rejects mismatched lengths, non-finite scores and bad options', () => {
    const images = imagesOf([1, 0]);
    expect(() => buildEvidence(images, new Float32Array(3))).toThrow(/one per image/);
    expect(() => buildEvidence(images, Float32Array.from([NaN, 0]))).toThrow(/NaN/);
    expect(() => buildEvidence(images, new Float32Array(2), { bins: 0 })).toThrow(/bins/);
    expect(() => buildEvidence(images, new Float32Array(2), { k: -1 })).toThrow(/k must/);
    expect(() => buildEvidence({ ...images, labels: Uint8Array.from([1, 2]) }, new Float32Array(2))).toThrow(
      /labels\[1\]/,
    );
  });
});

describe('findingMentions', () => {
  const texts = [
    { imageId: 'a', kind: 'report' as const, text: 'Small left pleural effusions. No pneumothorax.' },
    {
      imageId: 'b',
      kind: 'report' as const,
      text: 'No pleural effusion or pneumothorax. Heart size normal.',
    },
    {
      imageId: 'c',
      kind: 'caption' as const,
      text: 'There is a LEFT PLEURAL EFFUSION with basal atelectasis.',
    },
    { imageId: 'd', kind: 'report' as const, text: 'No pneumothorax, but a small left pleural effusion.' },
    { imageId: 'e', kind: 'report' as const, text: 'The left pleural effusion has resolved.' },
    { imageId: 'f', kind: 'report' as const, text: 'No change in the left pleural effusion.' },
    { imageId: 'g', kind: 'report' as const, text: 'Lungs are negative for effusion. Left lung clear.' },
    { imageId: 'h', kind: 'report' as const, text: 'Without pleural effusion.\nLeft basal effusion noted' },
  ];

  it('a prebuilt index gives exactly the answers of the raw texts, for any finding', () => {
    const index = indexMentions(texts);
    for (const finding of [
      'left pleural effusion',
      'pneumothorax',
      'heart size',
      'basal atelectasis',
      'lung',
    ]) {
      expect(findingMentions(finding, index, 20)).toEqual(findingMentions(finding, texts, 20));
    }
    fc.assert(
      fc.property(fc.string(), (finding) => {
        expect(findingMentions(finding, index, 5)).toEqual(findingMentions(finding, texts, 5));
      }),
      { numRuns: 200 },
    );
  });

  it('finds sentences by content words, plurals and case, and skips negated ones', () => {
    const found = findingMentions('Left pleural effusion', texts, 20);
    const byImage = new Map(found.map((m) => [m.imageId, m]));
    expect(byImage.get('a')?.sentence).toBe('Small left pleural effusions.');
    expect(byImage.get('c')?.score).toBe(1);
    expect(byImage.get('d')?.sentence).toBe('No pneumothorax, but a small left pleural effusion.');
    expect(byImage.get('f')?.sentence).toBe('No change in the left pleural effusion.');
    expect(byImage.get('h')?.sentence).toBe('Left basal effusion noted');
    expect(byImage.get('h')?.score).toBeCloseTo(2 / 3, 12);
    for (const negated of ['b', 'e', 'g']) expect(byImage.has(negated)).toBe(false);
  });

  it('needs half of the content words', () => {
    expect(
      findingMentions('left pleural effusion', [{ imageId: 'x', kind: 'caption', text: 'Left lung.' }]),
    ).toEqual([]);
    expect(
      findingMentions('cardiomegaly', [{ imageId: 'x', kind: 'caption', text: 'Mild cardiomegaly.' }]),
    ).toEqual([{ imageId: 'x', kind: 'caption', sentence: 'Mild cardiomegaly.', score: 1 }]);
    expect(findingMentions('there is the', texts)).toEqual([]);
  });

  it('orders by score, then shorter sentence, then image id; respects the limit; lists a sentence once', () => {
    const found = findingMentions('left pleural effusion', texts, 20);
    const scores = found.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
    expect(found[0]!.sentence).toBe('Small left pleural effusions.');
    expect(findingMentions('left pleural effusion', texts, 2)).toEqual(found.slice(0, 2));
    expect(findingMentions('left pleural effusion', [...texts].reverse(), 20)).toEqual(found);
    const twice = [
      { imageId: 'x', kind: 'caption' as const, text: 'Left effusion. Left effusion.' },
      { imageId: 'x', kind: 'caption' as const, text: 'Left effusion.' },
    ];
    expect(findingMentions('left effusion', twice)).toHaveLength(1);
    expect(findingMentions('left effusion', twice, 0)).toEqual([]);
  });

  it('keeps decimals inside a sentence and handles pseudo-negation and "free air"', () => {
    const found = findingMentions('pulmonary nodule', [
      {
        imageId: 'n',
        kind: 'report',
        text: 'A 2.5 cm pulmonary nodule in the right upper lobe. Otherwise normal.',
      },
    ]);
    expect(found.map((m) => m.sentence)).toEqual(['A 2.5 cm pulmonary nodule in the right upper lobe.']);
    const air = [
      { imageId: 'p', kind: 'report' as const, text: 'Free air under the right hemidiaphragm.' },
      { imageId: 'q', kind: 'report' as const, text: 'Abdomen free of air.' },
    ];
    expect(findingMentions('free air', air).map((m) => m.imageId)).toEqual(['p']);
    expect(
      findingMentions('consolidation', [
        { imageId: 'r', kind: 'report', text: "There isn't any consolidation." },
        { imageId: 's', kind: 'report', text: 'No significant change of the consolidation.' },
      ]).map((m) => m.imageId),
    ).toEqual(['s']);
  });
});
