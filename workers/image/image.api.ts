// The image worker's implementation: hash + header check of a file (no decode), and decode → resize → normalize
// to CHW `pixel_values` (+ a small thumbnail), transferred back, never base64. Each call is one job with an id;
// cancellation arrives as cancel(jobId) because comlink cannot carry an AbortSignal. The main side imports this
// module's type only, so it uses nothing outside the DOM/WebWorker intersection (no `self`, no importScripts).
import * as Comlink from 'comlink';
import type { Crop } from '../../src/lib/core/cache-keys.ts';
import { cropSourceRect, type SourceRect } from '../../src/lib/core/crop-rect.ts';
import { namedError, type Preprocessing } from '../../src/lib/core/types.ts';
import {
  inspectImageBytes,
  MAX_IMAGE_SIDE,
  orientedSize,
  type ImageFormat,
  type IntakeIssue,
} from './image-format.ts';
import { placeImage, rgbaToChw, thumbnailSize } from './preprocess.ts';

/** A file accepted by {@link api.inspect}: content hash and header facts. */
export interface InspectedImage {
  ok: true;
  /** SHA-256 of the file's bytes, lowercase hex. */
  sha256: string;
  format: ImageFormat;
  /** Displayed size, from the header with the EXIF orientation applied (what decoding will produce). */
  width: number;
  height: number;
  /** EXIF orientation 1–8 the decoder applies (5–8 swapped width and height). */
  orientation: number;
}

export type InspectOutcome = InspectedImage | ({ ok: false } & IntakeIssue);

/** Thumbnail for the UI, encoded in the worker. */
export interface ThumbnailSpec {
  /** Longest side in pixels (never enlarged). */
  maxSide: number;
  type: 'image/jpeg' | 'image/webp';
  quality: number;
}

export interface PreprocessRequest {
  preprocessing: Preprocessing;
  /** Known content hash (from intake); when absent the worker reads the file and hashes it. */
  sha256?: string;
  thumbnail?: ThumbnailSpec | null;
  /** Largest accepted side; default MAX_IMAGE_SIDE. Checked on the header before decoding. */
  maxSide?: number;
  /**
   * Region of the decoded image (normalized, after EXIF orientation) that becomes the model input, preprocessed
   * exactly as a whole image of that size would be; absent or `'full'`: the whole image. The thumbnail shows it.
   */
  crop?: Crop;
}

/** A decoded, preprocessed image. `pixels` is transferred, not copied. */
export interface PreprocessedImage {
  ok: true;
  sha256: string;
  /** Decoded size of the whole image (after EXIF orientation), also when a crop was requested. */
  width: number;
  height: number;
  /** `pixel_values` [3, size, size], CHW, normalized per the request's Preprocessing. */
  pixels: Float32Array;
  thumbnail?: Blob;
}

export type PreprocessOutcome = PreprocessedImage | ({ ok: false; sha256?: string } & IntakeIssue);

/** Instrumentation: images this worker is decoding or holds decoded, now and at most; jobs running. */
export interface ImageWorkerStats {
  liveDecoded: number;
  maxLiveDecoded: number;
  activeJobs: number;
  maxActiveJobs: number;
}

// Enough for any header: JPEG SOF can follow EXIF/ICC/XMP segments (up to 64 KB each); more is read if needed.
const HEADER_BYTES = 256 * 1024;

// Resize-on-decode is used while the resized image stays within this many model inputs (aspect ratio ≤ 16:1 under
// center-crop); beyond, the full decode is smaller than the resized one would be.
const MAX_RESIZED_AREA_FACTOR = 16;

const FORMAT_LABEL: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

const jobs = new Map<number, { cancelled: boolean }>();
const stats: ImageWorkerStats = { liveDecoded: 0, maxLiveDecoded: 0, activeJobs: 0, maxActiveJobs: 0 };
// One model-input canvas per size, reused: allocating a canvas per image costs more than clearing it.
const inputCanvases = new Map<number, OffscreenCanvasRenderingContext2D>();

