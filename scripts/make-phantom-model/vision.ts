// The phantom model's fixed image features, twice: as TypeScript over gray pixels (what the fit sees) and as the
// ONNX vision tower over pixel_values (what the browser runs), built from one FeatureSpec so they cannot drift.
// pixel_values → undo the processor normalisation → gray → per-image standardisation z = (g − mean)/std →
// feature maps (z, −z, |high-pass|, difference-of-Gaussians, Hessian blob/ridge responses; zero-padded separable
// Gaussian-derivative convolutions, optionally on z averaged 2×2) → average- or max-pooled on square grids → one
// fitted linear map → image_embeds.
import { GraphBuilder, DT, int, ints } from '../gen-models/onnx-builder.ts';

/** A feature map computed from the standardised gray image z. */
export type FeatureMap =
  | { kind: 'z' }
  /** −z: max-pooled, the darkest value of a cell (is there aerated lung in it?). */
  | { kind: 'neg-z' }
  /** |z − G_σ(z)|: edges, thin lines, texture. */
  | { kind: 'abs-highpass'; sigma: number }
  /** max(G_a(z) − G_b(z), 0), a < b: bright blobs and lines of width ≈ a…b. */
  | { kind: 'dog-pos'; a: number; b: number }
  /** max(G_b(z) − G_a(z), 0): dark blobs and lines. */
  | { kind: 'dog-neg'; a: number; b: number }
  /** max(−λmax(Hessian of G_σ z), 0): bright round blobs of radius ≈ σ√2 (nodules), not lines. */
  | { kind: 'blob'; sigma: number }
  /** max(−λmin(Hessian of G_σ z), 0): bright lines and blobs of width ≈ 2σ (tubes, wires, leads). */
  | { kind: 'ridge'; sigma: number };

/** One block of features: a map pooled over a grid×grid partition of the image. */
export interface FeatureBlock {
  map: FeatureMap;
  pool: 'avg' | 'max';
  grid: number;
  /** Compute the map on z averaged over 2×2 pixels (half resolution; σ in half-resolution pixels): 4× cheaper. */
  half?: boolean;
}

/** What the vision tower computes before its linear map. */
export interface FeatureSpec {
  size: number;
  blocks: FeatureBlock[];
}

/** Number of features of a spec. */
export const featureCount = (spec: FeatureSpec): number =>
  spec.blocks.reduce((n, b) => n + b.grid * b.grid, 0);

/** Normalised 1-D Gaussian taps, radius ⌈3σ⌉. */
export function gaussianKernel(sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * Taps of the Gaussian's derivative of order 0, 1 or 2 (for cross-correlation, so order 1 is odd-signed), radius
 * ⌈3σ⌉; order 2 is made zero-sum so a flat image gives exactly 0. Rounded to float32, as stored in the graph.
 */
export function derivativeKernel(sigma: number, order: 0 | 1 | 2): Float64Array {
  const g = gaussianKernel(sigma);
  const r = (g.length - 1) / 2;
  const k = new Float64Array(g.length);
  for (let i = -r; i <= r; i++) {
    const x = i;
    const v = g[i + r]!;
    k[i + r] =
      order === 0
        ? v
        : order === 1
          ? (-x / (sigma * sigma)) * v
          : ((x * x) / sigma ** 4 - 1 / sigma ** 2) * v;
  }
  if (order === 2) {
    const mean = k.reduce((a, b) => a + b, 0) / k.length;
    for (let i = 0; i < k.length; i++) k[i]! -= mean;
  }
  return Float64Array.from(Float32Array.from(k));
}

/** Cross-correlation of each row with `k` (zero padding, "same" size), as ONNX Conv with a 1×k kernel. */
export function correlateRows(img: Float64Array, size: number, k: Float64Array): Float64Array {
  const r = (k.length - 1) / 2;
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = y * size;
    for (let x = 0; x < size; x++) {
      let s = 0;
      const lo = Math.max(0, x - r);
      const hi = Math.min(size - 1, x + r);
      for (let xx = lo, t = lo - x + r; xx <= hi; xx++, t++) s += k[t]! * img[row + xx]!;
      out[row + x] = s;
    }
  }
  return out;
}

