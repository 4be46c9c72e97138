// Checks src/lib/core/projection.ts: two Gaussian blobs separate on the first axis, the randomized fit matches
// ml-pca's exact PCA, results are deterministic and do not flip when rows are reordered, subsampling is seeded,
// degenerate inputs give zeros, and 10,000 × 512 runs in reasonable time (printed, not asserted).
import { describe, it, expect } from 'vitest';
import { PCA } from 'ml-pca';
import type { EmbeddedImages } from '../../src/lib/core/evidence.ts';
import { projectPca } from '../../src/lib/core/projection.ts';
import { createRng } from '../../src/lib/core/random.ts';

/** n rows: blob A (first half) and blob B, `gap` apart along a random direction, plus a weaker second factor. */
function blobs(n: number, dim: number, gap: number, stream = 'blobs'): EmbeddedImages {
  const rng = createRng(11, stream);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const unit = () => {
    const v = Array.from({ length: dim }, gauss);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const direction = unit();
  const second = unit();
  const matrix = new Float32Array(n * dim);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const inA = i < n / 2;
    labels[i] = inA ? 1 : 0;
    const f = gauss() * 0.6;
    const row = Array.from(
      { length: dim },
      (_, k) => gauss() * 0.05 + (inA ? gap / 2 : -gap / 2) * direction[k]! + f * 0.5 * second[k]!,
    );
    const norm = Math.hypot(...row);
    row.forEach((v, k) => (matrix[i * dim + k] = v / norm));
  }
  return { ids: Array.from({ length: n }, (_, i) => `id${i}`), labels, matrix, dim };
}

function xs(points: Float32Array, axis: 0 | 1): number[] {
  return Array.from({ length: points.length / 2 }, (_, i) => points[2 * i + axis]!);
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  return xy / Math.sqrt(xx * yy);
}

