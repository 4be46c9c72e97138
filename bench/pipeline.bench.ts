// Pipeline overhead benchmark (`npx tsx bench/pipeline.bench.ts`): the RadDiff preset (2 iterations × 3 rounds ×
// 20 + 20 sampled images, visual search, held-out and localized ranking) on a 40 + 40 scripted comparison, with
// scripted ports that answer instantly. What remains is the pipeline's own cost (sampling, prompt building,
// hashing for cache keys, parsing, dedup, ranking, record keeping). Target ≤ 2 s. Also times a warm rerun.
import { runDiff } from '../src/lib/core/pipeline.ts';
import { presetConfig } from '../src/lib/core/diff-config.ts';
import type { DiffPorts } from '../src/lib/core/ports.ts';
import type { RunRecord } from '../src/lib/core/run-record.ts';
import {
  createWorld,
  memoryCache,
  newCounts,
  scriptedCaptioner,
  scriptedCompositor,
  scriptedEmbedder,
  scriptedLlm,
} from '../tests/fakes/scripted-ports.ts';
import { median, report } from './report.ts';

const world = createWorld({ nA: 40, nB: 40, truth: 'right pleural effusion', seed: 3 });
const config = presetConfig('raddiff');

async function once(cache = memoryCache()): Promise<{ ms: number; record: RunRecord; events: number }> {
  const counts = newCounts();
  const ports: DiffPorts = {
    embedder: scriptedEmbedder(world, counts),
    captioner: scriptedCaptioner(world, counts),
    llm: scriptedLlm(counts),
    compositor: scriptedCompositor(counts),
    cache,
  };
  const t = performance.now();
  let record: RunRecord | null = null;
  let events = 0;
  for await (const event of runDiff(ports, { images: world.images }, config)) {
    events++;
    if (event.type === 'done') record = event.record;
  }
  return { ms: performance.now() - t, record: record!, events };
}

await once(); // warm-up (JIT, WASM kernel compile)
const cold: number[] = [];
const overhead: number[] = [];
const warm: number[] = [];
let last: Awaited<ReturnType<typeof once>> | null = null;
for (let i = 0; i < 7; i++) {
  const cache = memoryCache();
  const run = await once(cache);
  cold.push(run.ms);
  overhead.push(run.ms - run.record.execution.portMs);
  warm.push((await once(cache)).ms);
  last = run;
}
report({
  name: 'pipeline-overhead-raddiff',
  median_ms: median(overhead),
  total_median_ms: median(cold),
  warm_rerun_median_ms: median(warm),
  runs: cold.length,
  iterations: config.iterations,
  rounds: config.rounds,
  samples_per_set: config.samplesPerSet,
  images: world.images.length,
  events: last?.events,
  llm_calls: last?.record.calls.length,
  top: last?.record.ranking[0]?.finding,
  target_ms: 2000,
});
