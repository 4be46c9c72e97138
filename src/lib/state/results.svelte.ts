// The current result and where it goes: a finished ranking (typed findings, concept bank, demo) or RadDiff run
// becomes a run record, opens in the evidence workbench with its evidence source, and is saved to the run history;
// a saved or imported record reopens the same way; exports take the open record with its charts and (opt-in)
// thumbnails. Keeps App.svelte free of this glue. Imports state, storage, core; never components.

import { recordFromRanking } from '../core/run-export.ts';
import type { RunRecord } from '../core/run-record.ts';
import type { RankedFinding } from '../core/types.ts';
import { imageDataUrl } from '../engines/data-url.ts';
import { buildEvidenceSource } from './evidence-source.ts';
import type { ExportFormat, ExportOptions, ExportState } from './export.svelte.ts';
import type { HistoryState } from './history.svelte.ts';
import type { ImageSets } from './image-sets.svelte.ts';
import type { ModelsState } from './models.svelte.ts';
import type { WorkbenchState } from './workbench.svelte.ts';

/** Findings whose charts and images go into an HTML report. */
const REPORT_CHARTS = 10;
/** Longest side of an exported thumbnail (px). */
const THUMBNAIL_SIDE = 160;

export interface ResultsDeps {
  models: ModelsState;
  sets: ImageSets;
  workbench: WorkbenchState;
  history: HistoryState;
  exporter: ExportState;
  /** Report text per image id for the sets as they are now. */
  reports: () => ReadonlyMap<string, string>;
  /** Renders chart SVGs for an export (charts.ts, loaded lazily by the caller). */
  chartSvgs: (
    evidence: NonNullable<ReturnType<WorkbenchState['evidenceOf']>>,
    finding: string,
  ) => Promise<{ histogram: string; roc: string }>;
  appVersion: string;
}

export class ResultsState {
  /** Why the open record shows no evidence, or what is missing. */
  note = $state<string | null>(null);
  opening = $state(false);
  readonly #deps: ResultsDeps;
  #controller: AbortController | null = null;

  constructor(deps: ResultsDeps) {
    this.#deps = deps;
  }

  /** A record for a ranking made outside the pipeline (typed findings, concept bank, demo). */
  recordOfRanking(ranking: readonly RankedFinding[], proposer: 'user' | 'concept-bank'): RunRecord | null {
    const { models, sets } = this.#deps;
    const spec = models.selected;
    if (!spec || ranking.length === 0) return null;
    const images = [
      ...sets.a.images.map((i) => ({ id: i.sha256, name: i.path, set: 'A' as const })),
      ...sets.b.images.map((i) => ({ id: i.sha256, name: i.path, set: 'B' as const })),
    ];
    return recordFromRanking({
      ranking: [...ranking],
      images,
      embedder: `${spec.id}@${spec.preprocessing.version}`,
      proposer,
      appVersion: this.#deps.appVersion,
      now: Date.now(),
    });
  }

  /**
   * Opens a record in the workbench (with evidence when its images are loaded and its ranker is selected) and,
   * when asked, saves it to the history. A newer call supersedes an older one still preparing.
   */
  async open(record: RunRecord, options: { save: boolean }): Promise<void> {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.opening = true;
    const { workbench, history } = this.#deps;
    try {
      // Show the record at once; evidence follows when its embeddings are ready (cache hits for a fresh run).
      await workbench.open(record, null);
      const outcome = await buildEvidenceSource(
        record,
        { models: this.#deps.models, sets: this.#deps.sets, reports: this.#deps.reports() },
        controller.signal,
      );
      if (controller.signal.aborted) return;
      this.note = outcome.note;
      if (outcome.source) await workbench.open(record, outcome.source);
      if (options.save) await history.save(record);
    } catch (error) {
      if (controller.signal.aborted) return;
      this.note = `Evidence is unavailable: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      if (this.#controller === controller) {
        this.#controller = null;
        this.opening = false;
      }
    }
  }

  /** Saves the open record (after an edit, a review, a pin) so the history holds the user's view. */
  async saveCurrent(): Promise<void> {
    const record = this.#deps.workbench.record;
    if (record) await this.#deps.history.save($state.snapshot(record) as RunRecord);
  }

  async reopen(runId: string): Promise<void> {
    const record = await this.#deps.history.open(runId);
    if (record) await this.open(record, { save: false });
  }

  async importFile(file: File): Promise<void> {
    const record = await this.#deps.exporter.importFile(file);
    if (record) await this.open(record, { save: true });
  }

  /** Exports the open record; charts for the top findings, thumbnails only when opted in. */
  async export(format: ExportFormat, options: ExportOptions): Promise<void> {
    const { workbench, exporter, sets } = this.#deps;
    const record = workbench.record ? ($state.snapshot(workbench.record) as RunRecord) : null;
    if (!record) return;
    const top = record.ranking.slice(0, REPORT_CHARTS).map((f) => f.finding);
    await exporter.exportRun(record, format, options, {
      charts: async () => {
        const out = new Map<string, string>();
        for (const finding of top) {
          const evidence = workbench.evidenceOf(finding);
          if (!evidence) continue;
          const svgs = await this.#deps.chartSvgs(evidence, finding);
          out.set(finding, svgs.histogram + svgs.roc);
        }
        return out;
      },
      evidence: async () => {
        const out = new Map<
          string,
          {
            topA: { id: string; score: number; set: 'A' | 'B' }[];
            topB: { id: string; score: number; set: 'A' | 'B' }[];
          }
        >();
        for (const finding of top) {
          const evidence = workbench.evidenceOf(finding);
          if (evidence) out.set(finding, { topA: evidence.topA, topB: evidence.topB });
        }
        return out;
      },
      thumbnails: async () => {
        const out = new Map<string, string>();
        for (const finding of top) {
          const evidence = workbench.evidenceOf(finding);
          for (const image of [...(evidence?.topA ?? []), ...(evidence?.topB ?? [])]) {
            if (out.has(image.id)) continue;
            const file = sets.find(image.id)?.file;
            if (file) out.set(image.id, await thumbnailDataUrl(file));
          }
        }
        return out;
      },
    });
  }
}

/** A small JPEG data URL of an image, for the HTML report (only built when the user opts in). */
async function thumbnailDataUrl(file: Blob): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = new OffscreenCanvas(
    Math.max(1, Math.round(bitmap.width * scale)),
    Math.max(1, Math.round(bitmap.height * scale)),
  );
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  return imageDataUrl({ mime: 'image/jpeg', bytes: new Uint8Array(await blob.arrayBuffer()) });
}
