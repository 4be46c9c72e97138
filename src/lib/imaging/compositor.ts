// The browser's CompositorPort: draws core's laid-out Compositions (image grids, crop grids) on an OffscreenCanvas
// and encodes them as PNG, on the main thread or in a worker, plus single images/crops for a captioner. Placement is
// decided in core (geometry.ts); this only draws. Imports core only: never state, components, storage or engines.
import type { Composition, CompositorPort, Crop, EncodedImage, Tile } from '../core/ports.ts';
import type { AbortSignalLike } from '../core/llm.ts';
import { cropSourceRect, encodedImageKey, fitWithin, type SourceRect } from '../core/crop-rect.ts';
import { namedError } from '../core/types.ts';

/** An image a composition needed but could not draw; its tiles show a dark grey placeholder instead. */
export interface UnavailableImage {
  imageId: string;
  /** `missing`: `resolveImage` had no file for it; `undecodable`: the browser could not decode the file. */
  code: 'missing' | 'undecodable';
  reason: string;
}

/** A rendered composition and the images it had to leave out. */
export interface RenderResult {
  image: EncodedImage;
  unavailable: UnavailableImage[];
}

/** Options of {@link createCanvasCompositor}. */
export interface CanvasCompositorOptions {
  /** Told after each `render` that had to leave images out (never for a render where every image was drawn). */
  onUnavailable?: (unavailable: UnavailableImage[], composition: Composition) => void;
}

/** The CompositorPort, plus a render that returns what it could not draw (the port's `render` only warns). */
export interface CanvasCompositor extends CompositorPort {
  renderWithReport(composition: Composition, signal?: AbortSignalLike): Promise<RenderResult>;
}

// Placeholder colours: visibly "no picture" against a black background without looking like anatomy.
const PLACEHOLDER_FILL = '#3a3a3a';
const PLACEHOLDER_MARK = '#8c8c8c';

/**
 * A compositor drawing with createImageBitmap + OffscreenCanvas. `resolveImage` maps a pipeline image id (content
 * hash) to its file. Each distinct image is decoded once per render and released before the next one is decoded,
 * so memory holds one decoded image, not the whole grid. A missing or undecodable image becomes a placeholder tile
 * and is reported, never a failed render. Rejects with an Error named `AbortError` when `signal` aborts (checked
 * between images and between tiles).
 */
