// Image intake in real Chromium with real module workers: files generated in the test (OffscreenCanvas PNG/JPEG/WebP,
// fast-png grayscale, hand-built headers), refusal reasons, dedupe and confounders, folder enumeration, tensor
// numerics against the mean/std arithmetic for each resize mode, the bounded window, and cancellation.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encode as encodePng } from 'fast-png';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import {
  collectFromDataTransfer,
  collectFromEntries,
  collectFromFileList,
  crossSetConfounders,
  hashFiles,
  ImageWorkerPool,
  intakeFiles,
  preprocessStream,
  type DirectoryEntryLike,
  type EntryLike,
  type FileEntryLike,
  type PreprocessResult,
  type PreprocessedResult,
  type StreamStats,
} from '../../src/lib/imaging/index.ts';
import { placeImage, rgbaToChw } from '../../workers/image/preprocess.ts';
import {
  crc32,
  dicomBytes,
  gifBytes,
  jpegWithOrientation,
  pngHeaderOnly,
  pngWithOrientation,
  tiffBytes,
} from '../fixtures/image-bytes.ts';

type Rgb = [number, number, number];

/** Encodes exact pixels (opaque) with the browser's own encoder. */
async function encodePixels(
  width: number,
  height: number,
  pixel: (x: number, y: number) => Rgb,
  type: 'image/png' | 'image/jpeg' | 'image/webp' = 'image/png',
  quality?: number,
): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      image.data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas.convertToBlob(quality === undefined ? { type } : { type, quality });
}

/** Smooth gradients plus noise, like a radiograph as far as the decoder is concerned. */
function radiographLike(seed: number): (x: number, y: number) => Rgb {
  let state = seed * 2654435761;
  return (x, y) => {
    state = (state * 1103515245 + 12345) >>> 0;
    const v = Math.min(255, ((x * 0.06 + y * 0.04 + seed * 20) % 200) + (state >>> 27));
    return [v, v, v];
  };
}

const file = (parts: BlobPart[] | Blob, name: string) =>
  new File(parts instanceof Blob ? [parts] : parts, name, { type: '' });

const bytesOf = async (blob: Blob) => new Uint8Array(await blob.arrayBuffer());

/** A PNG whose chunk structure (and CRCs) is intact but whose compressed pixel data is garbage. */
async function pngWithCorruptData(): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await bytesOf(await encodePixels(64, 64, radiographLike(9)));
  const view = new DataView(bytes.buffer);
  for (let offset = 8; offset < bytes.length;) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (type === 'IDAT') {
      const data = bytes.subarray(offset + 8, offset + 8 + length);
      for (let i = 2; i < data.length; i++) data[i] = (i * 131) & 0xff;
      view.setUint32(offset + 8 + length, crc32(bytes.subarray(offset + 4, offset + 8 + length)));
    }
    offset += 12 + length;
  }
  return bytes;
}

async function collect(stream: AsyncIterable<PreprocessResult>): Promise<PreprocessResult[]> {
  const out: PreprocessResult[] = [];
  for await (const result of stream) out.push(result);
  return out;
}

