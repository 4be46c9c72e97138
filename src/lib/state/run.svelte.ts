// UI state of one ranking: the findings text, the run's status and progress, messages, results and their sort.
// `rank()` = load the model → embed both sets (cache first) → embed findings → core's rankFindings. Re-ranking new
// findings on the same sets reuses the embedded matrix (no decode, no forward pass, no cache lookup).
import { parseFindingsText, type FindingsNote } from '../core/findings-input.ts';
import { rankFindings } from '../core/ranker.ts';
import { isAbort, type RankedFinding } from '../core/types.ts';
import type { ImageSets } from './image-sets.svelte.ts';
import type { ModelsState } from './models.svelte.ts';

/** Columns the results table sorts by. */
export type SortKey = 'auroc' | 'finding' | 'meanA' | 'meanB' | 'pMannWhitney' | 'q' | 'cliffsDelta';

export type RunStatus = 'idle' | 'loading-model' | 'embedding' | 'ranking' | 'done' | 'cancelled' | 'error';

export interface RunMessage {
  level: 'info' | 'warning' | 'error';
  text: string;
}

const DEFAULT_FINDINGS = '';

function describeNote(note: FindingsNote): string {
  switch (note.kind) {
    case 'empty-lines':
      return `${note.count} blank line${note.count === 1 ? '' : 's'} ignored.`;
    case 'duplicate':
      return `Line ${note.line} repeats “${note.finding}”: ranked once.`;
    case 'too-long':
      return `Line ${note.line} has ${note.characters} characters: longer than the text model reads; it will be truncated.`;
  }
}

export class RunState {
  readonly #sets: ImageSets;
  readonly #models: ModelsState;
  findingsText = $state(DEFAULT_FINDINGS);
  status = $state<RunStatus>('idle');
  progress = $state.raw<{ label: string; done: number; total: number } | null>(null);
  messages = $state.raw<RunMessage[]>([]);
  results = $state.raw<RankedFinding[]>([]);
  truncated = $state.raw<ReadonlySet<string>>(new Set());
  embedStats = $state.raw<{ computed: number; cached: number; rankMs: number } | null>(null);
  sortKey = $state<SortKey>('auroc');
  descending = $state(true);
  #controller: AbortController | null = null;

  readonly parsed = $derived(parseFindingsText(this.findingsText));
  readonly findingsNotes = $derived(this.parsed.notes.map(describeNote));
  readonly running = $derived(['loading-model', 'embedding', 'ranking'].includes(this.status));
  readonly canRank: boolean;

  readonly rows = $derived.by(() => {
    const key = this.sortKey;
    const sign = this.descending ? -1 : 1;
    // The ranker's own order (AUROC with its deterministic tie-break) is kept for the default sort.
    if (key === 'auroc' && this.descending) return this.results;
    return [...this.results].sort((x, y) => {
      const a = x[key];
      const b = y[key];
      const c = typeof a === 'string' ? a.localeCompare(b as string) : (a as number) - (b as number);
      return sign * c || x.index - y.index;
    });
  });

  readonly statusText = $derived.by(() => {
    switch (this.status) {
      case 'idle':
        return this.canRank ? 'ready to rank' : this.#whatIsMissing();
      case 'loading-model':
        return 'loading the model…';
      case 'embedding':
        return 'embedding images…';
      case 'ranking':
        return 'ranking…';
      case 'done':
        return 'done';
      case 'cancelled':
        return 'cancelled';
      case 'error':
        return 'failed';
    }
  });

  constructor(sets: ImageSets, models: ModelsState) {
    this.#sets = sets;
    this.#models = models;
    this.canRank = $derived(
      !this.running &&
        this.parsed.findings.length > 0 &&
        sets.a.images.length > 0 &&
        sets.b.images.length > 0 &&
        !sets.a.busy &&
        !sets.b.busy,
    );
  }

  setFindingsText(text: string): void {
    this.findingsText = text;
  }

  sortBy(key: SortKey): void {
    if (this.sortKey === key) this.descending = !this.descending;
    else {
      this.sortKey = key;
      this.descending = key !== 'finding' && key !== 'pMannWhitney' && key !== 'q';
    }
  }

