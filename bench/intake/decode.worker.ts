// Baseline worker of the intake benchmark: decode only (the rate intake is measured against), and the two ways to
// resample to the model size (createImageBitmap's resize vs drawImage with imageSmoothingQuality 'high').
/// <reference lib="dom" />
import * as Comlink from 'comlink';

const decodeApi = {
  /** Raw decode, with the same options as the product's worker, then release. */
  async decode(blob: Blob): Promise<number> {
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
    const width = bitmap.width;
    bitmap.close();
    return width;
  },

  /** Decode with the resize done by createImageBitmap ('high'), then read the pixels. */
  async decodeResize(blob: Blob, size: number): Promise<number> {
    const bitmap = await createImageBitmap(blob, {
      colorSpaceConversion: 'none',
      resizeWidth: size,
      resizeHeight: size,
      resizeQuality: 'high',
    });
    const ctx = new OffscreenCanvas(size, size).getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    return ctx.getImageData(0, 0, size, size).data.length;
  },

  /** Full decode, then drawImage downscale with imageSmoothingQuality 'high' (what the product does). */
  async decodeDraw(blob: Blob, size: number): Promise<number> {
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none' });
    const ctx = new OffscreenCanvas(size, size).getContext('2d', { willReadFrequently: true })!;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, size, size);
    bitmap.close();
    return ctx.getImageData(0, 0, size, size).data.length;
  },
};

export type DecodeApi = typeof decodeApi;
Comlink.expose(decodeApi);
