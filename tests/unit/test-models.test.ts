// The generated test models load in Node with transformers.js 4.3.2 (onnxruntime-node, CPU) and mean what
// scripts/gen-models/README.md says: "right lower opacity" ranks image-left-lower-brightened images above plain
// ones, wrong sides and darkness words do not, padding and batching change nothing, odd text never throws.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  env,
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  RawImage,
  SiglipTextModel,
  SiglipVisionModel,
  type PreTrainedTokenizer,
  type Processor,
  type PreTrainedModel,
  type Tensor,
} from '@huggingface/transformers';
import { decode as decodePng } from 'fast-png';
import * as jpeg from 'jpeg-js';
import { generateTestModels, MODELS_DIR, TEST_MODELS } from '../../scripts/gen-models/main.ts';
import { makeBadFiles, makeSet, renderSet, type GrayImage } from '../fixtures/make-images.ts';

const MODEL_TIMEOUT = 60_000;

env.localModelPath = `${MODELS_DIR}/`;
env.allowRemoteModels = false;
env.allowLocalModels = true;

/** Probability that a random A score beats a random B score (ties count half). */
function auroc(a: number[], b: number[]): number {
  let wins = 0;
  for (const x of a) for (const y of b) wins += x > y ? 1 : x === y ? 0.5 : 0;
  return wins / (a.length * b.length);
}

const rows = (t: Tensor): number[][] => t.tolist() as number[][];
const norm = (v: number[]): number => Math.hypot(...v);
const cosine = (u: number[], v: number[]): number =>
  u.reduce((s, x, i) => s + x * (v[i] ?? 0), 0) / (norm(u) * norm(v));

const toRaw = (img: GrayImage): RawImage => new RawImage(img.data, img.width, img.height, 1);

const A = renderSet({ n: 12, seed: 101, brightRegion: 'image-left-lower' });
const B = renderSet({ n: 12, seed: 202 });

/** Findings and the AUROC band (A above B) they must land in for the sets above (measured: README.md). */
const EXPECTED: [string, number, number][] = [
  ['right lower opacity', 0.95, 1],
  ['Right lower lobe consolidation.', 0.95, 1],
  ['right pleural effusion', 0.95, 1],
  ['lower opacity', 0.75, 1],
  ['opacity', 0.3, 0.9],
  ['left lower opacity', 0, 0.9],
  ['left upper opacity', 0, 0.2],
  ['dark', 0, 0.7],
  ['pneumothorax', 0, 0.7],
  ['zorblax quux', 0.5, 0.5],
];

interface Towers {
  tokenizer: PreTrainedTokenizer;
  processor: Processor;
  embedTexts: (texts: string[], options?: Record<string, unknown>) => Promise<number[][]>;
  embedImages: (images: GrayImage[]) => Promise<number[][]>;
}

async function loadTowers(id: 'test-clip' | 'test-siglip'): Promise<Towers> {
  const clip = id === 'test-clip';
  const tokenizer = await AutoTokenizer.from_pretrained(id);
  const processor = await AutoProcessor.from_pretrained(id);
  const text: PreTrainedModel = clip
    ? await CLIPTextModelWithProjection.from_pretrained(id, { device: 'cpu' })
    : await SiglipTextModel.from_pretrained(id, { device: 'cpu' });
  const vision: PreTrainedModel = clip
    ? await CLIPVisionModelWithProjection.from_pretrained(id, { device: 'cpu' })
    : await SiglipVisionModel.from_pretrained(id, { device: 'cpu' });
  const textOut = clip ? 'text_embeds' : 'pooler_output';
  const imageOut = clip ? 'image_embeds' : 'pooler_output';
  return {
    tokenizer,
    processor,
    async embedTexts(texts, options = { padding: clip ? true : 'max_length', truncation: true }) {
      const inputs = tokenizer(texts, options);
      const out = (await text(clip ? inputs : { input_ids: inputs.input_ids })) as Record<string, Tensor>;
      return rows(out[textOut]!);
    },
    async embedImages(images) {
      const { pixel_values } = (await processor(images.map(toRaw))) as { pixel_values: Tensor };
      const out = (await vision({ pixel_values })) as Record<string, Tensor>;
      return rows(out[imageOut]!);
    },
  };
}

beforeAll(() => {
  // From a clean clone the folders do not exist yet: build them (a few ms).
  const missing = (Object.keys(TEST_MODELS) as (keyof typeof TEST_MODELS)[]).filter(
    (id) => !existsSync(join(MODELS_DIR, id, 'onnx', 'vision_model.onnx')),
  );
  if (missing.length > 0) generateTestModels(MODELS_DIR, missing);
});

