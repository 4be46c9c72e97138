// The headless runner's compositor: compositions drawn from PNG/JPEG files made in the test (fast-png, jpeg-js),
// checked by tile sizes and mean intensities; crops cut the right pixels; every PNG flavour and the EXIF
// orientation decode as a browser shows them; missing or corrupt files become reported placeholders; abort.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import type { Composition, Tile } from '../../src/lib/core/ports.ts';
import { encodedImageKey } from '../../src/lib/core/crop-rect.ts';
import {
  axisTaps,
  createNodeCompositor,
  decodeImage,
  loadEncodedImageNode,
  type UnavailableImage,
} from '../../scripts/lib/node-compositor.ts';
import { jpegWithOrientation, pngWithOrientation } from '../fixtures/image-bytes.ts';

let dir: string;
const paths = new Map<string, string>();
const resolvePath = (id: string) => paths.get(id);

/** Gray PNG (1 channel, 8 bit) from a pixel function. */
function grayPng(width: number, height: number, gray: (x: number, y: number) => number): Uint8Array {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = gray(x, y);
  return encodePng({ width, height, data, channels: 1, depth: 8 });
}

async function fixture(id: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, `${id}.bin`);
  await writeFile(path, bytes);
  paths.set(id, path);
  return path;
}

/** Decoded RGB output of a render. */
function pixelsOf(png: Uint8Array): {
  width: number;
  height: number;
  rgb: (x: number, y: number) => number[];
} {
  const image = decodePng(png);
  expect(image.channels).toBe(3);
  return {
    width: image.width,
    height: image.height,
    rgb: (x, y) => Array.from(image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)),
  };
}

/** Mean of each channel over a rectangle of a decoded render. */
function meanRgb(png: Uint8Array, rect: Pick<Tile, 'x' | 'y' | 'width' | 'height'>): number[] {
  const { rgb } = pixelsOf(png);
  const sum = [0, 0, 0];
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) rgb(x, y).forEach((v, c) => (sum[c]! += v));
  }
  return sum.map((s) => s / (rect.width * rect.height));
}

