// UI state of the findings workbench: one finished run's ranked pool with the user's review, pins, hides, edits and
// additions (each re-ranks the whole pool from cached embeddings), the evidence of the selected finding, the
// embedding map, image selection, the image viewer and a comparison with another run. Imports core only; never
// components. Heavy values (records, embeddings, evidence) live in `$state.raw` and are cached per finding text.

import type { SetLabel } from '../core/ports.ts';
import { rankFindings } from '../core/ranker.ts';
import type { FindingOrigin, PoolFinding, RunRecord } from '../core/run-record.ts';
import { isAbort } from '../core/types.ts';
import {
  buildEvidence,
  findingMentions,
  indexMentions,
  runCaptions,
  type MentionIndex,
  findingScores,
  type EmbeddedImages,
  type Evidence,
} from '../core/evidence.ts';
import { projectPca } from '../core/projection.ts';
import { applyReview } from '../core/run-export.ts';
import { compareRuns, type ComparedFinding } from '../core/run-compare.ts';

export type { EmbeddedImages, Evidence } from '../core/evidence.ts';
export type { ProposerKind } from '../core/diff-config.ts';
export type { PoolFinding, RunRecord } from '../core/run-record.ts';

/** The user's verdict on a finding, kept in `record.review`. */
export type ReviewVerdict = 'accepted' | 'rejected';

/** A caption or report of one image; the sentences that mention the selected finding are drawn from these. */
export interface SourceText {
  imageId: string;
  kind: 'caption' | 'report';
  text: string;
}

/**
 * Where the workbench gets evidence: the embedded images of the run and a way to embed new text. Null for an
 * imported record whose images are not loaded (the record is shown; evidence, map and edits are unavailable).
 */
export interface EvidenceSource {
  /**
   * Every image of A ∪ B the run ranked, embedded with the run's model (rows L2-normalized, label 1 = A), so a
   * re-rank with the run's seed and cap reproduces the run's numbers for the findings that did not change.
   */
  images: EmbeddedImages;
  /** Embeds texts with the run's text tower: texts.length × images.dim values, rows L2-normalized. */
  embedTexts(texts: string[], signal?: AbortSignal): Promise<Float32Array>;
  /** URL of an image for <img>, when it is available. */
  imageUrl(id: string): string | undefined;
  /** The image's display name (file name). */
  imageName(id: string): string;
  /** Captions and reports, for the sentences that mention a finding. Default: the run's full-image captions. */
  texts?: SourceText[];
  /** Text vectors the run already computed, by finding text; the pool texts missing here are embedded once. */
  textVectors?: ReadonlyMap<string, Float32Array>;
}

/** Columns the workbench sorts by. `rank` is the ranker's order (AUROC, then its deterministic tie-break). */
export type WorkbenchSortKey =
  'rank' | 'finding' | 'source' | 'auroc' | 'heldOut' | 'localized' | 'q' | 'meanA' | 'meanB' | 'cliffsDelta';

/** Flags a row can carry; a ticked flag filter hides the rows that carry it. */
export type WorkbenchFlag = 'ci-half' | 'q-high' | 'duplicate';

/** One row of the findings table, with everything the table shows resolved. */
export interface WorkbenchRow {
  finding: PoolFinding;
  /** 1-based position in the ranking (stable under sorting and filtering). */
  rank: number;
  pinned: boolean;
  hidden: boolean;
  review: ReviewVerdict | null;
  /** Typed or edited by the user after the run. */
  user: boolean;
  flags: Record<WorkbenchFlag, boolean> & { smallN: boolean };
}

/** An image as the panels show it; `url` undefined = not loaded. */
export interface ImageRef {
  id: string;
  name: string;
  set: SetLabel | null;
  url: string | undefined;
  /** Score of the selected finding on this image (cosine), when known. */
  score: number | null;
}

/** The evidence images of the selected finding, resolved for display. */
export interface EvidenceThumbnails {
  topA: ImageRef[];
  topB: ImageRef[];
  bottomA: ImageRef[];
  bottomB: ImageRef[];
}

/** A caption or report sentence that mentions the selected finding. */
export interface MentionView {
  imageId: string;
  name: string;
  kind: 'caption' | 'report';
  sentence: string;
  score: number;
}

