// Two-sample statistics of the ranker: AUROC (= Mann–Whitney U / (|A||B|)) with its DeLong confidence interval,
// the Mann–Whitney and Welch p-values, Benjamini–Hochberg q-values and Cliff's delta, plus the special functions
// they need (erf/erfc, normal CDF and quantile, Student-t tail via the regularized incomplete beta).
// Conventions follow scipy 1.17 so results can be checked against it (tests/fixtures/stats-golden.json).

import type { Interval } from './types.ts';

/** Result of {@link welchTTest}. */
export interface WelchResult {
  /** (mean A − mean B) / standard error. */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Everything AUROC, Mann–Whitney and DeLong need from two samples, computed in one merged pass over the sorted
 * samples. Exposed so the ranker can build it from its own (faster) sort and still share every formula below.
 */
export interface RankSummary {
  nA: number;
  nB: number;
  /**
   * Mann–Whitney U of A: Σ over a ∈ A of (#{b < a} + ½ #{b = a}). An exact half-integer (doubles are exact
   * below 2^53), identical to scipy's `R1 − nA(nA+1)/2`. NaN when an input contains NaN.
   */
  u: number;
  /** Σ (t³ − t) over the tie groups of the pooled sample (Mann–Whitney tie correction). */
  tieTerm: number;
  /**
   * DeLong variance of the AUROC estimate: S10/nA + S01/nB, where S10 and S01 are the sample variances (n − 1
   * denominator) of the structural components (placements) of A and B. NaN when nA < 2 or nB < 2.
   */
  delongVariance: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------------------------------

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 1969 (netlib specfun
// CALERF): near-minimax rational approximations on |x| ≤ 0.46875, 0.46875 < |x| ≤ 4 and |x| > 4, good to ~18
// significant digits, so double rounding dominates the error. erfc keeps full relative accuracy in the far tail,
// which is what tiny p-values need.
const ERF_A = [
  3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315,
];
const ERF_B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const ERFC_C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769,
  1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const ERFC_D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
  4362.619090143247, 3439.3676741437216, 1230.3393548037495,
];
const ERFC_P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378,
  0.016315387137302097,
];
const ERFC_Q = [
  2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918,
];
const ONE_OVER_SQRT_PI = 0.5641895835477563;
const ERF_THRESHOLD = 0.46875;

function c(coefficients: readonly number[], i: number): number {
  // Coefficient tables are fixed-size constants; this keeps noUncheckedIndexedAccess honest without `!` noise.
  return coefficients[i] as number;
}

/** erf for |x| ≤ 0.46875 (Cody's first interval). */
function erfSmall(x: number): number {
  const ysq = Math.abs(x) > 1.11e-16 ? x * x : 0;
  let num = c(ERF_A, 4) * ysq;
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = (num + c(ERF_A, i)) * ysq;
    den = (den + c(ERF_B, i)) * ysq;
  }
  return (x * (num + c(ERF_A, 3))) / (den + c(ERF_B, 3));
}

/** erfc for y > 0.46875 (Cody's second and third intervals). */
function erfcLarge(y: number): number {
  // Beyond ~27.3 erfc is below the smallest subnormal; also keeps Infinity away from the splitting below.
  if (y > 27.3) return 0;
  let r: number;
  if (y <= 4) {
    let num = c(ERFC_C, 8) * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + c(ERFC_C, i)) * y;
      den = (den + c(ERFC_D, i)) * y;
    }
    r = (num + c(ERFC_C, 7)) / (den + c(ERFC_D, 7));
  } else {
    const ysq = 1 / (y * y);
    let num = c(ERFC_P, 5) * ysq;
    let den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + c(ERFC_P, i)) * ysq;
      den = (den + c(ERFC_Q, i)) * ysq;
    }
    r = (ysq * (num + c(ERFC_P, 4))) / (den + c(ERFC_Q, 4));
    r = (ONE_OVER_SQRT_PI - r) / y;
  }
  // exp(−y²) computed as exp(−s²)·exp(−(y−s)(y+s)) with s = y rounded down to 1/16: s² is exact, so the
  // rounding error of y² (amplified by y² in the exponent) never enters.
  const s = Math.trunc(y * 16) / 16;
  const del = (y - s) * (y + s);
  return Math.exp(-s * s) * Math.exp(-del) * r;
}

