// Pure parts of image intake, in Node: format recognition and header checks on real encoded files (fast-png,
// jpeg-js) and hand-built headers, resize geometry against the reference processors' rounding, and normalization.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { exifOrientation, inspectImageBytes, orientedSize } from '../../workers/image/image-format.ts';
import { placeImage, rgbaToChw, thumbnailSize } from '../../workers/image/preprocess.ts';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import {
  concat,
  dicomBytes,
  exifTiff,
  gifBytes,
  jpegAppSegment,
  jpegWithOrientation,
  pngWithOrientation,
  pngHeaderOnly,
  tiffBytes,
  webpVp8Header,
  webpVp8lHeader,
  webpVp8xHeader,
} from '../fixtures/image-bytes.ts';

function png(width: number, height: number, channels = 4): Uint8Array {
  const data = new Uint8Array(width * height * channels).map((_, i) => (i * 37) % 256);
  return encodePng({ width, height, data, channels });
}

function jpeg(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4).map((_, i) => (i * 13) % 256);
  return new Uint8Array(encodeJpeg({ width, height, data }, 90).data);
}

const bytesOf = (s: string) => new TextEncoder().encode(s);

describe('inspectImageBytes: accepted formats', () => {
  it('reads PNG dimensions from IHDR (RGBA and grayscale)', () => {
    expect(inspectImageBytes(png(3, 2))).toEqual({
      ok: true,
      format: 'png',
      width: 3,
      height: 2,
      orientation: 1,
    });
    expect(inspectImageBytes(png(7, 5, 1))).toEqual({
      ok: true,
      format: 'png',
      width: 7,
      height: 5,
      orientation: 1,
    });
  });

  it('reads JPEG dimensions from SOF, also behind a large APP segment', () => {
    const file = jpeg(33, 17);
    expect(inspectImageBytes(file)).toEqual({
      ok: true,
      format: 'jpeg',
      width: 33,
      height: 17,
      orientation: 1,
    });
    const withExif = concat(file.subarray(0, 2), jpegAppSegment(1, 60_000), file.subarray(2));
    expect(inspectImageBytes(withExif)).toMatchObject({ ok: true, format: 'jpeg', width: 33, height: 17 });
  });

  it('accepts a JPEG with bytes after its end-of-image marker', () => {
    expect(inspectImageBytes(concat(jpeg(8, 8), new Uint8Array(100))).ok).toBe(true);
  });

  it('reads WebP dimensions from VP8, VP8L and VP8X headers', () => {
    expect(inspectImageBytes(webpVp8Header(640, 480))).toMatchObject({
      ok: true,
      format: 'webp',
      width: 640,
      height: 480,
    });
    expect(inspectImageBytes(webpVp8lHeader(1, 16384), { maxSide: 20_000 })).toMatchObject({
      width: 1,
      height: 16384,
    });
    expect(inspectImageBytes(webpVp8lHeader(300, 200))).toMatchObject({ ok: true, width: 300, height: 200 });
    expect(inspectImageBytes(webpVp8xHeader(5000, 70))).toMatchObject({ ok: true, width: 5000, height: 70 });
  });
});

describe('EXIF orientation, as Chromium applies it', () => {
  it('JPEG: the APP1 Exif orientation, big- or little-endian', () => {
    expect(inspectImageBytes(jpegWithOrientation(jpeg(30, 20), 6))).toMatchObject({
      width: 30,
      orientation: 6,
    });
    const littleEndian = concat(
      [0xff, 0xd8, 0xff, 0xe1, 0, 34],
      new TextEncoder().encode('Exif\0\0'),
      exifTiff(8, true),
      jpeg(30, 20).subarray(2),
    );
    expect(inspectImageBytes(littleEndian)).toMatchObject({ orientation: 8 });
  });

  it('PNG: an eXIf chunk before IDAT counts, one after it does not', () => {
    expect(inspectImageBytes(pngWithOrientation(png(30, 20), 5))).toMatchObject({ orientation: 5 });
    expect(inspectImageBytes(pngWithOrientation(png(30, 20), 5, 'after-idat'))).toMatchObject({
      orientation: 1,
    });
  });

  it('out-of-range values and malformed TIFF mean no rotation', () => {
    expect(inspectImageBytes(jpegWithOrientation(jpeg(8, 8), 9))).toMatchObject({ orientation: 1 });
    expect(exifOrientation(new Uint8Array([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 200]), 0, 8)).toBe(1);
    expect(exifOrientation(exifTiff(3), 0, 26)).toBe(3);
    expect(exifOrientation(exifTiff(3), 0, 20)).toBe(1); // Cut inside the entry.
  });

  it('orientations 5–8 swap the displayed width and height', () => {
    expect(orientedSize({ width: 30, height: 20, orientation: 6 })).toEqual({ width: 20, height: 30 });
    expect(orientedSize({ width: 30, height: 20, orientation: 3 })).toEqual({ width: 30, height: 20 });
  });
});

