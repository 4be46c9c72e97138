// Held-out evaluation of the phantom model and the check that its ONNX graphs compute what the fit assumed.
// Scores are cosines between image and text embeddings, computed with the TypeScript mirror of both towers
// (float64, deterministic, so the numbers written to model-card.json never change between runs); onnxruntime-node
// then runs the real graphs on a sample of images and on every phrase and must agree within 1e-4.
import * as ort from 'onnxruntime-node';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { describeFinding, FINDINGS, type FindingSpec } from '../../src/lib/core/phantom/index.ts';
import { auroc } from '../../src/lib/core/stats.ts';
import { rgbaToChw } from '../../workers/image/preprocess.ts';
import type { Preprocessing } from '../../src/lib/core/types.ts';
import { CLIP_MAX_LENGTH } from '../gen-models/clip.ts';
import { DIM, FACTOR_WIDTH, PRESENCE, type Concept } from './lexicon.ts';
import { textEmbeddingFromFactors } from './text-tower.ts';
import { featureCount, type FeatureSpec, type VisionProjection } from './vision.ts';
import { conceptTargets } from './data.ts';

/** Image embeddings (n × DIM, unnormalised) from features (n × F): features · W + b, in float64. */
export function embedFeatures(features: Float64Array, spec: FeatureSpec, p: VisionProjection): Float64Array {
  const F = featureCount(spec);
  const n = features.length / F;
  const out = new Float64Array(n * DIM);
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < DIM; d++) out[r * DIM + d] = p.bias[d]!;
    for (let f = 0; f < F; f++) {
      const v = features[r * F + f]!;
      if (v === 0) continue;
      for (let d = 0; d < DIM; d++) out[r * DIM + d]! += v * p.weights[f * DIM + d]!;
    }
  }
  return out;
}

/** Token ids as the clip worker sends them: tokenizer ids, cut to 77 keeping the final EOS. */
export function tokenIds(tokenizer: PreTrainedTokenizer, text: string): number[] {
  const ids = tokenizer.encode(text);
  if (ids.length <= CLIP_MAX_LENGTH) return ids;
  const cut = ids.slice(0, CLIP_MAX_LENGTH);
  cut[CLIP_MAX_LENGTH - 1] = ids[ids.length - 1]!;
  return cut;
}

/** Text embeddings (n × DIM, unnormalised) with the TypeScript mirror of the text tower. */
export function embedTextsTs(
  tokenizer: PreTrainedTokenizer,
  table: Float32Array[],
  texts: string[],
): Float64Array {
  const out = new Float64Array(texts.length * DIM);
  texts.forEach((text, i) => {
    const sums = new Float64Array(FACTOR_WIDTH);
    for (const id of tokenIds(tokenizer, text)) {
      const row = table[id]!;
      for (let k = 0; k < FACTOR_WIDTH; k++) sums[k]! += row[k]!;
    }
    out.set(textEmbeddingFromFactors(sums), i * DIM);
  });
  return out;
}

/** Rows scaled to unit length (a zero row stays zero), like the clip worker. */
export function normalizeRows(m: ArrayLike<number>, dim: number): Float64Array {
  const out = Float64Array.from(m);
  for (let r = 0; r < out.length / dim; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += out[r * dim + d]! ** 2;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) out[r * dim + d]! *= k;
  }
  return out;
}

/** Cosine scores (images × texts) of normalised rows. */
function cosines(images: Float64Array, texts: Float64Array): (i: number, t: number) => number {
  return (i, t) => {
    let s = 0;
    for (let d = 0; d < DIM; d++) s += images[i * DIM + d]! * texts[t * DIM + d]!;
    return s;
  };
}

/** The evaluation phrase of a presence concept: the generator's canonical phrase without size. */
export function conceptPhrase(c: Concept): string {
  return describeFinding({
    name: c.finding,
    ...(c.side ? { side: c.side } : {}),
    ...(c.zone ? { zone: c.zone } : {}),
  });
}

/** Every fully specified catalogue finding (each option set), with its canonical phrase: 28 phrases. */
export function catalogue(): { spec: FindingSpec; phrase: string }[] {
  const out: { spec: FindingSpec; phrase: string }[] = [];
  for (const info of FINDINGS) {
    for (const side of info.options.side ?? [undefined]) {
      for (const size of info.options.size ?? [undefined]) {
        for (const zone of info.options.zone ?? [undefined]) {
          const spec: FindingSpec = {
            name: info.name,
            ...(side ? { side } : {}),
            ...(size ? { size } : {}),
            ...(zone ? { zone } : {}),
          };
          out.push({ spec, phrase: describeFinding(spec) });
        }
      }
    }
  }
  return out;
}

export interface HeldOutReport {
  images: number;
  /** AUROC per presence concept: cosine with its phrase, images with the concept vs without. */
  concepts: { concept: string; phrase: string; positives: number; auroc: number }[];
  meanAuroc: number;
  minAuroc: number;
}

/** Per-concept AUROC of the phrase scores on a held-out set. */
export function conceptAurocs(
  imageEmbeds: Float64Array,
  findings: FindingSpec[][],
  tokenizer: PreTrainedTokenizer,
  table: Float32Array[],
): HeldOutReport {
  const phrases = PRESENCE.map(conceptPhrase);
  const texts = normalizeRows(embedTextsTs(tokenizer, table, phrases), DIM);
  const images = normalizeRows(imageEmbeds, DIM);
  const score = cosines(images, texts);
  const targets = findings.map((f) => conceptTargets(f).presence);
  const concepts = PRESENCE.map((c, k) => {
    const pos: number[] = [];
    const neg: number[] = [];
    targets.forEach((t, i) => (t[k]! > 0 ? pos : neg).push(score(i, k)));
    return { concept: c.key, phrase: phrases[k]!, positives: pos.length, auroc: auroc(pos, neg) };
  });
  const values = concepts.map((c) => c.auroc);
  return {
    images: findings.length,
    concepts,
    meanAuroc: values.reduce((a, b) => a + b, 0) / values.length,
    minAuroc: Math.min(...values),
  };
}