/** Error function erf(x), relative accuracy ~1e-16 (Cody). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= ERF_THRESHOLD) return erfSmall(x);
  const r = 0.5 - erfcLarge(y) + 0.5;
  return x < 0 ? -r : r;
}

/** Complementary error function erfc(x) = 1 − erf(x), with full relative accuracy in the upper tail (Cody). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= ERF_THRESHOLD) return 1 - erfSmall(x);
  const r = erfcLarge(y);
  return x < 0 ? 2 - r : r;
}

/**
 * Standard normal CDF Φ(x). Accurate in relative terms in the lower tail (Φ(−37) ≈ 6e−300 keeps ~13 digits),
 * so upper-tail probabilities are best computed as `normalCdf(−x)`.
 */
export function normalCdf(x: number): number {
  // Same splitting as cephes `ndtr` (what scipy uses): erf near 0, erfc of |x|/√2 elsewhere.
  const u = x * Math.SQRT1_2;
  const z = Math.abs(u);
  if (Number.isNaN(u)) return NaN;
  if (z < Math.SQRT1_2) return 0.5 + 0.5 * erf(u);
  const tail = 0.5 * erfc(z);
  return u > 0 ? 1 - tail : tail;
}

// Peter J. Acklam's rational approximation of the normal quantile (relative error < 1.15e−9), polished below by
// one Halley step on Φ(x) − p, which roughly cubes the error and brings it to double precision.
const ACKLAM_A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
];
const ACKLAM_B = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
];
const ACKLAM_C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const ACKLAM_P_LOW = 0.02425;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

function acklamTail(q: number): number {
  return (
    (((((c(ACKLAM_C, 0) * q + c(ACKLAM_C, 1)) * q + c(ACKLAM_C, 2)) * q + c(ACKLAM_C, 3)) * q +
      c(ACKLAM_C, 4)) *
      q +
      c(ACKLAM_C, 5)) /
    ((((c(ACKLAM_D, 0) * q + c(ACKLAM_D, 1)) * q + c(ACKLAM_D, 2)) * q + c(ACKLAM_D, 3)) * q + 1)
  );
}

/**
 * Standard normal quantile Φ⁻¹(p): −Infinity at 0, +Infinity at 1, NaN outside [0, 1]. Acklam's approximation
 * refined by one Halley step; ~1e−15 relative in the central region and the lower tail.
 */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  let x: number;
  if (p < ACKLAM_P_LOW) {
    x = acklamTail(Math.sqrt(-2 * Math.log(p)));
  } else if (p <= 1 - ACKLAM_P_LOW) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((c(ACKLAM_A, 0) * r + c(ACKLAM_A, 1)) * r + c(ACKLAM_A, 2)) * r + c(ACKLAM_A, 3)) * r +
        c(ACKLAM_A, 4)) *
        r +
        c(ACKLAM_A, 5)) *
        q) /
      (((((c(ACKLAM_B, 0) * r + c(ACKLAM_B, 1)) * r + c(ACKLAM_B, 2)) * r + c(ACKLAM_B, 3)) * r +
        c(ACKLAM_B, 4)) *
        r +
        1);
  } else {
    x = -acklamTail(Math.sqrt(-2 * Math.log1p(-p)));
  }
  // Halley step. In the upper half the residual is taken on the upper tail (1 − Φ(x) = Φ(−x)) so it is not
  // swamped by the rounding of values near 1.
  const e = x <= 0 ? normalCdf(x) - p : 1 - p - normalCdf(-x);
  const u = e * SQRT_2PI * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

// Log-gamma: Lanczos (g = 7, 9 terms, ~1e−15) below 10; Stirling with an explicit correction series above, where
// the correction lets log-beta cancel the huge (x − ½)·ln x terms analytically instead of numerically.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const LN_SQRT_2PI = 0.9189385332046728;

