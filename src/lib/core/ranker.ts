// The ranker (METHOD.md §5): scores every finding against every image with one matrix product, then reports per
// finding the AUROC of A against B with its DeLong CI, Mann–Whitney / Welch p-values, BH q-values, Cliff's delta
// and the classification delta, sorted by AUROC. Owns the score-matrix kernels (WebAssembly SIMD with a
// bit-identical pure-JS fallback), the deterministic per-set subsampling and the fast per-row rank statistics.

import type { RankedFinding } from './types.ts';
import { createRng } from './random.ts';
import {
  aurocCIFromSummary,
  aurocFromSummary,
  benjaminiHochberg,
  mannWhitneyPFromSummary,
  rankSummaryOfPooled,
  welchTTest,
} from './stats.ts';

/** Defaults of {@link rankFindings}; `threshold` is the reference's classification threshold τ. */
export const RANKER_DEFAULTS = { threshold: 0.3, cap: 5000, seed: 0, level: 0.95 } as const;

/**
 * Which implementation computes the score matrix. `auto` uses WebAssembly SIMD when the runtime can compile it
 * and the pure-JS kernel otherwise; both produce bit-identical scores, so rankings never depend on the choice.
 */
export type ScoreKernel = 'auto' | 'wasm' | 'js';

/** Input of {@link rankFindings}. */
export interface RankInput {
  /** N×dim row-major, L2-normalized image embeddings (scores are dot products, i.e. cosines only if normalized). */
  imageEmbeddings: Float32Array;
  dim: number;
  /** Length N: 1 = set A, 0 = set B. */
  labels: Uint8Array;
  /** H×dim row-major, L2-normalized text embeddings, one row per finding. */
  textEmbeddings: Float32Array;
  /** Length H. */
  findings: readonly string[];
  /** Classification threshold τ (default 0.3). */
  threshold?: number;
  /** Most images used per set; larger sets are subsampled deterministically (default 5000). */
  cap?: number;
  /** Seed of the subsampling streams (default 0). */
  seed?: number;
  /** Confidence level of the AUROC interval (default 0.95). */
  level?: number;
  /** Score-matrix implementation (default `auto`). */
  kernel?: ScoreKernel;
}

/** Image indices (ascending, into the input rows) that a ranking actually used. */
export interface RankerSelection {
  a: Uint32Array;
  b: Uint32Array;
}

/** Options of {@link scoreMatrix}. */
export interface ScoreMatrixOptions {
  /** Image rows to score, in output column order (default: every row, in order). */
  rows?: ArrayLike<number>;
  kernel?: ScoreKernel;
}

