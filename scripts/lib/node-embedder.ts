// The headless runner's EmbedderPort: decodes each image file (node-compositor's decodeImage), cuts the crop with
// core's cropSourceRect, turns it to gray, places it on the model's S×S input where the image worker's placeImage
// puts it (letterbox, center crop or squash) with an area/bilinear resampler, and embeds batches with node-clip's
// embedGray. Embeddings live in memory per (image, crop) for the embedder's life (one run). Imports core, the
// worker's pure preprocessing math, the other Node helpers in scripts/lib and node; never state or components.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Crop } from '../../src/lib/core/cache-keys.ts';
import { cropSourceRect } from '../../src/lib/core/crop-rect.ts';
import type { AbortSignalLike, EmbedderPort, PortProgress } from '../../src/lib/core/ports.ts';
import type { Preprocessing, RankerModelSpec } from '../../src/lib/core/types.ts';
import { namedError } from '../../src/lib/core/types.ts';
import { placeImage } from '../../workers/image/preprocess.ts';
import type { GrayImage, NodeClip } from './node-clip.ts';
import { axisTaps, decodeImage, type RgbaImage } from './node-compositor.ts';

/** Rec. 601 luma weights, as PIL's `convert('L')`: radiographs are gray already, colour photos become gray. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * The model input of `image` cropped to `crop`: an S×S gray image (S = `p.size`), black where the placement
 * leaves the canvas empty (pad-to-square letterbox), cut where it overflows (shortest-edge center crop). The crop is
 * placed like a whole image of the crop's size, as the browser image worker does. Resampling is separable:
 * bilinear when enlarging, area-averaging when reducing (node-compositor's `axisTaps`, so every source pixel counts
 * and a 3000 px radiograph does not alias into 224 px), in gamma-encoded values like a canvas. Alpha composites
 * onto black. Only the visible part of the placement is computed.
 */
