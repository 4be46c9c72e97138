// Benchmark of the ranking core (src/lib/core/ranker.ts) at the size METHOD.md targets: 5,000 + 5,000 images ×
// 50 findings × d = 512. Prints `ranker-core` (score matrix + every statistic) and `ranker-score-matrix` (the
// matrix product alone) as JSON lines. Run: npx tsx bench/ranker.bench.ts [--kernel=auto|wasm|js]
import { median, report } from './report.ts';
import { createRng } from '../src/lib/core/random.ts';
import {
  rankFindings,
  scoreMatrix,
  selectImages,
  wasmSimdAvailable,
  type ScoreKernel,
} from '../src/lib/core/ranker.ts';

const N_A = 5000;
const N_B = 5000;
const FINDINGS = 50;
const DIM = 512;
const WARMUP = 3;
const RUNS = 9;

const kernelArg =
  process.argv.find((arg) => arg.startsWith('--kernel='))?.slice('--kernel='.length) ?? 'auto';
if (!['auto', 'wasm', 'js'].includes(kernelArg)) throw new Error(`unknown --kernel=${kernelArg}`);
const kernel = kernelArg as ScoreKernel;

/** Rows of unit vectors: Gaussian noise plus `shift`·direction, normalized (a crude stand-in for CLIP spaces). */
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
      // Box–Muller: two standard normals per pair of uniforms.
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

const direction = embeddings(1, 'bench-direction', new Float32Array(DIM), () => 0).map(
  (v) => v * Math.sqrt(DIM),
);
// A carries a small component along `direction`; a few findings point along it, the rest are random.
const images = embeddings(N_A + N_B, 'bench-images', direction, (r) => (r < N_A ? 1.5 : 0));
const texts = embeddings(FINDINGS, 'bench-texts', direction, (r) => (r % 10 === 0 ? 2 : 0));
const labels = new Uint8Array(N_A + N_B);
labels.fill(1, 0, N_A);
const findings = Array.from({ length: FINDINGS }, (_, i) => `finding ${i}`);
const input = { imageEmbeddings: images, dim: DIM, labels, textEmbeddings: texts, findings, kernel };

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

const usedKernel = kernel === 'js' || !wasmSimdAvailable() ? 'js' : 'wasm';
const sizes = { n_a: N_A, n_b: N_B, findings: FINDINGS, dim: DIM, kernel: usedKernel, runs: RUNS };

const core = time(() => rankFindings(input));
report({
  name: 'ranker-core',
  median_ms: +median(core).toFixed(2),
  min_ms: +Math.min(...core).toFixed(2),
  ...sizes,
});

const selection = selectImages(labels, 5000, 0);
const rows = Uint32Array.from([...selection.a, ...selection.b]);
const matrix = time(() => scoreMatrix(images, texts, DIM, { rows, kernel }));
report({
  name: 'ranker-score-matrix',
  median_ms: +median(matrix).toFixed(2),
  min_ms: +Math.min(...matrix).toFixed(2),
  ...sizes,
});
