// Node CLIP embedder for benchmarks and tests: loads a model folder under public/models/ with transformers.js on
// onnxruntime-node (CPU, fp32) and embeds preprocessed images and finding texts as L2-normalized rows, exactly
// as the browser's clip worker does (same template, truncation, padding and normalization) and with the image
// worker's pixel math (workers/image/preprocess.ts), so Node and browser embeddings agree.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  SiglipTextModel,
  SiglipVisionModel,
  Tensor,
  env,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { parseManifest } from '../../src/lib/core/manifest.ts';
import type { Preprocessing, RankerModelSpec } from '../../src/lib/core/types.ts';
import { placeImage, rgbaToChw } from '../../workers/image/preprocess.ts';

/** Default folder of the self-hosted models (and their manifest.json). */
export const MODELS_DIR = resolve(import.meta.dirname, '../../public/models');

/** A grayscale image, one byte per pixel, row-major. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A loaded model: both towers, its manifest entry and the embedding width. */
export interface NodeClip {
  spec: RankerModelSpec;
  dim: number;
  /** Embeds `count` images of pixel_values (count × 3 × S × S, S = spec.preprocessing.size): count × dim, unit rows. */
  embedPixels(pixels: Float32Array, count: number): Promise<Float32Array>;
  /** Preprocesses grayscale images (see {@link grayToPixelValues}) and embeds them: count × dim, unit rows. */
  embedGray(images: readonly GrayImage[]): Promise<Float32Array>;
  /** Embeds finding texts with the manifest's text template: count × dim, unit rows. */
  embedTexts(texts: readonly string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Options of {@link loadNodeClip}. */
export interface NodeClipOptions {
  /** Folder holding manifest.json and the model folders (default public/models). */
  modelsDir?: string;
  /** Images per vision run (default 16). */
  imageBatchSize?: number;
  /** Texts per text run (default 64). */
  textBatchSize?: number;
}

/**
 * Grayscale image → pixel_values [3, S, S] for `p`, byte-for-byte what the browser image worker produces for the
 * same pixels: the image must already be S×S (then every resize mode places it 1:1, so no resampling happens in
 * either runtime; the phantom benchmark renders phantoms at the model's input size for exactly this reason), gray
 * is replicated to R = G = B and normalized with the worker's lookup tables.
 */
export function grayToPixelValues(
  image: GrayImage,
  p: Preprocessing,
  out: Float32Array = new Float32Array(3 * p.size * p.size),
): Float32Array {
  const { width, height, data } = image;
  const at = placeImage(width, height, p.resize, p.size);
  if (at.dx !== 0 || at.dy !== 0 || at.dw !== width || at.dh !== height || width !== p.size) {
    throw new Error(
      `image is ${width}×${height} but the model takes ${p.size}×${p.size}: render it at the input size (Node does not resample)`,
    );
  }
  if (data.length !== width * height) {
    throw new Error(`image data has ${data.length} bytes, expected ${width}×${height}`);
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    const v = data[i] as number;
    rgba[j] = v;
    rgba[j + 1] = v;
    rgba[j + 2] = v;
    rgba[j + 3] = 255;
  }
  return rgbaToChw(rgba, p.size, p, out);
}

/** Reads and validates `<modelsDir>/manifest.json` and returns the entry of `id`. */
export function readModelSpec(id: string, modelsDir: string = MODELS_DIR): RankerModelSpec {
  const manifest = parseManifest(JSON.parse(readFileSync(join(modelsDir, 'manifest.json'), 'utf8')));
  const spec = manifest.rankers.find((r) => r.id === id);
  if (spec === undefined) {
    throw new Error(
      `model "${id}" is not in ${join(modelsDir, 'manifest.json')} (it has ${manifest.rankers.map((r) => r.id).join(', ')})`,
    );
  }
  return spec;
}

/** Output names, best first (as the clip worker): projected CLIP towers say *_embeds, SigLIP pooler_output. */
const OUTPUTS = {
  clip: { text: ['text_embeds', 'pooler_output'], image: ['image_embeds', 'pooler_output'] },
  siglip: { text: ['pooler_output', 'text_embeds'], image: ['pooler_output', 'image_embeds'] },
} as const;

function applyTemplate(template: string, finding: string): string {
  return template.includes('{}') ? template.replaceAll('{}', finding) : `${template}${finding}`;
}

/** CLIP's reference truncation: cut to `max` tokens but keep the final special token (CLIP pools at EOS). */
function truncateIds(ids: number[], max: number, specialIds: ReadonlySet<number>): number[] {
  if (ids.length <= max) return ids;
  const cut = ids.slice(0, max);
  const last = ids[ids.length - 1];
  if (last !== undefined && specialIds.has(last)) cut[max - 1] = last;
  return cut;
}

function outputRows(output: Record<string, Tensor>, names: readonly string[], tower: string): Float32Array {
  const name = names.find((n) => output[n] !== undefined);
  const tensor = name === undefined ? undefined : output[name];
  if (tensor === undefined || tensor.dims.length !== 2) {
    throw new Error(`the ${tower} model has no [batch, dim] output among ${names.join(', ')}`);
  }
  const data = (tensor.type === 'float32' ? tensor : tensor.to('float32')).data as Float32Array;
  return Float32Array.from(data);
}

/** Scales each row of `rows` (n × dim) to unit L2 norm in place; zero rows stay zero, non-finite rows throw. */
function normalizeRows(rows: Float32Array, dim: number, tower: string): Float32Array {
  for (let r = 0; r < rows.length / dim; r++) {
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += (rows[r * dim + k] as number) ** 2;
    if (!Number.isFinite(sum)) throw new Error(`the ${tower} tower produced non-finite values (row ${r})`);
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let k = 0; k < dim; k++) rows[r * dim + k] = (rows[r * dim + k] as number) * scale;
  }
  return rows;
}

/**
 * Loads model `id` (a folder under `modelsDir` described by its manifest.json) on onnxruntime-node, CPU, fp32,
 * local files only. Throws when the folder or the manifest entry is missing.
 */
export async function loadNodeClip(id: string, options: NodeClipOptions = {}): Promise<NodeClip> {
  const modelsDir = options.modelsDir ?? MODELS_DIR;
  const spec = readModelSpec(id, modelsDir);
  const imageBatch = options.imageBatchSize ?? 16;
  const textBatch = options.textBatchSize ?? 64;
  env.localModelPath = `${modelsDir}/`;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  const clip = spec.family === 'clip';
  const modelOptions = { device: 'cpu', dtype: 'fp32' } as const;
  const tokenizer: PreTrainedTokenizer = await AutoTokenizer.from_pretrained(id);
  const text: PreTrainedModel = clip
    ? await CLIPTextModelWithProjection.from_pretrained(id, modelOptions)
    : await SiglipTextModel.from_pretrained(id, modelOptions);
  const vision: PreTrainedModel = clip
    ? await CLIPVisionModelWithProjection.from_pretrained(id, modelOptions)
    : await SiglipVisionModel.from_pretrained(id, modelOptions);
  const size = spec.preprocessing.size;
  const specialIds = new Set(tokenizer.all_special_ids);

  async function visionRows(pixels: Float32Array, count: number): Promise<Float32Array> {
    const output = (await vision({
      pixel_values: new Tensor('float32', pixels, [count, 3, size, size]),
    })) as Record<string, Tensor>;
    return outputRows(output, OUTPUTS[spec.family].image, 'vision');
  }

  async function textRows(texts: string[]): Promise<Float32Array> {
    const max = spec.maxTextTokens;
    const ids = texts.map((t) => truncateIds(tokenizer.encode(t), max, specialIds));
    const length = spec.family === 'siglip' ? max : Math.max(1, ...ids.map((t) => t.length));
    const pad = tokenizer.pad_token_id ?? tokenizer.eos_token_id ?? 0;
    const inputIds = new BigInt64Array(texts.length * length).fill(BigInt(pad));
    const mask = new BigInt64Array(texts.length * length);
    ids.forEach((row, i) =>
      row.forEach((tokenId, j) => {
        inputIds[i * length + j] = BigInt(tokenId);
        mask[i * length + j] = 1n;
      }),
    );
    const output = (await text({
      input_ids: new Tensor('int64', inputIds, [texts.length, length]),
      attention_mask: new Tensor('int64', mask, [texts.length, length]),
    })) as Record<string, Tensor>;
    return outputRows(output, OUTPUTS[spec.family].text, 'text');
  }

  const probe = await visionRows(new Float32Array(3 * size * size), 1);
  const dim = probe.length;

  async function embedPixels(pixels: Float32Array, count: number): Promise<Float32Array> {
    const plane = 3 * size * size;
    if (pixels.length !== count * plane) {
      throw new Error(`pixel_values has ${pixels.length} floats, expected ${count} × 3 × ${size} × ${size}`);
    }
    const out = new Float32Array(count * dim);
    for (let start = 0; start < count; start += imageBatch) {
      const n = Math.min(imageBatch, count - start);
      const rows = await visionRows(pixels.slice(start * plane, (start + n) * plane), n);
      out.set(normalizeRows(rows, dim, 'vision'), start * dim);
    }
    return out;
  }

  return {
    spec,
    dim,
    embedPixels,
    async embedGray(images) {
      const plane = 3 * size * size;
      const pixels = new Float32Array(images.length * plane);
      images.forEach((image, i) =>
        grayToPixelValues(image, spec.preprocessing, pixels.subarray(i * plane, (i + 1) * plane)),
      );
      return embedPixels(pixels, images.length);
    },
    async embedTexts(texts) {
      const out = new Float32Array(texts.length * dim);
      for (let start = 0; start < texts.length; start += textBatch) {
        const batch = texts.slice(start, start + textBatch).map((t) => applyTemplate(spec.textTemplate, t));
        out.set(normalizeRows(await textRows(batch), dim, 'text'), start * dim);
      }
      return out;
    },
    async dispose() {
      await Promise.all([text.dispose(), vision.dispose()]);
    },
  };
}