export function createCanvasCompositor(
  resolveImage: (imageId: string) => Blob | undefined,
  options: CanvasCompositorOptions = {},
): CanvasCompositor {
  const renderWithReport = async (
    composition: Composition,
    signal?: AbortSignalLike,
  ): Promise<RenderResult> => {
    throwIfAborted(signal);
    const { width, height } = composition;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`composition size ${width}×${height} is not a positive integer size`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = context2d(canvas);
    ctx.fillStyle = composition.background;
    ctx.fillRect(0, 0, width, height);

    const unavailable: UnavailableImage[] = [];
    for (const [imageId, tiles] of groupByImage(composition.tiles)) {
      throwIfAborted(signal);
      const blob = resolveImage(imageId);
      if (!blob) {
        unavailable.push({ imageId, code: 'missing', reason: `no file is known for image ${imageId}` });
        tiles.forEach((tile) => drawPlaceholder(ctx, tile));
        continue;
      }
      let bitmap: ImageBitmap;
      try {
        bitmap = await decodeForTiles(blob, tiles);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        unavailable.push({
          imageId,
          code: 'undecodable',
          reason: `image ${imageId} could not be decoded (${detail})`,
        });
        tiles.forEach((tile) => drawPlaceholder(ctx, tile));
        continue;
      }
      try {
        for (const tile of tiles) {
          throwIfAborted(signal);
          drawTile(ctx, bitmap, tile);
        }
      } finally {
        bitmap.close();
      }
    }
    for (const label of composition.labels) drawLabel(ctx, label);

    throwIfAborted(signal);
    const png = await canvas.convertToBlob({ type: 'image/png' });
    const bytes = new Uint8Array(await png.arrayBuffer());
    return { image: { key: composition.key, mime: 'image/png', bytes, width, height }, unavailable };
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
 * One image (or a crop of it) as PNG, longer side at most `maxSide` (never enlarged), for a captioner or an
 * endpoint that takes single images. Transparency is composited onto black, as for the ranker's input. `id` names
 * the image in the key (default: the SHA-256 of the file, the pipeline's image identity), so the key equals the
 * Node encoder's for the same file. Rejects when the file cannot be decoded.
 */
export async function loadEncodedImage(
  blob: Blob,
  crop: Crop,
  maxSide: number,
  id?: string,
): Promise<EncodedImage> {
  if (!(maxSide >= 1)) throw new RangeError(`maxSide ${maxSide} must be at least 1`);
  const key = encodedImageKey(id ?? (await sha256Hex(blob)), crop, maxSide);
  const whole = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
  let cut: OffscreenCanvas;
  try {
    cut = cutRegion(whole, cropSourceRect(whole.width, whole.height, crop));
  } finally {
    whole.close();
  }
  const { width, height } = fitWithin(cut.width, cut.height, maxSide);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = context2d(canvas);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(cut, 0, 0, width, height);
  const png = await canvas.convertToBlob({ type: 'image/png' });
  return { key, mime: 'image/png', bytes: new Uint8Array(await png.arrayBuffer()), width, height };
}

/**
 * `src` of an oriented bitmap as its own canvas, pixel for pixel (a 1:1 copy at an integer offset), to be resized
 * from there. Why not createImageBitmap(bitmap, sx, sy, sw, sh): Chromium applies that rectangle to the pixels
 * before their EXIF orientation, and with a resize it ignores resizeQuality 'high'. Why not drawImage with a source
 * rectangle: its resampling filter reads pixels outside the rectangle, bleeding the rest of the radiograph into the
 * crop's edges. (Same reasoning as the image worker's cutRegion.)
 */
function cutRegion(source: ImageBitmap, src: SourceRect): OffscreenCanvas {
  const canvas = new OffscreenCanvas(src.sw, src.sh);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('OffscreenCanvas 2D context is unavailable in this browser');
  ctx.drawImage(source, -src.sx, -src.sy);
  return canvas;
}

/** Draws one tile from its image's decoded bitmap. */
function drawTile(ctx: OffscreenCanvasRenderingContext2D, source: ImageBitmap, tile: Tile): void {
  if (tile.width <= 0 || tile.height <= 0) return;
  if (tile.crop === 'full') {
    // The whole image: no rectangle, nothing to bleed (already at the tile's size for a thumbnail grid).
    ctx.drawImage(source, tile.x, tile.y, tile.width, tile.height);
    return;
  }
  const cut = cutRegion(source, cropSourceRect(source.width, source.height, tile.crop));
  ctx.drawImage(cut, tile.x, tile.y, tile.width, tile.height);
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

/**
 * Decodes `blob` for its tiles. When every tile shows the whole image at one size (a thumbnail grid), the decoder
 * resizes while decoding: a fraction of the memory and CPU of a full decode, and the same 'high' resampling.
 * Otherwise (crops) the full image is decoded, oriented, and each tile cut from it.
 */
function decodeForTiles(blob: Blob, tiles: readonly Tile[]): Promise<ImageBitmap> {
  const first = tiles[0]!;
  const oneWholeSize = tiles.every(
    (t) => t.crop === 'full' && t.width === first.width && t.height === first.height,
  );
  // colorSpaceConversion 'none': embedded ICC profiles are ignored, as by the ranker's preprocessing and in Node.
  return createImageBitmap(
    blob,
    oneWholeSize && first.width > 0 && first.height > 0
      ? {
          colorSpaceConversion: 'none',
          resizeWidth: first.width,
          resizeHeight: first.height,
          resizeQuality: 'high',
        }
      : { colorSpaceConversion: 'none' },
  );
}

function drawPlaceholder(ctx: OffscreenCanvasRenderingContext2D, tile: Tile): void {
  ctx.fillStyle = PLACEHOLDER_FILL;
  ctx.fillRect(tile.x, tile.y, tile.width, tile.height);
  // A small cross in the middle: readable at any tile size and needs no font.
  const half = Math.max(2, Math.round(Math.min(tile.width, tile.height) * 0.08));
  const cx = tile.x + tile.width / 2;
  const cy = tile.y + tile.height / 2;
  ctx.save();
  ctx.strokeStyle = PLACEHOLDER_MARK;
  ctx.lineWidth = Math.max(1, half / 3);
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(cx - half, cy - half);
  ctx.lineTo(cx + half, cy + half);
  ctx.moveTo(cx + half, cy - half);
  ctx.lineTo(cx - half, cy + half);
  ctx.stroke();
  ctx.restore();
}

function drawLabel(ctx: OffscreenCanvasRenderingContext2D, label: Composition['labels'][number]): void {
  ctx.save();
  ctx.font = `${label.size}px sans-serif`;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  // A dark outline under white text keeps the label legible over bright lungs and black background alike.
  ctx.lineJoin = 'round';
  ctx.lineWidth = Math.max(2, Math.round(label.size / 5));
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.9)';
  ctx.strokeText(label.text, label.x, label.y);
  ctx.fillStyle = '#fff';
  ctx.fillText(label.text, label.x, label.y);
  ctx.restore();
}

function context2d(canvas: OffscreenCanvas): OffscreenCanvasRenderingContext2D {
  // alpha: false: the PNG is opaque, as every vision model expects.
  const ctx = canvas.getContext('2d', { alpha: false });
  if (!ctx) throw new Error('OffscreenCanvas 2D context is unavailable in this browser');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  return ctx;
}

function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw namedError('AbortError', 'composition cancelled');
}

async function sha256Hex(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
