// The browser compositor in real Chromium: compositions of PNGs made in the page, checked by size and per-tile
// means after decoding the output; crops; labels; missing and corrupt images as reported placeholders; abort; and
// single encoded images for a captioner (size bound, key shared with the Node encoder).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Composition, Tile } from '../../src/lib/core/ports.ts';
import { encodedImageKey } from '../../src/lib/core/crop-rect.ts';
import {
  createCanvasCompositor,
  loadEncodedImage,
  type UnavailableImage,
} from '../../src/lib/imaging/compositor.ts';

type Rgb = [number, number, number];

async function png(width: number, height: number, pixel: (x: number, y: number) => Rgb): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) image.data.set([...pixel(x, y), 255], (y * width + x) * 4);
  }
  ctx.putImageData(image, 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Decoded RGBA of encoded bytes. */
async function decode(bytes: Uint8Array<ArrayBuffer>): Promise<ImageData> {
  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
  const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height);
}

function meanRgb(image: ImageData, rect: Pick<Tile, 'x' | 'y' | 'width' | 'height'>): number[] {
  const sum = [0, 0, 0];
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      for (let c = 0; c < 3; c++) sum[c]! += image.data[(y * image.width + x) * 4 + c]!;
    }
  }
  return sum.map((s) => s / (rect.width * rect.height));
}

function composition(
  tiles: Tile[],
  width: number,
  height: number,
  labels: Composition['labels'] = [],
): Composition {
  return {
    key: `grid|v1|${tiles.map((t) => t.imageId).join(',')}`,
    width,
    height,
    background: '#000',
    tiles,
    labels,
  };
}

const files = new Map<string, Blob>();
const resolve = (id: string) => files.get(id);

beforeAll(async () => {
  files.set('halves', await png(400, 200, (x) => (x < 200 ? [255, 255, 255] : [0, 0, 0])));
  files.set('rgb', await png(300, 300, () => [100, 150, 200]));
  files.set('corrupt', new Blob([new TextEncoder().encode('\x89PNG\r\n\x1a\n garbage')]));
});

