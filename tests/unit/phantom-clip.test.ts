// The committed phantom-clip model (public/models/phantom-clip, built by `npm run make:phantom-model`) loads in
// Node through transformers.js 4.3.2 like any CLIP folder, and its phrases mean what they say on generated phantoms:
// the right finding on the right side separates finding phantoms from normal ones, the other side does not.
// Images are rendered at the model's input size (256), so the browser image worker would place them 1:1 (no
// resampling); pixel_values come from the worker's own normalisation code (workers/image/preprocess.ts).
// Also: regenerating the model is deterministic (a reduced build, twice, into temporary folders).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  env,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { generatePhantom, type FindingSpec } from '../../src/lib/core/phantom/index.ts';
import { parseManifest } from '../../src/lib/core/manifest.ts';
import { auroc } from '../../src/lib/core/stats.ts';
import { placeImage, rgbaToChw } from '../../workers/image/preprocess.ts';
import { MODELS_DIR } from '../../scripts/gen-models/main.ts';
import { makePhantomModel } from '../../scripts/make-phantom-model/main.ts';

const MODEL_ID = 'phantom-clip';
const N = 24;

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;
env.allowLocalModels = true;

const manifest = parseManifest(JSON.parse(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8')));
const spec = manifest.rankers.find((r) => r.id === MODEL_ID)!;
const SIZE = spec.preprocessing.size;

let tokenizer: PreTrainedTokenizer;
let text: PreTrainedModel;
let vision: PreTrainedModel;

/** Unit rows, as the clip worker returns them. */
function unitRows(t: Tensor): number[][] {
  return (t.tolist() as number[][]).map((row) => {
    const norm = Math.hypot(...row);
    return row.map((v) => v / norm);
  });
}

const dot = (u: number[], v: number[]): number => u.reduce((s, x, i) => s + x * v[i]!, 0);

/** `count` phantoms of seed 9100 + group with `findings` (options fixed, so the group is homogeneous). */
function phantoms(group: number, findings: FindingSpec[], count = N): Uint8Array[] {
  return Array.from(
    { length: count },
    (_, index) => generatePhantom({ seed: 9100 + group, index, size: SIZE, findings }).pixels,
  );
}

/** Gray phantoms → pixel_values exactly as the image worker builds them for an image already at the model size. */
function pixelValues(images: Uint8Array[]): Tensor {
  const at = placeImage(SIZE, SIZE, spec.preprocessing.resize, SIZE);
  expect(at).toEqual({ dx: 0, dy: 0, dw: SIZE, dh: SIZE });
  const plane = 3 * SIZE * SIZE;
  const out = new Float32Array(images.length * plane);
  images.forEach((gray, i) => {
    const rgba = new Uint8Array(SIZE * SIZE * 4);
    for (let j = 0; j < gray.length; j++) rgba.set([gray[j]!, gray[j]!, gray[j]!, 255], 4 * j);
    rgbaToChw(rgba, SIZE, spec.preprocessing, out.subarray(i * plane, (i + 1) * plane));
  });
  return new Tensor('float32', out, [images.length, 3, SIZE, SIZE]);
}

async function embedImages(images: Uint8Array[]): Promise<number[][]> {
  const out = (await vision({ pixel_values: pixelValues(images) })) as Record<string, Tensor>;
  return unitRows(out.image_embeds!);
}

async function embedTexts(texts: string[]): Promise<number[][]> {
  const inputs = tokenizer(texts, { padding: true, truncation: true });
  const out = (await text(inputs)) as Record<string, Tensor>;
  return unitRows(out.text_embeds!);
}

/** AUROC of `phrase` scores: group A above group B. */
async function separation(phrase: string, a: number[][], b: number[][]): Promise<number> {
  const [t] = await embedTexts([phrase]);
  return auroc(
    a.map((e) => dot(e, t!)),
    b.map((e) => dot(e, t!)),
  );
}

let normals: number[][];

beforeAll(async () => {
  tokenizer = await AutoTokenizer.from_pretrained(MODEL_ID);
  text = await CLIPTextModelWithProjection.from_pretrained(MODEL_ID, { device: 'cpu', dtype: 'fp32' });
  vision = await CLIPVisionModelWithProjection.from_pretrained(MODEL_ID, { device: 'cpu', dtype: 'fp32' });
  normals = await embedImages(phantoms(0, []));
}, 60_000);

afterAll(async () => {
  await text?.dispose();
  await vision?.dispose();
});

describe('phantom-clip', () => {
  it('is in the manifest as a local fp32 CLIP that says it only understands phantoms', () => {
    expect(spec).toMatchObject({ family: 'clip', source: 'local', textTemplate: '{}', maxTextTokens: 77 });
    expect(spec.dtype).toEqual({ webgpu: 'fp32', webgpuNoF16: 'fp32', wasm: 'fp32' });
    expect(spec.notes).toMatch(/only understands phantoms/);
  });

  it.each([
    // [group, finding, phrase, the same finding on the other side, its phrase]
    [1, { name: 'effusion', side: 'left', size: 'large' }, 'left pleural effusion', 'right pleural effusion'],
    [2, { name: 'pneumothorax', side: 'right' }, 'right pneumothorax', 'left pneumothorax'],
    [3, { name: 'cvc', side: 'left' }, 'left central venous catheter', 'right central venous catheter'],
    [
      4,
      { name: 'consolidation', side: 'right', zone: 'lower' },
      'right lower zone consolidation',
      'left lower zone consolidation',
    ],
  ] as [number, FindingSpec, string, string][])(
    'group %i: %o — its phrase separates it from normals and from the other side',
    async (group, finding, phrase, otherPhrase) => {
      const withIt = await embedImages(phantoms(group, [finding]));
      const mirrored: FindingSpec = { ...finding, side: finding.side === 'left' ? 'right' : 'left' };
      const otherSide = await embedImages(phantoms(group + 10, [mirrored]));
      const right = await separation(phrase, withIt, normals);
      expect(right).toBeGreaterThan(0.9);
      // The other side's phrase does not beat it on the same pair…
      expect(await separation(otherPhrase, withIt, normals)).toBeLessThan(right);
      // …and the phrase tells the two sides apart, both ways round.
      expect(await separation(phrase, withIt, otherSide)).toBeGreaterThan(0.9);
      expect(await separation(otherPhrase, otherSide, withIt)).toBeGreaterThan(0.9);
    },
  );

  it('ranks cardiomegaly and tubes, not by unrelated phrases, and tells an ETT from an NGT', async () => {
    const cardio = await embedImages(phantoms(5, [{ name: 'cardiomegaly' }]));
    expect(await separation('cardiomegaly', cardio, normals)).toBeGreaterThan(0.9);
    expect(await separation('nasogastric tube', cardio, normals)).toBeLessThan(0.75);
    const ett = await embedImages(phantoms(6, [{ name: 'ett' }]));
    expect(await separation('endotracheal tube', ett, normals)).toBeGreaterThan(0.9);
    expect(await separation('left pneumothorax', ett, normals)).toBeLessThan(0.75);
    const ngt = await embedImages(phantoms(7, [{ name: 'ngt' }]));
    expect(await separation('endotracheal tube', ett, ngt)).toBeGreaterThan(0.9);
    expect(await separation('nasogastric tube', ngt, ett)).toBeGreaterThan(0.9);
  });

  it('text embeddings ignore padding and unknown words; negation flips the ranking', async () => {
    const [alone, padded, unknown] = await embedTexts([
      'left pleural effusion',
      'left pleural effusion with a much longer companion text in the same padded batch',
      'zorblax quux',
    ]);
    const [again] = await embedTexts(['left pleural effusion']);
    expect(dot(alone!, again!)).toBeCloseTo(1, 6);
    expect(padded!.length).toBe(alone!.length);
    const withIt = await embedImages(phantoms(1, [{ name: 'effusion', side: 'left', size: 'large' }], 8));
    const scores = withIt.map((e) => dot(e, unknown!));
    expect(new Set(scores.map((s) => s.toFixed(6))).size).toBe(1); // unknown words score every image the same
    expect(await separation('no left pleural effusion', withIt, normals)).toBeLessThan(0.1);
  });
});

describe('make:phantom-model', () => {
  it('regenerates byte-identical folders (reduced build, twice)', async () => {
    const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'phantom-clip-')));
    try {
      const counts = { train: 160, validation: 60, heldOut: 40, captionsPerPhrase: 1 };
      for (const dir of dirs) await makePhantomModel({ outDir: dir, counts, threads: 0 });
      const files = readdirSync(dirs[0]!, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(dirs[0]!.length + 1))
        .sort();
      expect(files).toContain('onnx/vision_model.onnx');
      for (const name of files) {
        expect(
          Buffer.compare(readFileSync(join(dirs[0]!, name)), readFileSync(join(dirs[1]!, name))),
          name,
        ).toBe(0);
      }
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