/** The 2-D PCA map of A ∪ B: n points (x, y interleaved) in the order of `ids`/`labels`. */
export interface EmbeddingMapView {
  points: Float32Array;
  explained: [number, number];
  ids: string[];
  labels: Uint8Array;
}

/** One row of a run comparison (see core/run-compare.ts). */
export type CompareRow = ComparedFinding;

/** `preparing`: embedding the pool's texts after `open`; `working`: an edit or addition is embedding/ranking. */
export type WorkbenchStatus = 'idle' | 'preparing' | 'ready' | 'working';

/** Optional collaborators of {@link WorkbenchState}. */
export interface WorkbenchOptions {
  /** Clock of the edit log (tests pin it). */
  now?: () => Date;
  /** Images fitted by the PCA of the map (the rest are projected); default 2,000. */
  mapMaxFit?: number;
  /** Images shown per evidence list; default 6. */
  evidenceK?: number;
  /** Histogram bins; default 30. */
  evidenceBins?: number;
}

const NATURAL_DESCENDING: Record<WorkbenchSortKey, boolean> = {
  rank: false,
  finding: false,
  source: false,
  auroc: true,
  heldOut: true,
  localized: true,
  q: false,
  meanA: true,
  meanB: true,
  cliffsDelta: true,
};

const MENTION_LIMIT = 12;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A row's sort value; undefined sorts last in either direction (a missing held-out AUROC is not a low one). */
function sortValue(row: WorkbenchRow, key: WorkbenchSortKey): number | string | undefined {
  const f = row.finding;
  switch (key) {
    case 'rank':
      return row.rank;
    case 'finding':
      return f.finding;
    case 'source':
      return f.origins[0]?.proposer ?? '';
    case 'heldOut':
      return f.heldOut?.auroc;
    case 'localized':
      return f.localized?.auroc;
    default: {
      const v = f[key];
      return Number.isFinite(v) ? v : undefined;
    }
  }
}

function without<T>(list: readonly T[] | undefined, value: T): T[] {
  return (list ?? []).filter((v) => v !== value);
}

/** Pool entry handed to the ranker: the row it came from (unchanged), or a user text. */
interface PoolEntry {
  index: number;
  text: string;
  /** The unchanged pool row, or null for an added/edited text. */
  base: PoolFinding | null;
}

/**
 * The findings workbench of one run. Methods never throw: failures become `error` and never lose the current
 * ranking. Edits and additions run one at a time in the order they were asked for.
 *
 * How App wires it: `const workbench = new WorkbenchState();` then, when a run is done or imported,
 * `workbench.open(record, source)` (source null without the images); pass `workbench.rows`, `.evidence`,
 * `.thumbnails`, `.mentions`, `.map`, `.mapScores`, `.selectedImages`, `.viewerImage` and `.comparison` to the
 * components, and their callbacks to the methods. `workbench.record` is what to save and export.
 */
export class WorkbenchState {
  readonly #now: () => Date;
  readonly #mapMaxFit: number;
  readonly #evidenceK: number;
  readonly #evidenceBins: number;
  /** Text vectors by finding text (each `dim` long): embedded once per open record, reused by every re-rank. */
  #vectors = new Map<string, Float32Array>();
  /** Evidence by finding text for the current source; cleared on `open`. */
  #evidenceCache = new Map<string, Evidence>();
  #mentionCache = new WeakMap<readonly SourceText[], Map<string, MentionView[]>>();
  /** Tokenized sentences of each text list, built on the first selection (not per finding). */
  #mentionIndex = new WeakMap<readonly SourceText[], MentionIndex>();
  #mapCache = new WeakMap<EmbeddedImages, EmbeddingMapView>();
  #indexCache = new WeakMap<EmbeddedImages, Map<string, number>>();
  #inputCache = new WeakMap<RunRecord['inputs'], Map<string, { name: string; set: SetLabel }>>();
  #captionCache = new WeakMap<RunRecord['iterations'], SourceText[]>();
  /** Bumped by `open`: work started for an earlier record is dropped when it finishes. */
  #generation = 0;
  #controller: AbortController | null = null;
  #queue: Promise<void> = Promise.resolve();
  /** Bumped when text vectors arrive, so evidence waiting for a vector is derived again (cheaply: cached). */
  #vectorsVersion = $state(0);

