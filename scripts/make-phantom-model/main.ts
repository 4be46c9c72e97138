// Entry point of `npm run make:phantom-model`: renders seeded phantoms, computes the fixed image features, fits
// the vision projection by ridge regression onto the lexicon's concept axes, builds both ONNX towers, checks them
// against the TypeScript mirror with onnxruntime-node, measures held-out retrieval on fresh seeds and writes
// public/models/phantom-clip/ (deterministic bytes; unchanged files are not rewritten). Also exported as
// makePhantomModel() so the determinism test can build a reduced model into a temporary folder.
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLIPTokenizer } from '@huggingface/transformers';
import { MODELS_DIR } from '../gen-models/main.ts';
import { CLIP_MAX_LENGTH } from '../gen-models/clip.ts';
import { writeFolder, type WriteReport } from '../gen-models/folder.ts';
import { FINDINGS } from '../../src/lib/core/phantom/index.ts';
import { computeParallel } from './parallel.ts';
import { renderSample, toDataSet, type SampleJob } from './data.ts';
import { fitProjection } from './fit.ts';
import {
  captionRetrieval,
  catalogue,
  conceptAurocs,
  conceptPhrase,
  embedFeatures,
  embedTextsTs,
  grayToPixelValues,
  verifyGraphs,
  type CaptionReport,
  type HeldOutReport,
} from './evaluate.ts';
import { DIM, IMAGE_BIAS, LAYOUT, PRESENCE, SIZE_AXES, SIZE_WEIGHT } from './lexicon.ts';
import {
  factorTable,
  MODEL_ID,
  phantomFolder,
  phantomTokenizerJson,
  phantomTokens,
  tokenizerConfig,
} from './model-folder.ts';
import { FEATURES, HELD_OUT_SAMPLING, LAMBDAS, PREPROCESSING, SETS, TRAIN_SAMPLING } from './recipe.ts';
import { buildTextTower } from './text-tower.ts';
import { buildVisionTower, featureCount } from './vision.ts';

export interface MakeOptions {
  /** Output folder (default public/models/phantom-clip). */
  outDir?: string;
  /** Image counts (default: recipe.ts SETS); the determinism test uses small ones. */
  counts?: Partial<{ train: number; validation: number; heldOut: number; captionsPerPhrase: number }>;
  /** Worker threads for rendering + features (default: min(2, cores)); 0 = this thread only. */
  threads?: number;
  log?: (line: string) => void;
}

export interface MakeResult {
  write: WriteReport;
  lambda: number;
  heldOut: HeldOutReport;
  captions: CaptionReport;
  graphDeviation: { image: number; text: number };
}

const DOC =
  'raddiff-web phantom-clip: fitted on generated chest radiograph phantoms; understands ONLY phantoms. ' +
  'See scripts/make-phantom-model/README.md';
