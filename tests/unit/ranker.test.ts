// Checks src/lib/core/ranker.ts: separating directions rank first, the score matrix equals naive dot products
// (and the WebAssembly and JS kernels agree bit for bit), per-finding statistics equal stats.ts on the score rows,
// deterministic tie-breaking and subsampling, BH across findings, degenerate sets and input validation.
import { describe, it, expect } from 'vitest';
import { createRng } from '../../src/lib/core/random.ts';
import {
  rankFindings,
  rankFromScores,
  scoreMatrix,
  selectImages,
  wasmSimdAvailable,
  type RankInput,
} from '../../src/lib/core/ranker.ts';
import {
  auroc,
  aurocCI,
  benjaminiHochberg,
  cliffsDelta,
  mannWhitneyP,
  welchTTest,
} from '../../src/lib/core/stats.ts';

function gaussian(rng: ReturnType<typeof createRng>): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** `rows` unit vectors of dimension `dim`: N(0, I) + shift(row)·direction, normalized. */
function unitRows(
  rows: number,
  dim: number,
  stream: string,
  direction?: Float64Array,
  shift: (row: number) => number = () => 0,
): Float32Array {
  const rng = createRng(7, stream);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const v = Array.from(
      { length: dim },
      (_, k) => gaussian(rng) + (direction ? shift(r) * direction[k]! : 0),
    );
    const norm = Math.hypot(...v);
    v.forEach((x, k) => (out[r * dim + k] = x / norm));
  }
  return out;
}

function unitVector(dim: number, stream: string): Float64Array {
  return Float64Array.from(unitRows(1, dim, stream));
}

function labelsOf(nA: number, nB: number): Uint8Array {
  const labels = new Uint8Array(nA + nB);
  labels.fill(1, 0, nA);
  return labels;
}

/** Random unit vector orthogonal to the unit vector u (so it carries none of the A/B shift). */
function orthogonalTo(u: Float64Array, stream: string): Float32Array {
  const v = unitVector(u.length, stream);
  const dot = v.reduce((s, x, k) => s + x * u[k]!, 0);
  const w = v.map((x, k) => x - dot * u[k]!);
  const norm = Math.hypot(...w);
  return Float32Array.from(w, (x) => x / norm);
}

/**
 * A 4-finding problem: A images are shifted along a direction u; finding 1 points along u, finding 2 against
 * it, findings 0 and 3 are random directions orthogonal to u.
 */
function separableProblem(nA = 200, nB = 200, dim = 64): RankInput {
  const u = unitVector(dim, 'direction');
  const imageEmbeddings = unitRows(nA + nB, dim, 'images', u, (r) => (r < nA ? 3 : 0));
  const texts = new Float32Array(4 * dim);
  texts.set(orthogonalTo(u, 'random-text-0'), 0);
  texts.set(Float32Array.from(u), dim);
  texts.set(
    Float32Array.from(u, (x) => -x),
    2 * dim,
  );
  texts.set(orthogonalTo(u, 'random-text-3'), 3 * dim);
  return {
    imageEmbeddings,
    dim,
    labels: labelsOf(nA, nB),
    textEmbeddings: texts,
    findings: ['random a', 'separating', 'anti-separating', 'random b'],
  };
}