/** Cross-correlation of each column with `k` (zero padding), as ONNX Conv with a k×1 kernel. */
export function correlateColumns(img: Float64Array, size: number, k: Float64Array): Float64Array {
  const r = (k.length - 1) / 2;
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    const lo = Math.max(0, y - r);
    const hi = Math.min(size - 1, y + r);
    const row = y * size;
    for (let yy = lo, t = lo - y + r; yy <= hi; yy++, t++) {
      const w = k[t]!;
      const src = yy * size;
      for (let x = 0; x < size; x++) out[row + x]! += w * img[src + x]!;
    }
  }
  return out;
}

/** Per-image standardisation of gray values in [0, 1]: (g − mean) / √(var + ε). */
export const STANDARDIZE_EPS = 1e-4;

export function standardize(gray: ArrayLike<number>): Float64Array {
  const n = gray.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += gray[i]!;
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (gray[i]! - mean) ** 2;
  const scale = 1 / Math.sqrt(v / n + STANDARDIZE_EPS);
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = (gray[i]! - mean) * scale;
  return z;
}

/**
 * How each map is made from separable Gaussian-derivative filters `sep(rowOrder, colOrder, σ)` (z correlated along
 * rows, then along columns), in the same terms for the TypeScript mirror and the graph. The Hessian of G_σ * z is
 * (Ixx, Iyy, Ixy) = (sep(2,0), sep(0,2), sep(1,1)); its eigenvalues are t ± d with t = (Ixx + Iyy)/2 and
 * d = √(((Ixx − Iyy)/2)² + Ixy²). A bright blob has both negative (blob = max(−(t + d), 0)); a bright line only
 * the smaller one (ridge = max(−(t − d), 0)).
 */
interface MapOps<T> {
  z: T;
  sep(row: 0 | 1 | 2, col: 0 | 1 | 2, sigma: number): T;
  sub(a: T, b: T): T;
  add(a: T, b: T): T;
  scale(a: T, s: number): T;
  mul(a: T, b: T): T;
  abs(a: T): T;
  relu(a: T): T;
  sqrt(a: T): T;
}

function buildMap<T>(m: FeatureMap, o: MapOps<T>): T {
  const blur = (sigma: number) => o.sep(0, 0, sigma);
  switch (m.kind) {
    case 'z':
      return o.z;
    case 'neg-z':
      return o.scale(o.z, -1);
    case 'abs-highpass':
      return o.abs(o.sub(o.z, blur(m.sigma)));
    case 'dog-pos':
      return o.relu(o.sub(blur(m.a), blur(m.b)));
    case 'dog-neg':
      return o.relu(o.sub(blur(m.b), blur(m.a)));
    case 'blob':
    case 'ridge': {
      const ixx = o.sep(2, 0, m.sigma);
      const iyy = o.sep(0, 2, m.sigma);
      const ixy = o.sep(1, 1, m.sigma);
      const t = o.scale(o.add(ixx, iyy), 0.5);
      const h = o.scale(o.sub(ixx, iyy), 0.5);
      const d = o.sqrt(o.add(o.mul(h, h), o.mul(ixy, ixy)));
      // −(t + d) for blobs, −(t − d) = d − t for ridges.
      return m.kind === 'blob' ? o.relu(o.scale(o.add(t, d), -1)) : o.relu(o.sub(d, t));
    }
  }
}

/** Memoises `sep` per (row, col, σ) and row passes per (order, σ). */
function memo<T>(make: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined) cache.set(key, (v = make(key)));
    return v;
  };
}

