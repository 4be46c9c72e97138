// The headless runner's CompositorPort: decodes PNG (fast-png) and JPEG (jpeg-js) files with their EXIF
// orientation, cuts each tile's crop with core's geometry (the browser compositor's exact source rectangles),
// resamples it into the tile and encodes PNG (fast-png). Labels are NOT drawn: Node has no font rasterizer here
// (the prompt text names what each grid shows). Imports core, the worker's pure header parser and node only.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { convertIndexedToRgb, decode as decodePng, encode as encodePng } from 'fast-png';
import { decode as decodeJpeg } from 'jpeg-js';
import type { Composition, CompositorPort, Crop, EncodedImage, Tile } from '../../src/lib/core/ports.ts';
import type { AbortSignalLike } from '../../src/lib/core/llm.ts';
import { cropSourceRect, encodedImageKey, fitWithin, type SourceRect } from '../../src/lib/core/crop-rect.ts';
import { namedError } from '../../src/lib/core/types.ts';
import { inspectImageBytes, orientedSize } from '../../workers/image/image-format.ts';

/** A decoded image: 8-bit RGBA, row-major, as displayed (EXIF orientation applied). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An image a composition needed but could not draw; its tiles show a dark grey placeholder instead. */
export interface UnavailableImage {
  imageId: string;
  /** `missing`: no path, or no file at it; `undecodable`: the file is not a PNG/JPEG this module can decode. */
  code: 'missing' | 'undecodable';
  reason: string;
}

/** A rendered composition and the images it had to leave out. */
export interface NodeRenderResult {
  image: EncodedImage;
  unavailable: UnavailableImage[];
}

/** Options of {@link createNodeCompositor}. */
export interface NodeCompositorOptions {
  /** Told after each `render` that had to leave images out. */
  onUnavailable?: (unavailable: UnavailableImage[], composition: Composition) => void;
}

/** The CompositorPort, plus a render that returns what it could not draw (the port's `render` only warns). */
export interface NodeCompositor extends CompositorPort {
  renderWithReport(composition: Composition, signal?: AbortSignalLike): Promise<NodeRenderResult>;
}

// Same placeholder look as the browser compositor (src/lib/imaging/compositor.ts).
const PLACEHOLDER_FILL: Rgb = [0x3a, 0x3a, 0x3a];
const PLACEHOLDER_MARK: Rgb = [0x8c, 0x8c, 0x8c];

type Rgb = [number, number, number];

/**
 * A compositor for Node. `resolvePath` maps a pipeline image id (content hash) to its file. Each distinct image is
 * decoded once per render and released before the next, so memory holds one decoded image. Tiles are resampled
 * bilinearly when enlarged and by area averaging when reduced (every source pixel counts: no aliasing when a
 * radiograph shrinks tenfold into a thumbnail). Transparency composites onto the background. Labels are skipped
 * (see the module header). A missing or undecodable image becomes a placeholder tile and is reported, never a
 * failed render; rejects with an Error named `AbortError` when `signal` aborts (checked between images and tiles).
 */
export function createNodeCompositor(
  resolvePath: (imageId: string) => string | undefined,
  options: NodeCompositorOptions = {},
): NodeCompositor {
  const renderWithReport = async (
    composition: Composition,
    signal?: AbortSignalLike,
  ): Promise<NodeRenderResult> => {
    throwIfAborted(signal);
    const { width, height } = composition;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`composition size ${width}×${height} is not a positive integer size`);
    }
    const background = parseHexColor(composition.background);
    const canvas = new Uint8Array(width * height * 3);
    fillRect(canvas, width, height, { x: 0, y: 0, width, height }, background);

    const unavailable: UnavailableImage[] = [];
    for (const [imageId, tiles] of groupByImage(composition.tiles)) {
      throwIfAborted(signal);
      const path = resolvePath(imageId);
      let image: RgbaImage | undefined;
      let bytes: Uint8Array | undefined;
      if (path === undefined) {
        unavailable.push({ imageId, code: 'missing', reason: `no file is known for image ${imageId}` });
      } else {
        try {
          bytes = await readFile(path);
        } catch (error) {
          unavailable.push({
            imageId,
            code: 'missing',
            reason: `${path} could not be read (${describe(error)})`,
          });
        }
      }
      if (bytes) {
        try {
          image = decodeImage(bytes);
        } catch (error) {
          unavailable.push({
            imageId,
            code: 'undecodable',
            reason: `${path} could not be decoded (${describe(error)})`,
          });
        }
      }
      for (const tile of tiles) {
        throwIfAborted(signal);
        if (image) {
          drawImage(
            canvas,
            width,
            height,
            image,
            cropSourceRect(image.width, image.height, tile.crop),
            tile,
            background,
          );
        } else drawPlaceholder(canvas, width, height, tile);
      }
    }

    throwIfAborted(signal);
    const png = encodePng({ width, height, data: canvas, channels: 3, depth: 8 });
    return { image: { key: composition.key, mime: 'image/png', bytes: png, width, height }, unavailable };
  };

  return {
    renderWithReport,
    async render(composition, signal) {
      const { image, unavailable } = await renderWithReport(composition, signal);
      if (unavailable.length > 0) options.onUnavailable?.(unavailable, composition);
      return image;
    },
  };
}