describe('inspectImageBytes: refusals name the problem', () => {
  it('empty, text and unrecognized files', () => {
    expect(inspectImageBytes(new Uint8Array(0))).toMatchObject({ ok: false, code: 'empty' });
    expect(inspectImageBytes(bytesOf('patient,finding\n1,effusion\n'))).toMatchObject({
      code: 'not-image',
      reason: expect.stringMatching(/text/),
    });
    expect(inspectImageBytes(new Uint8Array([0, 1, 2, 3, 250, 251]))).toMatchObject({
      code: 'not-image',
      reason: expect.stringMatching(/unrecognized/),
    });
  });

  it.each([
    ['DICOM', dicomBytes()],
    ['TIFF', tiffBytes()],
    ['GIF', gifBytes()],
    ['PDF', bytesOf('%PDF-1.7\n')],
    ['SVG', bytesOf('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')],
  ])('%s is named as unsupported', (name, bytes) => {
    const result = inspectImageBytes(bytes);
    expect(result).toMatchObject({ ok: false, code: 'unsupported-format' });
    expect(!result.ok && result.reason).toMatch(new RegExp(`^${name} is not supported`));
  });

  it('refuses images over 10,000 px on a side from the header alone', () => {
    const result = inspectImageBytes(pngHeaderOnly(12_000, 12_000));
    expect(result).toEqual({
      ok: false,
      code: 'too-large',
      reason: 'PNG of 12000×12000 px is too large: the limit is 10,000 px per side',
    });
    expect(inspectImageBytes(pngHeaderOnly(10_000, 10_000)).ok).toBe(true);
    expect(inspectImageBytes(webpVp8xHeader(10_001, 5))).toMatchObject({ code: 'too-large' });
    expect(inspectImageBytes(pngHeaderOnly(300, 200), { maxSide: 256 })).toMatchObject({ code: 'too-large' });
  });

  it('truncated PNG and JPEG', () => {
    const p = png(40, 30);
    expect(inspectImageBytes(p.subarray(0, p.length >> 1))).toMatchObject({ code: 'truncated' });
    expect(inspectImageBytes(p.subarray(0, p.length - 12))).toMatchObject({
      code: 'truncated',
      reason: 'truncated PNG: the file ends before its IEND chunk',
    });
    const j = jpeg(40, 30);
    expect(inspectImageBytes(j.subarray(0, Math.floor(j.length * 0.7)))).toMatchObject({ code: 'truncated' });
    expect(inspectImageBytes(j.subarray(0, j.length - 2))).toMatchObject({
      code: 'truncated',
      reason: 'truncated JPEG: the file ends before its end-of-image marker',
    });
    expect(inspectImageBytes(j.subarray(0, 20))).toMatchObject({ code: 'truncated' });
  });

  it('truncated WebP: the RIFF size is larger than the file', () => {
    const w = webpVp8xHeader(100, 100);
    expect(inspectImageBytes(w.subarray(0, w.length - 3))).toMatchObject({ code: 'truncated' });
  });

  it('corrupt headers', () => {
    const p = png(4, 4);
    const renamed = p.slice();
    renamed.set(bytesOf('IHDX'), 12);
    expect(inspectImageBytes(renamed)).toMatchObject({ code: 'corrupt' });
    // Start of scan (FF DA) straight after SOI: no frame header.
    expect(inspectImageBytes(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xd9]))).toMatchObject({
      code: 'corrupt',
      reason: expect.stringMatching(/no frame header/),
    });
  });

  it('a header slice (complete: false) is enough for format, size and orientation', () => {
    const j = jpeg(64, 48);
    expect(inspectImageBytes(j.subarray(0, 1000), { complete: false })).toMatchObject({
      ok: true,
      width: 64,
    });
    const p = pngWithOrientation(png(64, 48), 6);
    expect(inspectImageBytes(p.subarray(0, p.length - 20), { complete: false })).toMatchObject({
      orientation: 6,
    });
    expect(inspectImageBytes(pngHeaderOnly(12_000, 9), { complete: false })).toMatchObject({
      code: 'too-large',
    });
    // A slice that ends before the PNG's image data might hide an eXIf chunk: the caller must read more.
    expect(inspectImageBytes(p.subarray(0, 30), { complete: false })).toMatchObject({ code: 'truncated' });
  });

  it('every strict prefix of a valid PNG or JPEG is refused, and no input throws', () => {
    const files = [png(9, 7), jpeg(9, 7)];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.nat(), (which, cut) => {
        const file = files[which]!;
        expect(inspectImageBytes(file.subarray(0, cut % file.length)).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const result = inspectImageBytes(bytes);
        expect(result.ok || result.reason.length > 0).toBe(true);
      }),
    );
  });
});