/** Images re-rendered for the ONNX-vs-TypeScript check. */
const VERIFY_IMAGES = 8;

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Builds the model and writes its folder. */
export async function makePhantomModel(options: MakeOptions = {}): Promise<MakeResult> {
  const log = options.log ?? (() => {});
  const outDir = options.outDir ?? join(MODELS_DIR, MODEL_ID);
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const n = {
    train: options.counts?.train ?? SETS.train.n,
    validation: options.counts?.validation ?? SETS.validation.n,
    heldOut: options.counts?.heldOut ?? SETS.heldOut.n,
    captionsPerPhrase: options.counts?.captionsPerPhrase ?? SETS.captions.perPhrase,
  };
  const jobs = (seed: number, name: string, count: number): SampleJob[] =>
    Array.from({ length: count }, (_, index) => ({ seed, name, index }));
  const progress = (what: string) => (done: number, total: number) => {
    if (done === total || done % 500 === 0) log(`  ${what}: ${done}/${total} phantoms`);
  };

  // 1. Training data: rendered phantoms → fixed features + concept targets.
  const fitJobs = [
    ...jobs(SETS.train.seed, 'train', n.train),
    ...jobs(SETS.validation.seed, 'validation', n.validation),
  ];
  const fitSamples = await computeParallel(fitJobs, FEATURES, TRAIN_SAMPLING, threads, progress('fit set'));
  const F = featureCount(FEATURES);
  const split = (from: number, to: number) => ({
    features: fitSamples.features.slice(from * F, to * F),
    findings: fitSamples.findings.slice(from, to),
  });
  const train = toDataSet(split(0, n.train), FEATURES);
  const validation = toDataSet(split(n.train, n.train + n.validation), FEATURES);

  // 2. Ridge fit (λ on the validation split), folded into the vision tower's MatMul + Add.
  const fit = fitProjection(train, validation, LAMBDAS);
  log(
    `  ridge: λ = ${fit.lambda} (validation mean AUROC ${fit.validation
      .map((v) => `${v.lambda}: ${v.meanAuroc.toFixed(4)}`)
      .join(', ')})`,
  );

  // 3. Both towers.
  const table = factorTable();
  const vision = buildVisionTower(FEATURES, PREPROCESSING, fit.projection, DOC);
  const text = buildTextTower(table, CLIP_MAX_LENGTH, DOC);
  const tokenizer = new CLIPTokenizer(phantomTokenizerJson(), tokenizerConfig());

  // 4. Held-out data on fresh seeds: a mixed cohort and single-finding images for caption retrieval.
  const cat = catalogue();
  const captionJobs: SampleJob[] = [];
  const truth: number[] = [];
  cat.forEach((c, j) => {
    for (let k = 0; k < n.captionsPerPhrase; k++) {
      captionJobs.push({
        seed: SETS.captions.seed,
        name: 'captions',
        index: captionJobs.length,
        findings: [c.spec],
      });
      truth.push(j);
    }
  });
  const heldJobs = jobs(SETS.heldOut.seed, 'held-out', n.heldOut);
  const evalSamples = await computeParallel(
    [...heldJobs, ...captionJobs],
    FEATURES,
    HELD_OUT_SAMPLING,
    threads,
    progress('held-out set'),
  );
  const embeds = embedFeatures(evalSamples.features, FEATURES, fit.projection);
  const heldOut = conceptAurocs(
    embeds.subarray(0, n.heldOut * DIM),
    evalSamples.findings.slice(0, n.heldOut),
    tokenizer,
    table,
  );
  const captions = captionRetrieval(embeds.subarray(n.heldOut * DIM), truth, tokenizer, table);

  // 5. The ONNX graphs must compute what the mirror computed.
  const verifyJobs = heldJobs.slice(0, Math.min(VERIFY_IMAGES, heldJobs.length));
  const pixels = verifyJobs.map(
    (j) => renderSample(j.seed, j.name, j.index, FEATURES.size, HELD_OUT_SAMPLING).pixels,
  );
  const verifyTexts = [
    ...cat.map((c) => c.phrase),
    ...PRESENCE.map(conceptPhrase),
    'no left pleural effusion',
    'bibasilar opacities',
    'Endotracheal tube, nasogastric tube and right PICC line.',
    'zorblax',
    '',
  ];
  const graphDeviation = await verifyGraphs({
    vision,
    text,
    pixelValues: grayToPixelValues(pixels, FEATURES.size, PREPROCESSING),
    expectedImages: embeds.slice(0, verifyJobs.length * DIM),
    tokenizer,
    texts: verifyTexts,
    expectedTexts: embedTextsTs(tokenizer, table, verifyTexts),
    size: FEATURES.size,
  });

  // 6. The folder, with a model card that says what this is.
  const card = {
    model: MODEL_ID,
    understands:
      'ONLY generated chest radiograph phantoms (src/lib/core/phantom). Meaningless on real radiographs.',
    generatedBy: 'npm run make:phantom-model (scripts/make-phantom-model)',
    embedding: {
      dim: DIM,
      axes: [
        'bias (image: constant)',
        ...PRESENCE.map((c) => `presence ${c.key}`),
        ...SIZE_AXES.map((c) => `size ${c.key} (+1 large, −1 small)`),
        'neutral (text only)',
      ],
      imageBias: IMAGE_BIAS,
      sizeWeight: SIZE_WEIGHT,
      normalized: false,
    },
    vision: {
      input: `pixel_values [batch, 3, ${FEATURES.size}, ${FEATURES.size}]`,
      preprocessing: PREPROCESSING,
      features: FEATURES.blocks,
      featureCount: F,
      fit: {
        method: 'ridge regression (closed form, Cholesky) from standardised features to concept targets',
        lambda: fit.lambda,
        validation: fit.validation.map((v) => ({ lambda: v.lambda, meanAuroc: round(v.meanAuroc) })),
        trainImages: n.train + n.validation,
        sampling: TRAIN_SAMPLING,
      },
    },
    text: {
      tokenizer: 'WordPiece over a radiology lexicon, lower-cased; unknown words → [UNK] (neutral)',
      maxLength: CLIP_MAX_LENGTH,
      composition:
        'finding × side × zone outer product of masked factor sums; size words scale the size axes',
      vocabulary: phantomTokens().length,
    },
    layout: LAYOUT,
    findings: FINDINGS.map((f) => f.name),
    heldOut: {
      sampling: HELD_OUT_SAMPLING,
      images: heldOut.images,
      meanAuroc: round(heldOut.meanAuroc),
      minAuroc: round(heldOut.minAuroc),
      concepts: heldOut.concepts.map((c) => ({ ...c, auroc: round(c.auroc) })),
      captionRetrieval: {
        images: captions.images,
        phrases: captions.phrases,
        top1: round(captions.top1),
        top1Finding: round(captions.top1Finding),
        perPhrase: captions.perPhrase.map((p) => ({ ...p, top1: round(p.top1) })),
      },
    },
  };
  const write = writeFolder(
    outDir,
    phantomFolder({ text, vision, dim: DIM, preprocessing: PREPROCESSING, card }),
  );
  return { write, lambda: fit.lambda, heldOut, captions, graphDeviation };
}

