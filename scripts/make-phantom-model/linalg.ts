// Dense linear algebra for the closed-form fit of the phantom model: Gram matrices, Cholesky factorisation and
// ridge regression, in float64, in a fixed loop order so results are bit-for-bit reproducible on one engine.

/** A row-major dense matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** A zero matrix of `rows` × `cols`. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** XᵀX (cols × cols) of a row-major X; only the lower triangle is computed, then mirrored. */
export function gram(x: Matrix): Matrix {
  const { rows: n, cols: f } = x;
  const out = zeros(f, f);
  const g = out.data;
  for (let r = 0; r < n; r++) {
    const off = r * f;
    for (let i = 0; i < f; i++) {
      const xi = x.data[off + i]!;
      if (xi === 0) continue;
      const gi = i * f;
      for (let j = 0; j <= i; j++) g[gi + j]! += xi * x.data[off + j]!;
    }
  }
  for (let i = 0; i < f; i++) for (let j = 0; j < i; j++) g[j * f + i] = g[i * f + j]!;
  return out;
}

/** XᵀY (x.cols × y.cols) for X and Y with the same number of rows. */
export function crossProduct(x: Matrix, y: Matrix): Matrix {
  if (x.rows !== y.rows) throw new Error(`row counts differ: ${x.rows} vs ${y.rows}`);
  const out = zeros(x.cols, y.cols);
  const k = y.cols;
  for (let r = 0; r < x.rows; r++) {
    for (let i = 0; i < x.cols; i++) {
      const xi = x.data[r * x.cols + i]!;
      if (xi === 0) continue;
      for (let j = 0; j < k; j++) out.data[i * k + j]! += xi * y.data[r * k + j]!;
    }
  }
  return out;
}

/** Lower-triangular L with L·Lᵀ = A, for a symmetric positive-definite A. Throws when A is not. */
export function cholesky(a: Matrix): Matrix {
  const n = a.rows;
  const l = zeros(n, n);
  const L = l.data;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a.data[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) throw new Error(`matrix is not positive definite (pivot ${i}: ${sum})`);
        L[i * n + i] = Math.sqrt(sum);
      } else {
        L[i * n + j] = sum / L[j * n + j]!;
      }
    }
  }
  return l;
}

/** Solves L·Lᵀ·X = B for X (n × B.cols), given the Cholesky factor L. */
export function choleskySolve(l: Matrix, b: Matrix): Matrix {
  const n = l.rows;
  const k = b.cols;
  const L = l.data;
  const x = { rows: n, cols: k, data: Float64Array.from(b.data) };
  const X = x.data;
  for (let c = 0; c < k; c++) {
    // Forward: L·y = b.
    for (let i = 0; i < n; i++) {
      let sum = X[i * k + c]!;
      for (let j = 0; j < i; j++) sum -= L[i * n + j]! * X[j * k + c]!;
      X[i * k + c] = sum / L[i * n + i]!;
    }
    // Backward: Lᵀ·x = y.
    for (let i = n - 1; i >= 0; i--) {
      let sum = X[i * k + c]!;
      for (let j = i + 1; j < n; j++) sum -= L[j * n + i]! * X[j * k + c]!;
      X[i * k + c] = sum / L[i * n + i]!;
    }
  }
  return x;
}

/**
 * Ridge regression weights W = (G + λ·n·I)⁻¹·C from a precomputed Gram matrix G = XᵀX and C = XᵀY of centred,
 * standardised features (so no intercept column is penalised; λ is per sample, scale-free).
 */
export function ridgeFromGram(g: Matrix, c: Matrix, lambda: number, n: number): Matrix {
  const a = { rows: g.rows, cols: g.cols, data: Float64Array.from(g.data) };
  for (let i = 0; i < g.rows; i++) a.data[i * g.cols + i]! += lambda * n;
  return choleskySolve(cholesky(a), c);
}

/** X·W (x.rows × w.cols). */
export function multiply(x: Matrix, w: Matrix): Matrix {
  if (x.cols !== w.rows) throw new Error(`shapes differ: ${x.cols} vs ${w.rows}`);
  const out = zeros(x.rows, w.cols);
  const k = w.cols;
  for (let r = 0; r < x.rows; r++) {
    for (let i = 0; i < x.cols; i++) {
      const xi = x.data[r * x.cols + i]!;
      if (xi === 0) continue;
      for (let j = 0; j < k; j++) out.data[r * k + j]! += xi * w.data[i * k + j]!;
    }
  }
  return out;
}
