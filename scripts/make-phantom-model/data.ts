// Training and evaluation data of the phantom model: seeded random finding sets, phantoms rendered at the model's
// input size (some at twice the size and box-downsampled, as a browser would shrink a 512-px phantom), their
// fixed features, and the concept targets (presence 0/1 per finding × side × zone, size ±1) the fit regresses on.
import { createRng, type Rng } from '../../src/lib/core/random.ts';
import {
  FINDINGS,
  generatePhantom,
  type FindingSpec,
  type Phantom,
} from '../../src/lib/core/phantom/index.ts';
import { LAYOUT, PRESENCE, SIZE_AXES } from './lexicon.ts';
import { featureCount, imageFeatures, type FeatureSpec } from './vision.ts';
import type { Matrix } from './linalg.ts';

/** How the findings of a training/evaluation image are drawn. */
export interface SamplingSpec {
  /** Probability that each catalogue finding is present (independently). */
  prevalence: number;
  /** Probability that a present finding is drawn subtle (severity uniform in `subtle`) instead of the default. */
  subtleProbability: number;
  subtle: [number, number];
  /** Fraction of images rendered at 2× the size and box-downsampled 2×2. */
  downsampledFraction: number;
}

/** Draws a random finding set: each finding independently, its side/size/zone uniformly (not the generator's). */
export function sampleFindings(rng: Rng, s: SamplingSpec): FindingSpec[] {
  const out: FindingSpec[] = [];
  for (const info of FINDINGS) {
    // Fixed number of draws per finding, so one finding's options never shift another's presence.
    const present = rng.next() < s.prevalence;
    const side = rng.next() < 0.5 ? 'left' : 'right';
    const size = rng.next() < 0.5 ? 'small' : 'large';
    const zone = (['upper', 'middle', 'lower'] as const)[rng.int(3)]!;
    const subtle = rng.next() < s.subtleProbability;
    const severity = s.subtle[0] + (s.subtle[1] - s.subtle[0]) * rng.next();
    if (!present) continue;
    const l = LAYOUT[info.name];
    out.push({
      name: info.name,
      ...(l.side ? { side } : {}),
      ...(l.size ? { size } : {}),
      ...(l.zone ? { zone } : {}),
      ...(subtle ? { severity: Math.round(severity * 1000) / 1000 } : {}),
    });
  }
  return out;
}

/** 2×2 box downsampling of a square 8-bit image (rounded to 8 bits again, like a canvas). */
export function downsample2(pixels: Uint8Array, size: number): Uint8Array {
  const half = size / 2;
  const out = new Uint8Array(half * half);
  for (let y = 0; y < half; y++) {
    for (let x = 0; x < half; x++) {
      const i = 2 * y * size + 2 * x;
      out[y * half + x] = Math.round(
        (pixels[i]! + pixels[i + 1]! + pixels[i + size]! + pixels[i + size + 1]!) / 4,
      );
    }
  }
  return out;
}

/** Presence and size targets of a resolved finding list, in axis order. */
export function conceptTargets(findings: FindingSpec[]): { presence: Float64Array; size: Float64Array } {
  const presence = new Float64Array(PRESENCE.length);
  const size = new Float64Array(SIZE_AXES.length);
  for (const f of findings) {
    PRESENCE.forEach((c, k) => {
      if (c.finding === f.name && (!c.side || c.side === f.side) && (!c.zone || c.zone === f.zone))
        presence[k] = 1;
    });
    SIZE_AXES.forEach((c, k) => {
      if (c.finding === f.name && (!c.side || c.side === f.side)) size[k] = f.size === 'large' ? 1 : -1;
    });
  }
  return { presence, size };
}

/** One rendered sample: gray pixels at the model size plus its resolved labels. */
export interface Sample {
  pixels: Uint8Array;
  findings: FindingSpec[];
}

/** Renders image `index` of a data set: its findings from stream `<name>/<index>`, at the model size. */
export function renderSample(
  seed: number,
  name: string,
  index: number,
  size: number,
  s: SamplingSpec,
  findings?: FindingSpec[],
): Sample {
  const rng = createRng(seed, `${name}/${index}`);
  const drawn = findings ?? sampleFindings(rng, s);
  const big = rng.next() < s.downsampledFraction;
  const phantom: Phantom = generatePhantom({ seed, index, size: big ? 2 * size : size, findings: drawn });
  const pixels = big ? downsample2(phantom.pixels, 2 * size) : phantom.pixels;
  return { pixels, findings: phantom.labels.findings };
}

/** Gray values in [0, 1] of 8-bit pixels. */
export function toGray(pixels: Uint8Array): Float64Array {
  const out = new Float64Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255;
  return out;
}

/** One image to render: its data set (`name`, `seed`), index, and fixed findings (else drawn by sampleFindings). */
export interface SampleJob {
  seed: number;
  name: string;
  index: number;
  findings?: FindingSpec[];
}

/** Features and resolved labels of a list of jobs, in job order. */
export interface ComputedSamples {
  /** jobs.length × featureCount(spec), row-major. */
  features: Float64Array;
  findings: FindingSpec[][];
}

/** Renders and featurises `jobs` in this thread. */
export function computeSamples(jobs: SampleJob[], spec: FeatureSpec, s: SamplingSpec): ComputedSamples {
  const F = featureCount(spec);
  const features = new Float64Array(jobs.length * F);
  const findings: FindingSpec[][] = [];
  jobs.forEach((job, i) => {
    const sample = renderSample(job.seed, job.name, job.index, spec.size, s, job.findings);
    features.set(imageFeatures(toGray(sample.pixels), spec), i * F);
    findings.push(sample.findings);
  });
  return { features, findings };
}

/** A data set: feature matrix (n × F), presence targets (n × K), size targets (n × Q), labels. */
export interface DataSet {
  x: Matrix;
  presence: Matrix;
  size: Matrix;
  findings: FindingSpec[][];
}

/** A data set from computed samples: targets from the resolved labels. */
export function toDataSet(samples: ComputedSamples, spec: FeatureSpec): DataSet {
  const F = featureCount(spec);
  const n = samples.findings.length;
  const presence: Matrix = { rows: n, cols: PRESENCE.length, data: new Float64Array(n * PRESENCE.length) };
  const size: Matrix = { rows: n, cols: SIZE_AXES.length, data: new Float64Array(n * SIZE_AXES.length) };
  samples.findings.forEach((f, i) => {
    const t = conceptTargets(f);
    presence.data.set(t.presence, i * PRESENCE.length);
    size.data.set(t.size, i * SIZE_AXES.length);
  });
  return { x: { rows: n, cols: F, data: samples.features }, presence, size, findings: samples.findings };
}
