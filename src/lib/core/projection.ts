// The 2-D embedding map of A ∪ B: a principal-component projection fitted on a seeded subsample and applied to
// every image, deterministic and sign-normalized so the map never flips between runs. Pure: imports only core,
// and ml-pca for the eigen-decomposition.

import { PCA } from 'ml-pca';
import type { EmbeddedImages } from './evidence.ts';
import { createRng } from './random.ts';

/** Defaults of {@link projectPca}. */
export const PROJECTION_DEFAULTS = { maxFit: 2000, seed: 0 } as const;

// Width of the randomized subspace the PCA is fitted in (a multiple of 4: the kernels below take basis vectors in
// fours), and the power iterations that align it with the top components. ml-pca's exact fit of 2,000 × 512
// takes ~10 s (SVD) or ~4 s (covariance + EVD) in V8; fitting it in a 12-dimensional subspace found by subspace
// iteration (Halko, Martinsson & Tropp 2011, alg. 4.4) takes ~0.2 s and reproduces the exact first two axes
// (projections correlate to within 1e-8 on CLIP-like test data) whenever they stand out of the noise — which is
// exactly when the map is worth looking at.
const SKETCH = 12;
const POWER_ITERATIONS = 4;

/** Result of {@link projectPca}. */
export interface Projection {
  /** n×2 row-major (x, y interleaved), rows in `images` order. */
  points: Float32Array;
  /** Fraction of the fitted rows' total variance along each axis (0 for an axis without variance). */
  explained: [number, number];
}

/**
 * Projects every image onto the first two principal components of the embeddings. The components are fitted on
 * at most `maxFit` rows (default 2,000), drawn without replacement from the stream 'projection-fit' of `seed`
 * (default 0) when there are more; every row is then projected onto them. Each component's sign is chosen so
 * that its largest-magnitude loading (the first one, on ties) is positive, so the same data always draws the
 * same map. Fewer than two fitted rows, or rows without variance, give all-zero points. O(n·dim).
 */
