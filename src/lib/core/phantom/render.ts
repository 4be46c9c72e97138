// Rasterizer of the chest radiograph phantom: analytic anatomy (body, lungs, mediastinum and heart, hemidiaphragms,
// ribs, clavicles, spine, vessels) and findings are drawn as densities into Float32 layers of an upright
// "canonical" frame with scanline and column loops, then resampled once with the patient's scale and rotation,
// passed through an exposure curve, given film noise and a side marker. Pure TypeScript: no DOM, no Node APIs.
import { createRng, type Rng } from '../random.ts';
import type { FindingSpec, Side, Zone } from './findings.ts';

/** Nuisance values of one image (drawn by generate.ts). */
export interface RenderNuisance {
  patientScale: number;
  rotationDeg: number;
  inspiration: number;
  exposure: number;
  noise: number;
  marker: 'L' | 'R' | null;
}

/** Everything the rasterizer needs: findings are resolved (every applicable option filled in). */
export interface RenderInput {
  seed: number;
  index: number;
  size: number;
  findings: FindingSpec[];
  nuisance: RenderNuisance;
}

/** Geometry measured on the drawn phantom. */
export interface PhantomMeasurements {
  /** Cardiothoracic ratio: widest heart width / widest inner thoracic width. */
  ctr: number;
  /** Right and left hemidiaphragm dome heights, fractions of the image height from the top (before rotation). */
  diaphragmRight: number;
  diaphragmLeft: number;
  /** Whether breast shadows were drawn (a nuisance of body habitus). */
  breastShadows: boolean;
}

export interface RenderOutput {
  pixels: Uint8Array;
  measurements: PhantomMeasurements;
}