function tsOps(z: Float64Array, size: number): MapOps<Float64Array> {
  const n = z.length;
  // Plain loops: typed-array callbacks (map, from with a mapper) are an order of magnitude slower in V8.
  const binary = (a: Float64Array, b: Float64Array, op: 'sub' | 'add' | 'mul'): Float64Array => {
    const out = new Float64Array(n);
    if (op === 'sub') for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!;
    else if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
    else for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
    return out;
  };
  const unary = (a: Float64Array, op: 'abs' | 'relu' | 'sqrt'): Float64Array => {
    const out = new Float64Array(n);
    if (op === 'abs') for (let i = 0; i < n; i++) out[i] = Math.abs(a[i]!);
    else if (op === 'relu') for (let i = 0; i < n; i++) out[i] = a[i]! > 0 ? a[i]! : 0;
    else for (let i = 0; i < n; i++) out[i] = Math.sqrt(a[i]!);
    return out;
  };
  const rows = memo((key) => {
    const [order, sigma] = JSON.parse(key) as [0 | 1 | 2, number];
    return correlateRows(z, size, derivativeKernel(sigma, order));
  });
  const seps = memo((key) => {
    const [row, col, sigma] = JSON.parse(key) as [0 | 1 | 2, 0 | 1 | 2, number];
    return correlateColumns(rows(JSON.stringify([row, sigma])), size, derivativeKernel(sigma, col));
  });
  return {
    z,
    sep: (row, col, sigma) => seps(JSON.stringify([row, col, sigma])),
    sub: (a, b) => binary(a, b, 'sub'),
    add: (a, b) => binary(a, b, 'add'),
    mul: (a, b) => binary(a, b, 'mul'),
    scale: (a, k) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = a[i]! * k;
      return out;
    },
    abs: (a) => unary(a, 'abs'),
    relu: (a) => unary(a, 'relu'),
    sqrt: (a) => unary(a, 'sqrt'),
  };
}

function pool(
  map: Float64Array,
  size: number,
  grid: number,
  kind: 'avg' | 'max',
  out: Float64Array,
  at: number,
) {
  const cell = size / grid;
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      let acc = kind === 'max' ? -Infinity : 0;
      for (let y = gy * cell; y < (gy + 1) * cell; y++) {
        for (let x = gx * cell; x < (gx + 1) * cell; x++) {
          const v = map[y * size + x]!;
          if (kind === 'max') acc = v > acc ? v : acc;
          else acc += v;
        }
      }
      out[at + gy * grid + gx] = kind === 'max' ? acc : acc / (cell * cell);
    }
  }
}

/** Mean of each 2×2 block (ONNX AveragePool, kernel 2, stride 2). */
export function averagePool2(img: Float64Array, size: number): Float64Array {
  const h = size / 2;
  const out = new Float64Array(h * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      const i = 2 * y * size + 2 * x;
      out[y * h + x] = (img[i]! + img[i + 1]! + img[i + size]! + img[i + size + 1]!) / 4;
    }
  }
  return out;
}

/** The features of one gray image (`size`² values in [0, 1], row-major), in block order. */
export function imageFeatures(gray: ArrayLike<number>, spec: FeatureSpec): Float64Array {
  const { size } = spec;
  if (gray.length !== size * size) throw new RangeError(`expected ${size * size} pixels, got ${gray.length}`);
  const z = standardize(gray);
  const full = tsOps(z, size);
  let half: MapOps<Float64Array> | undefined;
  const maps = memo((key) => {
    const [isHalf, m] = JSON.parse(key) as [boolean, FeatureMap];
    return buildMap(m, isHalf ? (half ??= tsOps(averagePool2(z, size), size / 2)) : full);
  });
  const out = new Float64Array(featureCount(spec));
  let at = 0;
  for (const block of spec.blocks) {
    const side = block.half ? size / 2 : size;
    pool(maps(JSON.stringify([!!block.half, block.map])), side, block.grid, block.pool, out, at);
    at += block.grid * block.grid;
  }
  return out;
}

/** The fitted part of the vision tower: embedding = features · weights + bias. */
export interface VisionProjection {
  /** featureCount × dim, row-major. */
  weights: Float32Array;
  bias: Float32Array;
  dim: number;
}

