// Builds the workbench's evidence source for a run record: the record's images that are still in the sets,
// embedded with the loaded ranker (memo or IndexedDB hits: no forward pass for images a run already embedded),
// plus text embedding, image URLs and names, and the captions and reports that can mention a finding. Returns null
// (the workbench then shows the record with its images marked missing) when no image is available or when the
// loaded ranker is not the one that ranked the record.

import { runCaptions } from '../core/evidence.ts';
import type { RunRecord } from '../core/run-record.ts';
import { compactRows } from '../engines/session-embedder.ts';
import type { ImageSets } from './image-sets.svelte.ts';
import type { ModelsState } from './models.svelte.ts';
import type { EvidenceSource, SourceText } from './workbench.svelte.ts';

/** Why a record opens without evidence, for the UI. */
export interface SourceOutcome {
  source: EvidenceSource | null;
  note: string | null;
}

/** The ranker id a record was ranked with (the pipeline writes `id@preprocessing/dtype`). */
export function recordRankerId(record: RunRecord): string {
  return record.models.embedder.split('@')[0] as string;
}

export async function buildEvidenceSource(
  record: RunRecord,
  deps: { models: ModelsState; sets: ImageSets; reports?: ReadonlyMap<string, string> },
  signal: AbortSignal,
): Promise<SourceOutcome> {
  const { models, sets } = deps;
  const available = record.inputs.images
    .map((ref) => ({ ref, image: sets.find(ref.id) }))
    .filter((x) => x.image !== undefined);
  if (available.length === 0) {
    return {
      source: null,
      note: 'The images of this run are not loaded: add them to the sets to see evidence.',
    };
  }
  const rankerId = recordRankerId(record);
  if (models.selected?.id !== rankerId) {
    return {
      source: null,
      note: `This run was ranked with ${rankerId}; select that model to see its evidence.`,
    };
  }
  await models.load(signal);
  const ids = available.map((x) => x.ref.id);
  const embedded = await models.session.embedImages(
    available.map((x) => ({ sha256: x.ref.id, file: x.image!.file })),
    { signal },
  );
  const rows = compactRows(ids, embedded.matrix, embedded.dim, embedded.failures);
  const setOf = new Map(record.inputs.images.map((i) => [i.id, i.set]));
  const labels = new Uint8Array(rows.ok.map((id) => (setOf.get(id) === 'A' ? 1 : 0)));
  const texts: SourceText[] = runCaptions(record.iterations);
  for (const [imageId, text] of deps.reports ?? []) texts.push({ imageId, kind: 'report', text });
  const missing = record.inputs.images.length - rows.ok.length;
  return {
    source: {
      images: { ids: rows.ok, labels, matrix: rows.embeddings, dim: embedded.dim },
      embedTexts: async (list, textSignal) =>
        (await models.session.embedTexts(list, textSignal ?? signal)).embeddings,
      imageUrl: (id) => sets.imageUrl(id),
      imageName: (id) => sets.find(id)?.path ?? record.inputs.images.find((i) => i.id === id)?.name ?? id,
      texts,
    },
    note:
      missing > 0 ? `${missing} image(s) of this run are not loaded; evidence uses the other ones.` : null,
  };
}