function composition(tiles: Tile[], width: number, height: number, background = '#000'): Composition {
  return {
    key: `test|${tiles.map((t) => t.imageId).join(',')}`,
    width,
    height,
    background,
    tiles,
    labels: [],
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-compositor-'));
  // 40×20: left half white, right half black.
  await fixture(
    'halves',
    grayPng(40, 20, (x) => (x < 20 ? 255 : 0)),
  );
  // 30×30 uniform RGB.
  const rgb = new Uint8Array(30 * 30 * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set([100, 150, 200], i);
  await fixture('rgb', encodePng({ width: 30, height: 30, data: rgb, channels: 3, depth: 8 }));
  // 64×64 one-pixel checkerboard: any point-sampling downscale aliases, an area average gives mid-gray.
  await fixture(
    'checker',
    grayPng(64, 64, (x, y) => ((x + y) % 2 ? 255 : 0)),
  );
  // Fully transparent RGBA: shows the background.
  await fixture(
    'clear',
    encodePng({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4), channels: 4, depth: 8 }),
  );
  await fixture('garbage', new TextEncoder().encode('not an image at all'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createNodeCompositor', () => {
  it('renders a 2-tile composition: output size, tile means, black gap, the composition key', async () => {
    const tiles: Tile[] = [
      { imageId: 'halves', crop: 'full', x: 0, y: 0, width: 40, height: 20 },
      { imageId: 'rgb', crop: 'full', x: 50, y: 0, width: 20, height: 20 },
    ];
    const comp = composition(tiles, 70, 20);
    const { image, unavailable } = await createNodeCompositor(resolvePath).renderWithReport(comp);
    expect(unavailable).toEqual([]);
    expect(image).toMatchObject({ key: comp.key, mime: 'image/png', width: 70, height: 20 });
    const out = pixelsOf(image.bytes);
    expect([out.width, out.height]).toEqual([70, 20]);
    // Tile 1 is drawn 1:1: exactly half white.
    expect(meanRgb(image.bytes, tiles[0]!)).toEqual([127.5, 127.5, 127.5]);
    expect(out.rgb(19, 10)).toEqual([255, 255, 255]);
    expect(out.rgb(20, 10)).toEqual([0, 0, 0]);
    // Tile 2 is downscaled 30 → 20: a uniform colour stays exactly that colour.
    expect(meanRgb(image.bytes, tiles[1]!)).toEqual([100, 150, 200]);
    // The 10 px gap keeps the background.
    expect(meanRgb(image.bytes, { x: 40, y: 0, width: 10, height: 20 })).toEqual([0, 0, 0]);
  });

  it('a left-half crop of an image whose left half is white is a white tile; the right half a black one', async () => {
    const tiles: Tile[] = [
      { imageId: 'halves', crop: { x1: 0, y1: 0, x2: 0.5, y2: 1 }, x: 0, y: 0, width: 16, height: 16 },
      { imageId: 'halves', crop: { x1: 0.5, y1: 0, x2: 1, y2: 1 }, x: 20, y: 0, width: 16, height: 16 },
    ];
    const { image } = await createNodeCompositor(resolvePath).renderWithReport(
      composition(tiles, 36, 16, '#808080'),
    );
    expect(meanRgb(image.bytes, tiles[0]!)).toEqual([255, 255, 255]);
    expect(meanRgb(image.bytes, tiles[1]!)).toEqual([0, 0, 0]);
    // The background between them is the composition's.
    expect(meanRgb(image.bytes, { x: 16, y: 0, width: 4, height: 16 })).toEqual([128, 128, 128]);
  });

  it('area-averages large reductions (no aliasing) and composites transparency onto the background', async () => {
    const tiles: Tile[] = [
      { imageId: 'checker', crop: 'full', x: 0, y: 0, width: 8, height: 8 },
      { imageId: 'clear', crop: 'full', x: 8, y: 0, width: 8, height: 8 },
    ];
    const { image } = await createNodeCompositor(resolvePath).renderWithReport(
      composition(tiles, 16, 8, '#204060'),
    );
    const out = pixelsOf(image.bytes);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(out.rgb(x, y)).toEqual([128, 128, 128]);
    expect(meanRgb(image.bytes, tiles[1]!)).toEqual([0x20, 0x40, 0x60]);
  });

  it('draws missing and undecodable images as reported placeholders and still renders the rest', async () => {
    const tiles: Tile[] = [
      { imageId: 'nowhere', crop: 'full', x: 0, y: 0, width: 20, height: 20 },
      { imageId: 'garbage', crop: 'full', x: 20, y: 0, width: 20, height: 20 },
      { imageId: 'rgb', crop: 'full', x: 40, y: 0, width: 20, height: 20 },
    ];
    paths.set('gone', join(dir, 'deleted.png'));
    const warned: UnavailableImage[][] = [];
    const compositor = createNodeCompositor(resolvePath, { onUnavailable: (u) => warned.push(u) });
    const image = await compositor.render(
      composition([...tiles, { imageId: 'gone', crop: 'full', x: 60, y: 0, width: 20, height: 20 }], 80, 20),
    );
    expect(warned).toHaveLength(1);
    expect(warned[0]!.map((u) => [u.imageId, u.code])).toEqual([
      ['nowhere', 'missing'],
      ['garbage', 'undecodable'],
      ['gone', 'missing'],
    ]);
    expect(warned[0]![1]!.reason).toMatch(/not an image/);
    const out = pixelsOf(image.bytes);
    // Dark grey tile with a lighter mark in the middle.
    expect(out.rgb(1, 1)).toEqual([0x3a, 0x3a, 0x3a]);
    expect(out.rgb(10, 10)).toEqual([0x8c, 0x8c, 0x8c]);
    expect(out.rgb(21, 1)).toEqual([0x3a, 0x3a, 0x3a]);
    expect(meanRgb(image.bytes, tiles[2]!)).toEqual([100, 150, 200]);
  });

  it('rejects with an AbortError when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const comp = composition([{ imageId: 'rgb', crop: 'full', x: 0, y: 0, width: 4, height: 4 }], 4, 4);
    await expect(createNodeCompositor(resolvePath).render(comp, controller.signal)).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('refuses a background that is not hex', async () => {
    const comp = composition([], 4, 4, 'black');
    await expect(createNodeCompositor(resolvePath).render(comp)).rejects.toThrow(/#rgb or #rrggbb/);
  });
});

describe('decodeImage', () => {
  it('decodes 16-bit gray, 1-bit gray, palette and gray+alpha PNGs to 8-bit RGBA', () => {
    const g16 = decodeImage(
      encodePng({ width: 2, height: 1, data: new Uint16Array([0, 65535]), channels: 1, depth: 16 }),
    );
    expect(Array.from(g16.data)).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);

    // 1-bit gray, 10 px wide: rows are padded to whole bytes.
    const bits = new Uint8Array([0b10101010, 0b11000000, 0b01010101, 0b00000000]);
    const g1 = decodeImage(encodePng({ width: 10, height: 2, data: bits, channels: 1, depth: 1 }));
    const row = (y: number) => Array.from({ length: 10 }, (_, x) => g1.data[(y * 10 + x) * 4]);
    expect(row(0)).toEqual([255, 0, 255, 0, 255, 0, 255, 0, 255, 255]);
    expect(row(1)).toEqual([0, 255, 0, 255, 0, 255, 0, 255, 0, 0]);

    const indexed = decodeImage(
      encodePng({
        width: 2,
        height: 1,
        data: new Uint8Array([1, 0]),
        channels: 1,
        depth: 8,
        palette: [
          [10, 20, 30],
          [200, 100, 50],
        ],
      }),
    );
    expect(Array.from(indexed.data)).toEqual([200, 100, 50, 255, 10, 20, 30, 255]);

    const ga = decodeImage(
      encodePng({ width: 1, height: 1, data: new Uint8Array([77, 128]), channels: 2, depth: 8 }),
    );
    expect(Array.from(ga.data)).toEqual([77, 77, 77, 128]);
  });

  it('decodes JPEG (lossy: within a few levels)', () => {
    const rgba = new Uint8Array(16 * 16 * 4).fill(128);
    const image = decodeImage(new Uint8Array(encodeJpeg({ width: 16, height: 16, data: rgba }, 95).data));
    expect([image.width, image.height]).toEqual([16, 16]);
    for (let i = 0; i < image.data.length; i += 4)
      expect(Math.abs(image.data[i]! - 128)).toBeLessThanOrEqual(2);
  });

  it('applies the EXIF orientation, as browsers do (PNG eXIf and JPEG APP1)', () => {
    // 4×2, pixel value = 10·(index): orientation 3 turns it 180°.
    const png = grayPng(4, 2, (x, y) => 10 * (y * 4 + x));
    const turned = decodeImage(pngWithOrientation(png, 3));
    expect(Array.from({ length: 8 }, (_, i) => turned.data[i * 4])).toEqual([70, 60, 50, 40, 30, 20, 10, 0]);
    // Orientation 6 (90° clockwise) of a 16×8 JPEG whose left half is white: the top half becomes white.
    const rgba = new Uint8Array(16 * 8 * 4);
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 16; x++) rgba.fill(x < 8 ? 255 : 0, (y * 16 + x) * 4, (y * 16 + x) * 4 + 4);
    const jpeg = new Uint8Array(encodeJpeg({ width: 16, height: 8, data: rgba }, 95).data);
    const rotated = decodeImage(jpegWithOrientation(jpeg, 6));
    expect([rotated.width, rotated.height]).toEqual([8, 16]);
    const at = (x: number, y: number) => rotated.data[(y * 8 + x) * 4]!;
    expect(at(4, 2)).toBeGreaterThan(240);
    expect(at(4, 13)).toBeLessThan(15);
  });
});

describe('axisTaps', () => {
  it('enlarges bilinearly on pixel centres, clamped at the edges', () => {
    const { index, weight } = axisTaps(2, 4);
    const values = [0, 255];
    const out = index.map((is, o) => is.reduce((sum, i, k) => sum + values[i]! * weight[o]![k]!, 0));
    expect(out).toEqual([0, 63.75, 191.25, 255]);
  });

  it('reduces by area: weights are coverage fractions summing to one', () => {
    const { index, weight } = axisTaps(5, 2);
    expect(index).toEqual([
      [0, 1, 2],
      [2, 3, 4],
    ]);
    expect(weight[0]!.map((w) => w * 2.5)).toEqual([1, 1, 0.5]);
    for (const ws of weight) expect(ws.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe('loadEncodedImageNode', () => {
  it('encodes a crop, longer side ≤ maxSide, keyed by the file hash, crop and size', async () => {
    const path = paths.get('halves')!;
    const crop = { x1: 0, y1: 0, x2: 0.5, y2: 1 };
    const image = await loadEncodedImageNode(path, crop, 10);
    expect([image.width, image.height, image.mime]).toEqual([10, 10, 'image/png']);
    const sha = createHash('sha256')
      .update(grayPng(40, 20, (x) => (x < 20 ? 255 : 0)))
      .digest('hex');
    expect(image.key).toBe(encodedImageKey(sha, crop, 10));
    expect(meanRgb(image.bytes, { x: 0, y: 0, width: 10, height: 10 })).toEqual([255, 255, 255]);
    // Never enlarged; a caller-supplied id names it instead of the hash.
    const whole = await loadEncodedImageNode(path, 'full', 1000, 'img-1');
    expect([whole.width, whole.height, whole.key]).toEqual([40, 20, 'img|v1|img-1|full|1000']);
  });

  it('rejects an undecodable file', async () => {
    await expect(loadEncodedImageNode(paths.get('garbage')!, 'full', 64)).rejects.toThrow(/not an image/);
  });
});