describe('projectPca', () => {
  it('separates two blobs on the first axis', () => {
    const images = blobs(400, 64, 2);
    const { points, explained } = projectPca(images);
    expect(points).toHaveLength(800);
    const x = xs(points, 0);
    const a = x.filter((_, i) => images.labels[i] === 1);
    const b = x.filter((_, i) => images.labels[i] === 0);
    const separated = Math.min(...a) > Math.max(...b) || Math.min(...b) > Math.max(...a);
    expect(separated).toBe(true);
    expect(explained[0]).toBeGreaterThan(explained[1]);
    expect(explained[0]).toBeGreaterThan(0.5);
    expect(explained[0] + explained[1]).toBeLessThanOrEqual(1);
  });

  it('matches the exact ml-pca fit (randomized subspace path)', () => {
    const images = blobs(300, 48, 1);
    const { points, explained } = projectPca(images);
    const rows = Array.from({ length: 300 }, (_, i) =>
      Array.from(images.matrix.subarray(i * 48, (i + 1) * 48)),
    );
    const exact = new PCA(rows);
    const projected = exact.predict(rows, { nComponents: 2 });
    const variance = exact.getExplainedVariance();
    for (const axis of [0, 1] as const) {
      const ours = xs(points, axis);
      const theirs = projected.getColumn(axis);
      expect(Math.abs(correlation(ours, theirs))).toBeGreaterThan(1 - 1e-6);
      expect(explained[axis]).toBeCloseTo(variance[axis]!, 6);
    }
  });

  it('matches the exact fit for small dimensions (direct path)', () => {
    const images = blobs(200, 6, 1, 'small');
    const { points, explained } = projectPca(images);
    const rows = Array.from({ length: 200 }, (_, i) =>
      Array.from(images.matrix.subarray(i * 6, (i + 1) * 6)),
    );
    const exact = new PCA(rows);
    const projected = exact.predict(rows, { nComponents: 2 });
    for (const axis of [0, 1] as const) {
      expect(Math.abs(correlation(xs(points, axis), projected.getColumn(axis)))).toBeGreaterThan(1 - 1e-9);
      expect(explained[axis]).toBeCloseTo(exact.getExplainedVariance()[axis]!, 9);
    }
  });

  it('is deterministic and does not flip when the rows are reordered', () => {
    const images = blobs(300, 40, 1.5);
    const first = projectPca(images);
    expect(projectPca(images)).toEqual(first);
    // Reverse the rows: the same data, fitted in full, must draw the same map (no sign flip).
    const n = images.ids.length;
    const reversed: EmbeddedImages = {
      ids: [...images.ids].reverse(),
      labels: images.labels.slice().reverse(),
      matrix: new Float32Array(images.matrix.length),
      dim: images.dim,
    };
    for (let i = 0; i < n; i++) {
      reversed.matrix.set(images.matrix.subarray((n - 1 - i) * 40, (n - i) * 40), i * 40);
    }
    const again = projectPca(reversed);
    for (let i = 0; i < n; i++) {
      expect(again.points[2 * (n - 1 - i)]).toBeCloseTo(first.points[2 * i]!, 4);
      expect(again.points[2 * (n - 1 - i) + 1]).toBeCloseTo(first.points[2 * i + 1]!, 4);
    }
  });

  it('fits a seeded subsample and projects every row', () => {
    const images = blobs(500, 32, 2, 'sub');
    const a = projectPca(images, { maxFit: 100, seed: 1 });
    expect(projectPca(images, { maxFit: 100, seed: 1 })).toEqual(a);
    const b = projectPca(images, { maxFit: 100, seed: 2 });
    expect(b.points).not.toEqual(a.points);
    // A different subsample draws nearly the same map: same sign convention, nearly the same first axis.
    expect(correlation(xs(a.points, 0), xs(b.points, 0))).toBeGreaterThan(0.99);
    const full = projectPca(images);
    expect(correlation(xs(a.points, 0), xs(full.points, 0))).toBeGreaterThan(0.99);
    expect(a.points).toHaveLength(1000);
  });

  it('gives zeros for degenerate inputs', () => {
    const empty = projectPca({ ids: [], labels: new Uint8Array(0), matrix: new Float32Array(0), dim: 4 });
    expect(empty).toEqual({ points: new Float32Array(0), explained: [0, 0] });
    const one = projectPca({
      ids: ['x'],
      labels: new Uint8Array(1),
      matrix: Float32Array.from([1, 0]),
      dim: 2,
    });
    expect(one).toEqual({ points: new Float32Array(2), explained: [0, 0] });
    const same = projectPca({
      ids: ['x', 'y', 'z'],
      labels: new Uint8Array(3),
      matrix: Float32Array.from([0.6, 0.8, 0.6, 0.8, 0.6, 0.8]),
      dim: 2,
    });
    expect(same).toEqual({ points: new Float32Array(6), explained: [0, 0] });
    const line = projectPca({
      ids: ['x', 'y', 'z'],
      labels: new Uint8Array(3),
      matrix: Float32Array.from([1, 2, 3]),
      dim: 1,
    });
    expect(Array.from(line.points)).toEqual([-1, 0, 0, 0, 1, 0]); // one axis; the second has no variance
    expect(line.explained).toEqual([1, 0]);
  });

  it('rejects invalid input', () => {
    const images = blobs(10, 4, 1);
    expect(() => projectPca({ ...images, matrix: new Float32Array(3) })).toThrow(/matrix/);
    expect(() => projectPca(images, { maxFit: 1 })).toThrow(/maxFit/);
    expect(() => projectPca(images, { seed: 0.5 })).toThrow(/seed/);
  });

  it('projects 10,000 × 512 (time printed, not asserted)', () => {
    const n = 10_000;
    const dim = 512;
    const rng = createRng(5, 'big');
    const matrix = new Float32Array(n * dim);
    for (let i = 0; i < matrix.length; i++)
      matrix[i] = rng.next() - 0.5 + (i % dim < 4 && i < (n * dim) / 2 ? 0.3 : 0);
    const images: EmbeddedImages = {
      ids: Array.from({ length: n }, (_, i) => `id${i}`),
      labels: Uint8Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 : 0)),
      matrix,
      dim,
    };
    const start = performance.now();
    const { points, explained } = projectPca(images);
    const ms = performance.now() - start;
    console.info(`projectPca 10,000 × 512 (fit on 2,000): ${ms.toFixed(0)} ms`);
    expect(points).toHaveLength(2 * n);
    expect(points.every(Number.isFinite)).toBe(true);
    expect(explained[0]).toBeGreaterThan(explained[1]);
  });
});
