// Phantom worker: generates a cohort of chest radiograph phantoms with the pure generator and encodes each as a
// PNG File (fast-png), off the main thread. The files then go through the normal intake, exactly like dropped ones.
import { encode } from 'fast-png';
import { generateCohort, type CohortSpec, type PhantomLabels } from '../../src/lib/core/phantom/index.ts';

/** One generated image: the PNG as a File (cloned cheaply across the boundary), its labels and its report. */
export interface GeneratedPhantom {
  file: File;
  labels: PhantomLabels;
  report: string;
}

export const api = {
  /**
   * Generates `spec` as PNG files named `${prefix}-phantom-00001.png`…; `onProgress(done, total)` after each image.
   */
  async cohort(
    spec: CohortSpec,
    prefix: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<GeneratedPhantom[]> {
    const out: GeneratedPhantom[] = [];
    for (const { name, phantom } of generateCohort(spec)) {
      const png = encode({
        width: phantom.size,
        height: phantom.size,
        data: phantom.pixels,
        channels: 1,
        depth: 8,
      });
      out.push({
        file: new File([png as Uint8Array<ArrayBuffer>], `${prefix}-${name}`, { type: 'image/png' }),
        labels: phantom.labels,
        report: phantom.report,
      });
      onProgress?.(out.length, spec.n);
    }
    return out;
  },
};

export type PhantomApi = typeof api;