describe('placeImage follows the reference processors', () => {
  it('shortest-edge-center-crop: HF CLIP int() resize, then (h − size) // 2 crop', () => {
    expect(placeImage(640, 480, 'shortest-edge-center-crop', 224)).toEqual({
      dx: -37,
      dy: 0,
      dw: 298,
      dh: 224,
    });
    expect(placeImage(480, 640, 'shortest-edge-center-crop', 224)).toEqual({
      dx: 0,
      dy: -37,
      dw: 224,
      dh: 298,
    });
    expect(placeImage(12, 8, 'shortest-edge-center-crop', 8)).toEqual({ dx: -2, dy: 0, dw: 12, dh: 8 });
  });

  it('pad-to-square: CheXzero int(x · size / max), pasted at (size − x) // 2', () => {
    expect(placeImage(640, 480, 'pad-to-square', 224)).toEqual({ dx: 0, dy: 28, dw: 224, dh: 168 });
    expect(placeImage(8, 6, 'pad-to-square', 8)).toEqual({ dx: 0, dy: 1, dw: 8, dh: 6 });
    expect(placeImage(1, 5000, 'pad-to-square', 224)).toEqual({ dx: 111, dy: 0, dw: 1, dh: 224 });
  });

  it('squash fills the square', () => {
    expect(placeImage(640, 480, 'squash', 224)).toEqual({ dx: 0, dy: 0, dw: 224, dh: 224 });
  });

  it('crop covers the square with its short side exactly size; pad fits inside with its long side exactly size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (w, h) => {
        const size = 224;
        const c = placeImage(w, h, 'shortest-edge-center-crop', size);
        expect(Math.min(c.dw, c.dh)).toBe(size);
        expect(c.dx).toBeLessThanOrEqual(0);
        expect(c.dy).toBeLessThanOrEqual(0);
        expect(c.dx + c.dw).toBeGreaterThanOrEqual(size);
        expect(c.dy + c.dh).toBeGreaterThanOrEqual(size);
        const p = placeImage(w, h, 'pad-to-square', size);
        expect(Math.max(p.dw, p.dh)).toBe(size);
        expect(p.dx).toBeGreaterThanOrEqual(0);
        expect(p.dy).toBeGreaterThanOrEqual(0);
        expect(p.dx + p.dw).toBeLessThanOrEqual(size);
        expect(p.dy + p.dh).toBeLessThanOrEqual(size);
      }),
    );
  });
});

describe('rgbaToChw', () => {
  const clip: Preprocessing = {
    version: 'test',
    size: 2,
    resize: 'squash',
    rescale: 1 / 255,
    mean: [0.48145466, 0.4578275, 0.40821073],
    std: [0.26862954, 0.26130258, 0.27577711],
  };

  it('lays out [3, size, size] planes of (v · rescale − mean) / std, ignoring alpha', () => {
    // Pixels in row-major order: (R, G, B, A).
    const rgba = new Uint8Array([0, 10, 20, 255, 255, 128, 64, 0, 1, 2, 3, 9, 200, 100, 50, 255]);
    const out = rgbaToChw(rgba, 2, clip);
    expect(out).toHaveLength(12);
    for (let pixel = 0; pixel < 4; pixel++) {
      for (let c = 0; c < 3; c++) {
        const v = rgba[pixel * 4 + c]!;
        expect(out[c * 4 + pixel]).toBe(Math.fround((v / 255 - clip.mean[c]!) / clip.std[c]!));
      }
    }
  });

  it('CheXzero-style rescale 1 keeps 0–255 units', () => {
    const p = {
      rescale: 1,
      mean: [101.48761, 101.48761, 101.48761],
      std: [83.43944, 83.43944, 83.43944],
    } as const;
    const out = rgbaToChw(new Uint8Array([128, 128, 128, 255]), 1, {
      ...p,
      mean: [...p.mean],
      std: [...p.std],
    });
    expect(out[0]).toBeCloseTo((128 - 101.48761) / 83.43944, 6);
    expect(out[0]).toBe(out[1]);
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => rgbaToChw(new Uint8Array(12), 2, clip)).toThrow(RangeError);
  });
});

describe('thumbnailSize', () => {
  it('fits the longest side and never enlarges', () => {
    expect(thumbnailSize(2048, 1024, 128)).toEqual({ width: 128, height: 64 });
    expect(thumbnailSize(100, 50, 128)).toEqual({ width: 100, height: 50 });
    expect(thumbnailSize(10_000, 3, 128)).toEqual({ width: 128, height: 1 });
  });
});
