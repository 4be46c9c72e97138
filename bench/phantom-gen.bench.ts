// Phantom generator benchmark (`npx tsx bench/phantom-gen.bench.ts [n] [size]`): generates a cohort with a mix of
// findings in Node, one image at a time as the CLI does, and reports phantoms per second (wall clock and CPU time,
// since the machine may be shared), the median per-image time, and the PNG encoding cost separately.
import { cpus, loadavg } from 'node:os';
import { encode } from 'fast-png';
import { generateCohort, type CohortSpec } from '../src/lib/core/phantom/index.ts';
import { median, report } from './report.ts';

const n = Number(process.argv[2] ?? process.env.PHANTOM_BENCH_N ?? 200);
const size = Number(process.argv[3] ?? process.env.PHANTOM_BENCH_SIZE ?? 512);

const spec: CohortSpec = {
  n,
  seed: 20260101,
  size,
  findings: [
    { spec: { name: 'effusion' }, prevalence: 0.2 },
    { spec: { name: 'cardiomegaly' }, prevalence: 0.2 },
    { spec: { name: 'pneumothorax' }, prevalence: 0.1 },
    { spec: { name: 'consolidation' }, prevalence: 0.15 },
    { spec: { name: 'nodule' }, prevalence: 0.1 },
    { spec: { name: 'cvc' }, prevalence: 0.15 },
    { spec: { name: 'ett' }, prevalence: 0.1 },
    { spec: { name: 'ngt' }, prevalence: 0.1 },
    { spec: { name: 'pacemaker' }, prevalence: 0.1 },
    { spec: { name: 'low-lung-volumes' }, prevalence: 0.1 },
  ],
};

// Warm-up: JIT and the reusable canvases.
for (const _ of generateCohort({ ...spec, n: 5, seed: 1 })) void _;

const perImage: number[] = [];
const perPng: number[] = [];
const loadBefore = loadavg()[0]!;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let genTotal = 0;
const iterator = generateCohort(spec)[Symbol.iterator]();
for (;;) {
  const a = performance.now();
  const next = iterator.next();
  if (next.done) break;
  const b = performance.now();
  const { phantom } = next.value;
  encode({ width: phantom.size, height: phantom.size, data: phantom.pixels, channels: 1, depth: 8 });
  const c = performance.now();
  perImage.push(b - a);
  perPng.push(c - b);
  genTotal += b - a;
}
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
const pngTotal = perPng.reduce((s, v) => s + v, 0);

report({
  name: 'phantom-generator',
  phantoms_per_s: Math.round((n / (genTotal / 1000)) * 10) / 10,
  phantoms_per_s_with_png: Math.round((n / (wall / 1000)) * 10) / 10,
  phantoms_per_s_cpu: Math.round((n / ((cpuMs * genTotal) / (genTotal + pngTotal) / 1000)) * 10) / 10,
  size_px: size,
  n,
  median_ms: Math.round(median(perImage) * 100) / 100,
  median_png_ms: Math.round(median(perPng) * 100) / 100,
  load_avg_1m: Math.round(((loadBefore + loadavg()[0]!) / 2) * 100) / 100,
  cores: cpus().length,
});
