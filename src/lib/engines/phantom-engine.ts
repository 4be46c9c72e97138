// Main-thread adapter over the phantom worker: generates the demo cohorts as PNG Files without blocking the page.
// One worker, created on first use; progress through a Comlink.proxy callback.
import * as Comlink from 'comlink';
import type { GeneratedPhantom, PhantomApi } from '../../../workers/phantom/phantom.api.ts';
import type { CohortSpec } from '../core/phantom/index.ts';

export type { GeneratedPhantom };

let remote: Comlink.Remote<PhantomApi> | undefined;

function worker(): Comlink.Remote<PhantomApi> {
  remote ??= Comlink.wrap<PhantomApi>(
    new Worker(new URL('../../../workers/phantom/phantom.worker.ts', import.meta.url), {
      type: 'module',
      name: 'phantom',
    }),
  );
  return remote;
}

/** Generates one cohort of phantoms as PNG files. */
export function generatePhantomCohort(
  spec: CohortSpec,
  prefix: string,
  onProgress?: (done: number, total: number) => void,
): Promise<GeneratedPhantom[]> {
  return worker().cohort(
    JSON.parse(JSON.stringify(spec)) as CohortSpec,
    prefix,
    onProgress ? Comlink.proxy(onProgress) : undefined,
  );
}