  /** The run shown, with the user's review, pins, hides and edits; replaced (never mutated) on every change. */
  record = $state.raw<RunRecord | null>(null);
  source = $state.raw<EvidenceSource | null>(null);
  /** Text of the selected finding. */
  selected = $state<string | null>(null);
  sortKey = $state<WorkbenchSortKey>('rank');
  descending = $state(false);
  filter = $state('');
  flagFilters = $state.raw<ReadonlySet<WorkbenchFlag>>(new Set());
  showHidden = $state(false);
  status = $state<WorkbenchStatus>('idle');
  /** The last failure, in words (cleared by the next successful change). */
  error = $state<string | null>(null);
  /** Milliseconds of the last re-rank: embedding the new text, and ranking the pool. */
  timing = $state.raw<{ embedMs: number; rankMs: number } | null>(null);
  /** Image ids picked on the map or among the thumbnails. */
  selectedIds = $state.raw<string[]>([]);
  /** Image open in the viewer. */
  viewing = $state<string | null>(null);
  /** The run compared with (`compareWith`). */
  other = $state.raw<RunRecord | null>(null);

  /** True while the images of the run are not loaded (imported record): thumbnails, map and edits unavailable. */
  readonly imagesMissing = $derived(this.record !== null && this.source === null);
  readonly busy = $derived(this.status === 'preparing' || this.status === 'working');

