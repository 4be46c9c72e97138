// Benchmark of the workbench's interactive paths at the size METHOD.md targets (5,000 + 5,000 images, d = 512):
// `evidence` = findingScores + buildEvidence for one finding (budget: well under 200 ms), `rerank` = rankFindings
// of a 50-finding pool after one text was edited (the text embedding itself is a model call, not measured), and
// `projection-pca` = projectPca fitted on 2,000 rows. JSON lines via report(). Run: npx tsx bench/evidence.bench.ts
import { median, report } from './report.ts';
import { buildEvidence, findingScores, type EmbeddedImages } from '../src/lib/core/evidence.ts';
import { projectPca } from '../src/lib/core/projection.ts';
import { createRng } from '../src/lib/core/random.ts';
import { rankFindings, wasmSimdAvailable } from '../src/lib/core/ranker.ts';

const N_A = 5000;
const N_B = 5000;
const FINDINGS = 50;
const DIM = 512;
const WARMUP = 3;
const RUNS = 15;

/** Rows of unit vectors: Gaussian noise plus `shift`·direction, normalized (as in ranker.bench.ts). */
function embeddings(
  rows: number,
  seedStream: string,
  direction: Float32Array,
  shift: (row: number) => number,
): Float32Array {
  const rng = createRng(1, seedStream);
  const out = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    const s = shift(r);
    let norm = 0;
    for (let k = 0; k < DIM; k += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - rng.next()));
      const angle = 2 * Math.PI * rng.next();
      const x = radius * Math.cos(angle) + s * direction[k]!;
      const y = radius * Math.sin(angle) + s * direction[k + 1]!;
      out[r * DIM + k] = x;
      out[r * DIM + k + 1] = y;
      norm += x * x + y * y;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let k = 0; k < DIM; k++) out[r * DIM + k]! *= inv;
  }
  return out;
}

function time(fn: () => unknown): number[] {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return times;
}

function summary(name: string, times: number[], sizes: Record<string, unknown>): void {
  report({ name, median_ms: +median(times).toFixed(2), min_ms: +Math.min(...times).toFixed(2), ...sizes });
}

const direction = embeddings(1, 'bench-direction', new Float32Array(DIM), () => 0).map(
  (v) => v * Math.sqrt(DIM),
);
const matrix = embeddings(N_A + N_B, 'bench-images', direction, (r) => (r < N_A ? 1.5 : 0));
const labels = new Uint8Array(N_A + N_B);
labels.fill(1, 0, N_A);
const images: EmbeddedImages = {
  ids: Array.from({ length: N_A + N_B }, (_, i) => `image-${i}`),
  labels,
  matrix,
  dim: DIM,
};
const texts = embeddings(FINDINGS, 'bench-texts', direction, (r) => (r % 10 === 0 ? 2 : 0));
const findings = Array.from({ length: FINDINGS }, (_, i) => `finding ${i}`);
const kernel = wasmSimdAvailable() ? 'wasm' : 'js';
const sizes = { n_a: N_A, n_b: N_B, dim: DIM, kernel, runs: RUNS };

const vector = texts.subarray(0, DIM);
summary(
  'evidence',
  time(() => buildEvidence(images, findingScores(images, vector))),
  sizes,
);
const scores = findingScores(images, vector);
summary(
  'evidence-build',
  time(() => buildEvidence(images, scores)),
  sizes,
);
summary(
  'evidence-scores',
  time(() => findingScores(images, vector)),
  sizes,
);

// One edited finding: its row replaced by a new vector, the whole pool re-ranked (what the workbench does).
const edited = texts.slice();
edited.set(
  embeddings(1, 'bench-edited', direction, () => 1),
  7 * DIM,
);
const editedFindings = findings.map((f, i) => (i === 7 ? 'edited finding' : f));
summary(
  'rerank',
  time(() =>
    rankFindings({
      imageEmbeddings: matrix,
      dim: DIM,
      labels,
      textEmbeddings: edited,
      findings: editedFindings,
    }),
  ),
  { ...sizes, findings: FINDINGS },
);

summary(
  'projection-pca',
  time(() => projectPca(images, { maxFit: 2000, seed: 0 })),
  { ...sizes, max_fit: 2000 },
);
