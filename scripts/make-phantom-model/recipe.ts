// Everything that determines the phantom model's bytes: input size and preprocessing, the fixed feature set, how
// training/validation/held-out phantoms are drawn (seeds, counts, prevalences), and the ridge λ grid. Change any
// of it and `npm run make:phantom-model` produces a different model (and prints its new held-out scores).
import type { Preprocessing } from '../../src/lib/core/types.ts';
import type { SamplingSpec } from './data.ts';
import type { FeatureSpec } from './vision.ts';

/** Model input side: phantoms are rendered at this size (the benchmark does the same), 16-px cells. */
export const INPUT_SIZE = 256;

/** The manifest's preprocessing for phantom-clip (a square phantom is placed 1:1 at INPUT_SIZE). */
export const PREPROCESSING: Preprocessing = {
  version: 'phantom-256-squash-v1',
  size: INPUT_SIZE,
  resize: 'squash',
  rescale: 1 / 255,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};

/**
 * The fixed image features (960): where is it bright or dark (mean z and min z per 16-px cell), how textured
 * (mean |high-pass| per cell), thin bright lines (max difference-of-Gaussians per 32-px cell) and round bright
 * blobs at two scales (max Hessian blob response per 32-px cell, computed at half resolution: σ = 2 and 3 px of
 * the input).
 */
export const FEATURES: FeatureSpec = {
  size: INPUT_SIZE,
  blocks: [
    { map: { kind: 'z' }, pool: 'avg', grid: 16 },
    { map: { kind: 'neg-z' }, pool: 'max', grid: 16 },
    { map: { kind: 'abs-highpass', sigma: 1 }, pool: 'avg', grid: 16 },
    { map: { kind: 'dog-pos', a: 1, b: 3 }, pool: 'max', grid: 8 },
    { map: { kind: 'blob', sigma: 1 }, pool: 'max', grid: 8, half: true },
    { map: { kind: 'blob', sigma: 1.5 }, pool: 'max', grid: 8, half: true },
  ],
};

/** Training and validation images: ~1.2 findings per image, a quarter of them subtle, a third downsampled. */
export const TRAIN_SAMPLING: SamplingSpec = {
  prevalence: 0.12,
  subtleProbability: 0.25,
  subtle: [0.3, 0.7],
  downsampledFraction: 0.35,
};

/** Held-out images: same prevalence, the generator's default severities. */
export const HELD_OUT_SAMPLING: SamplingSpec = { ...TRAIN_SAMPLING, subtleProbability: 0 };

/** Phantom seeds and counts of each data set (fresh seeds for everything held out). */
export const SETS = {
  train: { seed: 7101, n: 3000 },
  validation: { seed: 7202, n: 1000 },
  heldOut: { seed: 7303, n: 1500 },
  /** Single-finding images per catalogue phrase, for caption retrieval. */
  captions: { seed: 7404, perPhrase: 8 },
} as const;

/** Ridge penalties tried (per sample, on standardised features). */
export const LAMBDAS = [0.01, 0.03, 0.1, 0.3, 1];