/** Input of {@link rankFromScores}: a score matrix whose first nA columns are set A and the next nB set B. */
export interface RankFromScoresInput {
  /** H×(nA+nB) row-major scores. */
  scores: Float32Array;
  nA: number;
  nB: number;
  findings: readonly string[];
  threshold?: number;
  level?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Score matrix: WebAssembly SIMD kernel
// ---------------------------------------------------------------------------------------------------------------

// The kernel is hand-assembled here (no toolchain, no binary blob to trust): dots(img, nPairs, txt, nQuads,
// rowBytes, out, outStride) computes a tile of 2 images × 4 findings with eight f32x4 accumulators, so each
// 16-byte chunk loads 6 vectors for 16 multiply-adds. Lane l of an accumulator sums the products at k ≡ l (mod 4)
// in order; the lanes are then added as (l0 + l1) + (l2 + l3). The JS kernel replays exactly that order with
// Math.fround, and since f32 arithmetic is correctly rounded in both (double rounding through f64 is exact for
// +, ×), the two kernels agree bit for bit.
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function buildDotsModule(): Uint8Array {
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const tee = (i: number) => [0x22, ...uleb(i)];
  const i32 = (n: number) => [0x41, n]; // only small non-negative constants (< 64) are used: one-byte SLEB128
  const I32_ADD = 0x6a;
  const I32_SUB = 0x6b;
  const I32_LT_U = 0x49;
  const F32_ADD = 0x92;
  const LOOP = [0x03, 0x40];
  const END = 0x0b;
  const BR_IF_0 = [0x0d, 0x00];
  const V128_LOAD = [0xfd, 0x00, 0x04, 0x00]; // align 2^4, offset 0
  const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const F32X4_ADD = [0xfd, 0xe4, 0x01];
  const F32X4_MUL = [0xfd, 0xe6, 0x01];
  const lane = (l: number) => [0xfd, 0x1f, l]; // f32x4.extract_lane
  const f32Store = (offset: number) => [0x38, 0x02, ...uleb(offset)];

  // Parameters 0..6: img, nPairs, txt, nQuads, rowBytes, out, outStride. Locals: 9 i32 then 11 v128.
  const [IMG, PAIRS, TXT, QUADS, ROW, OUT, STRIDE] = [0, 1, 2, 3, 4, 5, 6];
  const [IP0, IP1, K, Q, OP] = [7, 8, 13, 14, 15];
  const TP = [9, 10, 11, 12];
  const ACC = [16, 17, 18, 19, 20, 21, 22, 23]; // ACC[r] image 0 × finding r, ACC[r + 4] image 1 × finding r
  const [X0, X1, T] = [24, 25, 26];
  const at = (array: number[], i: number) => array[i] as number;
  // prettier-ignore
  const hsum = (v: number) => [
    ...get(v), ...lane(0), ...get(v), ...lane(1), F32_ADD,
    ...get(v), ...lane(2), ...get(v), ...lane(3), F32_ADD,
    F32_ADD,
  ];
  const quad = [0, 1, 2, 3];

  // prettier-ignore
  const body = [
    ...get(IMG), ...set(IP0),
    ...LOOP, // over image pairs
    ...get(IP0), ...get(ROW), I32_ADD, ...set(IP1),
    ...get(TXT), ...set(at(TP, 0)), ...get(QUADS), ...set(Q), ...get(OUT), ...set(OP),
    ...LOOP, // over finding quads
    ...get(at(TP, 0)), ...get(ROW), I32_ADD, ...tee(at(TP, 1)), ...get(ROW), I32_ADD, ...tee(at(TP, 2)),
    ...get(ROW), I32_ADD, ...set(at(TP, 3)),
    ...ACC.flatMap((a) => [...V128_ZERO, ...set(a)]),
    ...i32(0), ...set(K),
    ...LOOP, // over 16-byte chunks of the rows
    ...get(IP0), ...get(K), I32_ADD, ...V128_LOAD, ...set(X0),
    ...get(IP1), ...get(K), I32_ADD, ...V128_LOAD, ...set(X1),
    ...quad.flatMap((r) => [
      ...get(at(TP, r)), ...get(K), I32_ADD, ...V128_LOAD, ...set(T),
      ...get(at(ACC, r)), ...get(X0), ...get(T), ...F32X4_MUL, ...F32X4_ADD, ...set(at(ACC, r)),
      ...get(at(ACC, r + 4)), ...get(X1), ...get(T), ...F32X4_MUL, ...F32X4_ADD, ...set(at(ACC, r + 4)),
    ]),
    ...get(K), ...i32(16), I32_ADD, ...tee(K), ...get(ROW), I32_LT_U, ...BR_IF_0,
    END,
    ...quad.flatMap((r) => [
      ...get(OP), ...hsum(at(ACC, r)), ...f32Store(0),
      ...get(OP), ...hsum(at(ACC, r + 4)), ...f32Store(4),
      ...get(OP), ...get(STRIDE), I32_ADD, ...set(OP),
    ]),
    ...get(at(TP, 3)), ...get(ROW), I32_ADD, ...set(at(TP, 0)),
    ...get(Q), ...i32(1), I32_SUB, ...tee(Q), ...BR_IF_0,
    END,
    ...get(OUT), ...i32(8), I32_ADD, ...set(OUT),
    ...get(IP1), ...get(ROW), I32_ADD, ...set(IP0),
    ...get(PAIRS), ...i32(1), I32_SUB, ...tee(PAIRS), ...BR_IF_0,
    END,
    END,
  ];
  const code = [0x02, 0x09, 0x7f, 0x0b, 0x7b, ...body]; // locals: 9 × i32, 11 × v128
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const name = (s: string) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  // prettier-ignore
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, [0x01, 0x60, 0x07, ...new Array<number>(7).fill(0x7f), 0x00]), // type: (i32 ×7) → ()
    ...section(3, [0x01, 0x00]), // one function of type 0
    ...section(5, [0x01, 0x00, 0x01]), // one memory, min 1 page, no max
    ...section(7, [0x02, ...name('mem'), 0x02, 0x00, ...name('dots'), 0x00, 0x00]),
    ...section(10, [0x01, ...uleb(code.length), ...code]),
  ]);
}

