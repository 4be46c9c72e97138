// The crop pixel contract shared by the image worker, both compositors and the VLM worker: the drawImage-shaped
// source rectangle (geometry.ts's cropPixelRect, whose rounding geometry.test.ts pins), the size bound of one
// encoded image, and its key.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cropSourceRect, encodedImageKey, fitWithin } from '../../src/lib/core/crop-rect.ts';
import { cropPixelRect } from '../../src/lib/core/geometry.ts';

describe('cropSourceRect', () => {
  it('is the whole image for "full"', () => {
    expect(cropSourceRect(300, 200, 'full')).toEqual({ sx: 0, sy: 0, sw: 300, sh: 200 });
  });

  it('cuts whole pixels, rounding the box outwards', () => {
    expect(cropSourceRect(300, 200, { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.9 })).toEqual({
      sx: 30,
      sy: 40,
      sw: 150,
      sh: 140,
    });
    // Left half of an odd width: 3.5 px rounds out to 4.
    expect(cropSourceRect(7, 4, { x1: 0, y1: 0, x2: 0.5, y2: 1 })).toEqual({ sx: 0, sy: 0, sw: 4, sh: 4 });
  });

  it('is exactly the rectangle the layout letterboxed (cropPixelRect), for any box', () => {
    const unit = fc.double({ min: -0.5, max: 1.5, noNaN: true });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 5000 }),
        unit,
        unit,
        unit,
        unit,
        (w, h, x1, y1, x2, y2) => {
          const crop = { x1, y1, x2, y2 };
          const r = cropSourceRect(w, h, crop);
          const p = cropPixelRect(crop, w, h);
          expect(r).toEqual({ sx: p.x, sy: p.y, sw: p.width, sh: p.height });
          expect(r.sx + r.sw).toBeLessThanOrEqual(w);
          expect(r.sy + r.sh).toBeLessThanOrEqual(h);
        },
      ),
    );
  });

  it('rejects non-finite coordinates and empty images', () => {
    expect(() => cropSourceRect(10, 10, { x1: Number.NaN, y1: 0, x2: 1, y2: 1 })).toThrow(RangeError);
    expect(() => cropSourceRect(0, 10, 'full')).toThrow(RangeError);
  });
});

describe('fitWithin', () => {
  it('scales the longer side down to maxSide, keeping the aspect', () => {
    expect(fitWithin(2048, 1024, 256)).toEqual({ width: 256, height: 128 });
    expect(fitWithin(1000, 3000, 256)).toEqual({ width: 85, height: 256 });
  });

  it('never enlarges and never reaches zero', () => {
    expect(fitWithin(100, 50, 256)).toEqual({ width: 100, height: 50 });
    expect(fitWithin(10_000, 1, 100)).toEqual({ width: 100, height: 1 });
  });
});

describe('encodedImageKey', () => {
  it('names the image, the crop (four decimals) and the size bound', () => {
    expect(encodedImageKey('abc', 'full', 512)).toBe('img|v1|abc|full|512');
    expect(encodedImageKey('abc', { x1: 0.1, y1: 0.2, x2: 0.30001, y2: 1 }, 256)).toBe(
      'img|v1|abc|0.1000,0.2000,0.3000,1.0000|256',
    );
    expect(encodedImageKey('abc', 'full', 256)).not.toBe(encodedImageKey('abc', 'full', 512));
  });
});