export const api = {
  /** Reads the whole file once: SHA-256 and header inspection (format, size, truncation). Never decodes. */
  async inspect(file: Blob, jobId: number, maxSide: number = MAX_IMAGE_SIDE): Promise<InspectOutcome> {
    return runJob(jobId, async (checkCancelled) => {
      if (file.size === 0) return { ok: false, code: 'empty', reason: 'empty file (0 bytes)' };
      const bytes = await readBytes(file);
      if (!(bytes instanceof Uint8Array)) return bytes;
      checkCancelled();
      const inspection = inspectImageBytes(bytes, { maxSide });
      if (!inspection.ok) return inspection;
      const { format, orientation } = inspection;
      return { ok: true, sha256: await sha256Hex(bytes), format, ...orientedSize(inspection), orientation };
    });
  },

  /** Decodes with createImageBitmap, draws per the Preprocessing spec, returns normalized CHW float32. */
  async preprocess(file: Blob, request: PreprocessRequest, jobId: number): Promise<PreprocessOutcome> {
    return runJob(jobId, async (checkCancelled) => {
      const maxSide = request.maxSide ?? MAX_IMAGE_SIDE;
      let sha256 = request.sha256;
      let inspection;
      if (sha256 === undefined) {
        const bytes = await readBytes(file);
        if (!(bytes instanceof Uint8Array)) return bytes;
        inspection = inspectImageBytes(bytes, { maxSide });
        if (!inspection.ok) return inspection;
        sha256 = await sha256Hex(bytes);
      } else {
        // Hash known (intake ran): re-check only the header, so an oversized image is never decoded.
        inspection = await inspectHeader(file, maxSide);
        if (!inspection.ok) return { ...inspection, sha256 };
      }
      checkCancelled();

      const p = request.preprocessing;
      // Where the image lands is known from the header alone (with the EXIF orientation the decoder applies).
      const { width, height } = orientedSize(inspection);
      const crop = request.crop === undefined || request.crop === 'full' ? undefined : request.crop;
      // A crop is preprocessed like a whole image of the crop's size: placed, resized and normalized alike.
      const region = crop ? cropSourceRect(width, height, crop) : undefined;
      const at = placeImage(region?.sw ?? width, region?.sh ?? height, p.resize, p.size);
      // Resize on decode: createImageBitmap produces the image already resized to its placement, copied 1:1 below.
      // Same pixels as a full decode + drawImage 'high' (±1 level), at ~60 % of the CPU of the full decode alone
      // (bench/intake.bench.ts). A very elongated image under center-crop would make a huge resized bitmap: that
      // one is decoded whole and cropped while drawing. A crop is decoded whole and cut (see cutRegion).
      const resizeOnDecode = !region && at.dw * at.dh <= MAX_RESIZED_AREA_FACTOR * p.size * p.size;
      // Counted from the start of decoding (the decoder's buffers) to release: the images this worker holds.
      stats.liveDecoded++;
      stats.maxLiveDecoded = Math.max(stats.maxLiveDecoded, stats.liveDecoded);
      let bitmap: ImageBitmap | undefined;
      try {
        try {
          // colorSpaceConversion 'none': ignore embedded ICC profiles as PIL does, so tensors match the reference.
          bitmap = await createImageBitmap(
            file,
            resizeOnDecode
              ? {
                  colorSpaceConversion: 'none',
                  resizeWidth: at.dw,
                  resizeHeight: at.dh,
                  resizeQuality: 'high',
                }
              : { colorSpaceConversion: 'none' },
          );
        } catch {
          const label = FORMAT_LABEL[inspection.format];
          return {
            ok: false,
            sha256,
            code: 'decode-failed',
            reason: `corrupt or unsupported ${label} image data: the browser could not decode it`,
          };
        }
        checkCancelled();
        // What is drawn: the decoded image, or the crop cut from it (the full decode is then released at once).
        let source: ImageBitmap | OffscreenCanvas = bitmap;
        if (region) {
          source = cutRegion(bitmap, region);
          bitmap.close();
        }
        const ctx = inputContext(p.size);
        // Black first: pad-to-square letterboxes with black, and transparent pixels composite onto black.
        ctx.fillStyle = '#000';
        ctx.fillRect(0, 0, p.size, p.size);
        if (resizeOnDecode) ctx.drawImage(source, at.dx, at.dy);
        else ctx.drawImage(source, at.dx, at.dy, at.dw, at.dh);
        // A crop's thumbnail shows the crop, at the crop's aspect ratio.
        const thumbnail = request.thumbnail
          ? await encodeThumbnail(source, region?.sw ?? width, region?.sh ?? height, request.thumbnail)
          : undefined;
        checkCancelled();
        const pixels = rgbaToChw(ctx.getImageData(0, 0, p.size, p.size).data, p.size, p);
        const result: PreprocessedImage = { ok: true, sha256, width, height, pixels };
        if (thumbnail) result.thumbnail = thumbnail;
        return Comlink.transfer(result, [pixels.buffer]);
      } finally {
        bitmap?.close();
        stats.liveDecoded--;
      }
    });
  },

  /** Asks a running job to stop at its next check; it then rejects with an Error named 'AbortError'. */
  cancel(jobId: number): void {
    const job = jobs.get(jobId);
    if (job) job.cancelled = true;
  },

  stats(): ImageWorkerStats {
    return { ...stats };
  },

  resetStats(): void {
    stats.maxLiveDecoded = stats.liveDecoded;
    stats.maxActiveJobs = stats.activeJobs;
  },
};