function ok(result: PreprocessResult | undefined): PreprocessedResult {
  if (!result || 'error' in result) throw new Error(`expected an image, got ${JSON.stringify(result)}`);
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let pool: ImageWorkerPool;
let jpeg2048: Blob;
let png2048: Blob;
let webp640: Blob;

beforeAll(async () => {
  pool = new ImageWorkerPool({ size: 2 });
  jpeg2048 = await encodePixels(2048, 2048, radiographLike(1), 'image/jpeg', 0.9);
  png2048 = await encodePixels(2048, 2048, radiographLike(2));
  webp640 = await encodePixels(640, 480, radiographLike(3), 'image/webp', 0.9);
});

afterAll(() => pool.terminate());

describe('intakeFiles', () => {
  it('accepts PNG/JPEG/WebP by content, refuses the rest with specific reasons, dedupes, and decodes nothing', async () => {
    const jpegBytes = await bytesOf(jpeg2048);
    const pngBytes = await bytesOf(png2048);
    const files = [
      file(jpeg2048, 'chest-01.jpg'),
      file(png2048, 'chest-02.png'),
      file(webp640, 'chest-03.webp'),
      // A JPEG named .png: the content decides.
      file(jpeg2048, 'copy-of-01.png'),
      file([], 'empty.png'),
      file(['finding,score\neffusion,0.9\n'], 'notes.png'),
      file([pngBytes.subarray(0, pngBytes.length >> 1)], 'cut.png'),
      file([jpegBytes.subarray(0, Math.floor(jpegBytes.length * 0.6))], 'cut.jpg'),
      file([pngHeaderOnly(12_000, 12_000)], 'huge.png'),
      file([dicomBytes()], 'scan.dcm'),
      file([tiffBytes()], 'scan.tif'),
      file([gifBytes()], 'animated.jpg'),
      file(['x'], '.DS_Store'),
      file(['x'], 'Thumbs.db'),
    ];
    const progress: number[] = [];
    await pool.resetStats();
    const set = await intakeFiles(files, { pool, onProgress: (p) => progress.push(p.done) });

    expect(set.images.map((i) => [i.path, i.format, i.width, i.height])).toEqual([
      ['chest-01.jpg', 'jpeg', 2048, 2048],
      ['chest-02.png', 'png', 2048, 2048],
      ['chest-03.webp', 'webp', 640, 480],
    ]);
    expect(set.images.every((i) => /^[0-9a-f]{64}$/.test(i.sha256))).toBe(true);
    expect(set.duplicates).toEqual([
      { name: 'copy-of-01.png', path: 'copy-of-01.png', duplicateOf: 'chest-01.jpg' },
    ]);
    expect(set.ignoredSystemFiles).toBe(2);
    const reasons = Object.fromEntries(set.skipped.map((s) => [s.name, [s.code, s.reason]]));
    expect(reasons).toEqual({
      'animated.jpg': ['unsupported-format', 'GIF is not supported; accepted formats are PNG, JPEG and WebP'],
      'cut.jpg': ['truncated', 'truncated JPEG: the file ends before its end-of-image marker'],
      'cut.png': ['truncated', expect.stringMatching(/^truncated PNG: the file ends inside its \w+ chunk$/)],
      'empty.png': ['empty', 'empty file (0 bytes)'],
      'huge.png': ['too-large', 'PNG of 12000×12000 px is too large: the limit is 10,000 px per side'],
      'notes.png': ['not-image', 'not an image: the file contains text'],
      'scan.dcm': ['unsupported-format', 'DICOM is not supported; accepted formats are PNG, JPEG and WebP'],
      'scan.tif': ['unsupported-format', 'TIFF is not supported; accepted formats are PNG, JPEG and WebP'],
    });
    // Hashing and header checks only: no worker decoded a bitmap.
    expect((await pool.stats()).every((s) => s.maxLiveDecoded === 0)).toBe(true);
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(12);
  });

  it('hashes as SHA-256 lowercase hex, identical to crypto.subtle on the main thread', async () => {
    const [outcome] = await hashFiles([webp640], { pool });
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await webp640.arrayBuffer()));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    expect(outcome).toMatchObject({ ok: true, sha256: hex });
  });

  it('reports images present in both sets as confounders, with both names', async () => {
    const shared = await encodePixels(32, 32, radiographLike(4));
    const onlyA = await encodePixels(32, 32, radiographLike(5));
    const onlyB = await encodePixels(32, 32, radiographLike(6));
    const a = await intakeFiles([file(onlyA, 'a1.png'), file(shared, 'a2.png')], { pool });
    const b = await intakeFiles([file(shared, 'b7.png'), file(onlyB, 'b8.png')], { pool });
    const confounders = crossSetConfounders(a, b);
    expect(confounders).toEqual([
      {
        sha256: a.images[1]!.sha256,
        a: { name: 'a2.png', path: 'a2.png' },
        b: { name: 'b7.png', path: 'b7.png' },
      },
    ]);
  });

  it('rejects with AbortError when cancelled, and at once if already aborted', async () => {
    const files = Array.from({ length: 40 }, (_, i) => file(png2048, `${i}.png`));
    const controller = new AbortController();
    const running = intakeFiles(files, { pool, signal: controller.signal, concurrency: 1 });
    setTimeout(() => controller.abort(), 5);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await expect(hashFiles(files, { pool, signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
  it('fails with ImageWorkerFailed instead of hanging when a worker cannot start', async () => {
    const script = URL.createObjectURL(new Blob(['throw new Error("boom")'], { type: 'text/javascript' }));
    const broken = new ImageWorkerPool({
      size: 1,
      createWorker: () => new Worker(script, { type: 'module' }),
    });
    try {
      await expect(hashFiles([webp640], { pool: broken })).rejects.toMatchObject({
        name: 'ImageWorkerFailed',
      });
    } finally {
      broken.terminate();
      URL.revokeObjectURL(script);
    }
  });
});

describe('file enumeration', () => {
  function fakeFile(fullPath: string): FileEntryLike {
    const name = fullPath.split('/').at(-1)!;
    return {
      isFile: true,
      isDirectory: false,
      name,
      fullPath,
      file: (success) => success(new File([name], name)),
    };
  }

  /** A folder whose reader returns its children `batch` at a time, like Chromium's 100-entry batches. */
  function fakeDir(fullPath: string, children: EntryLike[], batch = 2): DirectoryEntryLike {
    return {
      isFile: false,
      isDirectory: true,
      name: fullPath.split('/').at(-1)!,
      fullPath,
      createReader: () => {
        let offset = 0;
        return {
          readEntries: (success) => {
            const next = children.slice(offset, offset + batch);
            offset += next.length;
            setTimeout(() => success(next), 0);
          },
        };
      },
    };
  }

  it('walks dropped folders to the end of every batch, keeps paths, counts system files', async () => {
    const tree = fakeDir('/cxr', [
      fakeDir('/cxr/normal', [
        fakeFile('/cxr/normal/001.png'),
        fakeFile('/cxr/normal/002.png'),
        fakeFile('/cxr/normal/003.png'),
        fakeFile('/cxr/normal/.DS_Store'),
        fakeFile('/cxr/normal/004.png'),
      ]),
      fakeDir('/cxr/effusion', [fakeFile('/cxr/effusion/101.jpg'), fakeFile('/cxr/effusion/Thumbs.db')]),
      fakeDir('/cxr/.git', [fakeFile('/cxr/.git/HEAD'), fakeFile('/cxr/.git/config')]),
      fakeFile('/cxr/._001.png'),
    ]);
    const collected = await collectFromEntries([tree, fakeFile('/loose.webp')]);
    expect(collected.entries.map((e) => e.path).sort()).toEqual([
      'cxr/effusion/101.jpg',
      'cxr/normal/001.png',
      'cxr/normal/002.png',
      'cxr/normal/003.png',
      'cxr/normal/004.png',
      'loose.webp',
    ]);
    // .DS_Store, Thumbs.db, ._001.png and the .git folder (counted once, not descended).
    expect(collected.ignoredSystemFiles).toBe(4);
    expect(collected.unlistable).toEqual([]);
  });

  it('lists a folder that cannot be read instead of failing the drop', async () => {
    const broken: DirectoryEntryLike = {
      isFile: false,
      isDirectory: true,
      name: 'locked',
      fullPath: '/locked',
      createReader: () => ({
        readEntries: (_success, error) => error?.(new DOMException('permission denied', 'NotReadableError')),
      }),
    };
    const collected = await collectFromEntries([broken, fakeFile('/ok.png')]);
    expect(collected.entries.map((e) => e.path)).toEqual(['ok.png']);
    expect(collected.unlistable).toEqual([
      { name: 'locked', path: 'locked', reason: 'could not be read (permission denied)' },
    ]);
  });

  it('takes files from a DataTransfer and from a file list', async () => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['a'], 'one.png'));
    transfer.items.add(new File(['b'], '.DS_Store'));
    transfer.items.add('not a file', 'text/plain');
    const dropped = await collectFromDataTransfer(transfer);
    expect(dropped.entries.map((e) => e.path)).toEqual(['one.png']);
    expect(dropped.ignoredSystemFiles).toBe(1);

    const picked = collectFromFileList([new File(['a'], 'x.png'), new File(['b'], 'Thumbs.db')]);
    expect(picked.entries.map((e) => e.path)).toEqual(['x.png']);
    expect(picked.ignoredSystemFiles).toBe(1);
  });
});

describe('preprocessStream numerics', () => {
  const base = { version: 'test', rescale: 1 / 255, mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] } as const;
  const spec = (resize: Preprocessing['resize'], size: number): Preprocessing => ({
    ...base,
    mean: [...base.mean],
    std: [...base.std],
    resize,
    size,
  });
  const expected = (v: number, c: number) => (v / 255 - base.mean[c]!) / base.std[c]!;
  const at = (pixels: Float32Array, size: number, c: number, x: number, y: number) =>
    pixels[c * size * size + y * size + x]!;

  async function run(blob: Blob, p: Preprocessing) {
    const [result] = await collect(preprocessStream([blob], p, { pool, thumbnail: false }));
    return ok(result);
  }

  // Distinct values per channel and position, so a swapped channel, row or column shows.
  const colorful = (x: number, y: number): Rgb => [
    (x * 20 + y * 3) % 256,
    255 - y * 30,
    (x * 7 + y * 11 + 5) % 256,
  ];

  it('shortest-edge-center-crop at scale 1: the centre columns, exactly', async () => {
    // 12×8 → short side already 8: no resampling; the crop drops 2 columns on each side.
    const r = await run(await encodePixels(12, 8, colorful), spec('shortest-edge-center-crop', 8));
    expect(r.pixels).toHaveLength(3 * 8 * 8);
    expect([r.width, r.height]).toEqual([12, 8]);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const rgb = colorful(x + 2, y);
        for (let c = 0; c < 3; c++) expect(at(r.pixels, 8, c, x, y)).toBeCloseTo(expected(rgb[c]!, c), 5);
      }
    }
  });

  it('pad-to-square at scale 1: black rows above and below, the image between, exactly', async () => {
    const r = await run(await encodePixels(8, 6, colorful), spec('pad-to-square', 8));
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const rgb: Rgb = y === 0 || y === 7 ? [0, 0, 0] : colorful(x, y - 1);
        for (let c = 0; c < 3; c++) expect(at(r.pixels, 8, c, x, y)).toBeCloseTo(expected(rgb[c]!, c), 5);
      }
    }
  });

  it('squash at scale 1 is the identity', async () => {
    const r = await run(await encodePixels(8, 8, colorful), spec('squash', 8));
    for (let c = 0; c < 3; c++)
      expect(at(r.pixels, 8, c, 5, 3)).toBeCloseTo(expected(colorful(5, 3)[c]!, c), 5);
  });

  describe('downscaling 256×128 bands (30 | 200 | 90) to 8×8', () => {
    // Columns 0–63 = 30, 64–191 = 200, 192–255 = 90. Checked where the resampling filter sees one band only.
    const bands = (x: number): Rgb => {
      const v = x < 64 ? 30 : x < 192 ? 200 : 90;
      return [v, v, v];
    };
    const tolerance = 3 / 255 / 0.2;
    let blob: Blob;
    beforeAll(async () => {
      blob = await encodePixels(256, 128, bands);
    });

    it('squash keeps all three bands', async () => {
      const r = await run(blob, spec('squash', 8));
      for (const [x, v] of [
        [0, 30],
        [3, 200],
        [4, 200],
        [7, 90],
      ] as const) {
        for (let c = 0; c < 3; c++)
          expect(Math.abs(at(r.pixels, 8, c, x, 4) - expected(v, c))).toBeLessThan(tolerance);
      }
    });

    it('center crop keeps only the middle band', async () => {
      const r = await run(blob, spec('shortest-edge-center-crop', 8));
      for (const x of [2, 3, 4, 5])
        expect(Math.abs(at(r.pixels, 8, 0, x, 4) - expected(200, 0))).toBeLessThan(tolerance);
      // The outer columns are mostly the middle band (squash would give 30 and 90 there).
      expect(at(r.pixels, 8, 0, 0, 4)).toBeGreaterThan(expected(150, 0));
      expect(at(r.pixels, 8, 0, 7, 4)).toBeGreaterThan(expected(150, 0));
    });

    it('pad-to-square letterboxes with exact black and keeps the bands', async () => {
      const r = await run(blob, spec('pad-to-square', 8));
      for (const y of [0, 1, 6, 7]) {
        for (let c = 0; c < 3; c++) expect(at(r.pixels, 8, c, 3, y)).toBeCloseTo(expected(0, c), 5);
      }
      for (const [x, v] of [
        [0, 30],
        [4, 200],
        [7, 90],
      ] as const) {
        expect(Math.abs(at(r.pixels, 8, 1, x, 3) - expected(v, 1))).toBeLessThan(tolerance);
      }
    });
  });

  it('a grayscale PNG becomes three channels, each normalized with its own mean/std', async () => {
    const gray = encodePng({ width: 4, height: 4, channels: 1, data: new Uint8Array(16).fill(180) });
    const r = await run(new Blob([gray.slice()]), spec('squash', 4));
    for (let c = 0; c < 3; c++) expect(at(r.pixels, 4, c, 1, 1)).toBeCloseTo(expected(180, c), 5);
    expect(at(r.pixels, 4, 0, 1, 1)).not.toBeCloseTo(at(r.pixels, 4, 2, 1, 1), 2);
  });

  /** The same preprocessing done on the main thread the plain way: full decode, drawImage ('high'), read back. */
  async function reference(blob: Blob, p: Preprocessing): Promise<Float32Array> {
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
    const at = placeImage(bitmap.width, bitmap.height, p.resize, p.size);
    const ctx = new OffscreenCanvas(p.size, p.size).getContext('2d', { willReadFrequently: true })!;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, p.size, p.size);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, at.dx, at.dy, at.dw, at.dh);
    bitmap.close();
    return rgbaToChw(ctx.getImageData(0, 0, p.size, p.size).data, p.size, p);
  }

  /** Mean and largest absolute difference, in 0–255 gray levels of channel 0 (std 0.2, rescale 1/255). */
  function difference(x: Float32Array, y: Float32Array): { mean: number; max: number } {
    const plane = x.length / 3;
    let sum = 0;
    let max = 0;
    for (let i = 0; i < plane; i++) {
      const d = Math.abs(x[i]! - y[i]!) * 0.2 * 255;
      sum += d;
      max = Math.max(max, d);
    }
    return { mean: sum / plane, max };
  }

  it('applies EXIF orientation like the browser does (JPEG APP1, PNG eXIf), exactly at scale 1', async () => {
    const stored = await bytesOf(await encodePixels(12, 8, colorful));
    const turned = new Blob([pngWithOrientation(stored, 6)]);
    const set = await intakeFiles([file(turned, 'turned.png')], { pool });
    expect(set.images[0]).toMatchObject({ width: 8, height: 12 }); // Displayed size.
    const p = spec('shortest-edge-center-crop', 8);
    const r = await run(turned, p);
    expect([r.width, r.height]).toEqual([8, 12]);
    const expectedPixels = await reference(turned, p);
    for (let i = 0; i < expectedPixels.length; i++) expect(r.pixels[i]).toBeCloseTo(expectedPixels[i]!, 5);
    // Orientation 6 turns the stored image a quarter clockwise: displayed (x, y) is stored (y, 7 − x); the crop
    // keeps displayed rows 2–9.
    expect(at(r.pixels, 8, 1, 0, 0)).toBeCloseTo(expected(colorful(2, 7)[1], 1), 5);
    expect(at(r.pixels, 8, 2, 5, 3)).toBeCloseTo(expected(colorful(5, 2)[2], 2), 5);

    const jpegTurned = new Blob([
      jpegWithOrientation(await bytesOf(await encodePixels(300, 200, radiographLike(7), 'image/jpeg')), 8),
    ]);
    const q = spec('pad-to-square', 64);
    const j = await run(jpegTurned, q);
    expect([j.width, j.height]).toEqual([200, 300]);
    expect(difference(j.pixels, await reference(jpegTurned, q)).mean).toBeLessThan(2);
  });

  it('resize-on-decode matches a full decode + drawImage reference for every mode (2048×1536 JPEG)', async () => {
    const photo = await encodePixels(2048, 1536, radiographLike(8), 'image/jpeg', 0.9);
    for (const resize of ['shortest-edge-center-crop', 'pad-to-square', 'squash'] as const) {
      const p = spec(resize, 224);
      const r = await run(photo, p);
      const d = difference(r.pixels, await reference(photo, p));
      // Chromium resamples both ways with the same filter: identical but for rounding (measured: max 1 level).
      expect(d.mean, resize).toBeLessThan(0.1);
      expect(d.max, resize).toBeLessThanOrEqual(2);
    }
  });

  it('an elongated image under center-crop is decoded whole and cropped while drawing', async () => {
    // 400×20 → resized 160×8 under an 8 px crop: 20 model inputs of area, beyond the resize-on-decode limit.
    const strip = await encodePixels(400, 20, (x) => [x % 256, 255 - (x % 256), 128]);
    const p = spec('shortest-edge-center-crop', 8);
    const r = await run(strip, p);
    expect(difference(r.pixels, await reference(strip, p)).max).toBeLessThan(1);
  });

  it('2048×2048 JPEG and PNG → [3, 224, 224] plus a ≤128 px JPEG thumbnail; corrupt data is a value', async () => {
    const set = await intakeFiles(
      [
        file(jpeg2048, 'big.jpg'),
        file(png2048, 'big.png'),
        file([await pngWithCorruptData()], 'bad-data.png'),
      ],
      { pool },
    );
    // The corrupt PNG has an intact structure: intake accepts it, decoding refuses it.
    expect(set.images.map((i) => i.name)).toEqual(['bad-data.png', 'big.jpg', 'big.png']);
    const results = await collect(
      preprocessStream(set.images, spec('shortest-edge-center-crop', 224), { pool }),
    );
    expect(results.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(results[0]).toEqual({
      index: 0,
      sha256: set.images[0]!.sha256,
      error: {
        code: 'decode-failed',
        reason: 'corrupt or unsupported PNG image data: the browser could not decode it',
      },
    });
    for (const index of [1, 2]) {
      const r = ok(results[index]);
      expect(r.sha256).toBe(set.images[index]!.sha256);
      expect([r.width, r.height, r.pixels.length]).toEqual([2048, 2048, 3 * 224 * 224]);
      expect(r.pixels.every(Number.isFinite)).toBe(true);
      expect(r.thumbnail?.type).toBe('image/jpeg');
      const thumb = await createImageBitmap(r.thumbnail!);
      expect([thumb.width, thumb.height]).toEqual([128, 128]);
      thumb.close();
    }
  });

  it('hashes files it is given without a known hash, and refuses oversized headers without decoding', async () => {
    await pool.resetStats();
    const results = await collect(
      preprocessStream([webp640, new Blob([pngHeaderOnly(12_000, 40)])], spec('squash', 16), { pool }),
    );
    expect(ok(results[0]).sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(results[1]).toMatchObject({ index: 1, error: { code: 'too-large' } });
    expect((await pool.stats()).reduce((n, s) => n + s.maxLiveDecoded, 0)).toBeLessThanOrEqual(1);
  });
});