/**
 * One image file (or a crop of it) as PNG, longer side at most `maxSide` (never enlarged), for a captioner or an
 * endpoint that takes single images; transparency composites onto black. `id` names the image in the key
 * (default: the file's SHA-256, the pipeline's image identity), so the key equals the browser's for the same file.
 * Rejects when the file cannot be read or decoded.
 */
export async function loadEncodedImageNode(
  path: string,
  crop: Crop,
  maxSide: number,
  id?: string,
): Promise<EncodedImage> {
  if (!(maxSide >= 1)) throw new RangeError(`maxSide ${maxSide} must be at least 1`);
  const bytes = await readFile(path);
  const key = encodedImageKey(id ?? createHash('sha256').update(bytes).digest('hex'), crop, maxSide);
  const image = decodeImage(bytes);
  const src = cropSourceRect(image.width, image.height, crop);
  const { width, height } = fitWithin(src.sw, src.sh, maxSide);
  const canvas = new Uint8Array(width * height * 3);
  drawImage(canvas, width, height, image, src, { x: 0, y: 0, width, height }, [0, 0, 0]);
  const png = encodePng({ width, height, data: canvas, channels: 3, depth: 8 });
  return { key, mime: 'image/png', bytes: png, width, height };
}

/**
 * Decodes a PNG (any bit depth, gray/gray+alpha/RGB/RGBA/palette) or baseline/progressive JPEG to 8-bit RGBA with
 * the EXIF orientation applied, as a browser displays it. Throws for other formats (WebP has no decoder here) and
 * for truncated or corrupt files, with the header checker's reason.
 */
export function decodeImage(bytes: Uint8Array): RgbaImage {
  const header = inspectImageBytes(bytes);
  if (!header.ok) throw new Error(header.reason);
  let image: RgbaImage;
  if (header.format === 'png') image = pngToRgba(bytes);
  else if (header.format === 'jpeg') {
    const jpeg = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true });
    image = { width: jpeg.width, height: jpeg.height, data: jpeg.data };
  } else throw new Error('WebP cannot be decoded in Node (no decoder installed): convert it to PNG');
  const oriented = orient(image, header.orientation);
  const expected = orientedSize(header);
  if (oriented.width !== expected.width || oriented.height !== expected.height) {
    throw new Error(
      `decoded ${oriented.width}×${oriented.height}, header says ${expected.width}×${expected.height}`,
    );
  }
  return oriented;
}

function pngToRgba(bytes: Uint8Array): RgbaImage {
  const png = decodePng(bytes);
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (png.palette) {
    // Palette entries are RGB, or RGBA when a tRNS chunk gave them alpha.
    const rgb = convertIndexedToRgb(png);
    const channels = rgb.length / n;
    for (let i = 0; i < n; i++) {
      out[4 * i] = rgb[channels * i]!;
      out[4 * i + 1] = rgb[channels * i + 1]!;
      out[4 * i + 2] = rgb[channels * i + 2]!;
      out[4 * i + 3] = channels === 4 ? rgb[channels * i + 3]! : 255;
    }
    return { width, height, data: out };
  }
  const channels = png.channels;
  const samples = unpackSamples(png.data, png.depth, width * channels, height);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    const gray = channels <= 2;
    out[4 * i] = samples[s]!;
    out[4 * i + 1] = gray ? samples[s]! : samples[s + 1]!;
    out[4 * i + 2] = gray ? samples[s]! : samples[s + 2]!;
    out[4 * i + 3] = channels === 2 ? samples[s + 1]! : channels === 4 ? samples[s + 3]! : 255;
  }
  return { width, height, data: out };
}

