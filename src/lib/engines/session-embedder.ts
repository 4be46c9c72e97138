// The pipeline's EmbedderPort over the app's RankerSession: images are named by content hash and resolved to their
// files here, embedded cache-first (IndexedDB, then the model), whole or cropped to a box; undecodable images come
// back as `failed` rows instead of zero rows. Must not import state or components.

import type { AbortSignalLike, Crop, EmbedderPort, PortProgress } from '../core/ports.ts';
import type { RankerSession } from './ranker-session.ts';

/** Where the embedder finds an image's bytes. */
export type ImageResolver = (imageId: string) => Blob | undefined;

/**
 * Drops failed rows from an embedded set: `ok` ids in input order and a compact matrix, one row per ok id. Also used
 * by the phantom benchmark runner so both drop undecodable images the same way.
 */
export function compactRows(
  ids: readonly string[],
  matrix: Float32Array,
  dim: number,
  failures: readonly { index: number; reason: string }[],
): { ok: string[]; failed: { id: string; reason: string }[]; embeddings: Float32Array } {
  const failedAt = new Map(failures.map((f) => [f.index, f.reason]));
  const ok: string[] = [];
  const failed: { id: string; reason: string }[] = [];
  const embeddings = new Float32Array((ids.length - failedAt.size) * dim);
  ids.forEach((id, i) => {
    const reason = failedAt.get(i);
    if (reason !== undefined) {
      failed.push({ id, reason });
      return;
    }
    embeddings.set(matrix.subarray(i * dim, (i + 1) * dim), ok.length * dim);
    ok.push(id);
  });
  return { ok, failed, embeddings };
}

/** Wraps a loaded RankerSession as the pipeline's embedder. `id` names model and preprocessing version. */
export function sessionEmbedder(session: RankerSession, id: string, resolve: ImageResolver): EmbedderPort {
  const asSignal = (signal?: AbortSignalLike): AbortSignal =>
    (signal as AbortSignal | undefined) ?? new AbortController().signal;
  return {
    id,
    async embedImages(imageIds, crop: Crop, signal, onProgress?: (p: PortProgress) => void) {
      const missing = imageIds.filter((imageId) => resolve(imageId) === undefined);
      const present = imageIds.filter((imageId) => resolve(imageId) !== undefined);
      const result = await session.embedImages(
        present.map((sha256) => ({ sha256, file: resolve(sha256) as Blob })),
        {
          signal: asSignal(signal),
          crop,
          ...(onProgress ? { onProgress: (p) => onProgress({ done: p.done, total: p.total }) } : {}),
        },
      );
      const rows = compactRows(present, result.matrix, result.dim, result.failures);
      return {
        ...rows,
        failed: [
          ...rows.failed,
          ...missing.map((m) => ({ id: m, reason: 'the image is no longer available' })),
        ],
        dim: result.dim,
      };
    },
    async embedTexts(texts, signal) {
      return (await session.embedTexts(texts, asSignal(signal))).embeddings;
    },
  };
}