// Minimal structural types: core compiles against ES2023 only, where the WebAssembly namespace is not declared.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface DotsKernel {
  memory: WasmMemory;
  dots: (
    img: number,
    nPairs: number,
    txt: number,
    nQuads: number,
    rowBytes: number,
    out: number,
    outStride: number,
  ) => void;
}

let cachedKernel: DotsKernel | null | undefined;

function loadKernel(): DotsKernel | null {
  if (cachedKernel !== undefined) return cachedKernel;
  cachedKernel = null;
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    // Synchronous compilation is fine for a module this small (< 1 KB; browsers cap sync compiles at 4 KB).
    const instance = new api.Instance(new api.Module(buildDotsModule()));
    const memory = instance.exports['mem'] as WasmMemory;
    const dots = instance.exports['dots'] as DotsKernel['dots'];
    cachedKernel = { memory, dots };
  } catch {
    // No SIMD support, or compilation forbidden (e.g. a CSP without 'wasm-unsafe-eval'): use the JS kernel.
  }
  return cachedKernel;
}

/** True when the WebAssembly SIMD score kernel can run here. */
export function wasmSimdAvailable(): boolean {
  return loadKernel() !== null;
}

/** Images per kernel call: the block (128 KB at d = 512) and the text rows stay in L2 while they are reused. */
const IMAGE_BLOCK = 64;
const PAGE = 65536;

function scoreMatrixWasm(
  kernel: DotsKernel,
  images: Float32Array,
  texts: Float32Array,
  dim: number,
  rows: ArrayLike<number> | null,
  m: number,
  out: Float32Array,
): boolean {
  const h = texts.length / dim;
  const stride = (dim + 3) & ~3; // floats per padded row (whole f32x4 chunks)
  const hPad = (h + 3) & ~3;
  const txtPtr = 0;
  const imgPtr = hPad * stride * 4;
  const outPtr = imgPtr + IMAGE_BLOCK * stride * 4;
  const needed = outPtr + hPad * IMAGE_BLOCK * 4;
  if (needed > 2 ** 31) return false;
  const have = kernel.memory.buffer.byteLength;
  if (needed > have) {
    try {
      kernel.memory.grow(Math.ceil((needed - have) / PAGE));
    } catch {
      return false;
    }
  }
  const f = new Float32Array(kernel.memory.buffer); // after grow: the old view would be detached
  // Padding lanes and padding rows must be zero so they add exactly +0 (as the JS kernel assumes).
  f.fill(0, 0, outPtr / 4);
  if (stride === dim) {
    f.set(texts, txtPtr / 4);
  } else {
    for (let r = 0; r < h; r++) f.set(texts.subarray(r * dim, r * dim + dim), txtPtr / 4 + r * stride);
  }
  const contiguous = rows === null && stride === dim;
  for (let start = 0; start < m; start += IMAGE_BLOCK) {
    const count = Math.min(IMAGE_BLOCK, m - start);
    if (contiguous) {
      f.set(images.subarray(start * dim, (start + count) * dim), imgPtr / 4);
    } else {
      for (let j = 0; j < count; j++) {
        const row = rows === null ? start + j : (rows[start + j] as number);
        f.set(images.subarray(row * dim, row * dim + dim), imgPtr / 4 + j * stride);
      }
    }
    if (count & 1) f.fill(0, imgPtr / 4 + count * stride, imgPtr / 4 + (count + 1) * stride);
    kernel.dots(imgPtr, (count + 1) >> 1, txtPtr, hPad / 4, stride * 4, outPtr, IMAGE_BLOCK * 4);
    for (let r = 0; r < h; r++) {
      const from = outPtr / 4 + r * IMAGE_BLOCK;
      out.set(f.subarray(from, from + count), r * m + start);
    }
  }
  return true;
}

