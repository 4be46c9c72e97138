// `npm run bench`: runs every benchmark script in turn; each prints JSON lines (name, median_ms, sizes, machine).
// Browser benchmarks drive Debian's Chromium; the built app is needed for the second-run benchmark (npm run build).
import { spawnSync } from 'node:child_process';

const scripts = [
  'bench/ranker.bench.ts',
  'bench/phantom-gen.bench.ts',
  'bench/intake.bench.ts',
  'bench/second-run.bench.ts',
  'bench/pipeline.bench.ts',
  'bench/bundle-size.bench.ts',
  'bench/evidence.bench.ts',
  'bench/workbench.bench.ts',
];
let failed = 0;
for (const script of scripts) {
  const result = spawnSync('npx', ['tsx', script], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed += 1;
    console.error(`bench: ${script} exited with ${result.status}`);
  }
}
process.exit(failed ? 1 : 0);
