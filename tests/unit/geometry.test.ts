// Checks src/lib/core/geometry.ts and hash.ts: the golden sizes of METHOD §4, letterboxing, tile placement,
// deterministic composition keys, crop rectangles, box validation (fuzzed: never throws, always a usable box or a
// problem) and the anatomical presets chosen for findings.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ANATOMICAL_PRESETS,
  combinedGrid,
  cropGrid,
  cropPixelRect,
  LABEL_BAND_HEIGHT,
  LAYOUT_VERSION,
  letterboxRect,
  MIN_BOX_SIDE,
  presetBoxForFinding,
  setGrid,
  validateBox,
  type AnatomicalRegion,
  type GridImage,
} from '../../src/lib/core/geometry.ts';
import { cyrb128, hashString } from '../../src/lib/core/hash.ts';
import type { Composition, Tile } from '../../src/lib/core/ports.ts';

const images = (n: number, prefix = 'img', size?: { width: number; height: number }): GridImage[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, ...size }));

/** Tiles never overlap each other and stay inside the canvas. */
function expectTilesInsideAndDisjoint(c: Composition): void {
  for (const t of c.tiles) {
    expect(
      Number.isInteger(t.x) &&
        Number.isInteger(t.y) &&
        Number.isInteger(t.width) &&
        Number.isInteger(t.height),
    ).toBe(true);
    expect(t.x).toBeGreaterThanOrEqual(0);
    expect(t.y).toBeGreaterThanOrEqual(0);
    expect(t.x + t.width).toBeLessThanOrEqual(c.width);
    expect(t.y + t.height).toBeLessThanOrEqual(c.height);
  }
  const overlaps = (p: Tile, q: Tile) =>
    p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height;
  c.tiles.forEach((p, i) => c.tiles.slice(i + 1).forEach((q) => expect(overlaps(p, q)).toBe(false)));
}

describe('hashString', () => {
  it('is 32 lowercase hex characters, stable and pinned', () => {
    expect(hashString('')).toMatch(/^[0-9a-f]{32}$/);
    expect(hashString('grid/1')).toBe(hashString('grid/1'));
    expect(hashString('a')).not.toBe(hashString('b'));
    // Pinned: composition keys and run ids derive from it, so a change must be deliberate.
    expect(hashString('')).toBe(
      cyrb128('')
        .map((w) => w.toString(16).padStart(8, '0'))
        .join(''),
    );
    expect(hashString('RadDiff')).toBe(PINNED_HASH);
  });
});

