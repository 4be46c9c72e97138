// Entry point of the phantom generator: draws an image's nuisance values and resolves its findings' unspecified
// options from seeded named streams, renders it (render.ts), writes its report (report.ts), and iterates a cohort
// lazily with exact finding counts. Deterministic in (seed, index, size, findings, nuisance ranges).
import { createRng } from '../random.ts';
import { findingInfo, type FindingSpec, type Side, type Zone } from './findings.ts';
import { MM_PER_UNIT, renderPhantom, streamName, type PhantomMeasurements } from './render.ts';
import { writeReport } from './report.ts';

/** Ranges of the nuisance variation; each image draws uniformly within them. */
export interface NuisanceRanges {
  /** Zoom of the patient in the frame (1 = nominal; larger patients fill more of it). */
  patientScale: [number, number];
  /** In-plane rotation, degrees (positive = clockwise on screen). */
  rotationDeg: [number, number];
  /** Depth of inspiration (1 = good, ~10 posterior ribs above the right dome; < 0.7 = low lung volumes). */
  inspiration: [number, number];
  /** Exposure (1 = nominal; > 1 overexposed, darker image; < 1 underexposed, brighter). */
  exposure: [number, number];
  /** Film/quantum noise standard deviation, gray levels of 255. */
  noise: [number, number];
  /** Probability that a side marker letter is present. */
  markerProbability: number;
  /** Probability that a present marker is 'L' (placed on the image right); otherwise 'R' (image left). */
  markerLeftProbability: number;
}

/** Default nuisance ranges. */
export const DEFAULT_NUISANCE: Readonly<NuisanceRanges> = Object.freeze({
  patientScale: [0.92, 1.06],
  rotationDeg: [-4, 4],
  inspiration: [0.86, 1.04],
  exposure: [0.88, 1.12],
  noise: [2, 6],
  markerProbability: 0.85,
  markerLeftProbability: 0.8,
} satisfies NuisanceRanges);

/** Inspiration of an image with low lung volumes at severity 1 (0 gives 0.74). */
const LOW_VOLUME_INSPIRATION = [0.74, 0.5] as const;

export interface PhantomOptions {
  seed: number;
  /** Image index within its cohort (0-based); different indices are different patients. */
  index: number;
  /** Square side in pixels; default 512. */
  size?: number;
  findings: FindingSpec[];
  nuisance?: Partial<NuisanceRanges>;
}

export interface PhantomLabels {
  /** The findings drawn, resolved: every applicable option (side, size, zone, severity, variant) filled in. */
  findings: FindingSpec[];
  nuisance: {
    patientScale: number;
    rotationDeg: number;
    inspiration: number;
    exposure: number;
    noise: number;
    marker: 'L' | 'R' | null;
  };
  /** Geometry measured on the drawn image (cardiothoracic ratio, diaphragm heights, habitus). */
  measurements: PhantomMeasurements;
}

export interface Phantom {
  size: number;
  /** size × size 8-bit gray, row-major, row 0 = top, 0 = black (air). */
  pixels: Uint8Array;
  labels: PhantomLabels;
  /** Short synthetic radiology report written from the labels. */
  report: string;
}

export const DEFAULT_SIZE = 512;

function checkSize(size: number): number {
  if (!Number.isInteger(size) || size < 32 || size > 4096) {
    throw new RangeError(`phantom size must be an integer in [32, 4096], got ${size}`);
  }
  return size;
}

/** Fills the unspecified options of each finding from its own stream (`phantom/<index>/finding/<name>/<k>`). */
export function resolveFindings(seed: number, index: number, findings: FindingSpec[]): FindingSpec[] {
  const counts = new Map<string, number>();
  return findings.map((spec) => {
    const info = findingInfo(spec.name);
    if (!info) throw new Error(`unknown finding "${String(spec.name)}"`);
    const k = counts.get(spec.name) ?? 0;
    counts.set(spec.name, k + 1);
    const rng = createRng(seed, streamName(index, `finding/${spec.name}/${k}`));
    // Fixed draw order: a value is drawn whether or not it is used, so options never shift each other.
    const sideDraw = rng.next();
    const sizeDraw = rng.next();
    const zoneDraw = rng.next();
    const severityDraw = rng.next();
    const variantDraw = rng.next();
    const out: FindingSpec = { name: spec.name };
    if (info.options.side) {
      const leftBias = spec.name === 'pacemaker' ? 0.9 : 0.5;
      out.side = spec.side ?? ((sideDraw < leftBias ? 'left' : 'right') as Side);
    }
    if (info.options.size) out.size = spec.size ?? (sizeDraw < 0.5 ? 'small' : 'large');
    if (info.options.zone) {
      const zones: Zone[] = ['upper', 'middle', 'lower'];
      out.zone = spec.zone ?? zones[Math.min(2, Math.floor(zoneDraw * 3))]!;
    }
    const severity = spec.severity ?? 0.7 + 0.3 * severityDraw;
    if (!(severity >= 0 && severity <= 1))
      throw new RangeError(`severity must be in [0, 1], got ${spec.severity}`);
    out.severity = Math.round(severity * 1000) / 1000;
    if (spec.name === 'cvc') {
      const jugular = out.side === 'right' ? 0.7 : 0.45;
      out.variant = spec.variant ?? (variantDraw < jugular ? 'jugular' : 'subclavian');
    } else if (spec.name === 'nodule') {
      out.variant = spec.variant ?? `${Math.round(7 + variantDraw * 7)} mm`;
    } else if (spec.name === 'ett') {
      out.variant = spec.variant ?? `${(3 + Math.round(variantDraw * 6) * 0.5).toFixed(1)} cm`;
    } else if (spec.variant !== undefined) {
      out.variant = spec.variant;
    }
    return out;
  });
}