describe('rankFindings', () => {
  it('ranks the separating direction first and random directions near 0.5', () => {
    const ranked = rankFindings(separableProblem());
    expect(ranked.map((f) => f.index)[0]).toBe(1);
    const top = ranked[0]!;
    expect(top.finding).toBe('separating');
    expect(top.auroc).toBeGreaterThan(0.9);
    expect(top.ciContainsHalf).toBe(false);
    expect(top.aurocCI.lo).toBeGreaterThan(0.5);
    expect(top.q).toBeLessThan(1e-10);
    expect(top.meanA).toBeGreaterThan(top.meanB);
    expect(ranked.at(-1)!.finding).toBe('anti-separating');
    expect(ranked.at(-1)!.auroc).toBeLessThan(0.1);
    for (const f of ranked.filter((x) => x.finding.startsWith('random'))) {
      expect(Math.abs(f.auroc - 0.5)).toBeLessThan(0.1);
    }
    // Sorted by AUROC descending.
    for (let i = 1; i < ranked.length; i++)
      expect(ranked[i - 1]!.auroc).toBeGreaterThanOrEqual(ranked[i]!.auroc);
  });

  it('reports every statistic exactly as stats.ts computes it on the score rows', () => {
    // Small integer embeddings (not normalized) give exact integer scores with many ties, zeros and negatives.
    const dim = 5;
    const nA = 40;
    const nB = 33;
    const rng = createRng(3, 'integer-embeddings');
    const images = Float32Array.from({ length: (nA + nB) * dim }, () => rng.int(5) - 2);
    const texts = Float32Array.from({ length: 6 * dim }, () => rng.int(3) - 1);
    const labels = new Uint8Array(nA + nB);
    createRng(3, 'labels').shuffle(labels.fill(1, 0, nA));
    const findings = ['f0', 'f1', 'f2', 'f3', 'f4', 'f5'];
    const threshold = 0.5;
    const ranked = rankFindings({
      imageEmbeddings: images,
      dim,
      labels,
      textEmbeddings: texts,
      findings,
      threshold,
    });
    const selection = selectImages(labels, 5000, 0);
    const scores = scoreMatrix(images, texts, dim, { rows: [...selection.a, ...selection.b] });
    const m = nA + nB;
    const pValues: number[] = [];
    for (let h = 0; h < findings.length; h++) {
      const rowA = Array.from(scores.subarray(h * m, h * m + nA));
      const rowB = Array.from(scores.subarray(h * m + nA, (h + 1) * m));
      const f = ranked.find((x) => x.index === h)!;
      expect(f.auroc).toBe(auroc(rowA, rowB));
      expect(f.aurocCI).toEqual(aurocCI(rowA, rowB));
      expect(f.pMannWhitney).toBe(mannWhitneyP(rowA, rowB));
      expect(f.pWelch).toBe(welchTTest(rowA, rowB).p);
      expect(f.cliffsDelta).toBe(cliffsDelta(rowA, rowB));
      expect(f.meanA).toBeCloseTo(rowA.reduce((s, v) => s + v, 0) / nA, 12);
      expect(f.meanB).toBeCloseTo(rowB.reduce((s, v) => s + v, 0) / nB, 12);
      const above = (row: number[]) => row.filter((v) => v > threshold).length / row.length;
      expect(f.classificationDelta).toBeCloseTo(above(rowA) - above(rowB), 15);
      expect([f.nA, f.nB, f.threshold]).toEqual([nA, nB, threshold]);
      pValues.push(f.pMannWhitney);
    }
    // q: Benjamini–Hochberg of the Mann–Whitney p-values across the findings of this call.
    const q = benjaminiHochberg(pValues);
    for (const f of ranked) expect(f.q).toBe(q[f.index]);
  });

  it('is identical with the WebAssembly and the JS kernel', () => {
    const input = separableProblem(120, 90, 30);
    expect(rankFindings({ ...input, kernel: 'js' })).toEqual(rankFindings({ ...input, kernel: 'wasm' }));
  });

  it('breaks AUROC ties by meanA − meanB, then by input index', () => {
    // Rows 0 and 1 separate perfectly (AUROC 1); row 1 by a wider margin. Rows 2 and 3 are identical.
    const scores = Float32Array.from(
      [
        [0.3, 0.4, 0.1, 0.2],
        [0.5, 0.6, 0.1, 0.2],
        [0.2, 0.1, 0.3, 0.1],
        [0.2, 0.1, 0.3, 0.1],
      ].flat(),
    );
    const ranked = rankFromScores({ scores, nA: 2, nB: 2, findings: ['a', 'b', 'c', 'd'] });
    expect(ranked.map((f) => f.finding)).toEqual(['b', 'a', 'c', 'd']);
    // Duplicate text rows: same statistics, order by index, stable over repeated calls.
    const input = separableProblem(50, 50, 16);
    const texts = new Float32Array(3 * 16);
    texts.set(input.textEmbeddings.subarray(0, 16), 0);
    texts.set(input.textEmbeddings.subarray(0, 16), 16);
    texts.set(input.textEmbeddings.subarray(0, 16), 32);
    const dup = { ...input, textEmbeddings: texts, findings: ['x', 'y', 'z'] };
    const first = rankFindings(dup);
    expect(first.map((f) => f.index)).toEqual([0, 1, 2]);
    expect(rankFindings(dup)).toEqual(first);
  });

  it('treats −0 and +0 scores as a tie', () => {
    const scores = Float32Array.from([-0, 1, 0, 0.5]);
    const [f] = rankFromScores({ scores, nA: 2, nB: 2, findings: ['z'] });
    // (−0 vs 0) = ½, (−0 vs 0.5) = 0, (1 vs both) = 2 → 2.5 / 4
    expect(f!.auroc).toBe(0.625);
  });

  it('computes the classification delta at the threshold (strictly above)', () => {
    const scores = Float32Array.from([0.2, 0.35, 0.5, 0.31, 0.1]);
    const [f] = rankFromScores({ scores, nA: 3, nB: 2, findings: ['t'], threshold: 0.3 });
    expect(f!.classificationDelta).toBeCloseTo(2 / 3 - 1 / 2, 15);
    const [g] = rankFromScores({ scores, nA: 3, nB: 2, findings: ['t'], threshold: 0.5 });
    expect(g!.classificationDelta).toBe(0); // 0.5 is not above 0.5
  });

  it('subsamples each set deterministically to the cap and reports the sizes used', () => {
    const input = { ...separableProblem(30, 12, 8), cap: 10 };
    const ranked = rankFindings(input);
    for (const f of ranked) expect([f.nA, f.nB]).toEqual([10, 10]);
    expect(rankFindings(input)).toEqual(ranked);

    const selection = selectImages(input.labels, 10, 0);
    expect(selection.a).toHaveLength(10);
    expect(selection.b).toHaveLength(10);
    for (const i of selection.a) expect(input.labels[i]).toBe(1);
    for (const i of selection.b) expect(input.labels[i]).toBe(0);
    for (let k = 1; k < 10; k++) expect(selection.a[k]!).toBeGreaterThan(selection.a[k - 1]!);
    expect(selectImages(input.labels, 10, 0)).toEqual(selection);
    expect(selectImages(input.labels, 10, 1).a).not.toEqual(selection.a);
    // Under the cap nothing is dropped.
    expect(selectImages(input.labels, 12, 0).b).toEqual(Uint32Array.from({ length: 12 }, (_, k) => 30 + k));

    // The ranking is the ranking of exactly the selected images.
    const rows = [...selection.a, ...selection.b];
    const sub = {
      ...input,
      cap: 5000,
      imageEmbeddings: Float32Array.from(
        rows.flatMap((r) => Array.from(input.imageEmbeddings.subarray(r * 8, r * 8 + 8))),
      ),
      labels: labelsOf(10, 10),
    };
    expect(rankFindings(sub)).toEqual(ranked);
  });

  it('reports AUROC but NaN p, q and CI when a set has one image', () => {
    const input = separableProblem(1, 20, 16);
    const ranked = rankFindings(input);
    for (const f of ranked) {
      expect(f.auroc).toBeGreaterThanOrEqual(0);
      expect(f.auroc).toBeLessThanOrEqual(1);
      expect(f.pMannWhitney).toBeNaN();
      expect(f.pWelch).toBeNaN();
      expect(f.q).toBeNaN();
      expect(f.aurocCI.lo).toBeNaN();
      expect(f.aurocCI.hi).toBeNaN();
      expect(f.ciContainsHalf).toBe(true);
      expect(f.nA).toBe(1);
    }
  });

  it('validates its input with readable errors', () => {
    const ok = separableProblem(6, 5, 8);
    expect(() => rankFindings({ ...ok, dim: 7 })).toThrow(
      /imageEmbeddings has 88 values, expected labels.length × dim/,
    );
    expect(() => rankFindings({ ...ok, dim: 0 })).toThrow(/dim must be a positive integer/);
    expect(() => rankFindings({ ...ok, labels: new Uint8Array(10) })).toThrow(/expected labels.length × dim/);
    expect(() => rankFindings({ ...ok, findings: ['only one'] })).toThrow(
      /textEmbeddings has 32 values, expected findings.length/,
    );
    expect(() => rankFindings({ ...ok, labels: new Uint8Array(11) })).toThrow(/set A is empty/);
    expect(() => rankFindings({ ...ok, labels: new Uint8Array(11).fill(1) })).toThrow(/set B is empty/);
    const bad = Uint8Array.from(ok.labels);
    bad[3] = 2;
    expect(() => rankFindings({ ...ok, labels: bad })).toThrow(/labels\[3\] is 2/);
    expect(() => rankFindings({ ...ok, cap: 0 })).toThrow(/cap must be a positive integer/);
    expect(() => rankFindings({ ...ok, level: 1 })).toThrow(/level must be in/);
    expect(() => rankFindings({ ...ok, threshold: NaN })).toThrow(/threshold/);
    expect(() => rankFindings({ ...ok, seed: 0.5 })).toThrow(/seed/);
    const nan = Float32Array.from(ok.imageEmbeddings);
    nan[5] = NaN;
    expect(() => rankFindings({ ...ok, imageEmbeddings: nan })).toThrow(/non-finite scores/);
    expect(rankFindings({ ...ok, textEmbeddings: new Float32Array(0), findings: [] })).toEqual([]);
  });
});