describe('letterboxRect', () => {
  it('scales the longer side to maxSide, keeping the aspect', () => {
    expect(letterboxRect(1024, 1024, 256)).toEqual({ width: 256, height: 256 });
    expect(letterboxRect(2000, 1000, 256)).toEqual({ width: 256, height: 128 });
    expect(letterboxRect(2048, 2500, 256)).toEqual({ width: 210, height: 256 }); // 209.7 rounds up
    expect(letterboxRect(100, 50, 256)).toEqual({ width: 256, height: 128 }); // small pictures are scaled up
    expect(letterboxRect(10_000, 1, 256)).toEqual({ width: 256, height: 1 }); // at least 1 px
  });

  it('rejects sizes that are not positive and finite', () => {
    expect(() => letterboxRect(0, 10)).toThrow(RangeError);
    expect(() => letterboxRect(Number.NaN, 10)).toThrow(RangeError);
    expect(() => letterboxRect(10, 10, 0)).toThrow(RangeError);
  });

  it('property: integer, longer side exactly maxSide, aspect within rounding', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        fc.integer({ min: 1, max: 2048 }),
        (w, h, side) => {
          const r = letterboxRect(w, h, side);
          expect(Number.isInteger(r.width) && Number.isInteger(r.height)).toBe(true);
          expect(Math.max(r.width, r.height)).toBe(side);
          expect(Math.min(r.width, r.height)).toBeGreaterThanOrEqual(1);
          const exactShort = (Math.min(w, h) / Math.max(w, h)) * side;
          expect(Math.abs(Math.min(r.width, r.height) - Math.max(1, exactShort))).toBeLessThanOrEqual(
            0.5 + 1e-9,
          );
          if (w > h) expect(r.width).toBe(side);
          if (h > w) expect(r.height).toBe(side);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('setGrid', () => {
  it('20 square images give the reference 1320 × 1054 grid, black, row-major', () => {
    const grid = setGrid(images(20));
    expect([grid.width, grid.height]).toEqual([1320, 1054]);
    expect(grid.background).toBe('#000000');
    expect(grid.labels).toEqual([]);
    expect(grid.tiles).toHaveLength(20);
    expect(grid.tiles[0]).toEqual({ imageId: 'img0', crop: 'full', x: 0, y: 0, width: 256, height: 256 });
    expect(grid.tiles[6]).toMatchObject({ imageId: 'img6', x: 266, y: 266 });
    expect(grid.tiles[19]).toMatchObject({ x: 4 * 266, y: 3 * 266 });
    expectTilesInsideAndDisjoint(grid);
  });

  it('is the same for any image size: thumbnails are letterboxed and centred in 256 cells', () => {
    const grid = setGrid([
      { id: 'wide', width: 2000, height: 1000 },
      { id: 'tall', width: 1000, height: 2000 },
      { id: 'odd', width: 3, height: 2 },
      { id: 'unknown' },
      { id: 'bad', width: 0, height: Number.NaN },
    ]);
    expect([grid.width, grid.height]).toEqual([1320, 256]);
    expect(grid.tiles.map(({ x, y, width, height }) => [x, y, width, height])).toEqual([
      [0, 64, 256, 128],
      [266 + 64, 0, 128, 256],
      [532, 42, 256, 171], // 170.67 → 171; (256 − 171) / 2 = 42.5: 42 above, 43 below
      [798, 0, 256, 256], // unknown size: square
      [1064, 0, 256, 256], // unusable size: square
    ]);
    expectTilesInsideAndDisjoint(grid);
  });

  it('has ceil(n/5) rows, 5 columns from 5 images on, n columns below', () => {
    const size = (n: number) => {
      const g = setGrid(images(n));
      return [g.width, g.height];
    };
    expect(size(1)).toEqual([256, 256]);
    expect(size(3)).toEqual([3 * 256 + 20, 256]);
    expect(size(5)).toEqual([1320, 256]);
    expect(size(6)).toEqual([1320, 522]);
    expect(size(11)).toEqual([1320, 788]);
    expect(() => setGrid([])).toThrow(RangeError);
  });

  it('property: tiles are inside, disjoint, in input order and letterboxed', () => {
    const image = fc.record({
      id: fc.string({ minLength: 1, maxLength: 6 }),
      width: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
      height: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(image, { minLength: 1, maxLength: 30 }), (list) => {
        const grid = setGrid(list);
        expectTilesInsideAndDisjoint(grid);
        expect(grid.tiles.map((t) => t.imageId)).toEqual(list.map((i) => i.id));
        for (const t of grid.tiles) expect(Math.max(t.width, t.height)).toBe(256);
        expect(grid.height).toBe(Math.ceil(list.length / 5) * 266 - 10);
      }),
      { numRuns: 200 },
    );
  });
});

describe('combinedGrid', () => {
  it('20 + 20 square images give the reference 1320 × 2158: A grid, 50 px gap, B grid', () => {
    const grid = combinedGrid(images(20, 'a'), images(20, 'b'));
    expect([grid.width, grid.height]).toEqual([1320, 2158]);
    expect(grid.tiles).toHaveLength(40);
    expect(grid.tiles.slice(0, 20).every((t) => t.imageId.startsWith('a') && t.y + t.height <= 1054)).toBe(
      true,
    );
    expect(grid.tiles[20]).toMatchObject({ imageId: 'b0', x: 0, y: 1054 + 50 });
    expectTilesInsideAndDisjoint(grid);
  });

  it('takes the wider part as width and needs both sets', () => {
    const grid = combinedGrid(images(2, 'a'), images(7, 'b'));
    expect([grid.width, grid.height]).toEqual([1320, 256 + 50 + 522]);
    expect(() => combinedGrid([], images(2))).toThrow(RangeError);
  });
});

describe('cropGrid', () => {
  const square = { width: 1000, height: 1000 };
  const half = { x1: 0, y1: 0, x2: 0.5, y2: 0.5 };

  it('20 + 20 square crops give 1320 × 2158, and a label band of 40 px on top when labelled', () => {
    const grid = cropGrid(images(20, 'a', square), images(20, 'b', square), half);
    expect([grid.width, grid.height]).toEqual([1320, 2158]);
    expect(grid.tiles.every((t) => t.width === 256 && t.height === 256)).toBe(true);
    expect(grid.tiles[0]?.crop).toEqual(half);
    const labelled = cropGrid(images(20, 'a', square), images(20, 'b', square), half, {
      label: 'right pleural effusion',
    });
    expect([labelled.width, labelled.height]).toEqual([1320, 2158 + LABEL_BAND_HEIGHT]);
    expect(labelled.labels).toEqual([{ text: 'right pleural effusion', x: 10, y: 8, size: 24 }]);
    expect(labelled.tiles[0]).toMatchObject({ x: 0, y: LABEL_BAND_HEIGHT });
    expect(labelled.tiles[20]).toMatchObject({ y: LABEL_BAND_HEIGHT + 1054 + 50 });
    expectTilesInsideAndDisjoint(labelled);
    expect(labelled.key).not.toBe(grid.key);
  });

  it('scales crops by their pixel aspect and shares one cell size across A and B', () => {
    // A wide box on a square image → 2:1 crops; on a 2:1 landscape image → 4:1.
    const box = { x1: 0.1, y1: 0.4, x2: 0.9, y2: 0.8 };
    const grid = cropGrid([{ id: 'sq', ...square }], [{ id: 'wide', width: 2000, height: 1000 }], box);
    expect(grid.tiles.map(({ width, height }) => [width, height])).toEqual([
      [256, 128],
      [256, 64],
    ]);
    // Cells are 256 × 128: the 64 px crop is centred in its cell.
    expect([grid.width, grid.height]).toEqual([256, 128 + 50 + 128]);
    expect(grid.tiles[1]).toMatchObject({ x: 0, y: 128 + 50 + 32 });
    // Unknown image size: the box's own aspect.
    const unknown = cropGrid([{ id: 'u' }], [{ id: 'v' }], { x1: 0, y1: 0, x2: 0.25, y2: 1 });
    expect(unknown.tiles[0]).toMatchObject({ width: 64, height: 256 });
  });

  it('rounds the box to 4 decimals, orders it, and rejects empty sets or a box without area', () => {
    const grid = cropGrid(images(1), images(1), { x1: 0.512345, y1: 0.9, x2: 0.1, y2: 0.2 });
    expect(grid.tiles[0]?.crop).toEqual({ x1: 0.1, y1: 0.2, x2: 0.5123, y2: 0.9 });
    expect(() => cropGrid(images(1), [], half)).toThrow(RangeError);
    expect(() => cropGrid(images(1), images(1), { x1: 0.3, y1: 0, x2: 0.3, y2: 1 })).toThrow(RangeError);
  });

  it('shrinks the font of long labels to fit the width', () => {
    const long = 'x'.repeat(150);
    const grid = cropGrid(images(20), images(20), half, { label: long });
    expect(grid.labels[0]?.size).toBe(15); // (1320 − 20) / (0.55 · 150) = 15.8
    const tiny = cropGrid(images(1), images(1), half, { label: long });
    expect(tiny.labels[0]?.size).toBe(12); // never below 12
  });
});

describe('composition keys', () => {
  it('are deterministic and change with anything that changes the picture', () => {
    const a = images(20, 'a');
    const b = images(20, 'b');
    const key = combinedGrid(a, b).key;
    expect(key).toBe(combinedGrid(images(20, 'a'), images(20, 'b')).key);
    expect(key.startsWith(`${LAYOUT_VERSION}:combined:1320x2158:`)).toBe(true);
    expect(key).toMatch(/:[0-9a-f]{32}$/);
    const others = [
      combinedGrid(b, a).key, // order
      combinedGrid([...a.slice(0, 19), { id: 'a19', width: 2000, height: 1000 }], b).key, // size of one image
      combinedGrid(a, b, { setGap: 40 }).key, // layout knob
      setGrid(a).key,
      cropGrid(a, b, { x1: 0, y1: 0, x2: 0.5, y2: 0.5 }).key,
      cropGrid(a, b, { x1: 0, y1: 0, x2: 0.5, y2: 0.5001 }).key,
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
    // Below the 4-decimal precision of crop keys, boxes are the same crop.
    expect(cropGrid(a, b, { x1: 0, y1: 0, x2: 0.5, y2: 0.50001 }).key).toBe(others[4]);
  });
});

describe('cropPixelRect', () => {
  it('rounds outwards, clamps to the image and keeps at least one pixel', () => {
    expect(cropPixelRect('full', 640, 480)).toEqual({ x: 0, y: 0, width: 640, height: 480 });
    expect(cropPixelRect({ x1: 0.25, y1: 0.5, x2: 0.75, y2: 1 }, 640, 480)).toEqual({
      x: 160,
      y: 240,
      width: 320,
      height: 240,
    });
    expect(cropPixelRect({ x1: 0.101, y1: 0.101, x2: 0.199, y2: 0.199 }, 100, 100)).toEqual({
      x: 10,
      y: 10,
      width: 10,
      height: 10,
    });
    expect(cropPixelRect({ x1: 0.5, y1: 0.5, x2: 0.5, y2: 0.5 }, 10, 10)).toEqual({
      x: 5,
      y: 5,
      width: 1,
      height: 1,
    });
    expect(cropPixelRect({ x1: 1, y1: 1, x2: 1, y2: 1 }, 10, 10)).toEqual({
      x: 9,
      y: 9,
      width: 1,
      height: 1,
    });
    expect(cropPixelRect({ x1: -0.5, y1: 0.8, x2: 1.5, y2: 0.2 }, 10, 10)).toEqual({
      x: 0,
      y: 2,
      width: 10,
      height: 6,
    });
    expect(() => cropPixelRect('full', 0, 10)).toThrow(RangeError);
    expect(() => cropPixelRect({ x1: Number.NaN, y1: 0, x2: 1, y2: 1 }, 10, 10)).toThrow(RangeError);
  });

  it('property: an integer rectangle inside the image that covers the box', () => {
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(
        unit,
        unit,
        unit,
        unit,
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 4000 }),
        (a, b, c, d, w, h) => {
          const r = cropPixelRect({ x1: a, y1: b, x2: c, y2: d }, w, h);
          expect(r.width).toBeGreaterThanOrEqual(1);
          expect(r.height).toBeGreaterThanOrEqual(1);
          expect(r.x >= 0 && r.y >= 0 && r.x + r.width <= w && r.y + r.height <= h).toBe(true);
          // Covers the box (up to the 1 px minimum at the image's far edge).
          expect(r.x).toBeLessThanOrEqual(Math.min(a, c) * w);
          expect(r.x + r.width).toBeGreaterThanOrEqual(Math.max(a, c) * w);
          expect(r.y).toBeLessThanOrEqual(Math.min(b, d) * h);
          expect(r.y + r.height).toBeGreaterThanOrEqual(Math.max(b, d) * h);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('validateBox', () => {
  it('accepts a normal box as is', () => {
    expect(validateBox({ x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.7 })).toEqual({
      ok: true,
      box: { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.7 },
      notes: [],
    });
  });

  it('reads numeric strings and arrays, clamps and orders, and says so', () => {
    const r = validateBox({ x1: '0.9', y1: ' -0.2 ', x2: 0.3, y2: '1.2', label: 'ignored' });
    expect(r).toEqual({
      ok: true,
      box: { x1: 0.3, y1: 0, x2: 0.9, y2: 1 },
      notes: ['clamped to [0, 1]', 'x1 and x2 swapped'],
    });
    expect(validateBox([0.1, 0.1, 0.5, 0.5])).toMatchObject({
      ok: true,
      box: { x1: 0.1, y1: 0.1, x2: 0.5, y2: 0.5 },
    });
  });

  it('reads percent and per-mille coordinates, rejects pixel-like ones', () => {
    expect(validateBox({ x1: 10, y1: 20, x2: 60, y2: 70 })).toEqual({
      ok: true,
      box: { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.7 },
      notes: ['read as percent (0–100) coordinates'],
    });
    expect(validateBox({ x1: 100, y1: 200, x2: 600, y2: 700 })).toEqual({
      ok: true,
      box: { x1: 0.1, y1: 0.2, x2: 0.6, y2: 0.7 },
      notes: ['read as per mille (0–1000) coordinates'],
    });
    const pixels = validateBox({ x1: 100, y1: 200, x2: 1600, y2: 1700 });
    expect(pixels.ok).toBe(false);
    if (!pixels.ok) expect(pixels.problem).toMatch(/look like pixels/);
  });

  it('rejects boxes that are degenerate or smaller than 0.15 of a side, and accepts exactly 0.15', () => {
    const problem = (raw: unknown) => {
      const r = validateBox(raw);
      return r.ok ? null : r.problem;
    };
    expect(problem({ x1: 0.5, y1: 0.1, x2: 0.5, y2: 0.9 })).toMatch(/no area/);
    expect(problem({ x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.9 })).toMatch(/too small: 0\.100 × 0\.800/);
    expect(problem({ x1: 1.2, y1: 0.1, x2: 1.4, y2: 0.9 })).toMatch(/no area/); // clamped onto the edge
    expect(problem({ x1: 0.2, y1: 0.2, x2: 0.35, y2: 0.35 })).toBeNull(); // 0.35 − 0.2 = 0.1499999…
  });

  it('names what is wrong with malformed input', () => {
    const problem = (raw: unknown) => {
      const r = validateBox(raw);
      return r.ok ? null : r.problem;
    };
    expect(problem(null)).toBe('expected a box {x1, y1, x2, y2}, got null');
    expect(problem('0.1,0.2,0.3,0.4')).toMatch(/expected a box/);
    expect(problem({ x1: 0.1, y1: 0.1 })).toBe('the box has no x2, y2');
    expect(problem([0.1, 0.2, 0.3])).toBe('a box array needs 4 numbers, got 3');
    expect(problem({ x1: 'left', y1: 0, x2: 1, y2: 1 })).toBe('x1 is not a number: "left"');
    expect(problem({ x1: '', y1: 0, x2: 1, y2: 1 })).toBe('x1 is not a number: ""');
    expect(problem({ x1: '0x10', y1: 0, x2: 1, y2: 1 })).toBe('x1 is not a number: "0x10"');
    expect(problem({ x1: 0, y1: Number.POSITIVE_INFINITY, x2: 1, y2: 1 })).toBe('y1 is not finite: Infinity');
    expect(problem({ x1: 0, y1: 0, x2: Number.NaN, y2: 1 })).toBe('x2 is not finite: NaN');
    expect(problem({ x1: 0, y1: 0, x2: '1e999', y2: 1 })).toBe('x2 is not finite: "1e999"');
    expect(problem({ x1: 0, y1: 0, x2: null, y2: 1 })).toBe('x2 is not a number: null');
  });

  it('property: any input gives a box inside [0, 1] with sides ≥ 0.15, or a problem; never throws', () => {
    const coordinate = fc.oneof(
      fc.double(),
      fc.double({ min: -0.2, max: 1.2, noNaN: true }),
      fc.integer({ min: -10, max: 1100 }),
      fc.double({ min: -0.2, max: 1.2, noNaN: true }).map(String),
      fc.string(),
      fc.constantFrom(null, undefined, true, {}, []),
    );
    const input = fc.oneof(
      fc.record({ x1: coordinate, y1: coordinate, x2: coordinate, y2: coordinate }),
      fc.array(coordinate, { maxLength: 5 }),
      fc.record({ x1: coordinate, y1: coordinate }, { requiredKeys: [] }),
      fc.jsonValue(),
      fc.anything(),
    );
    fc.assert(
      fc.property(input, (raw) => {
        const r = validateBox(raw);
        if (r.ok) {
          const { x1, y1, x2, y2 } = r.box;
          for (const v of [x1, y1, x2, y2]) expect(v >= 0 && v <= 1).toBe(true);
          expect(x2 - x1).toBeGreaterThanOrEqual(MIN_BOX_SIDE - 1e-9);
          expect(y2 - y1).toBeGreaterThanOrEqual(MIN_BOX_SIDE - 1e-9);
          // A valid box is a fixed point.
          expect(validateBox(r.box)).toEqual({ ok: true, box: r.box, notes: [] });
        } else {
          expect(typeof r.problem).toBe('string');
          expect(r.problem.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('anatomical presets', () => {
  it('are valid boxes; the patient’s right is on the image left', () => {
    for (const [region, box] of Object.entries(ANATOMICAL_PRESETS)) {
      expect(validateBox(box), region).toEqual({ ok: true, box, notes: [] });
    }
    const centre = (b: { x1: number; x2: number }) => (b.x1 + b.x2) / 2;
    expect(centre(ANATOMICAL_PRESETS['right-lung'])).toBeLessThan(0.5);
    expect(centre(ANATOMICAL_PRESETS['left-lung'])).toBeGreaterThan(0.5);
    expect(centre(ANATOMICAL_PRESETS['right-costophrenic-angle'])).toBeLessThan(0.5);
    expect(ANATOMICAL_PRESETS['right-upper-zone'].y2).toBeLessThan(ANATOMICAL_PRESETS['right-lower-zone'].y1);
  });

  it.each<[string, AnatomicalRegion]>([
    ['right pleural effusion', 'right-costophrenic-angle'],
    ['Blunting of the left costophrenic angle', 'left-costophrenic-angle'],
    ['bilateral pleural effusions', 'costophrenic-angles'],
    ['pleural effusion', 'costophrenic-angles'],
    ['loculated effusion in the right upper zone', 'right-upper-zone'],
    ['right upper lobe consolidation', 'right-upper-zone'],
    ['left apical pneumothorax', 'left-upper-zone'],
    ['apical pleural thickening', 'upper-zones'],
    ['right middle lobe opacity', 'right-mid-zone'],
    ['lingular atelectasis', 'left-mid-zone'],
    ['left lingular atelectasis', 'left-mid-zone'],
    ['perihilar haziness', 'mid-zones'],
    ['bibasilar atelectasis', 'lower-zones'],
    ['right basal opacity', 'right-lower-zone'],
    ['retrocardiac opacity', 'left-lower-zone'],
    ['enlarged cardiac silhouette', 'heart'],
    ['cardiomegaly', 'heart'],
    ['left ventricular enlargement', 'heart'],
    ['widened mediastinum', 'mediastinum'],
    ['endotracheal tube', 'mediastinum'],
    ['right hilar enlargement', 'mediastinum'],
    ['tortuous aorta', 'mediastinum'],
    ['right pneumothorax', 'right-upper-zone'],
    ['pneumothorax', 'upper-zones'],
    ['right-sided pulmonary nodule', 'right-lung'],
    ['left lung mass', 'left-lung'],
    ['diffuse interstitial markings', 'both-lungs'],
    ['', 'both-lungs'],
  ])('%j → %s', (finding, region) => {
    const chosen = presetBoxForFinding(finding);
    expect(chosen.region).toBe(region);
    expect(chosen.box).toEqual(ANATOMICAL_PRESETS[region]);
  });

  it('returns a copy, never the shared preset object', () => {
    const chosen = presetBoxForFinding('cardiomegaly');
    chosen.box.x1 = 0.99;
    expect(ANATOMICAL_PRESETS.heart.x1).not.toBe(0.99);
  });
});

const PINNED_HASH = '7551f43d20add1c8bfb529caf5bacf13';