/** Stirling remainder ln Γ(x) − [(x − ½) ln x − x + ln √(2π)] for x ≥ 10 (eight Bernoulli terms, < 1e−17). */
function lgammaCorrection(x: number): number {
  const r = 1 / x;
  const r2 = r * r;
  return (
    r *
    (1 / 12 +
      r2 *
        (-1 / 360 +
          r2 *
            (1 / 1260 +
              r2 *
                (-1 / 1680 +
                  r2 * (1 / 1188 + r2 * (-691 / 360360 + r2 * (1 / 156 + r2 * (-3617 / 122400))))))))
  );
}

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) return NaN;
  if (x >= 10) return (x - 0.5) * Math.log(x) - x + LN_SQRT_2PI + lgammaCorrection(x);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c(LANCZOS, 0);
  for (let i = 1; i < 9; i++) a += c(LANCZOS, i) / (z + i);
  const t = z + 7.5;
  return LN_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln B(a, b) for a, b > 0, without the cancellation of ln Γ(a) + ln Γ(b) − ln Γ(a + b) for large arguments. */
export function logBeta(a: number, b: number): number {
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  if (!(p > 0)) return NaN;
  if (p >= 10) {
    const corr = lgammaCorrection(p) + lgammaCorrection(q) - lgammaCorrection(p + q);
    return (
      -0.5 * Math.log(q) +
      LN_SQRT_2PI +
      corr +
      (p - 0.5) * Math.log(p / (p + q)) +
      q * Math.log1p(-p / (p + q))
    );
  }
  if (q >= 10) {
    const corr = lgammaCorrection(q) - lgammaCorrection(p + q);
    return logGamma(p) + corr + p - p * Math.log(p + q) + (q - 0.5) * Math.log1p(-p / (p + q));
  }
  return logGamma(p) + logGamma(q) - logGamma(p + q);
}

const CF_TINY = 1e-300;
const CF_EPS = 1e-16;
const CF_MAX_ITERATIONS = 100_000;

/** Continued fraction of I_x(a, b) (Numerical Recipes `betacf`, modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let cc = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < CF_TINY) d = CF_TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    cc = 1 + aa / cc;
    if (Math.abs(cc) < CF_TINY) cc = CF_TINY;
    d = 1 / d;
    h *= d * cc;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < CF_TINY) d = CF_TINY;
    cc = 1 + aa / cc;
    if (Math.abs(cc) < CF_TINY) cc = CF_TINY;
    d = 1 / d;
    const del = d * cc;
    h *= del;
    if (Math.abs(del - 1) < CF_EPS) return h;
  }
  // Convergence takes O(√max(a, b)) iterations; reaching the cap means a, b are beyond anything the ranker sees.
  return h;
}

/**
 * I_x(a, b) given x, y = 1 − x and their logarithms, each supplied in its most accurate form by the caller
 * (for the t distribution, x and y are ratios whose complements would otherwise lose digits).
 */
function incompleteBeta(a: number, b: number, x: number, y: number, lnx: number, lny: number): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  // The continued fraction converges fast only below the mean; above it use I_x(a, b) = 1 − I_y(b, a).
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(b, a, y, x, lny, lnx);
  const front = Math.exp(a * lnx + b * lny - logBeta(a, b)) / a;
  return front * betaContinuedFraction(a, b, x);
}

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) return NaN;
  const y = 1 - x;
  return incompleteBeta(a, b, x, y, Math.log(x), x < 0.5 ? Math.log1p(-x) : Math.log(y));
}

/**
 * Upper tail P(T > t) of Student's t with `df` > 0 degrees of freedom (df = Infinity gives the normal). Relative
 * accuracy ~1e−13 in the upper tail for df up to ~1e4 (the ranker's range), so two-sided p-values down to
 * ~1e−300 keep their digits; for df ~ 1e6 and moderate t the continued fraction is ill-conditioned and the
 * error grows to ~5e−11 (still far below the 1e−6 the p-values are checked to).
 */
export function studentTSf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  if (df === Infinity) return normalCdf(-t);
  if (t === 0) return 0.5;
  // P(|T| > |t|) = I_x(df/2, ½) with x = df/(df + t²). x and y = 1 − x are formed from r (a ratio of ≤ 1) so
  // neither suffers cancellation, and ln x = −log1p(t²/df) stays exact for large df.
  const t2 = t * t;
  let x: number;
  let y: number;
  let lnx: number;
  let lny: number;
  if (t2 < df) {
    const r = t2 / df;
    x = 1 / (1 + r);
    y = r / (1 + r);
    lnx = -Math.log1p(r);
    lny = Math.log(r) - Math.log1p(r);
  } else {
    const r = df / t2;
    x = r / (1 + r);
    y = 1 / (1 + r);
    lnx = Math.log(r) - Math.log1p(r);
    lny = -Math.log1p(r);
  }
  const twoSided = incompleteBeta(df / 2, 0.5, x, y, lnx, lny);
  return t > 0 ? 0.5 * twoSided : 1 - 0.5 * twoSided;
}