/**
 * Samples of any PNG bit depth as 8-bit values, `perRow` samples per row: 16-bit rounds to the nearest 8-bit
 * value; 1/2/4-bit gray (packed, rows padded to whole bytes) scales to the full 0–255 range.
 */
function unpackSamples(data: ArrayLike<number>, depth: number, perRow: number, rows: number): Uint8Array {
  if (depth === 8) return data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(perRow * rows);
  if (depth === 16) {
    for (let i = 0; i < out.length; i++) out[i] = Math.round(data[i]! / 257);
    return out;
  }
  const max = (1 << depth) - 1;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < perRow; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      const value = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * perRow + x] = Math.round((value * 255) / max);
    }
  }
  return out;
}

/** Applies EXIF orientation 1–8: the image as displayed (5–8 swap width and height). */
export function orient(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation <= 1 || orientation > 8) return image;
  const { width: w, height: h, data } = image;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  // Source pixel (u, v) shown at output (x, y), per the EXIF definitions of where row 0 and column 0 go.
  const source: (x: number, y: number) => [number, number] = {
    2: (x: number, y: number): [number, number] => [w - 1 - x, y],
    3: (x: number, y: number): [number, number] => [w - 1 - x, h - 1 - y],
    4: (x: number, y: number): [number, number] => [x, h - 1 - y],
    5: (x: number, y: number): [number, number] => [y, x],
    6: (x: number, y: number): [number, number] => [y, h - 1 - x],
    7: (x: number, y: number): [number, number] => [w - 1 - y, h - 1 - x],
    8: (x: number, y: number): [number, number] => [w - 1 - y, x],
  }[orientation]!;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const [u, v] = source(x, y);
      out.set(data.subarray(4 * (v * w + u), 4 * (v * w + u) + 4), 4 * (y * ow + x));
    }
  }
  return { width: ow, height: oh, data: out };
}

/** Source taps (indices relative to the source rectangle) and weights of each output pixel along one axis. */
interface AxisTaps {
  index: number[][];
  weight: number[][];
}

/**
 * Resampling taps mapping `srcLength` pixels onto `outLength`. Enlarging: bilinear on pixel centres. Reducing: area
 * average, each output pixel the coverage-weighted mean of the source pixels under it. Taps are clamped inside the
 * source rectangle, so a crop never bleeds in pixels from outside its box (as drawImage with a source rectangle).
 */
export function axisTaps(srcLength: number, outLength: number): AxisTaps {
  const scale = srcLength / outLength;
  const index: number[][] = [];
  const weight: number[][] = [];
  const clamp = (i: number) => Math.min(srcLength - 1, Math.max(0, i));
  for (let o = 0; o < outLength; o++) {
    if (scale <= 1) {
      const s = (o + 0.5) * scale - 0.5;
      const i0 = Math.floor(s);
      const f = s - i0;
      index.push([clamp(i0), clamp(i0 + 1)]);
      weight.push([1 - f, f]);
    } else {
      const a = o * scale;
      const b = (o + 1) * scale;
      const is: number[] = [];
      const ws: number[] = [];
      for (let j = Math.floor(a); j < Math.ceil(b); j++) {
        const overlap = Math.min(b, j + 1) - Math.max(a, j);
        if (overlap > 0) {
          is.push(clamp(j));
          ws.push(overlap / scale);
        }
      }
      index.push(is);
      weight.push(ws);
    }
  }
  return { index, weight };
}

/**
 * Resamples `src` of `image` into `dst` on the RGB canvas (separable: rows first, then columns), compositing alpha
 * onto `background`. Pixels of `dst` outside the canvas are skipped.
 */