/** Random stream names of one phantom: everything of image `index` lives under `phantom/<index>/`. */
export function streamName(index: number, part: string): string {
  return `phantom/${index}/${part}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Canvas: canonical layers with a margin, so that the final scale/rotation never samples outside them.

const MARGIN = 0.09;
/** Density the lungs' air removes from the soft tissue it replaces. */
const AIR_K = 0.45;

interface Canvas {
  /** Output side: pixels per normalized unit. */
  n: number;
  /** Canonical side in pixels. */
  c: number;
  /** Soft tissue, bone and everything else additive. */
  d: Float32Array;
  /** Lung air, 0..~1.2 (pneumothorax > 1). */
  air: Float32Array;
  /** Lung markings (vessels, hila, nodules): visible in proportion to the air around them. */
  v: Float32Array;
  /** Devices and thin lines (max-blended). */
  x: Float32Array;
}

const canvases = new Map<number, Canvas>();

function canvasFor(n: number): Canvas {
  let cv = canvases.get(n);
  const c = Math.ceil(n * (1 + 2 * MARGIN));
  if (!cv) {
    const len = c * c;
    cv = {
      n,
      c,
      d: new Float32Array(len),
      air: new Float32Array(len),
      v: new Float32Array(len),
      x: new Float32Array(len),
    };
    if (canvases.size > 4) canvases.clear();
    canvases.set(n, cv);
  } else {
    cv.d.fill(0);
    cv.air.fill(0);
    cv.v.fill(0);
    cv.x.fill(0);
  }
  return cv;
}

/** Normalized canonical coordinate → canonical pixel coordinate (pixel i has its centre at i). */
function px(cv: Canvas, u: number): number {
  return (u + MARGIN) * cv.n - 0.5;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function smoothstep(a: number, b: number, x: number): number {
  const t = clamp01((x - a) / (b - a));
  return t * t * (3 - 2 * t);
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

function range(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/** Patient side → index (0 = patient right = image left) and its outward sign on the image u axis. */
function sideIndex(side: Side | undefined): 0 | 1 {
  return side === 'right' ? 0 : 1;
}
function sideSign(s: 0 | 1): number {
  return s === 0 ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Geometry: all lengths are fractions of the image side; d is the distance from the midline (outward positive).

interface Lung {
  apexV: number;
  /** Apex distance from the midline. */
  dApex: number;
  /** Lateral wall distance at the widest level. */
  dLat: number;
  /** Level where the lateral wall reaches dLat. */
  vWide: number;
  domeV: number;
  dDome: number;
  /** Costophrenic angle level. */
  cpV: number;
  /** Medial diaphragm rise toward the cardiophrenic angle. */
  medDepth: number;
  hilumD: number;
  hilumV: number;
}

/** Cardiac silhouette: right atrial and left ventricular borders as distances from the midline. */
interface Heart {
  /** Widest right (atrial) border distance and its level. */
  rA: number;
  raTopV: number;
  raMaxV: number;
  /** Widest left (ventricular) border distance: the apex, at apexV. */
  lvMax: number;
  lvTopV: number;
  apexV: number;
  /** rA + lvMax. */
  width: number;
  /** Rough centre, top and bottom (for devices). */
  cu: number;
  cv: number;
  topV: number;
  bottomV: number;
}

interface Rib {
  v0: number;
  curve: number;
  dEnd: number;
  vEnd: number;
  thick: number;
  ant: number;
}

interface Geometry {
  mid: number;
  w: number;
  lungs: [Lung, Lung];
  heart: Heart;
  carinaV: number;
  knobV: number;
  upperMed: [number, number];
  clavV: number;
  clavTilt: number;
  ribs: Rib[];
  breasts: boolean;
  breastV: number;
  stomach: boolean;
  shoulderV: number;
  tissue: number;
}

/** Draws the anatomy: a fixed number of draws from the anatomy stream, so findings never shift it. */
function buildGeometry(rng: Rng, inspiration: number, findings: FindingSpec[]): Geometry {
  const r = () => rng.next();
  const mid = 0.5 + (r() - 0.5) * 0.02;
  const w = range(rng, 0.93, 1.04);
  const ins = inspiration;
  const apexV = range(rng, 0.075, 0.105);
  const domeR = 0.7 - (1 - ins) * 0.34 + (r() - 0.5) * 0.03;
  const domeL = domeR + range(rng, 0.01, 0.035);
  const cpDepth = range(rng, 0.06, 0.085) * (0.75 + 0.25 * ins);
  const dLat = range(rng, 0.345, 0.37) * w * (0.92 + 0.08 * Math.min(1, ins));
  const normalCtr = range(rng, 0.39, 0.47);
  const theta = rng.next();
  const carinaV = range(rng, 0.3, 0.33) - (1 - ins) * 0.04;
  const ribSpacing = range(rng, 0.052, 0.057) * (0.8 + 0.2 * Math.min(1.05, ins));
  const clavV = apexV + range(rng, 0.055, 0.085);
  const clavTilt = range(rng, 0.05, 0.12);
  const breasts = r() < 0.45;
  const breastV = range(rng, 0.64, 0.74);
  const stomach = r() < 0.75;
  const shoulderV = range(rng, 0.13, 0.17);
  const tissue = range(rng, 0.64, 0.72);
  const hilumJ = [r(), r(), r(), r()];

  const lung = (s: 0 | 1): Lung => {
    const domeV = s === 0 ? domeR : domeL;
    const lat = dLat * (s === 0 ? 1 : 1.01);
    return {
      apexV: apexV + (s === 0 ? 0 : 0.005),
      dApex: 0.17 * w,
      dLat: lat,
      vWide: apexV + 0.78 * (domeV + cpDepth - apexV),
      domeV,
      dDome: 0.55 * lat,
      cpV: domeV + cpDepth,
      medDepth: 0.05,
      hilumD: (s === 0 ? 0.095 : 0.085) * w + (hilumJ[s * 2]! - 0.5) * 0.01,
      hilumV: lerp(apexV, domeV, s === 0 ? 0.5 : 0.46) + (hilumJ[s * 2 + 1]! - 0.5) * 0.02,
    };
  };
  const lungs: [Lung, Lung] = [lung(0), lung(1)];

  let ctr = normalCtr + 0.06 * Math.max(0, 1 - ins);
  for (const f of findings)
    if (f.name === 'cardiomegaly') ctr = Math.max(ctr, 0.52 + 0.15 * (f.severity ?? 1));
  const thoracic = lungs[0].dLat + lungs[1].dLat;
  const width = ctr * thoracic;
  const rightShare = 0.33 + 0.06 * theta;
  const lvTopV = carinaV + 0.1;
  const heartApexV = domeL + 0.004;
  const heart: Heart = {
    rA: width * rightShare,
    raTopV: carinaV + 0.1,
    raMaxV: domeR - 0.045,
    lvMax: width * (1 - rightShare),
    lvTopV,
    apexV: heartApexV,
    width,
    cu: mid + width * (0.5 - rightShare),
    cv: (lvTopV + heartApexV) / 2,
    topV: lvTopV,
    bottomV: heartApexV,
  };

  const ribs: Rib[] = [];
  let v0 = apexV - 0.012;
  for (let k2 = 0; k2 < 12; k2++) {
    const curve = k2 === 0 ? 2.4 : k2 === 1 ? 1.5 : k2 === 2 ? 1.2 : 1;
    // The rib reaches the lateral chest wall at the level its curve puts it.
    const probe = v0 + 0.045;
    const dWall = Math.max(0.12, lateralD(lungs[0], probe) + 0.012 * w);
    const dEnd = Math.min(dWall, k2 === 0 ? 0.2 * w : 1);
    ribs.push({
      v0,
      curve,
      dEnd,
      vEnd: v0 + curve * ribP(dEnd / w),
      thick: 0.021 + 0.0012 * k2,
      ant: k2 === 0 ? 0.6 : 0.5,
    });
    v0 += ribSpacing * (0.78 + 0.045 * k2);
  }

  return {
    mid,
    w,
    lungs,
    heart,
    carinaV,
    knobV: carinaV - range(rng, 0.015, 0.035),
    upperMed: [0.062 * w, 0.056 * w],
    clavV,
    clavTilt,
    ribs,
    breasts,
    breastV,
    stomach,
    shoulderV,
    tissue,
  };
}

/** Posterior rib centre line: rises a little from the spine, then falls toward the lateral wall. */
function ribP(d: number): number {
  return -0.3 * d + 1.95 * d * d;
}
function ribPSlope(d: number): number {
  return -0.3 + 3.9 * d;
}

/** Lateral lung wall distance from the midline at level v (superellipse apex, vertical lower wall). */
function lateralD(l: Lung, v: number): number {
  if (v < l.apexV) return -1;
  if (v >= l.vWide) return l.dLat;
  const t = (l.vWide - v) / (l.vWide - l.apexV);
  return l.dApex + (l.dLat - l.dApex) * Math.sqrt(1 - t * t);
}

/** Medial border of the apex (before the mediastinum clips it). */
function apexMedialD(l: Lung, v: number): number {
  const span = 0.13;
  if (v < l.apexV) return 99;
  if (v >= l.apexV + span) return 0.02;
  const t = (l.apexV + span - v) / span;
  return l.dApex - (l.dApex - 0.02) * Math.pow(1 - Math.pow(t, 2), 0.5);
}

/** Hemidiaphragm level at distance d from the midline. */
function diaphragmV(l: Lung, d: number): number {
  if (d >= l.dDome) {
    const t = (d - l.dDome) / (l.dLat - l.dDome);
    return l.domeV + (l.cpV - l.domeV) * Math.pow(Math.max(0, t), 1.7);
  }
  const t = (l.dDome - d) / l.dDome;
  return l.domeV + l.medDepth * t * t;
}

/** Cardiac border distance from the midline on side s at level v (0 above the heart). */
function heartD(h: Heart, s: 0 | 1, v: number): number {
  if (s === 0) {
    if (v < h.raTopV) return 0;
    if (v < h.raMaxV)
      return h.rA * Math.pow(Math.sin((Math.PI / 2) * ((v - h.raTopV) / (h.raMaxV - h.raTopV))), 0.7);
    const t = (v - h.raMaxV) / 0.1;
    return h.rA * Math.max(0, 1 - 0.5 * t * t);
  }
  if (v < h.lvTopV) return 0;
  if (v < h.apexV)
    return h.lvMax * Math.pow(Math.sin((Math.PI / 2) * ((v - h.lvTopV) / (h.apexV - h.lvTopV))), 0.85);
  const t = (v - h.apexV) / 0.08;
  return h.lvMax * Math.max(0, 1 - t * t);
}

/** Mediastinal border distance from the midline on side s at level v (upper mediastinum ∪ heart). */
function mediastinumD(g: Geometry, s: 0 | 1, v: number): number {
  let d = 0;
  if (v < g.heart.bottomV) {
    d = g.upperMed[s];
    if (s === 1) {
      // Aortic knob and main pulmonary artery bulge on the left border (image right).
      const k = (v - g.knobV) / 0.03;
      d += 0.035 * g.w * Math.exp(-k * k);
      const p = (v - (g.carinaV + 0.07)) / 0.03;
      d += 0.018 * g.w * Math.exp(-p * p);
    } else {
      // The SVC border widens slightly into the right atrium.
      d += 0.008 * smoothstep(g.carinaV - 0.05, g.carinaV + 0.05, v);
    }
  }
  return Math.max(d, heartD(g.heart, s, v));
}

/** Per-row and per-column lookup tables in canonical pixels. */
interface Tables {
  /** Lung spans per side and row: [u0, u1] pixel coordinates (u0 > u1 when empty). */
  lung0: Float32Array;
  lung1: Float32Array;
  /** Mediastinum pixel span per row. */
  med: Float32Array;
  /** Body half-width per row, pixels. */
  body: Float32Array;
  /** Hemidiaphragm pixel row per column (the side's own dome; lungs exist above it). */
  dia: Float32Array;
}

function bodyHalfWidth(g: Geometry, v: number): number {
  const l = g.lungs[0];
  const neck = 0.085 * g.w;
  // Trapezius slope from the neck, rounding over the shoulders, then the arms down the sides, leaving at the
  // axillae.
  const top = g.shoulderV - 0.19;
  const slope = v < top ? 0 : Math.min(0.62 - neck, Math.pow((v - top) / 0.5, 0.625));
  const shoulder = neck + slope * (1 - 0.75 * smoothstep(0.18, 0.62, v));
  const chest = v < l.apexV ? 0 : lateralD(l, Math.min(v, l.vWide)) + 0.055 * g.w;
  const abdomen = v > 0.75 ? -(v - 0.75) * 0.12 : 0;
  return Math.max(shoulder, chest + abdomen, neck);
}

function buildTables(cv: Canvas, g: Geometry): Tables {
  const c = cv.c;
  const lung0 = new Float32Array(c * 2);
  const lung1 = new Float32Array(c * 2);
  const med = new Float32Array(c * 2);
  const body = new Float32Array(c);
  const dia = new Float32Array(c);
  const n = cv.n;
  for (let j = 0; j < c; j++) {
    const v = (j + 0.5) / n - MARGIN;
    for (let s = 0 as 0 | 1; s < 2; s = (s + 1) as 0 | 1) {
      const l = g.lungs[s];
      const lat = lateralD(l, v);
      const medD = Math.max(apexMedialD(l, v), mediastinumD(g, s, v));
      const out = s === 0 ? lung0 : lung1;
      if (lat <= medD || v > l.cpV + 0.01) {
        out[2 * j] = 1;
        out[2 * j + 1] = 0;
      } else if (s === 0) {
        out[2 * j] = px(cv, g.mid - lat);
        out[2 * j + 1] = px(cv, g.mid - medD);
      } else {
        out[2 * j] = px(cv, g.mid + medD);
        out[2 * j + 1] = px(cv, g.mid + lat);
      }
    }
    med[2 * j] = px(cv, g.mid - mediastinumD(g, 0, v));
    med[2 * j + 1] = px(cv, g.mid + mediastinumD(g, 1, v));
    body[j] = bodyHalfWidth(g, v) * n;
  }
  for (let i = 0; i < c; i++) {
    const u = (i + 0.5) / n - MARGIN;
    const s = u < g.mid ? 0 : 1;
    const d = Math.abs(u - g.mid);
    dia[i] = px(cv, diaphragmV(g.lungs[s], d));
  }
  return { lung0, lung1, med, body, dia };
}

/** Whether canonical pixel (x, y) lies in lung s (by the tables; fractional coordinates allowed). */
function inLung(cv: Canvas, t: Tables, s: 0 | 1, x: number, y: number): boolean {
  const j = Math.round(y);
  const i = Math.round(x);
  if (j < 0 || j >= cv.c || i < 0 || i >= cv.c) return false;
  const spans = s === 0 ? t.lung0 : t.lung1;
  return x >= spans[2 * j]! && x <= spans[2 * j + 1]! && y < t.dia[i]!;
}

// ---------------------------------------------------------------------------------------------------------------
// Primitive: an anti-aliased tapered segment with a cylinder profile.

const MODE_ADD = 0;
const MODE_MAX = 1;

function segment(
  cv: Canvas,
  buf: Float32Array,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  r0: number,
  r1: number,
  i0: number,
  i1: number,
  mode: number,
): void {
  const c = cv.c;
  const R0 = Math.max(r0, 0.7);
  const R1 = Math.max(r1, 0.7);
  const k0 = i0 * Math.min(1, r0 / 0.7);
  const k1 = i1 * Math.min(1, r1 / 0.7);
  const rm = Math.max(R0, R1) + 0.6;
  const xa = Math.max(0, Math.floor(Math.min(x0, x1) - rm));
  const xb = Math.min(c - 1, Math.ceil(Math.max(x0, x1) + rm));
  const ya = Math.max(0, Math.floor(Math.min(y0, y1) - rm));
  const yb = Math.min(c - 1, Math.ceil(Math.max(y0, y1) + rm));
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const inv = len2 > 1e-9 ? 1 / len2 : 0;
  for (let y = ya; y <= yb; y++) {
    const row = y * c;
    const ry = y - y0;
    for (let x = xa; x <= xb; x++) {
      const rx = x - x0;
      let t = (rx * dx + ry * dy) * inv;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = rx - t * dx;
      const ey = ry - t * dy;
      const R = R0 + (R1 - R0) * t + 0.5;
      const q = (ex * ex + ey * ey) / (R * R);
      if (q >= 1) continue;
      const val = (k0 + (k1 - k0) * t) * Math.sqrt(1 - q);
      const p = row + x;
      if (mode === MODE_ADD) buf[p] = buf[p]! + val;
      else if (val > buf[p]!) buf[p] = val;
    }
  }
}

type Pt = [number, number];

/** Catmull-Rom spline through normalized points, drawn as tapered segments of about 3 px. */
function path(
  cv: Canvas,
  buf: Float32Array,
  pts: Pt[],
  radius: (t: number) => number,
  intensity: (t: number) => number,
  mode: number,
): Pt[] {
  const out: Pt[] = [];
  const n = cv.n;
  for (let k = 0; k < pts.length - 1; k++) {
    const p0 = pts[Math.max(0, k - 1)]!;
    const p1 = pts[k]!;
    const p2 = pts[k + 1]!;
    const p3 = pts[Math.min(pts.length - 1, k + 2)]!;
    const len = Math.hypot(p2[0] - p1[0], p2[1] - p1[1]) * n;
    const steps = Math.max(1, Math.ceil(len / 3));
    for (let s = k === 0 ? 0 : 1; s <= steps; s++) {
      const t = s / steps;
      const t2 = t * t;
      const t3 = t2 * t;
      const f = (a: number, b: number, c: number, d: number) =>
        0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      out.push([f(p0[0], p1[0], p2[0], p3[0]), f(p0[1], p1[1], p2[1], p3[1])]);
    }
  }
  const m = out.length - 1;
  for (let k = 0; k < m; k++) {
    const a = out[k]!;
    const b = out[k + 1]!;
    const ta = k / m;
    const tb = (k + 1) / m;
    segment(
      cv,
      buf,
      px(cv, a[0]),
      px(cv, a[1]),
      px(cv, b[0]),
      px(cv, b[1]),
      radius(ta) * n,
      radius(tb) * n,
      intensity(ta),
      intensity(tb),
      mode,
    );
  }
  return out;
}

/**
 * Smooth value noise on a (cells+1)² grid of seeded values in [-0.5, 0.5], bilinear, over normalized coordinates
 * of extent `scale` per cell; returns a sampler.
 */
function valueNoise(rng: Rng, cells: number, scale: number): (u: number, v: number) => number {
  const g = new Float32Array((cells + 1) * (cells + 1));
  for (let k = 0; k < g.length; k++) g[k] = rng.next() - 0.5;
  return (u, v) => {
    let x = ((u % (cells * scale)) + cells * scale) / scale;
    let y = ((v % (cells * scale)) + cells * scale) / scale;
    x = x >= cells ? cells - 1e-6 : x;
    y = y >= cells ? cells - 1e-6 : y;
    const i = x | 0;
    const j = y | 0;
    const fx = x - i;
    const fy = y - j;
    const a = g[j * (cells + 1) + i]!;
    const b = g[j * (cells + 1) + i + 1]!;
    const c = g[(j + 1) * (cells + 1) + i]!;
    const d = g[(j + 1) * (cells + 1) + i + 1]!;
    return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
  };
}

/** Filled soft disc (sphere profile) added to buf. */
function blob(cv: Canvas, buf: Float32Array, u: number, v: number, r: number, amount: number): void {
  const x = px(cv, u);
  const y = px(cv, v);
  segment(cv, buf, x, y, x, y, r * cv.n, r * cv.n, amount, amount, MODE_ADD);
}

// ---------------------------------------------------------------------------------------------------------------
// Anatomy passes.

/** Body soft tissue, mediastinum, abdomen, lungs' air: one scanline pass. */
function drawBase(cv: Canvas, g: Geometry, t: Tables, rng: Rng): void {
  const { c, n, d, air } = cv;
  const mid = px(cv, g.mid);
  // Low-frequency texture of the lung parenchyma: a coarse value-noise grid, bilinear.
  const G = 28;
  const grid = new Float32Array((G + 1) * (G + 1));
  for (let k = 0; k < grid.length; k++) grid[k] = rng.next() - 0.5;
  const gs = G / c;
  const tissue = g.tissue;
  const latRamp = 1 / (0.03 * n);
  const medRamp = 1 / (0.008 * n);
  const l0 = g.lungs[0];
  const l1 = g.lungs[1];
  const apexRamp = 1 / 0.04;
  const spineHalf = 0.034 * g.w * n;
  for (let j = 0; j < c; j++) {
    const v = (j + 0.5) / n - MARGIN;
    const row = j * c;
    const hw = t.body[j]!;
    if (hw <= 0) continue;
    const x0 = Math.max(0, Math.ceil(mid - hw));
    const x1 = Math.min(c - 1, Math.floor(mid + hw));
    const invHw = 1 / hw;
    for (let i = x0; i <= x1; i++) {
      const q = (i - mid) * invHw;
      const th = Math.sqrt(Math.max(0, 1 - q * q));
      // Thicker centrally; a thin bright skin line is implied by the sharp outline.
      d[row + i] = tissue * (0.28 + 0.72 * th);
    }
    // Edge anti-aliasing of the outline.
    const e0 = x0 - 1;
    const e1 = x1 + 1;
    if (e0 >= 0) d[row + e0] = tissue * 0.28 * clamp01(e0 - (mid - hw) + 1);
    if (e1 < c) d[row + e1] = tissue * 0.28 * clamp01(mid + hw - e1 + 1);

    // Spine: vertebral bodies with darker disc spaces, faintly seen through the mediastinum and abdomen.
    const vert = 0.5 + 0.5 * Math.cos(((v - g.lungs[0].apexV) / 0.043) * 2 * Math.PI);
    const spineAmp = 0.02 + 0.025 * (1 - vert * vert * vert * vert) + 0.025 * smoothstep(0.6, 0.9, v);
    const s0 = Math.max(0, Math.ceil(mid - spineHalf));
    const s1 = Math.min(c - 1, Math.floor(mid + spineHalf));
    for (let i = s0; i <= s1; i++) {
      const q = (i - mid) / spineHalf;
      const ped = Math.abs(q) > 0.55 && Math.abs(q) < 0.85 ? 0.02 * vert : 0;
      d[row + i] = d[row + i]! + spineAmp * Math.sqrt(Math.max(0, 1 - q * q)) + ped;
    }

    // Breast shadows: extra soft tissue over the lower zones with a curved inferior margin.
    if (g.breasts && v > g.breastV - 0.22 && v < g.breastV + 0.02) {
      for (let s = -1; s <= 1; s += 2) {
        const cu = mid + s * 0.25 * g.w * n;
        const ry = 0.16 * n;
        const rx = 0.17 * n;
        const yy = (v - (g.breastV - 0.1)) * n;
        const fy = 1 - (yy * yy) / (ry * ry);
        if (fy <= 0) continue;
        const half = rx * Math.sqrt(fy);
        const a0 = Math.max(0, Math.ceil(cu - half));
        const a1 = Math.min(c - 1, Math.floor(cu + half));
        for (let i = a0; i <= a1; i++) {
          const q = (i - cu) / rx;
          const f = fy - q * q;
          if (f > 0) d[row + i] = d[row + i]! + 0.075 * Math.sqrt(f) * smoothstep(0, 0.35, yy / ry + 0.6);
        }
      }
    }

    // Trachea and main bronchi: an air column.
    const trachea = 0.017 * n;
    const carinaY = (g.carinaV + MARGIN) * n;
    if (j < carinaY + 0.06 * n && v > -MARGIN) {
      const below = Math.max(0, j - carinaY);
      for (let s = -1; s <= 1; s += 2) {
        const centre = mid + s * below * (j > carinaY ? 0.9 : 0) + (j > carinaY ? 0 : 0);
        const hw2 = j > carinaY ? trachea * 0.75 : trachea;
        const a0 = Math.max(0, Math.ceil(centre - hw2));
        const a1 = Math.min(c - 1, Math.floor(centre + hw2));
        for (let i = a0; i <= a1; i++) {
          if (s === 1 && j <= carinaY && i <= mid) continue;
          if (s === -1 && j <= carinaY && i > mid) continue;
          const q = (i - centre) / hw2;
          const fade = j > carinaY ? 1 - below / (0.06 * n) : smoothstep(0, 0.12, v + 0.02);
          d[row + i] = d[row + i]! - 0.11 * Math.sqrt(Math.max(0, 1 - q * q)) * fade;
        }
      }
    }

    // Lungs.
    for (let s = 0 as 0 | 1; s < 2; s = (s + 1) as 0 | 1) {
      const spans = s === 0 ? t.lung0 : t.lung1;
      const a = spans[2 * j]!;
      const b = spans[2 * j + 1]!;
      if (b <= a) continue;
      const l = s === 0 ? l0 : l1;
      const apexF = clamp01((v - l.apexV) * apexRamp);
      const vf = apexF * (2 - apexF) * (0.9 + 0.1 * clamp01((v - l.apexV) / (l.domeV - l.apexV)));
      const i0 = Math.max(0, Math.ceil(a - 1));
      const i1 = Math.min(c - 1, Math.floor(b + 1));
      const gy = j * gs;
      const gj = Math.min(G - 1, Math.floor(gy));
      const fy = gy - gj;
      for (let i = i0; i <= i1; i++) {
        const dl = s === 0 ? i - a : b - i;
        const dm = s === 0 ? b - i : i - a;
        let el = clamp01(dl * latRamp + 0.1);
        el = el * (2 - el);
        const em = clamp01(dm * medRamp + 0.5);
        const dia = t.dia[i]!;
        const eb = clamp01(dia - j + 0.5);
        if (eb <= 0 || el <= 0 || em <= 0) continue;
        const gx = i * gs;
        const gi = Math.min(G - 1, Math.floor(gx));
        const fx = gx - gi;
        const g00 = grid[gj * (G + 1) + gi]!;
        const g01 = grid[gj * (G + 1) + gi + 1]!;
        const g10 = grid[(gj + 1) * (G + 1) + gi]!;
        const g11 = grid[(gj + 1) * (G + 1) + gi + 1]!;
        const tex = g00 + (g01 - g00) * fx + (g10 - g00) * fy + (g00 - g01 - g10 + g11) * fx * fy;
        const val = vf * el * em * eb * (0.95 + 0.12 * tex);
        const p = row + i;
        if (val > air[p]!) air[p] = val;
      }
    }
  }

  // Stomach bubble under the left hemidiaphragm, with an air-fluid level.
  if (g.stomach) {
    const l = g.lungs[1];
    const cu = g.mid + (l.dDome + 0.01) * 1;
    const cvv = l.domeV + 0.055;
    const rx = 0.06;
    const ry = 0.038;
    for (let y = Math.floor(px(cv, cvv - ry)); y <= Math.ceil(px(cv, cvv + 0.005)); y++) {
      if (y < 0 || y >= c) continue;
      const vv = (y + 0.5) / n - MARGIN;
      const fy = 1 - ((vv - cvv) / ry) ** 2;
      if (fy <= 0) continue;
      for (let x = Math.floor(px(cv, cu - rx)); x <= Math.ceil(px(cv, cu + rx)); x++) {
        if (x < 0 || x >= c) continue;
        const uu = (x + 0.5) / n - MARGIN;
        const f = fy - ((uu - cu) / rx) ** 2;
        if (f <= 0 || y < t.dia[x]! + 0.012 * n) continue;
        d[y * c + x] = d[y * c + x]! - 0.2 * Math.sqrt(f);
      }
    }
  }
}

/** Branching pulmonary vessels from each hilum into the markings layer. */
function drawVessels(cv: Canvas, g: Geometry, rng: Rng, ins: number): void {
  const crowd = 1 + 0.45 * Math.max(0, 1 - ins);
  for (let s = 0 as 0 | 1; s < 2; s = (s + 1) as 0 | 1) {
    const l = g.lungs[s];
    const sg = sideSign(s);
    const hu = g.mid + sg * l.hilumD;
    const hv = l.hilumV;
    // Hilum: the lobar arteries and veins overlapping, a vertical comma-shaped density.
    blob(cv, cv.v, hu + sg * 0.012, hv - 0.01, 0.024, 0.075);
    blob(cv, cv.v, hu + sg * 0.02, hv + 0.03, 0.02, 0.07);
    blob(cv, cv.v, hu + sg * 0.008, hv - 0.045, 0.015, 0.05);
    path(
      cv,
      cv.v,
      [
        [hu + sg * 0.005, hv - 0.06],
        [hu + sg * 0.015, hv],
        [hu + sg * 0.03, hv + 0.07],
      ],
      (q) => 0.011 - 0.003 * q,
      () => 0.12,
      MODE_MAX,
    );
    const height = (l.domeV - l.apexV) / 0.6;
    // Trunks fan out from straight up (−π/2) through lateral to straight down (π/2), lower lobe ones larger.
    const count = 8;
    for (let k = 0; k < count; k++) {
      const fan = -1.4 + (2.85 * (k + 0.5)) / count + (rng.next() - 0.5) * 0.25;
      const ang = Math.atan2(Math.sin(fan), sg * Math.cos(fan));
      const down = Math.sin(fan);
      const len = height * range(rng, 0.045, 0.06) * (1 + 0.3 * Math.abs(down));
      const rad = 0.0082 * (1 + 0.25 * down) * range(rng, 0.85, 1.1);
      // Upper trunks leave the top of the hilum, lower ones its bottom.
      const su = hu + sg * (0.012 + 0.01 * rng.next());
      const sv = hv + down * 0.045;
      branch(cv, rng, su, sv, ang, len, rad, 5, crowd);
    }
  }
}

/** One vessel segment (a gently curving three-piece walk) and, recursively, its daughters. */
function branch(
  cv: Canvas,
  rng: Rng,
  u: number,
  v: number,
  ang: number,
  len: number,
  rad: number,
  depth: number,
  crowd: number,
): void {
  const k = 30;
  const n = cv.n;
  let cu = u;
  let cvv = v;
  let a = ang;
  let r = rad;
  for (let piece = 0; piece < 3; piece++) {
    a += (rng.next() - 0.5) * 0.35;
    const nu = cu + (Math.cos(a) * len) / 3;
    const nv = cvv + (Math.sin(a) * len) / 3 / crowd;
    const nr = r * 0.95;
    segment(
      cv,
      cv.v,
      px(cv, cu),
      px(cv, cvv),
      px(cv, nu),
      px(cv, nv),
      r * n,
      nr * n,
      r * k,
      nr * k,
      MODE_MAX,
    );
    cu = nu;
    cvv = nv;
    r = nr;
  }
  if (depth <= 0 || r < 0.0011) {
    // End-on vessel dot at some tips.
    if (rng.next() < 0.35) blob(cv, cv.v, cu, cvv, r * 1.7, r * k * 1.3);
    return;
  }
  const spread = range(rng, 0.4, 0.75);
  const bias = (rng.next() - 0.5) * 0.25;
  const nextLen = len * range(rng, 0.7, 0.85);
  const ratio = range(rng, 0.6, 0.85);
  // Unequal daughters: the main continuation keeps more of the calibre.
  branch(cv, rng, cu, cvv, a + spread * (1 - ratio) + bias, nextLen, r * 0.86, depth - 1, crowd);
  branch(
    cv,
    rng,
    cu,
    cvv,
    a - spread * ratio + bias,
    nextLen * 0.85,
    r * (0.55 + 0.25 * ratio),
    depth - 1,
    crowd,
  );
}

/** Posterior and anterior ribs, clavicles and humeral heads, drawn column by column into d. */
function drawBones(cv: Canvas, g: Geometry): void {
  const { c, n, d } = cv;
  const mid = g.mid;
  const maxV = 0.86;
  for (let i = 0; i < c; i++) {
    const u = (i + 0.5) / n - MARGIN;
    const dd = Math.abs(u - mid);
    const dn = dd / g.w;
    const dome = g.lungs[u < mid ? 0 : 1].domeV;
    for (const rib of g.ribs) {
      // Posterior rib: from the transverse process to the lateral wall, thinner laterally.
      if (dd >= 0.03 && dd <= rib.dEnd) {
        const vc = rib.v0 + rib.curve * ribP(dn);
        if (vc < maxV) {
          const slope = (rib.curve * ribPSlope(dn)) / g.w;
          const along = dd / rib.dEnd;
          const fadeOut =
            smoothstep(rib.dEnd, rib.dEnd - 0.02, dd) *
            (0.4 + 0.6 * smoothstep(0.04, 0.1, dd)) *
            (1 - 0.45 * smoothstep(dome - 0.02, dome + 0.08, vc));
          const thick = rib.thick * (1.12 - 0.3 * along) * Math.sqrt(1 + slope * slope);
          bone(cv, d, i, vc, thick, 0.09 * fadeOut, n, c);
        }
      }
      // Anterior rib: from the lateral wall medially and downward, fading into cartilage.
      const dEndA = rib.dEnd + 0.004;
      if (dd <= dEndA && dd >= 0.08) {
        const t = (dEndA - dd) / g.w;
        const vc = rib.vEnd - 0.008 + rib.ant * t + 0.55 * t * t;
        if (vc < maxV) {
          const slope = rib.ant + 1.1 * t;
          const fade =
            smoothstep(0.09, 0.2, dd) *
            smoothstep(dEndA, dEndA - 0.025, dd) *
            (1 - 0.8 * smoothstep(dome - 0.03, dome + 0.05, vc));
          bone(cv, d, i, vc, 0.017 * Math.sqrt(1 + slope * slope), 0.06 * fade, n, c);
        }
      }
    }
    // Clavicles: S-shaped, from the sternal notch to the acromion.
    if (dd > 0.028 && dd < 0.36 * g.w) {
      const t = (dd - 0.028) / (0.36 * g.w - 0.028);
      const vc = g.clavV - g.clavTilt * (dd - 0.028) + 0.024 * Math.sin(Math.PI * t * 1.4) - 0.01 * t * t;
      const thick = lerp(0.03, 0.022, t) * (t > 0.85 ? 1 + (t - 0.85) * 3 : 1);
      const fade = smoothstep(0.028, 0.04, dd);
      bone(cv, d, i, vc, thick, 0.17 * fade, n, c);
    }
  }
  // Humeral heads (a bright cortical rim around a paler head) with the proximal shafts, at the shoulders.
  for (let s = -1; s <= 1; s += 2) {
    const hu = mid + s * 0.485 * g.w;
    const hv = g.clavV + 0.005;
    blob(cv, d, hu, hv, 0.062, 0.11);
    blob(cv, d, hu + s * 0.004, hv + 0.002, 0.055, -0.045);
    path(
      cv,
      d,
      [
        [hu + s * 0.02, hv + 0.03],
        [hu + s * 0.05, hv + 0.2],
      ],
      () => 0.035,
      () => 0.08,
      MODE_MAX,
    );
  }
}

/** A bony band across column i centred at vc with a cortical (bright-rimmed) profile. */
function bone(
  cv: Canvas,
  d: Float32Array,
  i: number,
  vc: number,
  thick: number,
  amp: number,
  n: number,
  c: number,
): void {
  if (amp <= 0) return;
  const yc = px(cv, vc);
  const h = (thick * n) / 2;
  const y0 = Math.max(0, Math.ceil(yc - h - 1));
  const y1 = Math.min(c - 1, Math.floor(yc + h + 1));
  const invH = 1 / h;
  for (let y = y0; y <= y1; y++) {
    const s = (y - yc) * invH;
    const as = s < 0 ? -s : s;
    const edge = clamp01((1 - as) * h + 0.5);
    if (edge <= 0) continue;
    const s2 = as * as;
    const prof = 0.55 + 0.45 * s2 * s2 * (s > 0 ? 1.2 : 0.9);
    const p = y * c + i;
    d[p] = d[p]! + amp * prof * edge;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Findings.

function zoneRange(l: Lung, zone: Zone): [number, number] {
  const h = l.domeV - l.apexV;
  const k = zone === 'upper' ? 0 : zone === 'middle' ? 1 : 2;
  return [l.apexV + (h * k) / 3, l.apexV + (h * (k + 1)) / 3];
}

/** A random point inside lung s within a zone, away from the edges (falls back to the zone centre). */
function pointInZone(cv: Canvas, t: Tables, g: Geometry, rng: Rng, s: 0 | 1, zone: Zone, inset: number): Pt {
  const l = g.lungs[s];
  const [va, vb] = zoneRange(l, zone);
  const sg = sideSign(s);
  let best: Pt = [g.mid + sg * (l.dLat * 0.6), (va + vb) / 2];
  for (let k = 0; k < 24; k++) {
    const v = lerp(va + 0.2 * (vb - va), vb - 0.15 * (vb - va), rng.next());
    const dd = lerp(0.12, l.dLat - 0.03, rng.next());
    const u = g.mid + sg * dd;
    const ok = [
      [0, 0],
      [inset, 0],
      [-inset, 0],
      [0, inset],
      [0, -inset],
    ].every(([a, b]) => inLung(cv, t, s, px(cv, u + a!), px(cv, v + b!)));
    if (ok) {
      best = [u, v];
      break;
    }
  }
  return best;
}

function drawEffusion(cv: Canvas, t: Tables, g: Geometry, f: FindingSpec, rng: Rng): void {
  const s = sideIndex(f.side);
  const l = g.lungs[s];
  const sev = f.severity ?? 1;
  const large = f.size === 'large';
  // Height of the meniscus at the lateral wall above the costophrenic angle.
  // Meniscus: the fluid level is flat medially and climbs the lateral chest wall; a small effusion only fills
  // the costophrenic angle, a large one covers the whole hemidiaphragm.
  const topLat = l.domeV - (large ? range(rng, 0.16, 0.24) : range(rng, 0.05, 0.075));
  const topMed = large ? l.domeV - range(rng, 0.05, 0.09) : l.domeV + range(rng, -0.005, 0.01);
  const power = large ? 3 : 2;
  const opMax = (large ? 0.98 : 0.94) * (0.35 + 0.65 * sev);
  const ramp = 1 / ((large ? 0.045 : 0.02) * cv.n);
  const spans = s === 0 ? t.lung0 : t.lung1;
  const { c } = cv;
  const y0 = Math.max(0, Math.floor(px(cv, topLat - 0.01)));
  const y1 = Math.min(c - 1, Math.ceil(px(cv, l.cpV + 0.02)));
  const pLat = px(cv, topLat);
  const pMed = px(cv, topMed);
  for (let y = y0; y <= y1; y++) {
    const a = spans[2 * y]!;
    const b = spans[2 * y + 1]!;
    if (b <= a) continue;
    const medEdge = s === 0 ? b : a;
    const latEdge = s === 0 ? a : b;
    for (let x = Math.max(0, Math.floor(a - 1)); x <= Math.min(c - 1, Math.ceil(b + 1)); x++) {
      const p = y * c + x;
      if (cv.air[p]! <= 0) continue;
      const xs = clamp01((x - medEdge) / (latEdge - medEdge));
      const top = pMed + (pLat - pMed) * (power === 3 ? xs * xs * xs : xs * xs);
      const op = opMax * clamp01((y - top) * ramp);
      if (op > 0) cv.air[p] = cv.air[p]! * (1 - op);
    }
  }
  // Fluid tracking up the lateral wall (large): a thin pleural stripe.
  if (large) {
    const sg = sideSign(s);
    const pts: Pt[] = [];
    for (let k = 0; k <= 6; k++) {
      const v = lerp(topLat, topLat - 0.12, k / 6);
      pts.push([g.mid + sg * (lateralD(l, v) - 0.004), v]);
    }
    path(
      cv,
      cv.d,
      pts,
      (q) => 0.006 * (1 - q),
      () => 0.08 * sev,
      MODE_ADD,
    );
  }
}

function drawPneumothorax(cv: Canvas, t: Tables, g: Geometry, f: FindingSpec): void {
  const s = sideIndex(f.side);
  const l = g.lungs[s];
  const sg = sideSign(s);
  const sev = f.severity ?? 1;
  const scale = 1 - (f.size === 'large' ? 0.3 : 0.1) * (0.35 + 0.65 * sev);
  // Collapse toward the hilum / lower medial lung: the gap is widest at the apex and lateral wall.
  const cu = px(cv, g.mid + sg * (l.hilumD + 0.03));
  const cvv = px(cv, lerp(l.hilumV, l.domeV, 0.6));
  const { c } = cv;
  const lineW = 1.3 * (cv.n / 512) + 0.6;
  const y0 = Math.max(0, Math.floor(px(cv, l.apexV - 0.01)));
  const y1 = Math.min(c - 1, Math.ceil(px(cv, l.cpV + 0.01)));
  const spans = s === 0 ? t.lung0 : t.lung1;
  for (let y = y0; y <= y1; y++) {
    const a = spans[2 * y]!;
    const b = spans[2 * y + 1]!;
    if (b <= a) continue;
    for (let x = Math.max(0, Math.floor(a)); x <= Math.min(c - 1, Math.ceil(b)); x++) {
      const p = y * c + x;
      if (cv.air[p]! <= 0) continue;
      const rx = x - cu;
      const ry = y - cvv;
      const inside = inLung(cv, t, s, cu + rx / scale, cvv + ry / scale);
      if (!inside) {
        // Pleural space: pure air, no markings.
        cv.air[p] = Math.max(cv.air[p]!, 0.85) * (1 + 0.2 * sev);
        cv.v[p] = 0;
        continue;
      }
      const dist = Math.hypot(rx, ry) || 1;
      const s2 = scale * (1 - lineW / dist);
      if (!inLung(cv, t, s, cu + rx / s2, cvv + ry / s2)) {
        cv.x[p] = Math.max(cv.x[p]!, 0.13 * (0.5 + 0.5 * sev));
      } else if (f.size === 'large') {
        cv.air[p] = cv.air[p]! * (1 - 0.12 * sev);
      }
    }
  }
}

function drawConsolidation(cv: Canvas, t: Tables, g: Geometry, f: FindingSpec, rng: Rng): void {
  const s = sideIndex(f.side);
  const sev = f.severity ?? 1;
  const [cu, cvv] = pointInZone(cv, t, g, rng, s, f.zone ?? 'lower', 0.03);
  const blobs: [number, number, number, number][] = [];
  const count = 14 + rng.int(10);
  for (let k = 0; k < count; k++) {
    const r = range(rng, 0.015, 0.048);
    blobs.push([cu + (rng.next() - 0.5) * 0.14, cvv + (rng.next() - 0.5) * 0.11, r, range(rng, 0.5, 1.2)]);
  }
  const { c, n } = cv;
  const x0 = Math.max(0, Math.floor(px(cv, cu - 0.13)));
  const x1 = Math.min(c - 1, Math.ceil(px(cv, cu + 0.13)));
  const y0 = Math.max(0, Math.floor(px(cv, cvv - 0.11)));
  const y1 = Math.min(c - 1, Math.ceil(px(cv, cvv + 0.11)));
  const opMax = 0.93 * (0.3 + 0.7 * sev);
  const mottle = valueNoise(rng, 10, 0.14);
  // A right upper lobe consolidation stops at the minor fissure: a sharp horizontal lower border.
  const l = g.lungs[s];
  const fissure = s === 0 && f.zone === 'upper' ? px(cv, l.hilumV - 0.005) : Infinity;
  for (let y = y0; y <= y1; y++) {
    const vv = (y + 0.5) / n - MARGIN;
    for (let x = x0; x <= x1; x++) {
      const p = y * c + x;
      if (cv.air[p]! <= 0) continue;
      const uu = (x + 0.5) / n - MARGIN;
      let sum = 0;
      for (const [bu, bv, br, bw] of blobs) {
        const q = ((uu - bu) ** 2 + (vv - bv) ** 2) / (br * br);
        if (q < 4) sum += bw * Math.exp(-q);
      }
      if (sum <= 0.02) continue;
      const speck = 1 + 1.1 * mottle(uu, vv);
      const border = clamp01(fissure - y + 0.5);
      const op = opMax * border * clamp01((1 - Math.exp(-3 * sum)) * speck);
      cv.air[p] = cv.air[p]! * (1 - op);
      cv.v[p] = cv.v[p]! * (1 - op);
    }
  }
  // Air bronchograms: faint dark branching lines within the opacity.
  if (sev > 0.4) {
    const sg = sideSign(s);
    for (let k = 0; k < 3; k++) {
      const a = Math.atan2(rng.next() - 0.5, sg) + (rng.next() - 0.5) * 1.2;
      const start: Pt = [cu - Math.cos(a) * 0.03, cvv - Math.sin(a) * 0.03];
      const pts: Pt[] = [start];
      for (let q = 1; q <= 3; q++) {
        pts.push([
          start[0] + Math.cos(a) * 0.025 * q,
          start[1] + Math.sin(a) * 0.025 * q + (rng.next() - 0.5) * 0.01,
        ]);
      }
      path(
        cv,
        cv.d,
        pts,
        (q) => 0.0035 * (1 - 0.5 * q),
        (q) => -0.05 * sev * (1 - q),
        MODE_ADD,
      );
    }
  }
}

function drawNodule(cv: Canvas, t: Tables, g: Geometry, f: FindingSpec, rng: Rng): void {
  const s = sideIndex(f.side);
  const sev = f.severity ?? 1;
  const mm = Number.parseFloat(f.variant ?? '10') || 10;
  const r = mm / 2 / MM_PER_UNIT;
  const [u, v] = pointInZone(cv, t, g, rng, s, f.zone ?? 'upper', r * 2 + 0.01);
  const amp = 0.1 + 0.22 * sev;
  blob(cv, cv.v, u, v, r, amp);
  blob(cv, cv.v, u + (rng.next() - 0.5) * r * 0.6, v + (rng.next() - 0.5) * r * 0.6, r * 0.8, amp * 0.25);
}

/** Assumed field of view: one normalized unit (the image side) in millimetres. */
export const MM_PER_UNIT = 380;

function jitter(rng: Rng, pts: Pt[], amount: number): Pt[] {
  return pts.map(([u, v], k) =>
    k === 0 || k === pts.length - 1
      ? [u, v]
      : [u + (rng.next() - 0.5) * amount, v + (rng.next() - 0.5) * amount],
  );
}

const WIRE = 0.0028;

function drawCvc(cv: Canvas, g: Geometry, f: FindingSpec, rng: Rng): void {
  const s = sideIndex(f.side);
  const sg = sideSign(s);
  const m = g.mid;
  const svcU = m - g.upperMed[0] + 0.022;
  const tipV = lerp(g.carinaV, g.heart.cv, 0.45) + (rng.next() - 0.5) * 0.03;
  const junction: Pt = [m + sg * 0.04, g.clavV + 0.03];
  let pts: Pt[];
  if (f.variant === 'subclavian') {
    pts = [
      [m + sg * 0.3, g.clavV + 0.03],
      [m + sg * 0.22, g.clavV + 0.018],
      [m + sg * 0.12, g.clavV + 0.025],
      junction,
      [lerp(junction[0], svcU, 0.6), g.carinaV - 0.03],
      [svcU, lerp(g.carinaV, tipV, 0.5)],
      [svcU + 0.004, tipV],
    ];
  } else {
    pts = [
      [m + sg * 0.085, -0.1],
      [m + sg * 0.08, 0.02],
      [m + sg * 0.068, g.clavV - 0.02],
      junction,
      [lerp(junction[0], svcU, 0.6), g.carinaV - 0.03],
      [svcU, lerp(g.carinaV, tipV, 0.5)],
      [svcU + 0.004, tipV],
    ];
  }
  pts = jitter(rng, pts, 0.008);
  path(
    cv,
    cv.x,
    pts,
    () => WIRE,
    (q) => (q > 0.97 ? 0.32 : 0.26),
    MODE_MAX,
  );
  // External portion: a loop of line over the skin and a hub.
  const entry = pts[0]!;
  const hub: Pt = [entry[0] + sg * 0.05, entry[1] + (f.variant === 'subclavian' ? 0.07 : 0.15)];
  if (hub[1] > 0) {
    path(
      cv,
      cv.x,
      [entry, [entry[0] + sg * 0.03, lerp(entry[1], hub[1], 0.5)], hub],
      () => WIRE,
      () => 0.18,
      MODE_MAX,
    );
    path(
      cv,
      cv.x,
      [hub, [hub[0] + sg * 0.012, hub[1] + 0.02]],
      () => 0.006,
      () => 0.3,
      MODE_MAX,
    );
  }
}

function drawEtt(cv: Canvas, g: Geometry, f: FindingSpec): void {
  const cm = Number.parseFloat(f.variant ?? '4.5') || 4.5;
  const tipV = g.carinaV - (cm * 10) / MM_PER_UNIT;
  const m = g.mid;
  const pts: Pt[] = [
    [m + 0.004, -0.12],
    [m + 0.002, 0.02],
    [m, tipV * 0.6],
    [m, tipV],
  ];
  // Tube walls (plastic, faint) and the radiopaque stripe.
  for (const off of [-0.011, 0.011]) {
    path(
      cv,
      cv.x,
      pts.map(([u, v]) => [u + off, v]),
      () => 0.0025,
      () => 0.11,
      MODE_MAX,
    );
  }
  path(
    cv,
    cv.x,
    pts.map(([u, v]) => [u + 0.005, v]),
    () => 0.0028,
    () => 0.32,
    MODE_MAX,
  );
  // Bevelled tip: a short bright end.
  path(
    cv,
    cv.x,
    [
      [m - 0.011, tipV - 0.006],
      [m + 0.011, tipV + 0.003],
    ],
    () => 0.002,
    () => 0.22,
    MODE_MAX,
  );
}

function drawNgt(cv: Canvas, g: Geometry, rng: Rng): void {
  const m = g.mid;
  const l = g.lungs[1];
  const cross: Pt = [m + 0.06, l.domeV + 0.03];
  const stomach: Pt = [m + l.dDome + 0.02, l.domeV + 0.09];
  let pts: Pt[] = [
    [m - 0.006, -0.12],
    [m - 0.004, 0.05],
    [m + 0.004, g.carinaV],
    [m + 0.018, g.heart.cv],
    cross,
    [lerp(cross[0], stomach[0], 0.5), cross[1] + 0.06],
    stomach,
    [stomach[0] + 0.02, stomach[1] - 0.03],
  ];
  pts = jitter(rng, pts, 0.008);
  path(
    cv,
    cv.x,
    pts,
    () => WIRE * 1.1,
    (q) => (q > 0.9 ? 0.26 : 0.2),
    MODE_MAX,
  );
}

function drawPacemaker(cv: Canvas, g: Geometry, f: FindingSpec, rng: Rng): void {
  const s = sideIndex(f.side);
  const sg = sideSign(s);
  const m = g.mid;
  const gu = m + sg * range(rng, 0.22, 0.27);
  const gv = g.clavV + range(rng, 0.04, 0.07);
  const wHalf = 0.048;
  const hHalf = 0.036;
  const rot = (rng.next() - 0.5) * 0.5;
  const cos = Math.cos(rot);
  const sin = Math.sin(rot);
  const { c, n } = cv;
  const x0 = Math.max(0, Math.floor(px(cv, gu - 0.07)));
  const x1 = Math.min(c - 1, Math.ceil(px(cv, gu + 0.07)));
  const y0 = Math.max(0, Math.floor(px(cv, gv - 0.07)));
  const y1 = Math.min(c - 1, Math.ceil(px(cv, gv + 0.07)));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const du = (x + 0.5) / n - MARGIN - gu;
      const dv = (y + 0.5) / n - MARGIN - gv;
      const a = (du * cos + dv * sin) / wHalf;
      const b = (-du * sin + dv * cos) / hHalf;
      // Rounded rectangle (superellipse) can with a less dense header on top.
      const e = a * a * a * a + b * b * b * b;
      if (e > 1.08) continue;
      const edge = clamp01((1.08 - e) * 12);
      let val = b < -0.62 ? 0.45 : 1.05;
      if (b >= -0.62 && Math.abs(a) < 0.55 && b > -0.3 && b < 0.55) val = 0.95;
      const p = y * c + x;
      cv.x[p] = Math.max(cv.x[p]!, val * edge);
    }
  }
  // Leads: from the header medially into the subclavian vein, down the SVC to the RA and RV apex.
  const header: Pt = [gu - sg * 0.01, gv - hHalf * 0.8];
  const svc: Pt = [m - g.upperMed[0] + 0.02, g.carinaV + 0.02];
  const ra: Pt = [m - 0.03, lerp(g.heart.topV, g.heart.bottomV, 0.45)];
  const rvApex: Pt = [g.heart.cu + g.heart.width * 0.2, g.heart.bottomV - 0.05];
  const common: Pt[] = [
    header,
    [gu - sg * 0.05, gv - 0.05],
    [m + sg * 0.1, g.clavV + 0.02],
    [m + sg * 0.02, g.carinaV - 0.04],
    svc,
  ];
  const leadR = path;
  leadR(
    cv,
    cv.x,
    jitter(rng, [...common, [svc[0] + 0.005, ra[1] - 0.05], ra, [ra[0] + 0.02, ra[1] - 0.03]], 0.006),
    () => 0.0024,
    (q) => (q > 0.95 ? 0.5 : 0.32),
    MODE_MAX,
  );
  leadR(
    cv,
    cv.x,
    jitter(
      rng,
      [...common, [svc[0] + 0.015, ra[1] + 0.01], [m + 0.02, g.heart.bottomV - 0.06], rvApex],
      0.006,
    ),
    () => 0.0024,
    (q) => (q > 0.96 ? 0.55 : 0.32),
    MODE_MAX,
  );
  // Slack loop around the generator.
  const loop: Pt[] = [];
  for (let k = 0; k <= 10; k++) {
    const a = (k / 10) * Math.PI * 1.6 + 2.2;
    loop.push([gu + Math.cos(a) * 0.06, gv + Math.sin(a) * 0.045]);
  }
  path(
    cv,
    cv.x,
    loop,
    () => 0.0024,
    () => 0.3,
    MODE_MAX,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Compose, resample, expose, noise, marker.

/**
 * Composes the layers (density = tissue − air·k + markings·air + devices) and blurs the result with a separable
 * [1 4 6 4 1]/16 kernel (the unsharpness of a real radiograph), in two sweeps; `wide` applies it twice.
 */
function composeAndBlur(cv: Canvas, wide: boolean): void {
  const { c, d, air, v, x } = cv;
  // Horizontal sweep: compose a row, blur it into the air layer (no longer needed), row by row.
  const row = new Float32Array(c + 4);
  const tmp = air;
  for (let y = 0; y < c; y++) {
    const base = y * c;
    for (let i = 0; i < c; i++) {
      const p = base + i;
      const a = air[p]!;
      row[i + 2] = d[p]! - AIR_K * a + v[p]! * (a < 1 ? a : 1) + x[p]!;
    }
    row[0] = row[1] = row[2]!;
    row[c + 2] = row[c + 3] = row[c + 1]!;
    for (let i = 0; i < c; i++) {
      tmp[base + i] = (row[i]! + row[i + 4]! + 4 * (row[i + 1]! + row[i + 3]!) + 6 * row[i + 2]!) * 0.0625;
    }
    if (wide) {
      for (let i = 0; i < c; i++) row[i + 2] = tmp[base + i]!;
      row[0] = row[1] = row[2]!;
      row[c + 2] = row[c + 3] = row[c + 1]!;
      for (let i = 0; i < c; i++) {
        tmp[base + i] = (row[i]! + row[i + 4]! + 4 * (row[i + 1]! + row[i + 3]!) + 6 * row[i + 2]!) * 0.0625;
      }
    }
  }
  // Vertical sweep: tmp → d.
  const r = wide ? 4 : 2;
  const w = wide
    ? [1, 8, 28, 56, 70, 56, 28, 8, 1].map((k) => k / 256)
    : [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];
  for (let y = 0; y < c; y++) {
    const base = y * c;
    if (y < r || y >= c - r) {
      for (let i = 0; i < c; i++) {
        let acc = 0;
        for (let k = -r; k <= r; k++) {
          const yy = y + k < 0 ? 0 : y + k >= c ? c - 1 : y + k;
          acc += w[k + r]! * tmp[yy * c + i]!;
        }
        d[base + i] = acc;
      }
      continue;
    }
    if (!wide) {
      const m2 = base - 2 * c;
      const m1 = base - c;
      const p1 = base + c;
      const p2 = base + 2 * c;
      for (let i = 0; i < c; i++) {
        d[base + i] =
          (tmp[m2 + i]! + tmp[p2 + i]! + 4 * (tmp[m1 + i]! + tmp[p1 + i]!) + 6 * tmp[base + i]!) * 0.0625;
      }
    } else {
      for (let i = 0; i < c; i++) {
        let acc = 0;
        for (let k = -4; k <= 4; k++) acc += w[k + 4]! * tmp[base + k * c + i]!;
        d[base + i] = acc;
      }
    }
  }
}

const GLYPHS: Record<'L' | 'R', string[]> = {
  L: ['11000', '11000', '11000', '11000', '11000', '11111', '11111'],
  R: ['11110', '11011', '11011', '11110', '11100', '11011', '11011'],
};

function drawMarker(out: Uint8Array, size: number, letter: 'L' | 'R', rng: Rng): void {
  const cell = Math.max(1, Math.round(size * 0.0075));
  const gw = 5 * cell;
  const pad = cell * 2;
  const margin = Math.round(size * range(rng, 0.03, 0.09));
  const top = Math.round(size * range(rng, 0.03, 0.1));
  // 'L' goes on the patient's left (image right), 'R' on the image left.
  const left = letter === 'L' ? size - margin - gw - 2 * pad : margin;
  const glyph = GLYPHS[letter];
  for (let gy = 0; gy < 7; gy++) {
    for (let gx = 0; gx < 5; gx++) {
      if (glyph[gy]![gx] !== '1') continue;
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const yy = top + pad + gy * cell + y;
          const xx = left + pad + gx * cell + x;
          if (yy < size && xx < size) out[yy * size + xx] = 245;
        }
      }
    }
  }
}

function resample(cv: Canvas, nz: RenderNuisance, rng: Rng, size: number): Uint8Array {
  const out = new Uint8Array(size * size);
  const { c, d } = cv;
  const n = cv.n;
  const rad = (nz.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const sc = nz.patientScale;
  // Output pixel (x, y) → canonical pixel: canonical u = 0.5 + R(-θ)(o - 0.5)/scale, pixels = (u + m)·n − 0.5.
  const ax = cos / sc;
  const bx = sin / sc;
  const ay = -sin / sc;
  const by = cos / sc;
  const c0 = 0.5 * n + MARGIN * n - 0.5;
  const lo = 0.04;
  const hi = 0.96 * nz.exposure;
  // Film curve (soft shoulder for the dense end) and density-dependent noise, tabulated over t ∈ [0, T_MAX].
  const L = 2048;
  const T_MAX = 1.15;
  const gray = new Float32Array(L + 1);
  const amp = new Float32Array(L + 1);
  const sigma = nz.noise / 26754;
  for (let k = 0; k <= L; k++) {
    const t = (k / L) * T_MAX;
    const g = t < 1 ? 1 - Math.pow(1 - t, 1.35) : 1 + (t - 1) * 0.3;
    gray[k] = g * 248 + 3.5;
    amp[k] = sigma * (0.6 + 0.6 * t);
  }
  const toIndex = L / T_MAX / (hi - lo);
  let state = (rng.uint32() | 1) >>> 0;
  // Heel effect: slightly uneven exposure from top to bottom and side to side.
  const heelY = (rng.next() - 0.5) * 0.06;
  const heelX = (rng.next() - 0.5) * 0.04;
  const step = n / size;
  for (let y = 0; y < size; y++) {
    const oy = ((y + 0.5) / size - 0.5) * n;
    const rowHeel = 1 + heelY * ((y + 0.5) / size - 0.5);
    const ox0 = (0.5 / size - 0.5) * n;
    let sx0 = c0 + ax * ox0 + bx * oy;
    let sy0 = c0 + ay * ox0 + by * oy;
    const dsx = ax * step;
    const dsy = ay * step;
    const row = y * size;
    for (let x = 0; x < size; x++, sx0 += dsx, sy0 += dsy) {
      const sx = sx0 < 0 ? 0 : sx0 > c - 1.001 ? c - 1.001 : sx0;
      const sy = sy0 < 0 ? 0 : sy0 > c - 1.001 ? c - 1.001 : sy0;
      const ix = sx | 0;
      const iy = sy | 0;
      const fx = sx - ix;
      const fy = sy - iy;
      const p = iy * c + ix;
      const d00 = d[p]!;
      const d01 = d[p + 1]!;
      const d10 = d[p + c]!;
      const d11 = d[p + c + 1]!;
      const top = d00 + (d01 - d00) * fx;
      const dens = (top + (d10 + (d11 - d10) * fx - top) * fy) * (rowHeel + heelX * ((x + 0.5) / size - 0.5));
      let k = ((dens - lo) * toIndex) | 0;
      k = k < 0 ? 0 : k > L ? L : k;
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const h = state >>> 0;
      const val = gray[k]! + ((h & 0xffff) + (h >>> 16) - 65535) * amp[k]!;
      out[row + x] = val < 0 ? 0 : val > 255 ? 255 : val;
    }
  }
  return out;
}

/** Renders one phantom. Deterministic in (seed, index, size, findings, nuisance). */
export function renderPhantom(input: RenderInput): RenderOutput {
  const { seed, index, size, findings, nuisance } = input;
  const cv = canvasFor(size);
  const g = buildGeometry(createRng(seed, streamName(index, 'anatomy')), nuisance.inspiration, findings);
  const tables = buildTables(cv, g);
  drawBase(cv, g, tables, createRng(seed, streamName(index, 'texture')));
  drawVessels(cv, g, createRng(seed, streamName(index, 'vessels')), nuisance.inspiration);
  drawBones(cv, g);
  const counts = new Map<string, number>();
  for (const f of findings) {
    const k = counts.get(f.name) ?? 0;
    counts.set(f.name, k + 1);
    const rng = createRng(seed, streamName(index, `draw/${f.name}/${k}`));
    switch (f.name) {
      case 'effusion':
        drawEffusion(cv, tables, g, f, rng);
        break;
      case 'pneumothorax':
        drawPneumothorax(cv, tables, g, f);
        break;
      case 'consolidation':
        drawConsolidation(cv, tables, g, f, rng);
        break;
      case 'nodule':
        drawNodule(cv, tables, g, f, rng);
        break;
      case 'cvc':
        drawCvc(cv, g, f, rng);
        break;
      case 'ett':
        drawEtt(cv, g, f);
        break;
      case 'ngt':
        drawNgt(cv, g, rng);
        break;
      case 'pacemaker':
        drawPacemaker(cv, g, f, rng);
        break;
      case 'cardiomegaly':
      case 'low-lung-volumes':
        break; // geometry: buildGeometry and the nuisance's inspiration
    }
  }
  composeAndBlur(cv, size > 700);
  const post = createRng(seed, streamName(index, 'film'));
  const pixels = resample(cv, nuisance, post, size);
  if (nuisance.marker) drawMarker(pixels, size, nuisance.marker, post);
  return {
    pixels,
    measurements: {
      ctr: g.heart.width / (g.lungs[0].dLat + g.lungs[1].dLat),
      diaphragmRight: g.lungs[0].domeV,
      diaphragmLeft: g.lungs[1].domeV,
      breastShadows: g.breasts,
    },
  };
}