// ---------------------------------------------------------------------------------------------------------------
// Rank statistics
// ---------------------------------------------------------------------------------------------------------------

function sortedCopy(values: ArrayLike<number>): Float64Array | null {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) return null;
    out[i] = v;
  }
  return out.sort();
}

// Scratch reused across calls: the ranker summarises one row per finding and must not allocate per row.
let groupCountA = new Float64Array(0);
let groupPlacementA = new Float64Array(0);
let groupCountB = new Float64Array(0);
let groupPlacementB = new Float64Array(0);
let pooledValues = new Float64Array(0);
let pooledInA = new Uint8Array(0);

function ensureGroupScratch(n: number): void {
  if (groupCountA.length >= n) return;
  groupCountA = new Float64Array(n);
  groupPlacementA = new Float64Array(n);
  groupCountB = new Float64Array(n);
  groupPlacementB = new Float64Array(n);
}

/**
 * Builds the {@link RankSummary} of a pooled sample sorted ascending, `inA[i]` being 1 when element i belongs to
 * A and 0 when it belongs to B (order inside a tie group does not matter). `sorted` may be any order- and
 * equality-preserving encoding of the values (the ranker passes sortable integer keys); NaN must not occur.
 * One scan, O(n): the only data-dependent branch is "does the tie group continue", which is well predicted —
 * unlike merging two sorted arrays, whose interleaving branch mispredicts about half the time.
 */
export function rankSummaryOfPooled(sorted: ArrayLike<number>, inA: ArrayLike<number>): RankSummary {
  const n = sorted.length;
  let nA = 0;
  for (let i = 0; i < n; i++) nA += inA[i] as number;
  const nB = n - nA;
  ensureGroupScratch(n);
  let i = 0;
  let below = 0; // #B strictly below the current tie group
  let aBelow = 0; // #A strictly below the current tie group
  let u = 0;
  let tieTerm = 0;
  let groups = 0;
  while (i < n) {
    const v = sorted[i] as number;
    let ca = 0;
    let t = 0;
    do {
      ca += inA[i] as number;
      t++;
      i++;
    } while (i < n && sorted[i] === v);
    const cb = t - ca;
    // Placements (DeLong's structural components): an A value's share of B below it, a B value's share of A
    // above it, ties counting ½ — exactly the per-element terms of U.
    const wonByA = below + 0.5 * cb;
    u += ca * wonByA;
    tieTerm += t * t * t - t;
    groupCountA[groups] = ca;
    groupPlacementA[groups] = wonByA / nB;
    groupCountB[groups] = cb;
    groupPlacementB[groups] = (nA - aBelow - 0.5 * ca) / nA;
    groups++;
    below += cb;
    aBelow += ca;
  }
  let delongVariance = NaN;
  if (nA >= 2 && nB >= 2) {
    // Both placement means equal the AUROC; a second pass over the groups (not Σx² − n·mean²) avoids
    // cancellation when the AUROC is near 0 or 1 and the variance is tiny.
    const auc = u / (nA * nB);
    let ssA = 0;
    let ssB = 0;
    for (let g = 0; g < groups; g++) {
      const da = (groupPlacementA[g] as number) - auc;
      const db = (groupPlacementB[g] as number) - auc;
      ssA += (groupCountA[g] as number) * da * da;
      ssB += (groupCountB[g] as number) * db * db;
    }
    delongVariance = ssA / (nA - 1) / nA + ssB / (nB - 1) / nB;
  }
  return { nA, nB, u, tieTerm, delongVariance };
}