describe('preprocessStream bounds and cancellation', () => {
  /** Counts jobs started on the pool, to see what the stream schedules ahead of the consumer. */
  class CountingPool extends ImageWorkerPool {
    started = 0;
    override run<T>(...args: Parameters<ImageWorkerPool['run']>): Promise<T> {
      this.started++;
      return super.run(...args) as Promise<T>;
    }
  }

  let counting: CountingPool;
  let many: Blob[];
  const p: Preprocessing = {
    version: 'test',
    size: 64,
    resize: 'shortest-edge-center-crop',
    rescale: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  };

  beforeAll(async () => {
    counting = new CountingPool({ size: 2 });
    const distinct = await Promise.all(
      [0, 1, 2, 3].map((i) => encodePixels(512, 512, radiographLike(10 + i), 'image/jpeg', 0.9)),
    );
    many = Array.from({ length: 24 }, (_, i) => distinct[i % 4]!);
  });

  afterAll(() => counting.terminate());

  it('never runs more than `window` images ahead of the consumer, nor decodes more than the pool capacity', async () => {
    await counting.resetStats();
    counting.started = 0;
    const stats: StreamStats = { inFlight: 0, maxInFlight: 0 };
    const stream = preprocessStream(many, p, { pool: counting, concurrency: 2, window: 3, stats });
    const first = await stream.next();
    const second = await stream.next();
    expect([ok(first.value || undefined).index, ok(second.value || undefined).index]).toEqual([0, 1]);
    // The consumer holds 2 and waits: the stream fills its window (indices 2, 3, 4) and stops there, even once
    // every started job has finished.
    await vi.waitFor(() => expect(counting.started).toBe(2 + 3), { timeout: 30_000 });
    await vi.waitFor(
      async () => expect((await counting.stats()).every((w) => w.activeJobs === 0)).toBe(true),
      {
        timeout: 30_000,
      },
    );
    await sleep(100);
    expect(counting.started).toBe(2 + 3);
    expect(stats.inFlight).toBe(3);
    let count = 2;
    for await (const result of stream) {
      ok(result);
      count++;
      await sleep(5); // A consumer slower than decoding.
    }
    expect(count).toBe(24);
    expect(stats.maxInFlight).toBeLessThanOrEqual(3);
    const workers = await counting.stats();
    expect(workers.length).toBeLessThanOrEqual(2);
    for (const w of workers) expect(w.maxLiveDecoded).toBeLessThanOrEqual(counting.jobsPerWorker);
  });

  it('cancellation mid-stream rejects with AbortError and stops scheduling', async () => {
    counting.started = 0;
    const controller = new AbortController();
    const seen: number[] = [];
    const consume = (async () => {
      for await (const result of preprocessStream(many, p, { pool: counting, signal: controller.signal })) {
        seen.push(result.index);
        if (seen.length === 3) controller.abort();
      }
    })();
    await expect(consume).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([0, 1, 2]);
    const startedAtAbort = counting.started;
    expect(startedAtAbort).toBeLessThanOrEqual(3 + 2 * counting.capacity); // Taken + default window.
    // Jobs already decoding finish (a decode cannot be interrupted), then nothing runs and nothing new starts.
    await vi.waitFor(
      async () =>
        expect((await counting.stats()).every((w) => w.activeJobs === 0 && w.liveDecoded === 0)).toBe(true),
      { timeout: 30_000 },
    );
    await sleep(200);
    expect(counting.started).toBe(startedAtAbort);
  });

  it('an aborted signal rejects at once; breaking out of the loop cancels the rest', async () => {
    const stream = preprocessStream(many, p, { pool: counting, signal: AbortSignal.abort() });
    await expect(stream.next()).rejects.toMatchObject({ name: 'AbortError' });

    counting.started = 0;
    for await (const result of preprocessStream(many, p, { pool: counting })) {
      if (result.index === 1) break;
    }
    const startedAtBreak = counting.started;
    await sleep(300);
    expect(counting.started).toBe(startedAtBreak);
    expect(startedAtBreak).toBeLessThan(many.length);
  });
});