function parseArgs(argv: string[]): MakeOptions {
  const options: MakeOptions = {};
  for (const arg of argv) {
    const [key, value] = arg.split('=');
    if (key === '--threads' && value !== undefined) options.threads = Number(value);
    else if (key === '--out' && value) options.outDir = resolve(value);
    else throw new Error(`unknown argument "${arg}" (accepted: --threads=N, --out=DIR)`);
  }
  return options;
}

async function main(): Promise<void> {
  const started = performance.now();
  const options = parseArgs(process.argv.slice(2));
  const result = await makePhantomModel({ ...options, log: (line) => console.log(line) });
  const { heldOut, captions, write } = result;
  console.log(
    `make:phantom-model held-out (${heldOut.images} phantoms, fresh seeds), cosine with each phrase:`,
  );
  for (const c of heldOut.concepts) {
    console.log(`  ${c.auroc.toFixed(3)}  ${c.phrase.padEnd(38)} (${c.positives} with it)`);
  }
  console.log(
    `  per-concept AUROC: mean ${heldOut.meanAuroc.toFixed(3)}, min ${heldOut.minAuroc.toFixed(3)}; ` +
      `caption retrieval top-1 ${(100 * captions.top1).toFixed(1)}% of ${captions.images} single-finding ` +
      `phantoms among ${captions.phrases} phrases (right finding ${(100 * captions.top1Finding).toFixed(1)}%)`,
  );
  for (const p of captions.perPhrase.filter((q) => q.top1 < 1)) {
    const wrong = Object.entries(p.confusedWith)
      .map(([phrase, count]) => `${count}× "${phrase}"`)
      .join(', ');
    console.log(`  caption "${p.phrase}": top-1 ${(100 * p.top1).toFixed(0)}% (lost to ${wrong})`);
  }
  console.log(
    `  ONNX vs TypeScript mirror: max |Δ| image ${result.graphDeviation.image.toExponential(1)}, ` +
      `text ${result.graphDeviation.text.toExponential(1)}`,
  );
  const where = relative(process.cwd(), write.dir) || '.';
  console.log(
    `make:phantom-model ${where}: ${write.written.length} written, ${write.unchanged.length} unchanged, ` +
      `${write.removed.length} removed (${(write.bytes / 1024 / 1024).toFixed(2)} MiB) in ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