/** {@link RankSummary} of two ascending-sorted samples (merged, then {@link rankSummaryOfPooled}). O(nA + nB). */
export function rankSummaryOfSorted(sortedA: ArrayLike<number>, sortedB: ArrayLike<number>): RankSummary {
  const nA = sortedA.length;
  const nB = sortedB.length;
  const n = nA + nB;
  if (pooledValues.length < n) {
    pooledValues = new Float64Array(n);
    pooledInA = new Uint8Array(n);
  }
  let i = 0;
  let j = 0;
  for (let w = 0; w < n; w++) {
    if (j >= nB || (i < nA && (sortedA[i] as number) <= (sortedB[j] as number))) {
      pooledValues[w] = sortedA[i++] as number;
      pooledInA[w] = 1;
    } else {
      pooledValues[w] = sortedB[j++] as number;
      pooledInA[w] = 0;
    }
  }
  return rankSummaryOfPooled(pooledValues.subarray(0, n), pooledInA.subarray(0, n));
}

/** {@link RankSummary} of two unsorted samples (sorts copies; O(n log n)). Any NaN makes u/variance NaN. */
export function rankSummary(a: ArrayLike<number>, b: ArrayLike<number>): RankSummary {
  const sa = sortedCopy(a);
  const sb = sortedCopy(b);
  if (sa === null || sb === null) {
    return { nA: a.length, nB: b.length, u: NaN, tieTerm: NaN, delongVariance: NaN };
  }
  return rankSummaryOfSorted(sa, sb);
}

/** AUROC from a summary: U / (nA·nB); NaN if a set is empty. */
export function aurocFromSummary(s: RankSummary): number {
  return s.nA > 0 && s.nB > 0 ? s.u / (s.nA * s.nB) : NaN;
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`CI level must be in (0, 1), got ${level}`);
}

/** DeLong interval from a summary; see {@link aurocCI} for the degenerate cases. */
export function aurocCIFromSummary(s: RankSummary, level = 0.95): Interval {
  checkLevel(level);
  const auc = aurocFromSummary(s);
  const variance = s.delongVariance;
  if (Number.isNaN(auc) || Number.isNaN(variance)) return { lo: NaN, hi: NaN };
  if (variance <= 0) return { lo: auc, hi: auc };
  const z = normalQuantile(1 - (1 - level) / 2);
  const half = z * Math.sqrt(variance);
  return { lo: Math.max(0, auc - half), hi: Math.min(1, auc + half) };
}