/** The vision tower: `pixel_values` float32 [batch, 3, size, size] → `image_embeds` [batch, dim]. */
export function buildVisionTower(
  spec: FeatureSpec,
  norm: { mean: [number, number, number]; std: [number, number, number] },
  projection: VisionProjection,
  doc: string,
): Uint8Array {
  const { size } = spec;
  for (const b of spec.blocks) {
    const side = b.half ? size / 2 : size;
    if (side % b.grid !== 0) throw new Error(`grid ${b.grid} does not divide ${side}`);
  }
  const g = new GraphBuilder('phantom_vision_model');
  const px = g.input('pixel_values', DT.FLOAT, ['batch_size', 3, size, size]);
  const x = g.op('Add', [
    g.op('Mul', [px, g.floats('channel_std', [1, 3, 1, 1], norm.std)]),
    g.floats('channel_mean', [1, 3, 1, 1], norm.mean),
  ]);
  const gray = g.op('ReduceMean', [x], { axes: ints([1]), keepdims: int(1) }); // [B,1,S,S]
  // Image means in two stages (each row, then the rows): a float32 sum over all S² pixels in one pass (as some
  // WebGPU reductions do) loses ~1e-4 relative precision; 256 terms at a time do not.
  const imageMean = (t: string): string =>
    g.op('ReduceMean', [g.op('ReduceMean', [t], { axes: ints([3]), keepdims: int(1) })], {
      axes: ints([2]),
      keepdims: int(1),
    });
  const mean = imageMean(gray);
  const centred = g.op('Sub', [gray, mean]);
  const variance = imageMean(g.op('Mul', [centred, centred]));
  const z = g.op('Div', [
    centred,
    g.op('Sqrt', [g.op('Add', [variance, g.floats('std_eps', [], [STANDARDIZE_EPS])])]),
  ]);
  const tag = (sigma: number) => String(sigma).replace('.', '_');
  const conv = (input: string, name: string, k: Float64Array, horizontal: boolean): string => {
    const r = (k.length - 1) / 2;
    return g.op('Conv', [input, g.floats(name, horizontal ? [1, 1, 1, k.length] : [1, 1, k.length, 1], k)], {
      kernel_shape: ints(horizontal ? [1, k.length] : [k.length, 1]),
      pads: ints(horizontal ? [0, r, 0, r] : [r, 0, r, 0]),
    });
  };
  let constants = 0;
  const scalar = (v: number) => g.floats(`scalar_${constants++}`, [], [v]);
  const graphOps = (input: string, prefix: string): MapOps<string> => {
    const rows = memo((key) => {
      const [order, sigma] = JSON.parse(key) as [0 | 1 | 2, number];
      return conv(input, `${prefix}row_d${order}_s${tag(sigma)}`, derivativeKernel(sigma, order), true);
    });
    const seps = memo((key) => {
      const [row, col, sigma] = JSON.parse(key) as [0 | 1 | 2, 0 | 1 | 2, number];
      const name = `${prefix}col_d${col}_after_d${row}_s${tag(sigma)}`;
      return conv(rows(JSON.stringify([row, sigma])), name, derivativeKernel(sigma, col), false);
    });
    return {
      z: input,
      sep: (row, col, sigma) => seps(JSON.stringify([row, col, sigma])),
      sub: (a, b) => g.op('Sub', [a, b]),
      add: (a, b) => g.op('Add', [a, b]),
      scale: (a, k) => g.op('Mul', [a, scalar(k)]),
      mul: (a, b) => g.op('Mul', [a, b]),
      abs: (a) => g.op('Abs', [a]),
      relu: (a) => g.op('Relu', [a]),
      sqrt: (a) => g.op('Sqrt', [a]),
    };
  };
  const full = graphOps(z, '');
  let half: MapOps<string> | undefined;
  const maps = memo((key) => {
    const [isHalf, m] = JSON.parse(key) as [boolean, FeatureMap];
    const ops = isHalf
      ? (half ??= graphOps(
          g.op('AveragePool', [z], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
          'half_',
        ))
      : full;
    return buildMap(m, ops);
  });
  const pooled = spec.blocks.map((b, i) => {
    const cell = (b.half ? size / 2 : size) / b.grid;
    const p = g.op(b.pool === 'max' ? 'MaxPool' : 'AveragePool', [maps(JSON.stringify([!!b.half, b.map]))], {
      kernel_shape: ints([cell, cell]),
      strides: ints([cell, cell]),
    });
    return g.op('Reshape', [p, g.int64s(`block_${i}_shape`, [2], [-1, b.grid * b.grid])]);
  });
  const features = pooled.length === 1 ? pooled[0]! : g.op('Concat', pooled, { axis: int(1) });
  const F = featureCount(spec);
  if (projection.weights.length !== F * projection.dim)
    throw new Error('projection does not fit the features');
  const projected = g.op('MatMul', [features, g.floats('proj_w', [F, projection.dim], projection.weights)]);
  g.op('Add', [projected, g.floats('proj_b', [projection.dim], projection.bias)], {}, 'image_embeds');
  g.output('image_embeds', DT.FLOAT, ['batch_size', projection.dim]);
  return g.toBytes(doc);
}