export type ImageApi = typeof api;

async function runJob<T>(jobId: number, body: (checkCancelled: () => void) => Promise<T>): Promise<T> {
  const job = { cancelled: false };
  jobs.set(jobId, job);
  stats.activeJobs++;
  stats.maxActiveJobs = Math.max(stats.maxActiveJobs, stats.activeJobs);
  try {
    return await body(() => {
      if (job.cancelled) throw namedError('AbortError', `image job ${jobId} was cancelled`);
    });
  } finally {
    jobs.delete(jobId);
    stats.activeJobs--;
  }
}

async function readBytes(file: Blob): Promise<Uint8Array<ArrayBuffer> | ({ ok: false } & IntakeIssue)> {
  try {
    return new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    // A file moved, deleted or without permission since it was picked.
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, code: 'unreadable', reason: `the file could not be read (${detail})` };
  }
}

async function inspectHeader(file: Blob, maxSide: number) {
  const head = await readBytes(file.slice(0, HEADER_BYTES));
  if (!(head instanceof Uint8Array)) return head;
  const inspection = inspectImageBytes(head, { maxSide, complete: false });
  // A JPEG whose frame header lies beyond the first slice: look at the whole file.
  if (!inspection.ok && inspection.code === 'truncated' && file.size > head.length) {
    const bytes = await readBytes(file);
    return bytes instanceof Uint8Array ? inspectImageBytes(bytes, { maxSide, complete: false }) : bytes;
  }
  return inspection;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

function inputContext(size: number): OffscreenCanvasRenderingContext2D {
  let ctx = inputCanvases.get(size);
  if (!ctx) {
    // willReadFrequently keeps the canvas on the CPU: getImageData then needs no GPU readback.
    const context = new OffscreenCanvas(size, size).getContext('2d', {
      willReadFrequently: true,
      alpha: false,
    });
    if (!context) throw new Error('OffscreenCanvas 2D context is unavailable in this browser');
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = 'high';
    inputCanvases.set(size, context);
    ctx = context;
  }
  return ctx;
}

/**
 * `region` of an oriented bitmap as its own canvas, pixel for pixel (a 1:1 copy at an integer offset: no
 * resampling). Why not createImageBitmap(bitmap, sx, sy, sw, sh): Chromium applies that rectangle to the pixels
 * before their EXIF orientation, and with a resize it ignores resizeQuality 'high'. Why not drawImage with a source
 * rectangle straight onto the model input: its resampling filter reads pixels outside the rectangle, bleeding the
 * rest of the image into the crop's edges. A cut canvas then resizes exactly as the same region saved as a file.
 */
function cutRegion(bitmap: ImageBitmap, region: SourceRect): OffscreenCanvas {
  const canvas = new OffscreenCanvas(region.sw, region.sh);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('OffscreenCanvas 2D context is unavailable in this browser');
  ctx.drawImage(bitmap, -region.sx, -region.sy);
  return canvas;
}

/**
 * Thumbnail of the whole image at its displayed aspect ratio, drawn from whatever bitmap the job decoded (full size,
 * or already resized: at least the model size on its short side, or squashed, which this un-squashes).
 */
async function encodeThumbnail(
  bitmap: ImageBitmap | OffscreenCanvas,
  width: number,
  height: number,
  spec: ThumbnailSpec,
): Promise<Blob> {
  const size = thumbnailSize(width, height, spec.maxSide);
  const canvas = new OffscreenCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d', { alpha: false });
  if (!ctx) throw new Error('OffscreenCanvas 2D context is unavailable in this browser');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, size.width, size.height);
  return canvas.convertToBlob({ type: spec.type, quality: spec.quality });
}