  /** Every row with its flags, in ranking order. */
  readonly #allRows: WorkbenchRow[] = $derived.by(() => {
    const record = this.record;
    if (!record) return [];
    const pinned = new Set(record.pinned ?? []);
    const hidden = new Set(record.hidden ?? []);
    const review = record.review ?? {};
    return record.ranking.map((f, i) => ({
      finding: f,
      rank: i + 1,
      pinned: pinned.has(f.finding),
      hidden: hidden.has(f.finding),
      review: review[f.finding] ?? null,
      user: f.origins.some((o) => o.proposer === 'user'),
      flags: {
        'ci-half': f.ciContainsHalf,
        'q-high': !(f.q <= 0.05),
        duplicate: f.merged.length > 0,
        smallN: f.nA < 2 || f.nB < 2,
      },
    }));
  });

  /** The rows the table shows: filtered, sorted, pinned first; hidden ones only with `showHidden`. */
  readonly rows: WorkbenchRow[] = $derived.by(() => {
    const needle = this.filter.trim().toLowerCase();
    const flags = [...this.flagFilters];
    const shown = this.#allRows.filter(
      (row) =>
        (this.showHidden || !row.hidden) &&
        !flags.some((flag) => row.flags[flag]) &&
        (needle === '' ||
          row.finding.finding.toLowerCase().includes(needle) ||
          row.finding.merged.some((m) => m.toLowerCase().includes(needle))),
    );
    const key = this.sortKey;
    const sign = this.descending ? -1 : 1;
    return shown.sort((x, y) => {
      if (x.pinned !== y.pinned) return x.pinned ? -1 : 1;
      const a = sortValue(x, key);
      const b = sortValue(y, key);
      if (a === undefined || b === undefined) {
        if (a !== b) return a === undefined ? 1 : -1;
        return x.rank - y.rank;
      }
      const c = typeof a === 'string' ? a.localeCompare(b as string) : a - (b as number);
      return sign * c || x.rank - y.rank;
    });
  });

  /** Rows hidden by the user (shown with `showHidden`). */
  readonly hiddenCount = $derived(this.#allRows.filter((r) => r.hidden).length);

  /** The pool row of the selected finding. */
  readonly selectedFinding: PoolFinding | null = $derived(
    this.record?.ranking.find((f) => f.finding === this.selected) ?? null,
  );

  /**
   * Histogram, ROC and extreme images of the selected finding. Depends only on the source, the selection and the
   * arrival of text vectors, and is cached per finding text, so sorting, filtering, pinning or reviewing never
   * recompute it.
   */
  readonly evidence: Evidence | null = $derived.by(() => {
    const source = this.source;
    const text = this.selected;
    void this.#vectorsVersion;
    if (!source || text === null) return null;
    return this.#evidenceFor(source.images, text);
  });

  /** Evidence of any finding of the open record (cached), e.g. for exports; null without a source or vector. */
  evidenceOf(finding: string): Evidence | null {
    const source = this.source;
    return source ? this.#evidenceFor(source.images, finding) : null;
  }

  /** The evidence images, resolved to names and URLs. */
  readonly thumbnails: EvidenceThumbnails | null = $derived.by(() => {
    const evidence = this.evidence;
    if (!evidence) return null;
    const resolve = (list: Evidence['topA']) =>
      list.map((e) => ({ ...this.#imageRef(e.id), score: e.score }));
    return {
      topA: resolve(evidence.topA),
      topB: resolve(evidence.topB),
      bottomA: resolve(evidence.bottomA),
      bottomB: resolve(evidence.bottomB),
    };
  });

  /** Captions and reports the mentions are drawn from: the source's, or the run's full-image captions. */
  readonly #texts: readonly SourceText[] = $derived.by(() => {
    const given = this.source?.texts;
    if (given) return given;
    const record = this.record;
    return record ? this.#recordCaptions(record.iterations) : [];
  });

  /** Caption and report sentences that mention the selected finding, best first (cached per finding text). */
  readonly mentions: MentionView[] = $derived.by(() => {
    const text = this.selected;
    const texts = this.#texts;
    if (text === null || texts.length === 0) return [];
    let cache = this.#mentionCache.get(texts);
    if (!cache) this.#mentionCache.set(texts, (cache = new Map()));
    const cached = cache.get(text);
    if (cached) return cached;
    let index = this.#mentionIndex.get(texts);
    if (!index) this.#mentionIndex.set(texts, (index = indexMentions(texts)));
    const found = findingMentions(text, index, MENTION_LIMIT).map((m) => ({
      imageId: m.imageId,
      name: this.#imageName(m.imageId),
      kind: m.kind,
      sentence: m.sentence,
      score: m.score,
    }));
    cache.set(text, found);
    return found;
  });

  /** The PCA map of the source's images: computed once per source, the first time it is read. */
  readonly map: EmbeddingMapView | null = $derived.by(() => {
    const source = this.source;
    return source ? this.#mapFor(source.images) : null;
  });

  /** Scores of the selected finding per map point (colouring), when its evidence is known. */
  readonly mapScores: Float32Array | null = $derived(this.evidence?.scores ?? null);

  /** The images picked on the map or among the thumbnails. */
  readonly selectedImages: ImageRef[] = $derived(this.selectedIds.map((id) => this.#imageRef(id)));

  /** The image open in the viewer. */
  readonly viewerImage: ImageRef | null = $derived(
    this.viewing === null ? null : this.#imageRef(this.viewing),
  );

  /** The comparison with `other`, when one is chosen. */
  readonly comparison: CompareRow[] | null = $derived(
    this.record && this.other ? compareRuns(this.record, this.other) : null,
  );

  /** One line for an aria-live region. */
  readonly statusText = $derived.by(() => {
    if (this.error) return this.error;
    switch (this.status) {
      case 'idle':
        return 'No run open.';
      case 'preparing':
        return 'Embedding the findings…';
      case 'working':
        return 'Re-ranking the pool…';
      case 'ready': {
        const n = this.record?.ranking.length ?? 0;
        const missing = this.imagesMissing ? ' Images not loaded: evidence and edits are unavailable.' : '';
        return `${n} finding${n === 1 ? '' : 's'}.${missing}`;
      }
    }
  });

  constructor(options: WorkbenchOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#mapMaxFit = options.mapMaxFit ?? 2000;
    this.#evidenceK = options.evidenceK ?? 6;
    this.#evidenceBins = options.evidenceBins ?? 30;
  }

  // --- opening -----------------------------------------------------------------------------------------------

  /**
   * Shows `record` (its top finding selected). With a source, the pool's texts are embedded in one call so that
   * evidence and re-ranking need no model call later; resolves when that is done (or failed: `error` says why).
   */
  open(record: RunRecord, source: EvidenceSource | null): Promise<void> {
    this.#controller?.abort();
    const generation = ++this.#generation;
    const controller = new AbortController();
    this.#controller = controller;
    this.#vectors = new Map();
    this.#evidenceCache = new Map();
    this.record = record;
    this.source = source;
    this.selected = record.ranking[0]?.finding ?? null;
    this.selectedIds = [];
    this.viewing = null;
    this.error = null;
    this.timing = null;
    if (!source) {
      this.status = 'ready';
      this.#queue = Promise.resolve();
      return this.#queue;
    }
    this.status = 'preparing';
    for (const [text, vector] of source.textVectors ?? []) this.#vectors.set(text, vector);
    const texts = record.ranking.map((f) => f.finding);
    this.#queue = this.#embedMissing(source, texts, controller.signal).then(
      () => {
        if (generation !== this.#generation) return;
        this.#vectorsVersion++;
        this.status = 'ready';
      },
      (error: unknown) => {
        if (generation !== this.#generation || isAbort(error)) return;
        this.status = 'ready';
        this.error = `Could not embed the findings: ${errorText(error)}`;
      },
    );
    return this.#queue;
  }

  // --- table -------------------------------------------------------------------------------------------------

  /** Selects a finding (its evidence, mentions and map colouring follow). */
  select(finding: string | null): void {
    this.selected = finding;
  }

  /** Sorts by `key`; the same key again flips the direction. */
  setSort(key: WorkbenchSortKey): void {
    if (this.sortKey === key) this.descending = !this.descending;
    else {
      this.sortKey = key;
      this.descending = NATURAL_DESCENDING[key];
    }
  }

  /** Shows only findings whose text (or a merged phrasing) contains `text`, case-insensitively. */
  setFilter(text: string): void {
    this.filter = text;
  }

  /** Ticks or unticks a flag filter: ticked flags hide the rows that carry them. */
  toggleFlagFilter(flag: WorkbenchFlag): void {
    const next = new Set(this.flagFilters);
    if (!next.delete(flag)) next.add(flag);
    this.flagFilters = next;
  }

  setShowHidden(show: boolean): void {
    this.showHidden = show;
  }

  /** Pins a finding to the top of the table, or unpins it. Stored in the record. */
  pin(finding: string): void {
    const record = this.record;
    if (!record) return;
    const pinned = record.pinned ?? [];
    this.record = {
      ...record,
      pinned: pinned.includes(finding) ? without(pinned, finding) : [...pinned, finding],
    };
  }

  /** Hides a finding (or shows it again). Stored in the record. */
  hide(finding: string): void {
    const record = this.record;
    if (!record) return;
    const hidden = record.hidden ?? [];
    this.record = {
      ...record,
      hidden: hidden.includes(finding) ? without(hidden, finding) : [...hidden, finding],
    };
  }

  /** Records the user's verdict on a finding; null clears it. */
  review(finding: string, verdict: ReviewVerdict | null): void {
    const record = this.record;
    if (!record) return;
    this.record = applyReview(record, finding, verdict);
  }

  /**
   * Replaces a finding's text, embeds the new text (one model call) and re-ranks the whole pool. The edited row
   * gets origin `user`; its pin and hide carry over, its review does not (it judged other words).
   */
  edit(finding: string, newText: string): Promise<void> {
    return this.#enqueue(async (generation, signal) => {
      const text = newText.trim();
      const record = this.#editable(text);
      if (!record) return;
      if (text === finding) return;
      if (!record.ranking.some((f) => f.finding === finding)) {
        this.error = `“${finding}” is not in the pool.`;
        return;
      }
      const entries: PoolEntry[] = record.ranking.map((f) => ({
        index: f.index,
        text: f.finding === finding ? text : f.finding,
        base: f.finding === finding ? null : f,
      }));
      const ranking = await this.#rerank(record, entries, generation, signal);
      if (!ranking) return;
      // The review judged the old words, so it goes; pin and hide belong to the row and follow the new text.
      const current = applyReview(this.record as RunRecord, finding, null);
      const renamed = (list: string[]) => list.map((t) => (t === finding ? text : t));
      this.record = {
        ...current,
        ranking,
        ...(current.pinned ? { pinned: renamed(current.pinned) } : {}),
        ...(current.hidden ? { hidden: renamed(current.hidden) } : {}),
        edits: [
          ...(current.edits ?? []),
          { at: this.#now().toISOString(), action: 'edit', from: finding, to: text },
        ],
      };
      if (this.selected === finding) this.selected = text;
    });
  }

  /** Adds a finding typed by the user: embeds it (one model call), re-ranks the whole pool and selects it. */
  add(text: string): Promise<void> {
    return this.#enqueue(async (generation, signal) => {
      const trimmed = text.trim();
      const record = this.#editable(trimmed);
      if (!record) return;
      const next = record.ranking.reduce((max, f) => Math.max(max, f.index), -1) + 1;
      const entries: PoolEntry[] = [
        ...record.ranking.map((f) => ({ index: f.index, text: f.finding, base: f })),
        { index: next, text: trimmed, base: null },
      ];
      const ranking = await this.#rerank(record, entries, generation, signal);
      if (!ranking) return;
      const current = this.record as RunRecord;
      this.record = {
        ...current,
        ranking,
        edits: [...(current.edits ?? []), { at: this.#now().toISOString(), action: 'add', to: trimmed }],
      };
      this.selected = trimmed;
    });
  }

  // --- images and comparison ---------------------------------------------------------------------------------

  /** Picks images (from the map or the thumbnails); an empty list clears the pick. */
  selectImages(ids: string[]): void {
    this.selectedIds = ids;
  }

  /** Opens an image in the viewer. */
  openImage(id: string): void {
    this.viewing = id;
  }

  closeImage(): void {
    this.viewing = null;
  }

  /** Compares the open run with `other` (null ends the comparison). */
  compareWith(other: RunRecord | null): void {
    this.other = other;
  }

  // --- internals ---------------------------------------------------------------------------------------------

  /** Runs `job` after the jobs before it, for the record open now; a throw becomes `error`. */
  #enqueue(job: (generation: number, signal: AbortSignal) => Promise<void>): Promise<void> {
    const generation = this.#generation;
    const signal = this.#controller?.signal ?? new AbortController().signal;
    const run = async () => {
      if (generation !== this.#generation) return;
      try {
        await job(generation, signal);
      } catch (error) {
        if (generation !== this.#generation || isAbort(error)) return;
        this.error = errorText(error);
      } finally {
        if (generation === this.#generation && this.status === 'working') this.status = 'ready';
      }
    };
    this.#queue = this.#queue.then(run, run);
    return this.#queue;
  }

  /** The record, when `text` can be put into its pool now; otherwise sets `error` and returns null. */
  #editable(text: string): RunRecord | null {
    const record = this.record;
    if (!record) return null;
    if (!this.source) {
      this.error = 'The images of this run are not loaded: open them to edit or add findings.';
      return null;
    }
    if (text === '') {
      this.error = 'Type a finding first.';
      return null;
    }
    if (record.ranking.some((f) => f.finding === text)) {
      this.error = `“${text}” is already in the pool.`;
      return null;
    }
    return record;
  }

  /** Embeds the texts that have no vector yet, in one call. */
  async #embedMissing(source: EvidenceSource, texts: string[], signal: AbortSignal): Promise<void> {
    const missing = [...new Set(texts.filter((t) => !this.#vectors.has(t)))];
    if (missing.length === 0) return;
    const dim = source.images.dim;
    const values = await source.embedTexts(missing, signal);
    if (values.length !== missing.length * dim) {
      throw new Error(
        `the text model returned ${values.length} values for ${missing.length} text(s) of dimension ${dim}`,
      );
    }
    // Copies, so a cached vector never aliases a buffer the embedder may reuse or transfer.
    missing.forEach((text, i) => this.#vectors.set(text, values.slice(i * dim, (i + 1) * dim)));
  }

  /**
   * Embeds what is missing and ranks `entries` on every image of the source with the run's seed, cap and
   * threshold. Unchanged rows keep their origins, merged phrasings, held-out and localized AUROCs (those do not
   * depend on the other findings); new texts get origin `user`. Null when the job was superseded.
   */
  async #rerank(
    record: RunRecord,
    entries: PoolEntry[],
    generation: number,
    signal: AbortSignal,
  ): Promise<PoolFinding[] | null> {
    const source = this.source as EvidenceSource;
    this.status = 'working';
    const started = performance.now();
    await this.#embedMissing(
      source,
      entries.map((e) => e.text),
      signal,
    );
    if (generation !== this.#generation) return null;
    this.#vectorsVersion++;
    const embedded = performance.now();
    const { images } = source;
    const texts = new Float32Array(entries.length * images.dim);
    entries.forEach((e, i) => texts.set(this.#vectors.get(e.text) as Float32Array, i * images.dim));
    const ranked = rankFindings({
      imageEmbeddings: images.matrix,
      dim: images.dim,
      labels: images.labels,
      textEmbeddings: texts,
      findings: entries.map((e) => e.text),
      threshold: record.config.threshold,
      cap: record.config.rankerCap,
      seed: record.config.seed,
    });
    const lastIteration = record.iterations.at(-1)?.iteration ?? 1;
    const userOrigin: FindingOrigin[] = [{ proposer: 'user', iteration: lastIteration }];
    const ranking = ranked.map((r): PoolFinding => {
      const entry = entries[r.index] as PoolEntry;
      if (entry.base) return { ...entry.base, ...r, index: entry.index };
      return { ...r, index: entry.index, origins: userOrigin, merged: [] };
    });
    this.timing = { embedMs: embedded - started, rankMs: performance.now() - embedded };
    this.error = null;
    return ranking;
  }

  #evidenceFor(images: EmbeddedImages, text: string): Evidence | null {
    const cached = this.#evidenceCache.get(text);
    if (cached) return cached;
    const vector = this.#vectors.get(text);
    if (!vector) return null;
    const evidence = buildEvidence(images, findingScores(images, vector), {
      bins: this.#evidenceBins,
      k: this.#evidenceK,
    });
    this.#evidenceCache.set(text, evidence);
    return evidence;
  }

  #mapFor(images: EmbeddedImages): EmbeddingMapView {
    let view = this.#mapCache.get(images);
    if (!view) {
      const { points, explained } = projectPca(images, { maxFit: this.#mapMaxFit, seed: 0 });
      view = { points, explained, ids: images.ids, labels: images.labels };
      this.#mapCache.set(images, view);
    }
    return view;
  }

  #indexOf(images: EmbeddedImages): Map<string, number> {
    let index = this.#indexCache.get(images);
    if (!index) {
      index = new Map(images.ids.map((id, i) => [id, i]));
      this.#indexCache.set(images, index);
    }
    return index;
  }

  #inputsOf(record: RunRecord): Map<string, { name: string; set: SetLabel }> {
    let inputs = this.#inputCache.get(record.inputs);
    if (!inputs) {
      inputs = new Map(record.inputs.images.map((im) => [im.id, { name: im.name, set: im.set }]));
      this.#inputCache.set(record.inputs, inputs);
    }
    return inputs;
  }

  /** The run's full-image captions (the fallback text for mentions when the source gives none). */
  #recordCaptions(iterations: RunRecord['iterations']): SourceText[] {
    let texts = this.#captionCache.get(iterations);
    if (!texts) this.#captionCache.set(iterations, (texts = runCaptions(iterations)));
    return texts;
  }

  #imageName(id: string): string {
    if (this.source) return this.source.imageName(id);
    return (this.record && this.#inputsOf(this.record).get(id)?.name) ?? id;
  }

  #imageRef(id: string): ImageRef {
    const source = this.source;
    let set: SetLabel | null = null;
    let score: number | null = null;
    if (source) {
      const i = this.#indexOf(source.images).get(id);
      if (i !== undefined) {
        set = source.images.labels[i] === 1 ? 'A' : 'B';
        const s = this.evidence?.scores[i];
        if (s !== undefined) score = s;
      }
    }
    if (set === null && this.record) set = this.#inputsOf(this.record).get(id)?.set ?? null;
    return { id, name: this.#imageName(id), set, url: source?.imageUrl(id), score };
  }
}