export function toModelGray(
  image: RgbaImage,
  crop: Crop,
  p: Pick<Preprocessing, 'size' | 'resize'>,
): GrayImage {
  const size = p.size;
  const out = new Uint8Array(size * size);
  const src = cropSourceRect(image.width, image.height, crop);
  const at = placeImage(src.sw, src.sh, p.resize, size);
  const x0 = Math.max(0, at.dx);
  const x1 = Math.min(size, at.dx + at.dw);
  const y0 = Math.max(0, at.dy);
  const y1 = Math.min(size, at.dy + at.dh);
  if (x1 <= x0 || y1 <= y0) return { width: size, height: size, data: out };
  const cols = axisTaps(src.sw, at.dw);
  const rows = axisTaps(src.sh, at.dh);
  // Source rows the visible output rows read: a center crop of a tall image never touches the cut-off ends.
  let rowLo = Number.POSITIVE_INFINITY;
  let rowHi = -1;
  for (let y = y0; y < y1; y++) {
    for (const r of rows.index[y - at.dy]!) {
      rowLo = Math.min(rowLo, r);
      rowHi = Math.max(rowHi, r);
    }
  }
  const w = x1 - x0;
  // Horizontal pass: luma of the needed source rows, resampled to the visible output columns.
  const mid = new Float32Array((rowHi - rowLo + 1) * w);
  const data = image.data;
  for (let r = rowLo; r <= rowHi; r++) {
    const rowStart = ((src.sy + r) * image.width + src.sx) * 4;
    for (let x = x0; x < x1; x++) {
      const is = cols.index[x - at.dx]!;
      const ws = cols.weight[x - at.dx]!;
      let v = 0;
      for (let k = 0; k < is.length; k++) {
        const q = rowStart + is[k]! * 4;
        const luma = LUMA[0] * data[q]! + LUMA[1] * data[q + 1]! + LUMA[2] * data[q + 2]!;
        v += ws[k]! * luma * (data[q + 3]! / 255);
      }
      mid[(r - rowLo) * w + (x - x0)] = v;
    }
  }
  // Vertical pass into the canvas.
  for (let y = y0; y < y1; y++) {
    const is = rows.index[y - at.dy]!;
    const ws = rows.weight[y - at.dy]!;
    for (let x = x0; x < x1; x++) {
      let v = 0;
      for (let k = 0; k < is.length; k++) v += ws[k]! * mid[(is[k]! - rowLo) * w + (x - x0)]!;
      out[y * size + x] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { width: size, height: size, data: out };
}

/** Options of {@link createNodeEmbedder}. */
export interface NodeEmbedderOptions {
  /** Images decoded before each model run (default 16): bounds the decoded inputs held at once. */
  batchSize?: number;
  /**
   * Most bytes of prepared whole-image inputs ({@link NodeEmbedder.offerPrepared}) kept until the pipeline asks
   * for them (default 256 MiB). Above it offers are declined and those images are decoded again when embedded.
   */
  preparedBudgetBytes?: number;
}

/** The pipeline's EmbedderPort plus what the runner needs around it. */
export interface NodeEmbedder extends EmbedderPort {
  readonly spec: RankerModelSpec;
  readonly dim: number;
  /**
   * Offers the whole-image model input of `imageId` while its file is decoded anyway (the runner's intake), so its
   * first whole-image embedding needs no second decode. `make` is called only when the budget has room (so a
   * declined offer costs nothing); returns whether it was kept. A kept input is used once, then dropped.
   */
  offerPrepared(imageId: string, make: () => GrayImage): boolean;
}

/** An embedded image or why it could not be embedded. */
type Memo = { vector: Float32Array } | { reason: string };

function cropKey(crop: Crop): string {
  // Same four decimals as core's cache keys: boxes differing below that are the same box.
  return crop === 'full' ? 'full' : [crop.x1, crop.y1, crop.x2, crop.y2].map((v) => v.toFixed(4)).join(',');
}

function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) throw namedError('AbortError', 'embedding was cancelled');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An EmbedderPort over a loaded Node CLIP. `resolvePath` maps an image id (the SHA-256 of the file's bytes) to its
 * file. Each file is read again when embedded and checked against its id, so an image changed on disk since intake
 * is reported as failed instead of being embedded under the old identity. Unreadable, undecodable or changed
 * images come back in `failed` and are not retried within the run; model errors reject (the pipeline then fails
 * the run, as nothing can be ranked). `id` is `<model id>|<preprocessing version>`. Progress is reported after
 * each batch; rejects with an Error named `AbortError` when `signal` aborts (checked between images).
 */
export function createNodeEmbedder(
  clip: Pick<NodeClip, 'spec' | 'dim' | 'embedGray' | 'embedTexts'>,
  resolvePath: (imageId: string) => string | undefined,
  options: NodeEmbedderOptions = {},
): NodeEmbedder {
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const budget = options.preparedBudgetBytes ?? 256 * 1024 * 1024;
  const { spec, dim } = clip;
  const memo = new Map<string, Memo>();
  const prepared = new Map<string, GrayImage>();
  let preparedBytes = 0;

  async function modelInput(imageId: string, crop: Crop): Promise<GrayImage> {
    if (crop === 'full') {
      const ready = prepared.get(imageId);
      if (ready) {
        prepared.delete(imageId);
        preparedBytes -= ready.data.length;
        return ready;
      }
    }
    const path = resolvePath(imageId);
    if (path === undefined) throw new Error(`no file is known for image ${imageId}`);
    const bytes = await readFile(path);
    if (createHash('sha256').update(bytes).digest('hex') !== imageId) {
      throw new Error(`${path} changed since it was read (its content hash differs)`);
    }
    return toModelGray(decodeImage(bytes), crop, spec.preprocessing);
  }

  return {
    id: `${spec.id}|${spec.preprocessing.version}`,
    spec,
    dim,

    offerPrepared(imageId, make) {
      const { size } = spec.preprocessing;
      if (prepared.has(imageId) || memo.has(`${imageId}|full`)) return true;
      if (preparedBytes + size * size > budget) return false;
      const input = make();
      if (input.width !== size || input.height !== size || input.data.length !== size * size) {
        throw new RangeError(
          `prepared input is ${input.width}×${input.height}, the model takes ${size}×${size}`,
        );
      }
      prepared.set(imageId, input);
      preparedBytes += input.data.length;
      return true;
    },

    async embedImages(imageIds, crop, signal, onProgress?: (progress: PortProgress) => void) {
      throwIfAborted(signal);
      const suffix = `|${cropKey(crop)}`;
      const unique = [...new Set(imageIds)];
      const todo = unique.filter((id) => !memo.has(id + suffix));
      let done = unique.length - todo.length;
      onProgress?.({ done, total: unique.length });
      for (let start = 0; start < todo.length; start += batchSize) {
        const ids: string[] = [];
        const inputs: GrayImage[] = [];
        for (const id of todo.slice(start, start + batchSize)) {
          throwIfAborted(signal);
          try {
            inputs.push(await modelInput(id, crop));
            ids.push(id);
          } catch (error) {
            memo.set(id + suffix, { reason: describe(error) });
          }
        }
        throwIfAborted(signal);
        if (inputs.length > 0) {
          const rows = await clip.embedGray(inputs);
          ids.forEach((id, i) => memo.set(id + suffix, { vector: rows.slice(i * dim, (i + 1) * dim) }));
        }
        done += Math.min(batchSize, todo.length - start);
        onProgress?.({ done, total: unique.length });
      }
      const ok: string[] = [];
      const failed: { id: string; reason: string }[] = [];
      const vectors: Float32Array[] = [];
      for (const id of imageIds) {
        const entry = memo.get(id + suffix)!;
        if ('reason' in entry) failed.push({ id, reason: entry.reason });
        else {
          ok.push(id);
          vectors.push(entry.vector);
        }
      }
      const embeddings = new Float32Array(ok.length * dim);
      vectors.forEach((v, i) => embeddings.set(v, i * dim));
      return { ok, failed, embeddings, dim };
    },

    async embedTexts(texts, signal) {
      throwIfAborted(signal);
      const vectors = await clip.embedTexts(texts);
      throwIfAborted(signal);
      return vectors;
    },
  };
}