/** Pure-JS kernel replaying the WebAssembly lane order in f32 (see buildDotsModule): bit-identical scores. */
function scoreMatrixJs(
  images: Float32Array,
  texts: Float32Array,
  dim: number,
  rows: ArrayLike<number> | null,
  m: number,
  out: Float32Array,
): void {
  const fr = Math.fround;
  const h = texts.length / dim;
  const whole = dim & ~3;
  const rem = dim - whole;
  for (let j = 0; j < m; j++) {
    const io = (rows === null ? j : (rows[j] as number)) * dim;
    for (let r = 0; r < h; r++) {
      const to = r * dim;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let k = 0; k < whole; k += 4) {
        a0 = fr(a0 + fr((images[io + k] as number) * (texts[to + k] as number)));
        a1 = fr(a1 + fr((images[io + k + 1] as number) * (texts[to + k + 1] as number)));
        a2 = fr(a2 + fr((images[io + k + 2] as number) * (texts[to + k + 2] as number)));
        a3 = fr(a3 + fr((images[io + k + 3] as number) * (texts[to + k + 3] as number)));
      }
      if (rem > 0) {
        // The wasm rows are zero-padded to whole chunks: missing lanes add +0 (which also turns −0 into +0).
        const k = whole;
        a0 = fr(a0 + fr((images[io + k] as number) * (texts[to + k] as number)));
        a1 = rem > 1 ? fr(a1 + fr((images[io + k + 1] as number) * (texts[to + k + 1] as number))) : a1 + 0;
        a2 = rem > 2 ? fr(a2 + fr((images[io + k + 2] as number) * (texts[to + k + 2] as number))) : a2 + 0;
        a3 = a3 + 0;
      }
      out[r * m + j] = fr(fr(a0 + a1) + fr(a2 + a3));
    }
  }
}

function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
}

/**
 * Scores of every finding against every selected image: out[h·M + j] = ⟨text h, image rows[j]⟩ in float32,
 * for H = textEmbeddings.length / dim findings and M = rows.length (default: every image, in order).
 * One blocked matrix product; with L2-normalized embeddings the scores are cosine similarities.
 * Throws on inconsistent sizes or out-of-range rows.
 */