describe('gen-models', () => {
  it('is deterministic and idempotent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-models-'));
    try {
      const first = generateTestModels(dir);
      const again = generateTestModels(dir);
      expect(again.every((r) => r.written.length === 0 && r.removed.length === 0)).toBe(true);
      const other = mkdtempSync(join(tmpdir(), 'gen-models-'));
      try {
        generateTestModels(other);
        for (const report of first) {
          for (const name of report.written) {
            const a = readFileSync(join(report.dir, name));
            const b = readFileSync(join(other, report.dir.slice(dir.length), name));
            expect(a.equals(b), name).toBe(true);
          }
        }
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the file names transformers.js resolves for fp32, q8 and fp16', () => {
    for (const id of Object.keys(TEST_MODELS)) {
      for (const suffix of ['', '_quantized', '_fp16']) {
        for (const tower of ['text_model', 'vision_model']) {
          expect(existsSync(join(MODELS_DIR, id, 'onnx', `${tower}${suffix}.onnx`))).toBe(true);
        }
      }
      const config = JSON.parse(readFileSync(join(MODELS_DIR, id, 'config.json'), 'utf8'));
      expect(config['transformers.js_config']).toEqual({ dtype: 'fp32' });
    }
  });
});

describe('test-clip in transformers.js (Node, onnxruntime-node CPU)', () => {
  let m: Towers;
  let imagesA: number[][];
  let imagesB: number[][];

  beforeAll(async () => {
    m = await loadTowers('test-clip');
    imagesA = await m.embedImages(A);
    imagesB = await m.embedImages(B);
  }, MODEL_TIMEOUT);

  it('tokenizes like CLIP: bos/eos, lower case, pad = eos, truncation at 77', () => {
    const { input_ids, attention_mask } = m.tokenizer(['Right LOWER opacity', 'dark'], {
      padding: true,
      truncation: true,
    });
    const ids = input_ids.tolist() as bigint[][];
    const vocab = m.tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
    const idOf = (t: string) => (vocab instanceof Map ? vocab.get(t) : vocab[t]);
    expect(ids[0]).toEqual([
      0n,
      BigInt(idOf('right')!),
      BigInt(idOf('lower')!),
      BigInt(idOf('opacity')!),
      1n,
    ]);
    expect(ids[1]).toEqual([0n, BigInt(idOf('dark')!), 1n, 1n, 1n]);
    expect(attention_mask.tolist()[1]).toEqual([1n, 1n, 1n, 0n, 0n]);
    expect(m.tokenizer.model_max_length).toBe(77);
    const long = m.tokenizer('opacity '.repeat(300), { truncation: true });
    expect(long.input_ids.dims).toEqual([1, 77]);
  });

  it('embeds non-ASCII, empty and very long text without throwing', async () => {
    const texts = ['épanchement pleural droit 肺 🙂', '', 'right lower opacity '.repeat(60), 'RIGHT—lower?'];
    const out = await m.embedTexts(texts);
    expect(out).toHaveLength(4);
    for (const v of out) {
      expect(v).toHaveLength(32);
      expect(v.every(Number.isFinite)).toBe(true);
      expect(norm(v)).toBeGreaterThan(0);
    }
  });

  it('refuses a sequence longer than 77 tokens, like a real CLIP text tower', async () => {
    // transformers.js logs the offending inputs before rethrowing: keep the test output readable.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(m.embedTexts(['opacity '.repeat(100)], { truncation: false })).rejects.toThrow();
    } finally {
      quiet.mockRestore();
    }
  });

  it('is invariant to padding and batching', async () => {
    const [alone] = await m.embedTexts(['right lower opacity'], { padding: false });
    const batch = await m.embedTexts([
      'right lower opacity',
      'a much longer finding about the left upper lung zone',
    ]);
    const maxPadded = await m.embedTexts(['right lower opacity'], {
      padding: 'max_length',
      truncation: true,
    });
    for (const other of [batch[0]!, maxPadded[0]!]) {
      other.forEach((x, i) => expect(x).toBeCloseTo(alone![i]!, 5));
    }
    const [one] = await m.embedImages([A[0]!]);
    one!.forEach((x, i) => expect(x).toBeCloseTo(imagesA[0]![i]!, 5));
  });

  it('is not normalised (consumers must normalise, as with real CLIP towers)', async () => {
    const [t] = await m.embedTexts(['right lower opacity']);
    expect(norm(t!)).toBeGreaterThan(2);
    expect(norm(imagesA[0]!)).toBeGreaterThan(2);
  });

  it('ranks findings by what they mean in pixels', async () => {
    const texts = EXPECTED.map(([t]) => t);
    const embeds = await m.embedTexts(texts);
    const measured = texts.map((t, i) => {
      const e = embeds[i]!;
      return [
        t,
        auroc(
          imagesA.map((v) => cosine(v, e)),
          imagesB.map((v) => cosine(v, e)),
        ),
      ] as const;
    });
    console.log('test-clip AUROC (A = image-left-lower brighter, B = plain):', Object.fromEntries(measured));
    measured.forEach(([text, value], i) => {
      const [, lo, hi] = EXPECTED[i]!;
      expect(value, text).toBeGreaterThanOrEqual(lo);
      expect(value, text).toBeLessThanOrEqual(hi);
    });
  });

  it('embeds the encoded fixtures (PNG and JPEG) like the raw pixels', async () => {
    const png = makeSet({ n: 2, seed: 101, brightRegion: 'image-left-lower', format: 'png' });
    const decoded = png.map((f) => {
      const d = decodePng(f.bytes);
      return { width: d.width, height: d.height, data: Uint8Array.from(d.data) };
    });
    const viaPng = await m.embedImages(decoded);
    viaPng.forEach((v, k) => v.forEach((x, i) => expect(x).toBeCloseTo(imagesA[k]![i]!, 4)));
    const jpg = makeSet({ n: 2, seed: 101, brightRegion: 'image-left-lower', format: 'jpeg' });
    const viaJpeg = await m.embedImages(
      jpg.map((f) => {
        const d = jpeg.decode(f.bytes, { useTArray: true });
        const gray = new Uint8Array(d.width * d.height);
        for (let i = 0; i < gray.length; i++) gray[i] = d.data[i * 4] ?? 0;
        return { width: d.width, height: d.height, data: gray };
      }),
    );
    viaJpeg.forEach((v, k) => expect(cosine(v, imagesA[k]!)).toBeGreaterThan(0.999));
  });
});

