// Image-composition geometry of METHOD.md §4 and the box handling of §2 (iteration 2): thumbnails letterboxed to
// 256 px, per-set and combined grids, crop grids, validation of model-proposed boxes and anatomical fallback presets
// for PA chest radiographs. Lays out `Composition`s for the compositor port; never touches pixels.
// Pure: imports only core.

import { hashString } from './hash.ts';
import type { Box, Composition, Crop, Tile } from './ports.ts';

/** Version of the layout rules below; part of every composition key, so a layout change never reuses old renders. */
export const LAYOUT_VERSION = 'grid/1';
/** Longer side of a thumbnail or crop, in px (reference value). */
export const THUMBNAIL_SIDE = 256;
/** Gap between columns and between rows of a grid, in px. */
export const TILE_GAP = 10;
/** Gap between the A part and the B part of a combined grid or crop grid, in px. */
export const SET_GAP = 50;
/** Thumbnails per row (reference: 4 rows × 5 columns = the 20 sampled images). */
export const GRID_COLUMNS = 5;
/** Height of the band above a crop grid that holds its label (the finding), in px. Only present with a label. */
export const LABEL_BAND_HEIGHT = 40;
/** Largest font size of a crop grid's label, in px; long labels get smaller (see {@link cropGrid}). */
export const LABEL_FONT_SIZE = 24;
/** Smallest font size a label is shrunk to; beyond that the compositor may clip it. */
export const LABEL_MIN_FONT_SIZE = 12;
/** Composition background (reference: black). */
export const BACKGROUND = '#000000';
/** Smallest accepted box side, as a fraction of the image side (METHOD §2 step 3). */
export const MIN_BOX_SIDE = 0.15;

/** An image to place in a grid: its id, and its natural size in px when known. */
export interface GridImage {
  id: string;
  width?: number;
  height?: number;
}

/** Layout knobs; the defaults are the reference values of METHOD §4. Every knob is reflected in the key. */
export interface GridOptions {
  /** Thumbnails per row (default {@link GRID_COLUMNS}). */
  columns?: number;
  /** Longer side of each thumbnail, and the cell size of a set grid (default {@link THUMBNAIL_SIDE}). */
  thumbnailSide?: number;
  /** Gap between columns and between rows (default {@link TILE_GAP}). */
  gap?: number;
}

/** Options of {@link combinedGrid} and {@link cropGrid}. */
export interface TwoSetGridOptions extends GridOptions {
  /** Gap between the A part and the B part (default {@link SET_GAP}). */
  setGap?: number;
}

/** Options of {@link cropGrid}. */
export interface CropGridOptions extends TwoSetGridOptions {
  /** Text drawn in a band above the grid (METHOD §7: each crop grid is labeled with its finding). */
  label?: string;
}

/** An integer pixel rectangle. */
export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Thumbnails and crops
// ---------------------------------------------------------------------------------------------------------------

/**
 * Size of a `srcWidth`×`srcHeight` picture scaled so that its longer side is exactly `maxSide` px, aspect kept
 * (METHOD §4: letterbox, never squash). The shorter side is rounded and at least 1 px. Small pictures are scaled
 * up, as in the reference. Throws a RangeError for non-positive or non-finite sizes.
 */
export function letterboxRect(
  srcWidth: number,
  srcHeight: number,
  maxSide: number = THUMBNAIL_SIDE,
): { width: number; height: number } {
  if (!(Number.isFinite(srcWidth) && srcWidth > 0 && Number.isFinite(srcHeight) && srcHeight > 0)) {
    throw new RangeError(`letterboxRect needs a positive finite size, got ${srcWidth}×${srcHeight}`);
  }
  assertPositiveInteger(maxSide, 'maxSide');
  const short = (side: number, long: number) =>
    Math.min(maxSide, Math.max(1, Math.round((side * maxSide) / long)));
  return srcWidth >= srcHeight
    ? { width: maxSide, height: short(srcHeight, srcWidth) }
    : { width: short(srcWidth, srcHeight), height: maxSide };
}

