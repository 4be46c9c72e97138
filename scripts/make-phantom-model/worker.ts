// Worker-thread entry of the phantom model build: renders and featurises the chunks of sample jobs it is sent
// (data.ts computeSamples) and posts the results back. Started by parallel.ts; holds no state between chunks.
import { parentPort } from 'node:worker_threads';
import { computeSamples, type SampleJob, type SamplingSpec } from './data.ts';
import type { FeatureSpec } from './vision.ts';

/** A chunk of work: jobs plus what to compute for them. */
export interface ChunkRequest {
  chunk: number;
  jobs: SampleJob[];
  spec: FeatureSpec;
  sampling: SamplingSpec;
}

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');
port.on('message', (request: ChunkRequest) => {
  const { features, findings } = computeSamples(request.jobs, request.spec, request.sampling);
  port.postMessage({ chunk: request.chunk, features, findings }, [features.buffer as ArrayBuffer]);
});