export function scoreMatrix(
  imageEmbeddings: Float32Array,
  textEmbeddings: Float32Array,
  dim: number,
  options: ScoreMatrixOptions = {},
): Float32Array {
  checkDim(dim);
  const n = imageEmbeddings.length / dim;
  const h = textEmbeddings.length / dim;
  if (!Number.isInteger(n)) {
    throw new Error(`imageEmbeddings has ${imageEmbeddings.length} values, not a multiple of dim = ${dim}`);
  }
  if (!Number.isInteger(h)) {
    throw new Error(`textEmbeddings has ${textEmbeddings.length} values, not a multiple of dim = ${dim}`);
  }
  const rows = options.rows ?? null;
  const m = rows === null ? n : rows.length;
  if (rows !== null) {
    for (let j = 0; j < m; j++) {
      const r = rows[j] as number;
      if (!Number.isInteger(r) || r < 0 || r >= n)
        throw new Error(`rows[${j}] = ${r} is not an image index in [0, ${n})`);
    }
  }
  const out = new Float32Array(h * m);
  if (h === 0 || m === 0) return out;
  const choice = options.kernel ?? 'auto';
  if (choice !== 'js') {
    const kernel = loadKernel();
    if (kernel !== null && scoreMatrixWasm(kernel, imageEmbeddings, textEmbeddings, dim, rows, m, out))
      return out;
    if (choice === 'wasm') {
      throw new Error(
        'the WebAssembly SIMD score kernel is unavailable here (or the problem exceeds its 2 GB memory)',
      );
    }
  }
  scoreMatrixJs(imageEmbeddings, textEmbeddings, dim, rows, m, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Subsampling
// ---------------------------------------------------------------------------------------------------------------

/**
 * The images a ranking uses: all of a set when it has at most `cap` images, otherwise `cap` of them drawn
 * without replacement from the named streams 'ranker-subsample-A' / 'ranker-subsample-B' of `seed` (so A's draw
 * does not depend on B's size). Indices ascending.
 */
export function selectImages(labels: Uint8Array, cap: number, seed: number): RankerSelection {
  if (!Number.isInteger(cap) || cap < 1) throw new Error(`cap must be a positive integer, got ${cap}`);
  let nA = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i] as number;
    if (v > 1) throw new Error(`labels[${i}] is ${v}; expected 1 (set A) or 0 (set B)`);
    nA += v;
  }
  const all = { a: new Uint32Array(nA), b: new Uint32Array(labels.length - nA) };
  let wa = 0;
  let wb = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) all.a[wa++] = i;
    else all.b[wb++] = i;
  }
  const pick = (indices: Uint32Array, stream: string): Uint32Array => {
    if (indices.length <= cap) return indices;
    const chosen = createRng(seed, stream).sample(indices.length, cap);
    return chosen.map((p) => indices[p] as number);
  };
  return { a: pick(all.a, 'ranker-subsample-A'), b: pick(all.b, 'ranker-subsample-B') };
}

// ---------------------------------------------------------------------------------------------------------------
// Per-finding statistics
// ---------------------------------------------------------------------------------------------------------------

// LSD radix sort of one score row (A columns then B columns), carrying the set label along: ~10× faster than
// Float32Array#sort at these sizes, and it hands rankSummaryOfPooled the pooled order directly. Each float32 is
// mapped to an int32 key with the same order and the same equalities (−0 is folded into +0), so the summary
// computed on keys is identical to the one stats.ts computes on the values.
let keysSrc = new Int32Array(0);
let keysDst = new Int32Array(0);
let labelsSrc = new Uint8Array(0);
let labelsDst = new Uint8Array(0);
const HIST = new Int32Array(2048 + 2048 + 1024);
// [histogram offset, shift, digit size, xor]: 11 + 11 + 10 bits; the top digit's xor turns the signed order of
// the keys into the unsigned order of digits.
const RADIX_PASSES: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 2048, 0],
  [2048, 11, 2048, 0],
  [4096, 22, 1024, 512],
];

