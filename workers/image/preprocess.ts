// Pixel math of preprocessing, apart from the canvas that executes it: where a decoded image lands on the model's
// size×size input for each resize mode, RGBA → normalized CHW float32, and thumbnail sizes. Pure (no DOM, no
// worker globals) so Node tests pin the arithmetic; the worker (image.api.ts) draws and reads pixels with it.
import type { Preprocessing } from '../../src/lib/core/types.ts';

/** Destination rectangle of the whole decoded image on the `size`×`size` canvas; outside it is black or cropped. */
export interface Placement {
  dx: number;
  dy: number;
  dw: number;
  dh: number;
}

/**
 * Where an image of `width`×`height` is drawn for a resize mode. Integer rounding follows the reference
 * processors so tensors match them: Hugging Face CLIP (`shortest_edge` resize with `int()`, then center crop with
 * `(h − size) // 2`) and CheXzero (`int(x · size / max)`, pasted at `(size − x) // 2` on black).
 */
export function placeImage(
  width: number,
  height: number,
  resize: Preprocessing['resize'],
  size: number,
): Placement {
  switch (resize) {
    case 'squash':
      return { dx: 0, dy: 0, dw: size, dh: size };
    case 'shortest-edge-center-crop': {
      // Integer products before the division keep the short side exactly `size` (no 223.9999 → 223).
      const dw = width <= height ? size : Math.floor((width * size) / height);
      const dh = width <= height ? Math.floor((height * size) / width) : size;
      // `0 -` rather than unary minus: no -0 offsets.
      return { dx: 0 - Math.floor((dw - size) / 2), dy: 0 - Math.floor((dh - size) / 2), dw, dh };
    }
    case 'pad-to-square': {
      const dw = width >= height ? size : Math.max(1, Math.floor((width * size) / height));
      const dh = width >= height ? Math.max(1, Math.floor((height * size) / width)) : size;
      return { dx: Math.floor((size - dw) / 2), dy: Math.floor((size - dh) / 2), dw, dh };
    }
  }
}

/**
 * Per-channel lookup tables: value v of channel c becomes `(v · rescale − mean[c]) / std[c]`, computed in double
 * precision once, so the hot loop is three table reads per pixel and matches the reference arithmetic exactly.
 */
export function normalizationTables(p: Pick<Preprocessing, 'rescale' | 'mean' | 'std'>): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v * p.rescale - p.mean[c]!) / p.std[c]!;
    return table;
  });
}

/**
 * RGBA pixels of a `size`×`size` image → `pixel_values` in CHW layout [3, size, size]. Alpha is ignored: the
 * canvas was filled black before drawing, so transparency is already composited onto black. Grayscale images
 * arrive with R = G = B from the canvas and so become three (differently normalized) channels.
 */
export function rgbaToChw(
  rgba: Uint8ClampedArray | Uint8Array,
  size: number,
  p: Pick<Preprocessing, 'rescale' | 'mean' | 'std'>,
  out: Float32Array = new Float32Array(3 * size * size),
): Float32Array {
  const plane = size * size;
  if (rgba.length < plane * 4) throw new RangeError(`expected ${plane * 4} RGBA bytes, got ${rgba.length}`);
  if (out.length < plane * 3) throw new RangeError(`output needs ${plane * 3} floats, has ${out.length}`);
  const [r, g, b] = normalizationTables(p) as [Float32Array, Float32Array, Float32Array];
  for (let i = 0, j = 0; i < plane; i++, j += 4) {
    out[i] = r[rgba[j]!]!;
    out[plane + i] = g[rgba[j + 1]!]!;
    out[2 * plane + i] = b[rgba[j + 2]!]!;
  }
  return out;
}

/** Size of a thumbnail whose longest side is at most `maxSide`; never enlarges. */
export function thumbnailSize(
  width: number,
  height: number,
  maxSide: number,
): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