export function projectPca(
  images: EmbeddedImages,
  options: { maxFit?: number; seed?: number } = {},
): Projection {
  const maxFit = options.maxFit ?? PROJECTION_DEFAULTS.maxFit;
  const seed = options.seed ?? PROJECTION_DEFAULTS.seed;
  const { ids, matrix, dim } = images;
  const n = ids.length;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
  if (matrix.length !== n * dim) {
    throw new Error(`matrix has ${matrix.length} values, expected ids × dim = ${n} × ${dim}`);
  }
  if (!Number.isInteger(maxFit) || maxFit < 2)
    throw new Error(`maxFit must be an integer ≥ 2, got ${maxFit}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);

  const points = new Float32Array(n * 2);
  const explained: [number, number] = [0, 0];
  const fit = n <= maxFit ? null : createRng(seed, 'projection-fit').sample(n, maxFit);
  const m = fit === null ? n : fit.length;
  if (m < 2) return { points, explained };

  // Centred fit rows in float64: the variance sums and the power iteration lose digits in float32.
  const mean = new Float64Array(dim);
  for (let r = 0; r < m; r++) {
    const o = (fit === null ? r : (fit[r] as number)) * dim;
    for (let t = 0; t < dim; t++) mean[t]! += matrix[o + t] as number;
  }
  for (let t = 0; t < dim; t++) mean[t]! /= m;
  const x = new Float64Array(m * dim);
  let totalVariance = 0;
  for (let r = 0; r < m; r++) {
    const o = (fit === null ? r : (fit[r] as number)) * dim;
    for (let t = 0; t < dim; t++) {
      const v = (matrix[o + t] as number) - mean[t]!;
      x[r * dim + t] = v;
      totalVariance += v * v;
    }
  }
  totalVariance /= m - 1;
  if (!(totalVariance > 0)) return { points, explained };

  const basis = dim <= SKETCH ? identity(dim) : rangeBasis(x, m, dim, seed);
  const l = basis.length / dim;
  // PCA of the rows expressed in the basis (already centred): its components, mapped back, are the components of
  // the data restricted to the subspace; its eigenvalues are their variances (σ² / (m − 1), like ml-pca's own).
  const reduced = times(x, m, dim, basis, l);
  const rows: number[][] = [];
  for (let r = 0; r < m; r++) rows.push(Array.from(reduced.subarray(r * l, (r + 1) * l)));
  const pca = new PCA(rows, { center: false, method: 'SVD' });
  const vectors = pca.getEigenvectors();
  const eigenvalues = pca.getEigenvalues();

  const components: Float64Array[] = [];
  for (let c = 0; c < 2; c++) {
    const component = new Float64Array(dim);
    const variance = eigenvalues[c] ?? 0;
    // A component without variance (rank < 2, or dim = 1) is arbitrary: leave the axis at 0 rather than
    // projecting the unfitted rows onto noise.
    if (c < vectors.columns && variance > totalVariance * 1e-12) {
      for (let j = 0; j < l; j++) {
        const w = vectors.get(j, c);
        for (let t = 0; t < dim; t++) component[t]! += w * basis[j * dim + t]!;
      }
      let largest = 0;
      for (let t = 1; t < dim; t++) if (Math.abs(component[t]!) > Math.abs(component[largest]!)) largest = t;
      if (component[largest]! < 0) for (let t = 0; t < dim; t++) component[t] = -component[t]!;
      explained[c] = Math.min(1, variance / totalVariance);
    }
    components.push(component);
  }

  const [c0, c1] = components as [Float64Array, Float64Array];
  let offset0 = 0;
  let offset1 = 0;
  for (let t = 0; t < dim; t++) {
    offset0 += mean[t]! * c0[t]!;
    offset1 += mean[t]! * c1[t]!;
  }
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let p0 = 0;
    let p1 = 0;
    for (let t = 0; t < dim; t++) {
      const v = matrix[o + t] as number;
      p0 += v * c0[t]!;
      p1 += v * c1[t]!;
    }
    points[2 * i] = p0 - offset0;
    points[2 * i + 1] = p1 - offset1;
  }
  return { points, explained };
}

/** The dim × dim identity as `dim` row vectors. */
function identity(dim: number): Float64Array {
  const out = new Float64Array(dim * dim);
  for (let t = 0; t < dim; t++) out[t * dim + t] = 1;
  return out;
}

/** rows (m×dim) × basisᵀ (basis: l vectors of dim) → m×l. */
function times(rows: Float64Array, m: number, dim: number, basis: Float64Array, l: number): Float64Array {
  const out = new Float64Array(m * l);
  for (let r = 0; r < m; r++) {
    const o = r * dim;
    let j = 0;
    // Four basis vectors per sweep over the row: a quarter of the row loads, four independent sums.
    for (; j + 4 <= l; j += 4) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < dim; t++) {
        const v = rows[o + t]!;
        s0 += v * basis[b0 + t]!;
        s1 += v * basis[b1 + t]!;
        s2 += v * basis[b2 + t]!;
        s3 += v * basis[b3 + t]!;
      }
      out[r * l + j] = s0;
      out[r * l + j + 1] = s1;
      out[r * l + j + 2] = s2;
      out[r * l + j + 3] = s3;
    }
    for (; j < l; j++) {
      const b = j * dim;
      let s = 0;
      for (let t = 0; t < dim; t++) s += rows[o + t]! * basis[b + t]!;
      out[r * l + j] = s;
    }
  }
  return out;
}

/**
 * An orthonormal basis (SKETCH vectors of `dim`) of the dominant right-singular subspace of the centred rows:
 * a seeded Gaussian start, then POWER_ITERATIONS rounds of V ← orth(Xᵀ X V).
 */
function rangeBasis(x: Float64Array, m: number, dim: number, seed: number): Float64Array {
  const l = SKETCH;
  const rng = createRng(seed, 'projection-sketch');
  const basis = new Float64Array(l * dim);
  for (let i = 0; i < basis.length; i++) {
    basis[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  }
  orthonormalize(basis, l, dim);
  for (let iteration = 0; iteration < POWER_ITERATIONS; iteration++) {
    const y = times(x, m, dim, basis, l);
    basis.fill(0);
    // basis ← Xᵀ y, accumulated row by row (SKETCH is a multiple of 4: four basis vectors per sweep).
    for (let r = 0; r < m; r++) {
      const o = r * dim;
      for (let j = 0; j < l; j += 4) {
        const w0 = y[r * l + j]!;
        const w1 = y[r * l + j + 1]!;
        const w2 = y[r * l + j + 2]!;
        const w3 = y[r * l + j + 3]!;
        const b0 = j * dim;
        const b1 = b0 + dim;
        const b2 = b1 + dim;
        const b3 = b2 + dim;
        for (let t = 0; t < dim; t++) {
          const v = x[o + t]!;
          basis[b0 + t]! += w0 * v;
          basis[b1 + t]! += w1 * v;
          basis[b2 + t]! += w2 * v;
          basis[b3 + t]! += w3 * v;
        }
      }
    }
    orthonormalize(basis, l, dim);
  }
  return basis;
}

/**
 * Modified Gram–Schmidt, twice (one pass loses orthogonality when the vectors are nearly dependent, as they
 * become during the power iteration). A vector that collapses (the data has rank < l) becomes zero.
 */
function orthonormalize(v: Float64Array, l: number, dim: number): void {
  for (let j = 0; j < l; j++) {
    const b = j * dim;
    let before = 0;
    for (let t = 0; t < dim; t++) before += v[b + t]! * v[b + t]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const a = i * dim;
        let dot = 0;
        for (let t = 0; t < dim; t++) dot += v[a + t]! * v[b + t]!;
        for (let t = 0; t < dim; t++) v[b + t]! -= dot * v[a + t]!;
      }
    }
    let norm = 0;
    for (let t = 0; t < dim; t++) norm += v[b + t]! * v[b + t]!;
    if (!(norm > before * 1e-20) || norm === 0) {
      v.fill(0, b, b + dim);
      continue;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let t = 0; t < dim; t++) v[b + t]! *= inv;
  }
}