function drawNuisance(seed: number, index: number, findings: FindingSpec[], ranges: NuisanceRanges) {
  const rng = createRng(seed, streamName(index, 'nuisance'));
  const pick = (r: [number, number]) => r[0] + (r[1] - r[0]) * rng.next();
  const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
  const patientScale = round(pick(ranges.patientScale), 4);
  const rotationDeg = round(pick(ranges.rotationDeg), 3);
  let inspiration = round(pick(ranges.inspiration), 4);
  const exposure = round(pick(ranges.exposure), 4);
  const noise = round(pick(ranges.noise), 3);
  const present = rng.next() < ranges.markerProbability;
  const left = rng.next() < ranges.markerLeftProbability;
  const low = findings.find((f) => f.name === 'low-lung-volumes');
  if (low) {
    const sev = low.severity ?? 1;
    inspiration = round(
      Math.min(
        inspiration,
        LOW_VOLUME_INSPIRATION[0] + (LOW_VOLUME_INSPIRATION[1] - LOW_VOLUME_INSPIRATION[0]) * sev,
      ),
      4,
    );
  }
  const marker: 'L' | 'R' | null = present ? (left ? 'L' : 'R') : null;
  return { patientScale, rotationDeg, inspiration, exposure, noise, marker };
}

/**
 * Generates one frontal chest radiograph phantom with its labels and report. Deterministic in (seed, index,
 * size, findings, nuisance); the anatomy and nuisance of (seed, index) do not depend on the findings, so the same
 * (seed, index) with and without a finding is a matched pair.
 */
export function generatePhantom(options: PhantomOptions): Phantom {
  const size = checkSize(options.size ?? DEFAULT_SIZE);
  const { seed, index } = options;
  if (!Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`index must be an integer ≥ 0, got ${index}`);
  const ranges: NuisanceRanges = { ...DEFAULT_NUISANCE, ...options.nuisance };
  const findings = resolveFindings(seed, index, options.findings);
  const nuisance = drawNuisance(seed, index, findings, ranges);
  const { pixels, measurements } = renderPhantom({ seed, index, size, findings, nuisance });
  const labels: PhantomLabels = { findings, nuisance, measurements };
  const report = writeReport(labels, seed, index);
  return { size, pixels, labels, report };
}

export interface CohortSpec {
  n: number;
  seed: number;
  size?: number;
  /** Each finding is present in exactly round(prevalence · n) images, chosen by a seeded shuffle. */
  findings: { spec: FindingSpec; prevalence: number }[];
  nuisance?: Partial<NuisanceRanges>;
}

/** File name of the image at 0-based `index`: 'phantom-00001.png' for index 0. */
export function phantomFileName(index: number): string {
  return `phantom-${String(index + 1).padStart(5, '0')}.png`;
}

/**
 * Which images of a cohort carry which findings: for finding j, exactly round(prevalence_j · n) images drawn
 * without replacement from stream `cohort/finding/<j>` (exact counts keep benchmarks stable).
 */
export function cohortAssignment(spec: CohortSpec): Uint8Array[] {
  const { n, seed } = spec;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer ≥ 0, got ${n}`);
  return spec.findings.map(({ prevalence }, j) => {
    if (!(prevalence >= 0 && prevalence <= 1))
      throw new RangeError(`prevalence must be in [0, 1], got ${prevalence}`);
    const k = Math.round(prevalence * n);
    const chosen = createRng(seed, `cohort/finding/${j}`).sample(n, k);
    const member = new Uint8Array(n);
    for (const i of chosen) member[i] = 1;
    return member;
  });
}

/**
 * A cohort of n phantoms, generated lazily one at a time (never all images in memory). Image i (0-based) is
 * generatePhantom({ seed, index: i, ... }) named phantomFileName(i).
 */
export function* generateCohort(spec: CohortSpec): Iterable<{ name: string; phantom: Phantom }> {
  const size = checkSize(spec.size ?? DEFAULT_SIZE);
  const members = cohortAssignment(spec);
  for (let i = 0; i < spec.n; i++) {
    const findings = spec.findings.filter((_, j) => members[j]![i] === 1).map((f) => f.spec);
    const phantom = generatePhantom({ seed: spec.seed, index: i, size, findings, nuisance: spec.nuisance });
    yield { name: phantomFileName(i), phantom };
  }
}

export { MM_PER_UNIT };