describe('test-siglip in transformers.js (Node, onnxruntime-node CPU)', () => {
  let m: Towers;

  beforeAll(async () => {
    m = await loadTowers('test-siglip');
  }, MODEL_TIMEOUT);

  it('tokenizes like SigLIP: eos appended, pad = eos, max_length 64', () => {
    const { input_ids } = m.tokenizer(['Right lower opacity'], { padding: 'max_length', truncation: true });
    const ids = input_ids.tolist()[0] as bigint[];
    expect(ids).toHaveLength(64);
    expect(ids.slice(3)).toEqual(new Array(61).fill(1n));
    const odd = m.tokenizer(['épanchement 肺 🙂 xyz', 'opacity '.repeat(100)], {
      padding: 'max_length',
      truncation: true,
    });
    expect(odd.input_ids.dims).toEqual([2, 64]);
  });

  it('ranks "right lower opacity" above plain images and "dark" below', async () => {
    const [a, b, e] = await Promise.all([
      m.embedImages(A),
      m.embedImages(B),
      m.embedTexts(['right lower opacity', 'dark', 'left upper opacity']),
    ]);
    const values = e.map((t) =>
      auroc(
        a.map((v) => cosine(v, t)),
        b.map((v) => cosine(v, t)),
      ),
    );
    console.log('test-siglip AUROC:', values);
    expect(values[0]).toBeGreaterThan(0.9);
    expect(values[1]).toBeLessThan(0.7);
    expect(values[2]).toBeLessThan(0.2);
  });

  it('is invariant to padding', async () => {
    const [a] = await m.embedTexts(['right lower opacity'], { padding: false });
    const [b] = await m.embedTexts(['right lower opacity']);
    b!.forEach((x, i) => expect(x).toBeCloseTo(a![i]!, 5));
  });
});

describe('fixture images', () => {
  it('are deterministic', () => {
    const one = makeSet({ n: 2, seed: 7, brightRegion: 'center', format: 'jpeg' });
    const two = makeSet({ n: 2, seed: 7, brightRegion: 'center', format: 'jpeg' });
    expect(one.map((f) => f.name)).toEqual(['img-001.jpg', 'img-002.jpg']);
    expect(Buffer.from(one[1]!.bytes).equals(Buffer.from(two[1]!.bytes))).toBe(true);
  });

  it('include the bad files, each broken the way its name says', () => {
    const bad = Object.fromEntries(makeBadFiles().map((f) => [f.name, f.bytes]));
    expect(bad['empty.png']!.length).toBe(0);
    expect(() => decodePng(bad['truncated.png']!)).toThrow();
    expect(() => jpeg.decode(bad['corrupt.jpg']!, { useTArray: true })).toThrow();
    const huge = new DataView(bad['huge-12000x12000.png']!.buffer);
    expect([huge.getUint32(16), huge.getUint32(20)]).toEqual([12000, 12000]);
    expect(new TextDecoder().decode(bad['two-level.webp']!.slice(8, 16))).toBe('WEBPVP8L');
  });
});