function sortPooled(row: Float32Array, nA: number): { keys: Int32Array; inA: Uint8Array } {
  const n = row.length;
  if (keysSrc.length < n) {
    keysSrc = new Int32Array(n);
    keysDst = new Int32Array(n);
    labelsSrc = new Uint8Array(n);
    labelsDst = new Uint8Array(n);
  }
  let keys = keysSrc;
  let labels = labelsSrc;
  let keysOut = keysDst;
  let labelsOut = labelsDst;
  const bits = new Int32Array(row.buffer, row.byteOffset, n);
  HIST.fill(0);
  for (let i = 0; i < n; i++) {
    let u = bits[i] as number;
    if (u === -0x80000000) u = 0; // −0.0
    // IEEE bits of a positive float already order as int32; for a negative one, flipping the magnitude bits
    // makes larger magnitudes more negative.
    const key = u < 0 ? u ^ 0x7fffffff : u;
    keys[i] = key;
    labels[i] = i < nA ? 1 : 0;
    HIST[key & 2047]! += 1;
    HIST[2048 + ((key >>> 11) & 2047)]! += 1;
    HIST[4096 + ((key >>> 22) ^ 512)]! += 1;
  }
  for (const [offset, shift, size, flip] of RADIX_PASSES) {
    // A digit shared by every key (common for the exponent bits of cosine scores) needs no pass.
    let skip = false;
    let sum = 0;
    for (let d = 0; d < size; d++) {
      const count = HIST[offset + d] as number;
      if (count === n) skip = true;
      HIST[offset + d] = sum;
      sum += count;
    }
    if (skip) continue;
    const mask = size - 1;
    for (let i = 0; i < n; i++) {
      const key = keys[i] as number;
      const slot = offset + (((key >>> shift) & mask) ^ flip);
      const pos = HIST[slot] as number;
      HIST[slot] = pos + 1;
      keysOut[pos] = key;
      labelsOut[pos] = labels[i] as number;
    }
    [keys, keysOut] = [keysOut, keys];
    [labels, labelsOut] = [labelsOut, labels];
  }
  return { keys: keys.subarray(0, n), inA: labels.subarray(0, n) };
}

function validateLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new Error(`level must be in (0, 1), got ${level}`);
}

/**
 * Ranks findings from a precomputed score matrix (columns 0..nA−1 = set A, nA..nA+nB−1 = set B), e.g. the one
 * {@link rankFindings} builds, or a held-out subset of it. Same statistics, order and degenerate-case rules as
 * {@link rankFindings}.
 */
export function rankFromScores(input: RankFromScoresInput): RankedFinding[] {
  const { scores, nA, nB, findings } = input;
  const threshold = input.threshold ?? RANKER_DEFAULTS.threshold;
  const level = input.level ?? RANKER_DEFAULTS.level;
  if (!Number.isFinite(threshold)) throw new Error(`threshold must be a finite number, got ${threshold}`);
  validateLevel(level);
  if (!Number.isInteger(nA) || nA < 1) throw new Error(`set A is empty (nA = ${nA}); both sets need images`);
  if (!Number.isInteger(nB) || nB < 1) throw new Error(`set B is empty (nB = ${nB}); both sets need images`);
  const m = nA + nB;
  const h = findings.length;
  if (scores.length !== h * m) {
    throw new Error(`scores has ${scores.length} values, expected findings × (nA + nB) = ${h} × ${m}`);
  }
  // One image in a set leaves the DeLong variance and both tests without a sample variance (and the normal
  // approximation of U meaningless): AUROC is still reported, p, q and the CI are NaN.
  const degenerate = nA < 2 || nB < 2;
  const rows: Omit<RankedFinding, 'q'>[] = [];
  for (let r = 0; r < h; r++) {
    const rowA = scores.subarray(r * m, r * m + nA);
    const rowB = scores.subarray(r * m + nA, (r + 1) * m);
    let sumA = 0;
    let aboveA = 0;
    for (let i = 0; i < nA; i++) {
      const v = rowA[i] as number;
      sumA += v;
      if (v > threshold) aboveA++;
    }
    let sumB = 0;
    let aboveB = 0;
    for (let i = 0; i < nB; i++) {
      const v = rowB[i] as number;
      sumB += v;
      if (v > threshold) aboveB++;
    }
    if (!Number.isFinite(sumA) || !Number.isFinite(sumB)) {
      throw new Error(
        `finding ${r} ("${findings[r]}") has non-finite scores: embeddings contain NaN or Infinity`,
      );
    }
    const pooled = sortPooled(scores.subarray(r * m, (r + 1) * m), nA);
    const summary = rankSummaryOfPooled(pooled.keys, pooled.inA);
    const auroc = aurocFromSummary(summary);
    const aurocCI = degenerate ? { lo: NaN, hi: NaN } : aurocCIFromSummary(summary, level);
    const pMannWhitney = degenerate ? NaN : mannWhitneyPFromSummary(summary);
    const pWelch = degenerate ? NaN : welchTTest(rowA, rowB).p;
    rows.push({
      index: r,
      finding: findings[r] as string,
      auroc,
      aurocCI,
      meanA: sumA / nA,
      meanB: sumB / nB,
      pWelch,
      pMannWhitney,
      cliffsDelta: 2 * auroc - 1,
      classificationDelta: aboveA / nA - aboveB / nB,
      threshold,
      nA,
      nB,
      // An undefined CI cannot show separation, so it counts as containing ½.
      ciContainsHalf: !(aurocCI.lo > 0.5) && !(aurocCI.hi < 0.5),
    });
  }
  const q = benjaminiHochberg(rows.map((row) => row.pMannWhitney));
  const ranked: RankedFinding[] = rows.map((row, i) => ({ ...row, q: q[i] as number }));
  ranked.sort((x, y) => y.auroc - x.auroc || y.meanA - y.meanB - (x.meanA - x.meanB) || x.index - y.index);
  return ranked;
}