export interface CaptionReport {
  images: number;
  phrases: number;
  /** Top-1: the image's own phrase has the highest cosine among all catalogue phrases. */
  top1: number;
  /** The top phrase names the right finding (side, size and zone aside). */
  top1Finding: number;
  /** Top-1 per phrase, and the wrong phrases that won (with counts). */
  perPhrase: { phrase: string; top1: number; confusedWith: Record<string, number> }[];
}

/** Caption retrieval on single-finding images: `truth[i]` indexes `catalogue()`. */
export function captionRetrieval(
  imageEmbeds: Float64Array,
  truth: number[],
  tokenizer: PreTrainedTokenizer,
  table: Float32Array[],
): CaptionReport {
  const cat = catalogue();
  const texts = normalizeRows(
    embedTextsTs(
      tokenizer,
      table,
      cat.map((c) => c.phrase),
    ),
    DIM,
  );
  const score = cosines(normalizeRows(imageEmbeds, DIM), texts);
  let hits = 0;
  let findingHits = 0;
  const perPhrase = cat.map(() => ({ hits: 0, n: 0, confusedWith: {} as Record<string, number> }));
  truth.forEach((t, i) => {
    let best = 0;
    for (let j = 1; j < cat.length; j++) if (score(i, j) > score(i, best)) best = j;
    const hit = best === t;
    hits += hit ? 1 : 0;
    findingHits += cat[best]!.spec.name === cat[t]!.spec.name ? 1 : 0;
    const entry = perPhrase[t]!;
    entry.hits += hit ? 1 : 0;
    entry.n += 1;
    if (!hit) entry.confusedWith[cat[best]!.phrase] = (entry.confusedWith[cat[best]!.phrase] ?? 0) + 1;
  });
  return {
    images: truth.length,
    phrases: cat.length,
    top1: hits / truth.length,
    top1Finding: findingHits / truth.length,
    perPhrase: cat.map((c, j) => ({
      phrase: c.phrase,
      top1: perPhrase[j]!.hits / Math.max(1, perPhrase[j]!.n),
      confusedWith: perPhrase[j]!.confusedWith,
    })),
  };
}

/** pixel_values [n, 3, S, S] of gray images, with the image worker's own normalisation code. */
export function grayToPixelValues(images: Uint8Array[], size: number, p: Preprocessing): Float32Array {
  const plane = 3 * size * size;
  const out = new Float32Array(images.length * plane);
  images.forEach((gray, i) => {
    const rgba = new Uint8Array(size * size * 4);
    for (let j = 0; j < gray.length; j++) rgba.set([gray[j]!, gray[j]!, gray[j]!, 255], j * 4);
    rgbaToChw(rgba, size, p, out.subarray(i * plane, (i + 1) * plane));
  });
  return out;
}

/** Largest absolute difference between two equally long arrays. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export const GRAPH_TOLERANCE = 1e-4;

/**
 * Runs the ONNX towers with onnxruntime-node (CPU) on `images` and `texts` and returns the largest deviation
 * from the TypeScript mirror's embeddings (unnormalised). Throws when it exceeds GRAPH_TOLERANCE.
 */
export async function verifyGraphs(options: {
  vision: Uint8Array;
  text: Uint8Array;
  pixelValues: Float32Array;
  expectedImages: Float64Array;
  tokenizer: PreTrainedTokenizer;
  texts: string[];
  expectedTexts: Float64Array;
  size: number;
}): Promise<{ image: number; text: number }> {
  const { size, texts } = options;
  const n = options.pixelValues.length / (3 * size * size);
  const vision = await ort.InferenceSession.create(options.vision);
  const text = await ort.InferenceSession.create(options.text);
  try {
    const img = await vision.run({
      pixel_values: new ort.Tensor('float32', options.pixelValues, [n, 3, size, size]),
    });
    const image = maxAbsDiff(img.image_embeds!.data as Float32Array, options.expectedImages);
    const rows = texts.map((t) => tokenIds(options.tokenizer, t));
    const len = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(texts.length * len).fill(BigInt(options.tokenizer.pad_token_id));
    const mask = new BigInt64Array(texts.length * len);
    rows.forEach((r, i) =>
      r.forEach((id, j) => {
        ids[i * len + j] = BigInt(id);
        mask[i * len + j] = 1n;
      }),
    );
    const out = await text.run({
      input_ids: new ort.Tensor('int64', ids, [texts.length, len]),
      attention_mask: new ort.Tensor('int64', mask, [texts.length, len]),
    });
    const textDiff = maxAbsDiff(out.text_embeds!.data as Float32Array, options.expectedTexts);
    if (image > GRAPH_TOLERANCE || textDiff > GRAPH_TOLERANCE) {
      throw new Error(
        `the ONNX graphs disagree with the TypeScript mirror: image ${image.toExponential(2)}, ` +
          `text ${textDiff.toExponential(2)} (tolerance ${GRAPH_TOLERANCE})`,
      );
    }
    return { image, text: textDiff };
  } finally {
    await vision.release();
    await text.release();
  }
}