describe('createCanvasCompositor', () => {
  it('renders a 2-tile grid: output size, per-tile means, background gap, the composition key', async () => {
    const tiles: Tile[] = [
      { imageId: 'halves', crop: 'full', x: 0, y: 0, width: 256, height: 128 },
      { imageId: 'rgb', crop: 'full', x: 266, y: 0, width: 128, height: 128 },
    ];
    const comp = composition(tiles, 394, 128);
    const { image, unavailable } = await createCanvasCompositor(resolve).renderWithReport(comp);
    expect(unavailable).toEqual([]);
    expect(image).toMatchObject({ key: comp.key, mime: 'image/png', width: 394, height: 128 });
    const out = await decode(image.bytes as Uint8Array<ArrayBuffer>);
    expect([out.width, out.height]).toEqual([394, 128]);
    // Half white: the mean is mid-grey up to the resampling of the one edge column.
    for (const v of meanRgb(out, tiles[0]!)) expect(v).toBeCloseTo(127.5, -0.5);
    expect(meanRgb(out, { x: 10, y: 10, width: 100, height: 100 })).toEqual([255, 255, 255]);
    expect(meanRgb(out, { x: 140, y: 10, width: 100, height: 100 })).toEqual([0, 0, 0]);
    expect(meanRgb(out, tiles[1]!)).toEqual([100, 150, 200]);
    expect(meanRgb(out, { x: 256, y: 0, width: 10, height: 128 })).toEqual([0, 0, 0]);
  });

  it('cuts crops: the left half of an image whose left half is white is a white tile', async () => {
    const tiles: Tile[] = [
      { imageId: 'halves', crop: { x1: 0, y1: 0, x2: 0.5, y2: 1 }, x: 0, y: 0, width: 64, height: 64 },
      { imageId: 'halves', crop: { x1: 0.5, y1: 0, x2: 1, y2: 1 }, x: 74, y: 0, width: 64, height: 64 },
    ];
    const { image } = await createCanvasCompositor(resolve).renderWithReport(composition(tiles, 138, 64));
    const out = await decode(image.bytes as Uint8Array<ArrayBuffer>);
    expect(meanRgb(out, tiles[0]!)).toEqual([255, 255, 255]);
    expect(meanRgb(out, tiles[1]!)).toEqual([0, 0, 0]);
  });

  it('draws labels in white with a dark outline', async () => {
    const tiles: Tile[] = [{ imageId: 'rgb', crop: 'full', x: 0, y: 0, width: 200, height: 100 }];
    const label = { text: 'WWWW', x: 10, y: 10, size: 32 };
    const comp = composition(tiles, 200, 100, [label]);
    const out = await decode(
      (await createCanvasCompositor(resolve).render(comp)).bytes as Uint8Array<ArrayBuffer>,
    );
    let white = 0;
    let dark = 0;
    for (let y = 5; y < 50; y++) {
      for (let x = 5; x < 120; x++) {
        const i = (y * out.width + x) * 4;
        const [r, g, b] = [out.data[i]!, out.data[i + 1]!, out.data[i + 2]!];
        if (r > 240 && g > 240 && b > 240) white++;
        if (r < 40 && g < 40 && b < 40) dark++;
      }
    }
    expect(white).toBeGreaterThan(50);
    expect(dark).toBeGreaterThan(50);
    // Outside the label the tile is untouched.
    expect(meanRgb(out, { x: 150, y: 60, width: 40, height: 30 })).toEqual([100, 150, 200]);
  });

  it('draws missing and undecodable images as placeholders, reports them, renders the rest', async () => {
    const tiles: Tile[] = [
      { imageId: 'nowhere', crop: 'full', x: 0, y: 0, width: 50, height: 50 },
      { imageId: 'corrupt', crop: 'full', x: 50, y: 0, width: 50, height: 50 },
      { imageId: 'rgb', crop: 'full', x: 100, y: 0, width: 50, height: 50 },
    ];
    const warned: UnavailableImage[][] = [];
    const compositor = createCanvasCompositor(resolve, { onUnavailable: (u) => warned.push(u) });
    const out = await decode(
      (await compositor.render(composition(tiles, 150, 50))).bytes as Uint8Array<ArrayBuffer>,
    );
    expect(warned.map((u) => u.map((x) => [x.imageId, x.code]))).toEqual([
      [
        ['nowhere', 'missing'],
        ['corrupt', 'undecodable'],
      ],
    ]);
    // Dark grey with a lighter mark in the middle.
    expect(meanRgb(out, { x: 2, y: 2, width: 10, height: 10 })).toEqual([0x3a, 0x3a, 0x3a]);
    expect(meanRgb(out, { x: 52, y: 2, width: 10, height: 10 })).toEqual([0x3a, 0x3a, 0x3a]);
    let brightest = 0;
    for (let y = 20; y < 30; y++)
      for (let x = 20; x < 30; x++) brightest = Math.max(brightest, out.data[(y * out.width + x) * 4]!);
    expect(brightest).toBeGreaterThan(0x70);
    expect(meanRgb(out, tiles[2]!)).toEqual([100, 150, 200]);
    // A render with every image present does not warn.
    await compositor.render(composition([tiles[2]!], 150, 50));
    expect(warned).toHaveLength(1);
  });

  it('rejects with an AbortError when the signal aborts', async () => {
    const comp = composition([{ imageId: 'rgb', crop: 'full', x: 0, y: 0, width: 8, height: 8 }], 8, 8);
    await expect(createCanvasCompositor(resolve).render(comp, AbortSignal.abort())).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('loadEncodedImage', () => {
  it('encodes a crop with its longer side ≤ maxSide, keyed like the Node encoder', async () => {
    const blob = files.get('halves')!;
    const crop = { x1: 0, y1: 0, x2: 0.5, y2: 1 };
    const image = await loadEncodedImage(blob, crop, 64);
    expect([image.width, image.height, image.mime]).toEqual([64, 64, 'image/png']);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
    const sha = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    expect(image.key).toBe(encodedImageKey(sha, crop, 64));
    expect(
      meanRgb(await decode(image.bytes as Uint8Array<ArrayBuffer>), { x: 0, y: 0, width: 64, height: 64 }),
    ).toEqual([255, 255, 255]);
    const whole = await loadEncodedImage(blob, 'full', 1000, 'img-1');
    expect([whole.width, whole.height, whole.key]).toEqual([400, 200, 'img|v1|img-1|full|1000']);
  });

  it('rejects an undecodable file', async () => {
    await expect(loadEncodedImage(files.get('corrupt')!, 'full', 64, 'x')).rejects.toThrow();
  });
});