/**
 * The source rectangle, in integer pixels of a `width`×`height` image, that a crop covers: edges rounded outwards
 * (floor / ceil) so the crop never loses a sliver of the box, clamped to the image, at least 1 px each way. Used by
 * the compositor and the captioner so both cut exactly the same pixels. Axis order of the box does not matter.
 */
export function cropPixelRect(crop: Crop, width: number, height: number): PixelRect {
  assertPositiveInteger(width, 'width');
  assertPositiveInteger(height, 'height');
  if (crop === 'full') return { x: 0, y: 0, width, height };
  for (const v of [crop.x1, crop.y1, crop.x2, crop.y2]) {
    if (!Number.isFinite(v)) throw new RangeError(`cropPixelRect needs finite box coordinates, got ${v}`);
  }
  const axis = (a: number, b: number, size: number): [number, number] => {
    const start = Math.min(size - 1, Math.max(0, Math.floor(Math.min(a, b) * size)));
    const end = Math.max(start + 1, Math.min(size, Math.ceil(Math.max(a, b) * size)));
    return [start, end];
  };
  const [x0, x1] = axis(crop.x1, crop.x2, width);
  const [y0, y1] = axis(crop.y1, crop.y2, height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

// ---------------------------------------------------------------------------------------------------------------
// Grids
// ---------------------------------------------------------------------------------------------------------------

/** A picture before placement: which image, which part of it, and its letterboxed size. */
interface Picture {
  imageId: string;
  crop: Crop;
  width: number;
  height: number;
}

/** A block of cells laid out row-major, with its own size; `tiles` are relative to the block's top-left corner. */
interface Block {
  width: number;
  height: number;
  tiles: Tile[];
}

/**
 * Lays `pictures` out in `columns` columns of `cellWidth`×`cellHeight` cells separated by `gap`, each picture
 * centred in its cell (an odd pixel of margin goes right or below, so placement is integer and deterministic).
 */
function layoutBlock(
  pictures: readonly Picture[],
  columns: number,
  cellWidth: number,
  cellHeight: number,
  gap: number,
): Block {
  const rows = Math.ceil(pictures.length / columns);
  const tiles = pictures.map((p, i): Tile => {
    const cellX = (i % columns) * (cellWidth + gap);
    const cellY = Math.floor(i / columns) * (cellHeight + gap);
    return {
      imageId: p.imageId,
      crop: p.crop,
      x: cellX + Math.floor((cellWidth - p.width) / 2),
      y: cellY + Math.floor((cellHeight - p.height) / 2),
      width: p.width,
      height: p.height,
    };
  });
  return {
    width: columns * cellWidth + (columns - 1) * gap,
    height: rows * cellHeight + (rows - 1) * gap,
    tiles,
  };
}

/** Moves a block's tiles down by `dy`. */
function shifted(block: Block, dy: number): Tile[] {
  return block.tiles.map((t) => ({ ...t, y: t.y + dy }));
}

/** Thumbnail of a whole image: letterboxed to `side`, square when the image's size is unknown. */
function thumbnail(image: GridImage, side: number): Picture {
  const size = knownSize(image);
  const box = size ? letterboxRect(size.width, size.height, side) : { width: side, height: side };
  return { imageId: image.id, crop: 'full', ...box };
}

/**
 * The grid of one set (METHOD §2 step 4): up to `columns` letterboxed thumbnails per row, each centred in a
 * `thumbnailSide`-square cell, `gap` px between columns and rows, black background. 20 images of any size give
 * the reference 1320 × 1054 px (5·256 + 4·10 by 4·256 + 3·10). Fewer images give fewer rows; fewer than `columns`
 * images give a single, narrower row. An image of unknown size is treated as square. Throws a RangeError for an
 * empty list (there is nothing to draw).
 */
export function setGrid(images: readonly GridImage[], options: GridOptions = {}): Composition {
  const { columns, side, gap } = gridParams(options);
  if (images.length === 0) throw new RangeError('setGrid needs at least one image');
  const block = layoutBlock(
    images.map((image) => thumbnail(image, side)),
    Math.min(columns, images.length),
    side,
    side,
    gap,
  );
  return composition('set', block.width, block.height, block.tiles, []);
}

/**
 * The combined grid shown for box selection (METHOD §2, iteration 2 step 2): the A grid on top, `setGap` px of
 * background, the B grid below, both left-aligned. 20 + 20 images give the reference 1320 × 2158 px. Throws a
 * RangeError when either set is empty (the prompt says "upper part is A, lower part is B").
 */
export function combinedGrid(
  a: readonly GridImage[],
  b: readonly GridImage[],
  options: TwoSetGridOptions = {},
): Composition {
  const { columns, side, gap, setGap } = gridParams(options);
  if (a.length === 0 || b.length === 0) throw new RangeError('combinedGrid needs at least one image per set');
  const blockA = layoutBlock(
    a.map((image) => thumbnail(image, side)),
    Math.min(columns, a.length),
    side,
    side,
    gap,
  );
  const blockB = layoutBlock(
    b.map((image) => thumbnail(image, side)),
    Math.min(columns, b.length),
    side,
    side,
    gap,
  );
  const tiles = [...blockA.tiles, ...shifted(blockB, blockA.height + setGap)];
  return composition(
    'combined',
    Math.max(blockA.width, blockB.width),
    blockA.height + setGap + blockB.height,
    tiles,
    [],
  );
}

/**
 * The crop grid of one box (METHOD §2, iteration 2 step 4): the same box cut from every image, each crop scaled so
 * its longer side is `thumbnailSide` px (its aspect computed from the image's pixel size when known, from the box
 * alone otherwise), A crops in rows of `columns`, `setGap` px, then B crops. All cells share one size, the largest
 * crop's width and height, so the A and B parts line up column by column; 20 + 20 square crops give 1320 × 2158 px.
 * With a `label`, a band of {@link LABEL_BAND_HEIGHT} px on top holds it (so 1320 × 2198 px); its font shrinks from
 * {@link LABEL_FONT_SIZE} for long labels, by an average-glyph-width estimate (about 0.55 em), to fit the width.
 * The box is ordered per axis and rounded to 4 decimals, the precision of every crop cache key. Throws a RangeError when either set is
 * empty or the box has no area.
 */
export function cropGrid(
  a: readonly GridImage[],
  b: readonly GridImage[],
  box: Box,
  options: CropGridOptions = {},
): Composition {
  const { columns, side, gap, setGap } = gridParams(options);
  if (a.length === 0 || b.length === 0) throw new RangeError('cropGrid needs at least one image per set');
  const crop = roundBox(box);
  const boxWidth = crop.x2 - crop.x1;
  const boxHeight = crop.y2 - crop.y1;
  if (!(boxWidth > 0 && boxHeight > 0)) {
    throw new RangeError(`cropGrid needs a box with area, got ${JSON.stringify(box)}`);
  }
  const picture = (image: GridImage): Picture => {
    const size = knownSize(image);
    // With the pixel size known, the compositor will cut exactly cropPixelRect: letterbox that rectangle.
    const source = size
      ? cropPixelRect(crop, size.width, size.height)
      : { width: boxWidth, height: boxHeight };
    return { imageId: image.id, crop, ...letterboxRect(source.width, source.height, side) };
  };
  const picturesA = a.map(picture);
  const picturesB = b.map(picture);
  const all = [...picturesA, ...picturesB];
  const cellWidth = Math.max(...all.map((p) => p.width));
  const cellHeight = Math.max(...all.map((p) => p.height));
  const cols = Math.min(columns, Math.max(a.length, b.length));
  const blockA = layoutBlock(picturesA, cols, cellWidth, cellHeight, gap);
  const blockB = layoutBlock(picturesB, cols, cellWidth, cellHeight, gap);
  const width = Math.max(blockA.width, blockB.width);
  const label = options.label?.replace(/\s+/g, ' ').trim();
  const top = label ? LABEL_BAND_HEIGHT : 0;
  const labels: Composition['labels'] = [];
  if (label) {
    const fitting = Math.floor((width - 2 * gap) / (0.55 * label.length));
    const size = Math.max(LABEL_MIN_FONT_SIZE, Math.min(LABEL_FONT_SIZE, fitting));
    labels.push({ text: label, x: gap, y: Math.floor((LABEL_BAND_HEIGHT - size) / 2), size });
  }
  const tiles = [...shifted(blockA, top), ...shifted(blockB, top + blockA.height + setGap)];
  return composition('crop', width, top + blockA.height + setGap + blockB.height, tiles, labels);
}

/**
 * Builds a composition with its deterministic key: `grid/1:<kind>:<width>x<height>:<hash>`, the hash (cyrb128,
 * 32 hex) covering the layout version, size, background, every tile (image id, crop to 4 decimals, rectangle) and
 * every label. Equal keys mean equal pictures, given equal source images.
 */
function composition(
  kind: 'set' | 'combined' | 'crop',
  width: number,
  height: number,
  tiles: Tile[],
  labels: Composition['labels'],
): Composition {
  const descriptor = JSON.stringify([
    LAYOUT_VERSION,
    kind,
    width,
    height,
    BACKGROUND,
    tiles.map((t) => [t.imageId, cropKey(t.crop), t.x, t.y, t.width, t.height]),
    labels.map((l) => [l.text, l.x, l.y, l.size]),
  ]);
  return {
    key: `${LAYOUT_VERSION}:${kind}:${width}x${height}:${hashString(descriptor)}`,
    width,
    height,
    background: BACKGROUND,
    tiles,
    labels,
  };
}

function cropKey(crop: Crop): string {
  if (crop === 'full') return 'full';
  return [crop.x1, crop.y1, crop.x2, crop.y2].map((v) => v.toFixed(4)).join(',');
}

/** The box with each axis ordered and rounded to 4 decimals (the precision of crop cache keys). */
function roundBox(box: Box): Box {
  const r = (v: number) => Math.round(v * 10_000) / 10_000;
  return {
    x1: r(Math.min(box.x1, box.x2)),
    y1: r(Math.min(box.y1, box.y2)),
    x2: r(Math.max(box.x1, box.x2)),
    y2: r(Math.max(box.y1, box.y2)),
  };
}

function knownSize(image: GridImage): { width: number; height: number } | undefined {
  const { width, height } = image;
  if (width === undefined || height === undefined) return undefined;
  return Number.isFinite(width) && width > 0 && Number.isFinite(height) && height > 0
    ? { width, height }
    : undefined;
}

function gridParams(options: TwoSetGridOptions) {
  const columns = options.columns ?? GRID_COLUMNS;
  const side = options.thumbnailSide ?? THUMBNAIL_SIDE;
  const gap = options.gap ?? TILE_GAP;
  const setGap = options.setGap ?? SET_GAP;
  assertPositiveInteger(columns, 'columns');
  assertPositiveInteger(side, 'thumbnailSide');
  assertNonNegativeInteger(gap, 'gap');
  assertNonNegativeInteger(setGap, 'setGap');
  return { columns, side, gap, setGap };
}

function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

function assertNonNegativeInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Box validation
// ---------------------------------------------------------------------------------------------------------------

/** The outcome of {@link validateBox}: a usable box (with what was adjusted to get it), or why there is none. */
export type BoxValidation = { ok: true; box: Box; notes: string[] } | { ok: false; problem: string };

const BOX_KEYS = ['x1', 'y1', 'x2', 'y2'] as const;
/** A plain decimal number, optionally signed, with an optional exponent; nothing else (no hex, no empty string). */
const NUMERIC_STRING = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
/** Floating-point slack for the minimum side, so 0.35 − 0.2 = 0.1499999… still counts as 0.15. */
const SIDE_EPSILON = 1e-9;

/**
 * Checks a box as a model returned it (METHOD §2 step 3) and never throws. Accepted shapes: an object with numeric
 * `x1, y1, x2, y2` (numbers or numeric strings; other keys ignored) or an array `[x1, y1, x2, y2]`.
 *
 * Scale: the prompt asks for fractions in [0, 1], but small VLMs often answer in percent or in the 0–1000 grid many
 * of them were trained on. So the largest absolute coordinate m decides: m ≤ 1.5 → fractions (values slightly out
 * of range are clamped); 1.5 < m ≤ 100 → percent; 100 < m ≤ 1000 → per mille; larger → rejected (pixel
 * coordinates of an unknown image). A rescaling is reported in `notes`. A per-mille box whose coordinates all lie
 * below 100 would be misread as percent, but such a box spans at most 0.1 of the image and is too small anyway.
 *
 * Then: clamp to [0, 1], order each axis, and reject boxes with a side below {@link MIN_BOX_SIDE} (a floating-point
 * slack of 1e-9 allowed), so a returned box always has sides ≥ 0.15 − 1e-9 inside [0, 1].
 */
export function validateBox(raw: unknown): BoxValidation {
  let values: unknown[];
  if (Array.isArray(raw)) {
    if (raw.length !== 4) return { ok: false, problem: `a box array needs 4 numbers, got ${raw.length}` };
    values = raw;
  } else if (typeof raw === 'object' && raw !== null) {
    const record = raw as Record<string, unknown>;
    const missing = BOX_KEYS.filter((k) => !Object.prototype.hasOwnProperty.call(record, k));
    if (missing.length > 0) return { ok: false, problem: `the box has no ${missing.join(', ')}` };
    values = BOX_KEYS.map((k) => record[k]);
  } else {
    return { ok: false, problem: `expected a box {x1, y1, x2, y2}, got ${describe(raw)}` };
  }
  const numbers: number[] = [];
  for (const [i, value] of values.entries()) {
    const name = BOX_KEYS[i] as string;
    const n =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && NUMERIC_STRING.test(value)
          ? Number(value)
          : NaN;
    if (typeof value !== 'number' && Number.isNaN(n)) {
      return { ok: false, problem: `${name} is not a number: ${describe(value)}` };
    }
    if (!Number.isFinite(n)) return { ok: false, problem: `${name} is not finite: ${describe(value)}` };
    numbers.push(n);
  }
  const notes: string[] = [];
  const largest = Math.max(...numbers.map(Math.abs));
  let scale = 1;
  if (largest > 1000) {
    return {
      ok: false,
      problem: `coordinates up to ${largest} look like pixels; expected fractions of the image in [0, 1]`,
    };
  } else if (largest > 100) {
    scale = 1000;
    notes.push('read as per mille (0–1000) coordinates');
  } else if (largest > 1.5) {
    scale = 100;
    notes.push('read as percent (0–100) coordinates');
  }
  const [x1, y1, x2, y2] = numbers.map((n) => n / scale) as [number, number, number, number];
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  if ([x1, y1, x2, y2].some((v) => v !== clamp(v))) notes.push('clamped to [0, 1]');
  if (x1 > x2) notes.push('x1 and x2 swapped');
  if (y1 > y2) notes.push('y1 and y2 swapped');
  const box: Box = {
    x1: clamp(Math.min(x1, x2)),
    y1: clamp(Math.min(y1, y2)),
    x2: clamp(Math.max(x1, x2)),
    y2: clamp(Math.max(y1, y2)),
  };
  const width = box.x2 - box.x1;
  const height = box.y2 - box.y1;
  if (width === 0 || height === 0) {
    return { ok: false, problem: `the box has no area (${formatBox(box)})` };
  }
  if (width + SIDE_EPSILON < MIN_BOX_SIDE || height + SIDE_EPSILON < MIN_BOX_SIDE) {
    return {
      ok: false,
      problem: `the box is too small: ${width.toFixed(3)} × ${height.toFixed(3)} of the image, each side must be ≥ ${MIN_BOX_SIDE} (${formatBox(box)})`,
    };
  }
  return { ok: true, box, notes };
}

function formatBox(box: Box): string {
  return BOX_KEYS.map((k) => `${k}=${box[k].toFixed(3)}`).join(' ');
}

/** A short, never-throwing description of any value for messages. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') {
    return String(value as number | boolean | bigint | symbol | undefined);
  }
  return Array.isArray(value) ? 'an array' : 'an object';
}

// ---------------------------------------------------------------------------------------------------------------
// Anatomical presets
// ---------------------------------------------------------------------------------------------------------------

/** Regions with a preset box. Sides are the patient's: on a PA chest radiograph the patient's right is image left. */
export type AnatomicalRegion =
  | 'both-lungs'
  | 'right-lung'
  | 'left-lung'
  | 'upper-zones'
  | 'mid-zones'
  | 'lower-zones'
  | 'right-upper-zone'
  | 'right-mid-zone'
  | 'right-lower-zone'
  | 'left-upper-zone'
  | 'left-mid-zone'
  | 'left-lower-zone'
  | 'mediastinum'
  | 'heart'
  | 'costophrenic-angles'
  | 'right-costophrenic-angle'
  | 'left-costophrenic-angle';

// Approximate positions on a frontal (PA/AP) chest radiograph framed as usual (lung apices near the top, the
// diaphragm at about 85 %). They only have to contain the region, not trace it: a crop is a zoom, not a mask.
// Image x grows to the right, which is the patient's LEFT: right-sided regions have small x.
const LUNGS_X = { right: [0.08, 0.5], left: [0.5, 0.92], both: [0.08, 0.92] } as const;
const ZONES_Y = { upper: [0.08, 0.36], mid: [0.34, 0.62], lower: [0.6, 0.88], all: [0.08, 0.88] } as const;
const box = (x: readonly [number, number], y: readonly [number, number]): Box => ({
  x1: x[0],
  y1: y[0],
  x2: x[1],
  y2: y[1],
});

/** The preset box of every {@link AnatomicalRegion}, in normalized coordinates of one PA chest radiograph. */
export const ANATOMICAL_PRESETS: Readonly<Record<AnatomicalRegion, Box>> = Object.freeze({
  'both-lungs': box(LUNGS_X.both, ZONES_Y.all),
  'right-lung': box(LUNGS_X.right, ZONES_Y.all),
  'left-lung': box(LUNGS_X.left, ZONES_Y.all),
  'upper-zones': box(LUNGS_X.both, ZONES_Y.upper),
  'mid-zones': box(LUNGS_X.both, ZONES_Y.mid),
  'lower-zones': box(LUNGS_X.both, ZONES_Y.lower),
  'right-upper-zone': box(LUNGS_X.right, ZONES_Y.upper),
  'right-mid-zone': box(LUNGS_X.right, ZONES_Y.mid),
  'right-lower-zone': box(LUNGS_X.right, ZONES_Y.lower),
  'left-upper-zone': box(LUNGS_X.left, ZONES_Y.upper),
  'left-mid-zone': box(LUNGS_X.left, ZONES_Y.mid),
  'left-lower-zone': box(LUNGS_X.left, ZONES_Y.lower),
  // Superior mediastinum, trachea and hila.
  mediastinum: box([0.36, 0.64], [0.05, 0.6]),
  // The cardiac silhouette extends further to the patient's left (image right) than to the right.
  heart: box([0.34, 0.76], [0.45, 0.85]),
  'costophrenic-angles': box([0.05, 0.95], [0.68, 0.95]),
  'right-costophrenic-angle': box([0.05, 0.35], [0.68, 0.95]),
  'left-costophrenic-angle': box([0.65, 0.95], [0.68, 0.95]),
});

const RIGHT = /\b(?:right|rt)\b/;
const LEFT = /\b(?:left|lt)\b/;
const BILATERAL = /\b(?:bilateral(?:ly)?|both|bibasilar|bibasal|bi-?apical)\b/;
const UPPER = /\b(?:upper|apical|apex|apices|apico\w*|bi-?apical)\b/;
const MID = /\b(?:mid|middle|midzone|perihilar|lingula\w*)\b/;
const LOWER = /\b(?:lower|basal|base|bases|basilar|bibasilar|bibasal|infrahilar)\b/;
const COSTOPHRENIC = /\b(?:costophrenic|effusions?|blunt\w*|pleural fluid|meniscus)\b/;
const RETROCARDIAC = /\bretrocardiac\b/;
const LINGULA = /\blingula/;
const HEART = /\b(?:heart|cardiac|cardio\w*|cardiomegaly|pericardi\w*|ventric\w*|atri(?:al|um|a))\b/;
const MEDIASTINUM =
  /\b(?:mediastin\w*|aort\w*|trache\w*|paratracheal|endotracheal|hil(?:ar|um|a)|thym\w*|esophag\w*)\b/;
const PNEUMOTHORAX = /\bpneumothora(?:x|ces)\b/;

/**
 * The fallback box for a finding whose model-proposed box was invalid: a preset region chosen by keywords, always
 * the same for the same text. In order: costophrenic / effusion / blunting → the costophrenic angle(s) (unless an
 * upper or mid zone is named); a named zone (upper/apical, mid/perihilar/lingula, lower/basal) → that zone; heart
 * or cardiac → heart; mediastinal, aortic, tracheal, hilar → mediastinum; pneumothorax → upper zone(s); a side
 * alone → that lung; nothing recognized → both lungs. "Right"/"left" are the patient's sides ("bilateral", "both"
 * or naming both sides → both), "lingula" is on the left, and "retrocardiac" is the left lower zone.
 */
export function presetBoxForFinding(finding: string): { region: AnatomicalRegion; box: Box } {
  const text = finding.toLowerCase().replace(/_+/g, ' ');
  const pick = (region: AnatomicalRegion) => ({ region, box: { ...ANATOMICAL_PRESETS[region] } });
  const right = RIGHT.test(text);
  const left = LEFT.test(text) || LINGULA.test(text); // the lingula is part of the left lung only
  const side: 'right' | 'left' | 'both' =
    BILATERAL.test(text) || right === left ? 'both' : right ? 'right' : 'left';
  const sided = (both: AnatomicalRegion, r: AnatomicalRegion, l: AnatomicalRegion) =>
    pick(side === 'both' ? both : side === 'right' ? r : l);
  const upper = UPPER.test(text);
  const mid = MID.test(text);
  const lower = LOWER.test(text);

  if (COSTOPHRENIC.test(text) && !upper && !mid) {
    return sided('costophrenic-angles', 'right-costophrenic-angle', 'left-costophrenic-angle');
  }
  if (RETROCARDIAC.test(text)) return pick('left-lower-zone');
  if (upper) return sided('upper-zones', 'right-upper-zone', 'left-upper-zone');
  if (mid) return sided('mid-zones', 'right-mid-zone', 'left-mid-zone');
  if (lower) return sided('lower-zones', 'right-lower-zone', 'left-lower-zone');
  if (HEART.test(text)) return pick('heart');
  if (MEDIASTINUM.test(text)) return pick('mediastinum');
  if (PNEUMOTHORAX.test(text)) return sided('upper-zones', 'right-upper-zone', 'left-upper-zone');
  if (right !== left) return sided('both-lungs', 'right-lung', 'left-lung');
  return pick('both-lungs');
}