function drawImage(
  canvas: Uint8Array,
  canvasWidth: number,
  canvasHeight: number,
  image: RgbaImage,
  src: SourceRect,
  dst: Pick<Tile, 'x' | 'y' | 'width' | 'height'>,
  background: Rgb,
): void {
  if (dst.width <= 0 || dst.height <= 0) return;
  const cols = axisTaps(src.sw, dst.width);
  const rows = axisTaps(src.sh, dst.height);
  // Horizontal pass over the rectangle's rows: sh × dst.width RGB, alpha already composited.
  const mid = new Float32Array(src.sh * dst.width * 3);
  const data = image.data;
  for (let y = 0; y < src.sh; y++) {
    const rowStart = ((src.sy + y) * image.width + src.sx) * 4;
    for (let x = 0; x < dst.width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const is = cols.index[x]!;
      const ws = cols.weight[x]!;
      for (let k = 0; k < is.length; k++) {
        const p = rowStart + is[k]! * 4;
        const a = data[p + 3]! / 255;
        const w = ws[k]!;
        r += w * (a * data[p]! + (1 - a) * background[0]);
        g += w * (a * data[p + 1]! + (1 - a) * background[1]);
        b += w * (a * data[p + 2]! + (1 - a) * background[2]);
      }
      const m = (y * dst.width + x) * 3;
      mid[m] = r;
      mid[m + 1] = g;
      mid[m + 2] = b;
    }
  }
  for (let y = 0; y < dst.height; y++) {
    const cy = dst.y + y;
    if (cy < 0 || cy >= canvasHeight) continue;
    const is = rows.index[y]!;
    const ws = rows.weight[y]!;
    for (let x = 0; x < dst.width; x++) {
      const cx = dst.x + x;
      if (cx < 0 || cx >= canvasWidth) continue;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < is.length; k++) {
        const m = (is[k]! * dst.width + x) * 3;
        const w = ws[k]!;
        r += w * mid[m]!;
        g += w * mid[m + 1]!;
        b += w * mid[m + 2]!;
      }
      const c = (cy * canvasWidth + cx) * 3;
      canvas[c] = clampByte(r);
      canvas[c + 1] = clampByte(g);
      canvas[c + 2] = clampByte(b);
    }
  }
}

function drawPlaceholder(canvas: Uint8Array, width: number, height: number, tile: Tile): void {
  fillRect(canvas, width, height, tile, PLACEHOLDER_FILL);
  // A small cross in the middle, as in the browser: readable at any tile size and needs no font.
  const half = Math.max(2, Math.round(Math.min(tile.width, tile.height) * 0.08));
  const thick = Math.max(1, Math.round(half / 3));
  const cx = Math.floor(tile.x + tile.width / 2);
  const cy = Math.floor(tile.y + tile.height / 2);
  for (let t = -half; t <= half; t++) {
    for (let d = 0; d < thick; d++) {
      for (const [x, y] of [
        [cx + t + d, cy + t],
        [cx + t + d, cy - t],
      ] as const) {
        if (x >= 0 && x < width && y >= 0 && y < height) canvas.set(PLACEHOLDER_MARK, (y * width + x) * 3);
      }
    }
  }
}

function fillRect(
  canvas: Uint8Array,
  width: number,
  height: number,
  rect: Pick<Tile, 'x' | 'y' | 'width' | 'height'>,
  color: Rgb,
): void {
  const x0 = Math.max(0, rect.x);
  const x1 = Math.min(width, rect.x + rect.width);
  for (let y = Math.max(0, rect.y); y < Math.min(height, rect.y + rect.height); y++) {
    for (let x = x0; x < x1; x++) canvas.set(color, (y * width + x) * 3);
  }
}

/** `#rgb` or `#rrggbb` → RGB bytes; core writes backgrounds as hex, anything else is a programming error. */
export function parseHexColor(color: string): Rgb {
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(color);
  if (short) return [short[1]!, short[2]!, short[3]!].map((h) => parseInt(h + h, 16)) as Rgb;
  const long = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (long) return [long[1]!, long[2]!, long[3]!].map((h) => parseInt(h, 16)) as Rgb;
  throw new RangeError(`background "${color}" is not a #rgb or #rrggbb colour`);
}

/** Tiles grouped by image, in order of first appearance (tiles never overlap, so drawing order is free). */
function groupByImage(tiles: readonly Tile[]): Map<string, Tile[]> {
  const groups = new Map<string, Tile[]>();
  for (const tile of tiles) {
    const group = groups.get(tile.imageId);
    if (group) group.push(tile);
    else groups.set(tile.imageId, [tile]);
  }
  return groups;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw namedError('AbortError', 'composition cancelled');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
