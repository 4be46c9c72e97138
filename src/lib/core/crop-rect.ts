// Pixel contract of crops and single encoded images, shared by every runtime that cuts a box out of a decoded
// image: the image worker (embedding a crop), the browser and Node compositors and encoders, the VLM worker. Which
// pixels a box covers is geometry.ts's cropPixelRect (the rectangle the layout letterboxed); this adds the shape
// the drawing code uses, the size bound and the key of one encoded image. Pure: imports only core.
import type { Crop } from './cache-keys.ts';
import { cropPixelRect } from './geometry.ts';

/** A rectangle in integer pixel coordinates of a decoded image (after EXIF orientation), as drawImage takes it. */
export interface SourceRect {
  sx: number;
  sy: number;
  sw: number;
  sh: number;
}

/**
 * The source rectangle of `crop` on a `width`×`height` image: exactly geometry.ts's cropPixelRect (edges rounded
 * outwards, clamped, at least 1 px), so what is cut is what the layout sized the tile for. `'full'` is the whole
 * image. Throws a RangeError for a non-integer or non-positive size or a non-finite coordinate.
 */
export function cropSourceRect(width: number, height: number, crop: Crop): SourceRect {
  const { x, y, width: sw, height: sh } = cropPixelRect(crop, width, height);
  return { sx: x, sy: y, sw, sh };
}

/** Size of `width`×`height` scaled so its longer side is at most `maxSide` (never enlarged, at least 1 px). */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Deterministic key of one image (or crop of it) encoded with its longer side ≤ `maxSide`: what was drawn and how,
 * so prompts carrying it can be hashed for the reply cache without hashing pixels. `id` is the image's identity (its
 * SHA-256 in the pipeline). The browser and Node encoders use this same key.
 */
export function encodedImageKey(id: string, crop: Crop, maxSide: number): string {
  // Same crop notation as cache-keys.ts (four decimals: boxes come from a 256 px grid, finer is noise).
  const box =
    crop === 'full' ? 'full' : [crop.x1, crop.y1, crop.x2, crop.y2].map((v) => v.toFixed(4)).join(',');
  return `img|v1|${id}|${box}|${maxSide}`;
}