  cancel(): void {
    this.#controller?.abort();
  }

  /** Ranks the findings; every failure ends as a message, never as an exception, and earlier results stay. */
  async rank(): Promise<void> {
    if (!this.canRank) return;
    const controller = new AbortController();
    this.#controller = controller;
    const { signal } = controller;
    const findings = this.parsed.findings;
    const messages: RunMessage[] = [];
    this.messages = [];
    try {
      this.status = 'loading-model';
      await this.#models.load(signal);

      this.status = 'embedding';
      const a = this.#sets.a.images;
      const b = this.#sets.b.images;
      const images = [...a, ...b];
      const embedded = await this.#models.session.embedImages(images, {
        signal,
        onProgress: (p) =>
          (this.progress = {
            label: p.phase === 'cache' ? 'Looking up cached embeddings' : 'Embedding images',
            done: p.done,
            total: p.total,
          }),
      });
      this.progress = null;

      const failed = new Set(embedded.failures.map((f) => f.index));
      if (failed.size) {
        const reasons = embedded.failures.map((f) => ({ sha256: images[f.index]!.sha256, reason: f.reason }));
        this.#sets.a.reject(reasons.filter((_, i) => embedded.failures[i]!.index < a.length));
        this.#sets.b.reject(reasons.filter((_, i) => embedded.failures[i]!.index >= a.length));
        messages.push({
          level: 'warning',
          text: `${failed.size} image(s) could not be decoded and were left out (listed under their set).`,
        });
      }
      const kept = images.map((_, i) => i).filter((i) => !failed.has(i));
      const labels = new Uint8Array(kept.map((i) => (i < a.length ? 1 : 0)));
      const nA = labels.reduce((s, l) => s + l, 0);
      const nB = labels.length - nA;
      if (nA === 0 || nB === 0) throw new Error(`Set ${nA === 0 ? 'A' : 'B'} has no usable image left.`);
      if (nA === 1 || nB === 1) {
        messages.push({
          level: 'warning',
          text: `Set ${nA === 1 ? 'A' : 'B'} has a single image: AUROC is shown, but its confidence interval and p-values are undefined. Add more images.`,
        });
      }
      const dim = embedded.dim;
      const matrix = failed.size ? new Float32Array(kept.length * dim) : embedded.matrix;
      if (failed.size)
        kept.forEach((src, row) =>
          matrix.set(embedded.matrix.subarray(src * dim, (src + 1) * dim), row * dim),
        );

      this.status = 'ranking';
      const started = performance.now();
      const texts = await this.#models.session.embedTexts(findings, signal);
      const ranked = rankFindings({
        imageEmbeddings: matrix,
        dim,
        labels,
        textEmbeddings: texts.embeddings,
        findings,
      });
      const rankMs = performance.now() - started;
      const truncated = new Set(findings.filter((_, i) => texts.truncated[i]));
      if (truncated.size) {
        messages.push({
          level: 'warning',
          text: `${truncated.size} finding(s) were longer than the text model’s ${this.#models.selected?.maxTextTokens ?? ''}-token context and were truncated (flagged in the table).`,
        });
      }
      this.results = ranked;
      this.truncated = truncated;
      this.embedStats = { computed: embedded.computed, cached: embedded.cached, rankMs };
      this.status = 'done';
    } catch (error) {
      this.progress = null;
      if (isAbort(error)) {
        this.status = 'cancelled';
        messages.push({
          level: 'info',
          text: 'Cancelled. Embeddings computed so far are cached; results shown are from the last completed ranking.',
        });
      } else {
        this.status = 'error';
        messages.push({ level: 'error', text: error instanceof Error ? error.message : String(error) });
      }
    } finally {
      this.messages = messages;
      if (this.#controller === controller) this.#controller = null;
    }
  }

  #whatIsMissing(): string {
    if (this.#sets.a.images.length === 0) return 'add images to set A';
    if (this.#sets.b.images.length === 0) return 'add images to set B';
    if (this.parsed.findings.length === 0) return 'type at least one finding';
    return 'busy';
  }
}
