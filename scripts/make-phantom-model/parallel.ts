// Runs the phantom model's sample jobs (render + features) on worker threads, in chunks from a shared queue, and
// reassembles the results in job order, so the output never depends on the number of threads or their timing.
// With threads = 0 (or under a runner that cannot start TypeScript workers) everything runs in this thread.
import { Worker } from 'node:worker_threads';
import { computeSamples, type ComputedSamples, type SampleJob, type SamplingSpec } from './data.ts';
import { featureCount, type FeatureSpec } from './vision.ts';
import type { ChunkRequest } from './worker.ts';
import type { FindingSpec } from '../../src/lib/core/phantom/index.ts';

const CHUNK = 50;

/** A worker thread running worker.ts through tsx's loader (a bare .ts worker entry is not loadable in Node 20). */
function startWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code =
    `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); ` +
    `return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

/**
 * Features and labels of `jobs` (in order) using up to `threads` worker threads; `onProgress(done)` after every
 * chunk.
 */
export async function computeParallel(
  jobs: SampleJob[],
  spec: FeatureSpec,
  sampling: SamplingSpec,
  threads: number,
  onProgress?: (done: number, total: number) => void,
): Promise<ComputedSamples> {
  if (threads <= 0 || jobs.length <= CHUNK) {
    const out = computeSamples(jobs, spec, sampling);
    onProgress?.(jobs.length, jobs.length);
    return out;
  }
  const F = featureCount(spec);
  const features = new Float64Array(jobs.length * F);
  const findings: FindingSpec[][] = new Array<FindingSpec[]>(jobs.length);
  const chunks = Math.ceil(jobs.length / CHUNK);
  let next = 0;
  let done = 0;
  const workers = Array.from({ length: Math.min(threads, chunks) }, startWorker);
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= chunks) return resolve();
              const chunk = next++;
              const request: ChunkRequest = {
                chunk,
                jobs: jobs.slice(chunk * CHUNK, (chunk + 1) * CHUNK),
                spec,
                sampling,
              };
              worker.postMessage(request);
            };
            worker.on(
              'message',
              (m: { chunk: number; features: Float64Array; findings: FindingSpec[][] }) => {
                features.set(m.features, m.chunk * CHUNK * F);
                m.findings.forEach((f, i) => (findings[m.chunk * CHUNK + i] = f));
                done += m.findings.length;
                onProgress?.(done, jobs.length);
                send();
              },
            );
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (code !== 0) reject(new Error(`feature worker exited with code ${code}`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { features, findings };
}