/**
 * Ranks findings by how well their scores separate set A from set B (METHOD.md §5). Scores all findings with one
 * matrix product over the selected images (see {@link selectImages}), then computes every statistic per finding.
 * Result sorted by AUROC descending, then by meanA − meanB descending, then by input index.
 *
 * Throws an Error with a readable message on: non-integer/non-positive dim, labels/embedding length mismatches,
 * a label other than 0/1, an empty set, findings/text-embedding count mismatch, an invalid cap, seed, threshold
 * or level, and non-finite scores. A set with a single image is allowed: AUROC is reported and p, q and the CI
 * are NaN.
 */
export function rankFindings(input: RankInput): RankedFinding[] {
  const { imageEmbeddings, dim, labels, textEmbeddings, findings } = input;
  const threshold = input.threshold ?? RANKER_DEFAULTS.threshold;
  const cap = input.cap ?? RANKER_DEFAULTS.cap;
  const seed = input.seed ?? RANKER_DEFAULTS.seed;
  const level = input.level ?? RANKER_DEFAULTS.level;
  checkDim(dim);
  const n = labels.length;
  if (imageEmbeddings.length !== n * dim) {
    throw new Error(
      `imageEmbeddings has ${imageEmbeddings.length} values, expected labels.length × dim = ${n} × ${dim} = ${n * dim}`,
    );
  }
  if (textEmbeddings.length !== findings.length * dim) {
    throw new Error(
      `textEmbeddings has ${textEmbeddings.length} values, expected findings.length × dim = ${findings.length} × ${dim} = ${findings.length * dim}`,
    );
  }
  if (!Number.isFinite(threshold)) throw new Error(`threshold must be a finite number, got ${threshold}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
  validateLevel(level);
  const selection = selectImages(labels, cap, seed);
  const nA = selection.a.length;
  const nB = selection.b.length;
  if (nA === 0) throw new Error('set A is empty (no label 1): both sets need images');
  if (nB === 0) throw new Error('set B is empty (no label 0): both sets need images');
  const rows = new Uint32Array(nA + nB);
  rows.set(selection.a, 0);
  rows.set(selection.b, nA);
  const scores = scoreMatrix(imageEmbeddings, textEmbeddings, dim, { rows, kernel: input.kernel ?? 'auto' });
  return rankFromScores({ scores, nA, nB, findings, threshold, level });
}
