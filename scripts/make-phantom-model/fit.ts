// The closed-form fit of the phantom model's vision projection: per-feature standardisation, ridge regression from
// the standardised features to the concept targets (presence 0/1, size ±1), λ chosen on a validation split by
// mean per-concept AUROC, refit on train + validation, and folding of standardisation, intercept and the constant
// bias axis into one [F × DIM] matrix and a [DIM] vector (the graph's MatMul + Add).
import { auroc } from '../../src/lib/core/stats.ts';
import { crossProduct, gram, multiply, ridgeFromGram, type Matrix } from './linalg.ts';
import { BIAS_AXIS, DIM, IMAGE_BIAS, PRESENCE, PRESENCE_OFFSET, SIZE_AXES, SIZE_OFFSET } from './lexicon.ts';
import type { DataSet } from './data.ts';
import type { VisionProjection } from './vision.ts';

/** Features whose standard deviation is below this are constant: they get weight 0. */
const MIN_STD = 1e-6;

interface Standardizer {
  mean: Float64Array;
  scale: Float64Array;
}

function standardizer(x: Matrix): Standardizer {
  const { rows: n, cols: f } = x;
  const mean = new Float64Array(f);
  const scale = new Float64Array(f);
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) mean[j]! += x.data[r * f + j]!;
  for (let j = 0; j < f; j++) mean[j]! /= n;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < f; j++) scale[j]! += (x.data[r * f + j]! - mean[j]!) ** 2;
  }
  for (let j = 0; j < f; j++) {
    const sd = Math.sqrt(scale[j]! / n);
    scale[j] = sd > MIN_STD ? 1 / sd : 0;
  }
  return { mean, scale };
}

function standardized(x: Matrix, s: Standardizer): Matrix {
  const out = { rows: x.rows, cols: x.cols, data: new Float64Array(x.data.length) };
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < x.cols; j++) {
      out.data[r * x.cols + j] = (x.data[r * x.cols + j]! - s.mean[j]!) * s.scale[j]!;
    }
  }
  return out;
}

/** [presence | size] targets side by side, centred; returns the column means too. */
function targets(d: DataSet): { y: Matrix; means: Float64Array } {
  const k = PRESENCE.length + SIZE_AXES.length;
  const y: Matrix = { rows: d.x.rows, cols: k, data: new Float64Array(d.x.rows * k) };
  const means = new Float64Array(k);
  for (let r = 0; r < y.rows; r++) {
    for (let j = 0; j < PRESENCE.length; j++) y.data[r * k + j] = d.presence.data[r * PRESENCE.length + j]!;
    for (let j = 0; j < SIZE_AXES.length; j++) {
      y.data[r * k + PRESENCE.length + j] = d.size.data[r * SIZE_AXES.length + j]!;
    }
  }
  for (let r = 0; r < y.rows; r++) for (let j = 0; j < k; j++) means[j]! += y.data[r * k + j]!;
  for (let j = 0; j < k; j++) means[j]! /= y.rows;
  for (let r = 0; r < y.rows; r++) for (let j = 0; j < k; j++) y.data[r * k + j]! -= means[j]!;
  return { y, means };
}

/** Mean over presence concepts of the AUROC of predicted presence (images with the concept vs without). */
export function meanPresenceAuroc(pred: Matrix, presence: Matrix): { mean: number; perConcept: number[] } {
  const k = presence.cols;
  const perConcept: number[] = [];
  for (let j = 0; j < k; j++) {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let r = 0; r < presence.rows; r++) {
      (presence.data[r * k + j]! > 0 ? pos : neg).push(pred.data[r * pred.cols + j]!);
    }
    perConcept.push(pos.length && neg.length ? auroc(pos, neg) : NaN);
  }
  const valid = perConcept.filter(Number.isFinite);
  return { mean: valid.reduce((a, b) => a + b, 0) / valid.length, perConcept };
}

/** Joins two data sets row-wise. */
function concat(a: DataSet, b: DataSet): DataSet {
  const join = (p: Matrix, q: Matrix): Matrix => {
    const data = new Float64Array(p.data.length + q.data.length);
    data.set(p.data);
    data.set(q.data, p.data.length);
    return { rows: p.rows + q.rows, cols: p.cols, data };
  };
  return {
    x: join(a.x, b.x),
    presence: join(a.presence, b.presence),
    size: join(a.size, b.size),
    findings: [...a.findings, ...b.findings],
  };
}

export interface FitReport {
  lambda: number;
  /** Validation mean presence AUROC per λ tried. */
  validation: { lambda: number; meanAuroc: number }[];
  projection: VisionProjection;
}

/** Ridge fit with λ from `lambdas` chosen on `val`, refit on train + val, folded into a vision projection. */
export function fitProjection(train: DataSet, val: DataSet, lambdas: number[]): FitReport {
  const s = standardizer(train.x);
  const xt = standardized(train.x, s);
  const { y } = targets(train);
  const g = gram(xt);
  const c = crossProduct(xt, y);
  const xv = standardized(val.x, s);
  const { means } = targets(train);
  const validation: FitReport['validation'] = [];
  for (const lambda of lambdas) {
    const w = ridgeFromGram(g, c, lambda, xt.rows);
    const pred = multiply(xv, w);
    for (let r = 0; r < pred.rows; r++)
      for (let j = 0; j < pred.cols; j++) pred.data[r * pred.cols + j]! += means[j]!;
    validation.push({ lambda, meanAuroc: meanPresenceAuroc(pred, val.presence).mean });
  }
  // Best validation AUROC; ties (within 1e-4) go to the larger λ, the smoother model.
  const bestScore = Math.max(...validation.map((v) => v.meanAuroc));
  const lambda = Math.max(...validation.filter((v) => v.meanAuroc >= bestScore - 1e-4).map((v) => v.lambda));
  const all = concat(train, val);
  const sAll = standardizer(all.x);
  const xa = standardized(all.x, sAll);
  const ta = targets(all);
  const w = ridgeFromGram(gram(xa), crossProduct(xa, ta.y), lambda, xa.rows);
  return { lambda, validation, projection: fold(w, ta.means, sAll) };
}

/**
 * embedding = features · W + b with W[f, axis] = w[f, k] · scale[f] on the concept's axis, and
 * b[axis] = mean_k − Σ_f mean[f] · scale[f] · w[f, k]; b[BIAS_AXIS] = IMAGE_BIAS.
 */
function fold(w: Matrix, means: Float64Array, s: Standardizer): VisionProjection {
  const F = w.rows;
  const k = w.cols;
  const axisOf = (j: number): number =>
    j < PRESENCE.length ? PRESENCE_OFFSET + j : SIZE_OFFSET + (j - PRESENCE.length);
  const weights = new Float64Array(F * DIM);
  const bias = new Float64Array(DIM);
  bias[BIAS_AXIS] = IMAGE_BIAS;
  for (let j = 0; j < k; j++) {
    const axis = axisOf(j);
    let b = means[j]!;
    for (let f = 0; f < F; f++) {
      const v = w.data[f * k + j]! * s.scale[f]!;
      weights[f * DIM + axis] = v;
      b -= s.mean[f]! * v;
    }
    bias[axis] = b;
  }
  return { weights: Float32Array.from(weights), bias: Float32Array.from(bias), dim: DIM };
}