describe('scoreMatrix', () => {
  /** Double-precision reference: out[h][j] = Σ text[h][k]·image[rows[j]][k]. */
  function naive(images: Float32Array, texts: Float32Array, dim: number, rows: number[]): number[] {
    const h = texts.length / dim;
    const out: number[] = [];
    for (let r = 0; r < h; r++) {
      for (const row of rows) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += texts[r * dim + k]! * images[row * dim + k]!;
        out.push(s);
      }
    }
    return out;
  }

  it('runs the WebAssembly SIMD kernel in Node', () => {
    expect(wasmSimdAvailable()).toBe(true);
  });

  // Dimensions and counts that are not multiples of the 4-wide lanes / 2×4 tiles exercise the padding.
  for (const [dim, h, n] of [
    [512, 50, 131],
    [7, 3, 9],
    [13, 5, 1],
    [4, 4, 2],
    [1, 1, 3],
    [66, 9, 200],
  ] as const) {
    it(`equals naive dot products (d=${dim}, H=${h}, N=${n}) and both kernels agree bit for bit`, () => {
      const images = unitRows(n, dim, `img-${dim}`);
      const texts = unitRows(h, dim, `txt-${dim}`);
      const rng = createRng(dim, 'rows');
      const rows = Array.from({ length: n + 3 }, (_, j) => (j < n ? (j * 7) % n : rng.int(n))); // permuted + repeats
      const expected = naive(images, texts, dim, rows);
      const wasm = scoreMatrix(images, texts, dim, { rows, kernel: 'wasm' });
      const js = scoreMatrix(images, texts, dim, { rows, kernel: 'js' });
      expect(wasm).toHaveLength(h * rows.length);
      expect(Array.from(js)).toEqual(Array.from(wasm));
      let worst = 0;
      wasm.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected[i]!))));
      expect(worst).toBeLessThan(1e-6);
      // Default rows: every image in order.
      expect(scoreMatrix(images, texts, dim)).toEqual(
        scoreMatrix(images, texts, dim, { rows: [...Array(n).keys()] }),
      );
    });
  }

  it('rejects inconsistent shapes and bad rows', () => {
    const images = new Float32Array(12);
    const texts = new Float32Array(8);
    expect(() => scoreMatrix(images, texts, 5)).toThrow(/not a multiple of dim/);
    expect(() => scoreMatrix(images, new Float32Array(6), 4)).toThrow(/textEmbeddings has 6 values/);
    expect(() => scoreMatrix(images, texts, 4, { rows: [0, 3] })).toThrow(/rows\[1\] = 3/);
    expect(scoreMatrix(images, texts, 4, { rows: [] })).toHaveLength(0);
  });
});