/** Two-sided asymptotic Mann–Whitney p-value from a summary; see {@link mannWhitneyP}. */
export function mannWhitneyPFromSummary(s: RankSummary): number {
  const { nA, nB, u, tieTerm } = s;
  if (nA === 0 || nB === 0 || Number.isNaN(u)) return NaN;
  const n = nA + nB;
  const big = Math.max(u, nA * nB - u);
  const sd = Math.sqrt(((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  // Continuity correction: always subtract ½ because the larger U is referred to the upper tail. With every
  // value tied sd = 0 and z = −∞, giving p = 1 exactly as scipy does.
  const z = (big - (nA * nB) / 2 - 0.5) / sd;
  const p = 2 * normalCdf(-z);
  return Math.min(1, Math.max(0, p));
}

/**
 * Area under the ROC curve of `a` (label 1) against `b` (label 0): P(a > b) + ½ P(a = b), which equals the
 * Mann–Whitney U of `a` divided by |A||B|. O(n log n). NaN if a set is empty or any value is NaN.
 */
export function auroc(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return aurocFromSummary(rankSummary(a, b));
}

/**
 * Confidence interval for the AUROC from DeLong's variance (structural components), normal approximation,
 * clamped to [0, 1]. `level` must lie in (0, 1) (RangeError otherwise).
 *
 * Degenerate cases, by design:
 * - |A| < 2 or |B| < 2 (the placement variances need n − 1 > 0), an empty set or NaN input: `{ lo: NaN, hi: NaN }`.
 * - DeLong variance exactly 0 (complete separation, or every value tied): the point interval `{ lo: auc, hi: auc }`.
 *   This is what the estimator says, not a claim of certainty: with tiny samples prefer the p-values.
 */
export function aurocCI(a: ArrayLike<number>, b: ArrayLike<number>, level = 0.95): Interval {
  return aurocCIFromSummary(rankSummary(a, b), level);
}

/**
 * Two-sided Mann–Whitney U test p-value: normal approximation with tie correction and continuity correction,
 * equal to scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method='asymptotic', use_continuity=True).
 * Defined for |A|, |B| ≥ 1 (as in scipy); NaN for an empty set or NaN input.
 */
export function mannWhitneyP(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return mannWhitneyPFromSummary(rankSummary(a, b));
}

/** Cliff's delta P(a > b) − P(a < b) = 2·AUROC − 1, in [−1, 1]. */
export function cliffsDelta(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return 2 * auroc(a, b) - 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Welch and Benjamini–Hochberg
// ---------------------------------------------------------------------------------------------------------------

/**
 * Mean of (x − shift) and the sample variance of x. Subtracting a shift near the data (exact by Sterbenz's lemma
 * when within a factor of 2) keeps the difference of two means accurate when the sets share a large offset: the
 * means themselves could only be represented to an ulp of the offset.
 */
function shiftedMeanAndVariance(
  values: ArrayLike<number>,
  shift: number,
): { mean: number; variance: number } {
  const n = values.length;
  // Neumaier-compensated sum, then one refinement pass.
  let sum = 0;
  let compensation = 0;
  for (let i = 0; i < n; i++) {
    const v = (values[i] as number) - shift;
    const s = sum + v;
    compensation += Math.abs(sum) >= Math.abs(v) ? sum - s + v : v - s + sum;
    sum = s;
  }
  let mean = (sum + compensation) / n;
  let residual = 0;
  for (let i = 0; i < n; i++) residual += (values[i] as number) - shift - mean;
  mean += residual / n;
  // Two-pass variance around the refined mean: no Σx² − n·mean² cancellation.
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] as number) - shift - mean;
    ss += d * d;
  }
  return { mean, variance: ss / (n - 1) };
}

/**
 * Welch's unequal-variance t-test (two-sided), equal to scipy.stats.ttest_ind(a, b, equal_var=False):
 * t = (mean A − mean B)/√(vA/nA + vB/nB) with n − 1 variances, Welch–Satterthwaite df.
 * As in scipy: an empty set gives all NaN; a set of size 1 gives t = p = NaN; when both variances are 0 the
 * undefined df is reported as 1 and t is ±Infinity (p = 0) for different means or NaN for equal ones.
 */
export function welchTTest(a: ArrayLike<number>, b: ArrayLike<number>): WelchResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { t: NaN, df: NaN, p: NaN };
  const shift = a[0] as number;
  const ma = shiftedMeanAndVariance(a, Number.isFinite(shift) ? shift : 0);
  const mb = shiftedMeanAndVariance(b, Number.isFinite(shift) ? shift : 0);
  const vn1 = ma.variance / n1;
  const vn2 = mb.variance / n2;
  let df = (vn1 + vn2) ** 2 / ((vn1 * vn1) / (n1 - 1) + (vn2 * vn2) / (n2 - 1));
  if (Number.isNaN(df)) df = 1;
  const t = (ma.mean - mb.mean) / Math.sqrt(vn1 + vn2);
  const p = Number.isNaN(t) ? NaN : 2 * studentTSf(Math.abs(t), df);
  return { t, df, p };
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values), returned in input order; equal to
 * scipy.stats.false_discovery_control(p, method='bh') on the non-NaN entries.
 * NaN p-values (untestable findings) get NaN q and are left out of the family size m, so they neither help nor
 * penalise the others. Throws RangeError for p outside [0, 1].
 */
export function benjaminiHochberg(pValues: ArrayLike<number>): number[] {
  const n = pValues.length;
  const q = new Array<number>(n).fill(NaN);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = pValues[i] as number;
    if (Number.isNaN(p)) continue;
    if (p < 0 || p > 1) throw new RangeError(`p-value ${p} at index ${i} is outside [0, 1]`);
    order.push(i);
  }
  // Ascending p; ties by index only for determinism (tied p always end with equal q).
  order.sort((x, y) => (pValues[x] as number) - (pValues[y] as number) || x - y);
  const m = order.length;
  let running = Infinity;
  for (let rank = m; rank >= 1; rank--) {
    const index = order[rank - 1] as number;
    // p·(m/rank), in scipy's order of operations, so q matches it to the last bit.
    const adjusted = (pValues[index] as number) * (m / rank);
    if (adjusted < running) running = adjusted;
    q[index] = Math.min(1, running);
  }
  return q;
}
