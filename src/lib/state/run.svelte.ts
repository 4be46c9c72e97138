// UI state of one ranking: the findings text, the run's status and progress, messages, results and their sort.
// `rank()` = load the model → embed both sets (cache first) → embed findings → core's rankFindings.
// `proposeFromBank()` ranks every concept-bank phrase and keeps the best as proposals; `runDemo()` generates two
// phantom cohorts and does the same. Re-ranking on the same sets reuses the embedded matrix (no forward pass).
import { parseFindingsText, type FindingsNote } from '../core/findings-input.ts';
import { rankFindings } from '../core/ranker.ts';
import { proposeFromBank, type BankPhrase } from '../core/concept-bank.ts';
import type { DemoComparison } from '../core/demos.ts';
import { isAbort, type RankedFinding } from '../core/types.ts';
import { judgeConcept } from '../core/judges/concept-judge.ts';
import { generatePhantomCohort } from '../engines/phantom-engine.ts';
import { compactRows } from '../engines/session-embedder.ts';
import type { ImageSets } from './image-sets.svelte.ts';
import type { ModelsState } from './models.svelte.ts';

/** Columns the results table sorts by. */
export type SortKey = 'auroc' | 'finding' | 'meanA' | 'meanB' | 'pMannWhitney' | 'q' | 'cliffsDelta';

export type RunStatus =
  'idle' | 'generating' | 'loading-model' | 'embedding' | 'ranking' | 'done' | 'cancelled' | 'error';

export interface RunMessage {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** The model the built-in demos use: fitted to phantoms, shipped under public/models/. */
export const DEMO_RANKER = 'phantom-clip';
/** Proposals kept from the concept bank. */
const BANK_TOP_K = 10;

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

interface EmbeddedSets {
  matrix: Float32Array;
  dim: number;
  labels: Uint8Array;
  computed: number;
  cached: number;
}

export class RunState {
  readonly #sets: ImageSets;
  readonly #models: ModelsState;
  findingsText = $state('');
  status = $state<RunStatus>('idle');
  progress = $state.raw<{ label: string; done: number; total: number } | null>(null);
  messages = $state.raw<RunMessage[]>([]);
  results = $state.raw<RankedFinding[]>([]);
  truncated = $state.raw<ReadonlySet<string>>(new Set());
  embedStats = $state.raw<{ computed: number; cached: number; rankMs: number } | null>(null);
  /** What produced the results: typed findings, or the concept bank (how many phrases were tested). */
  source = $state.raw<{ kind: 'typed' } | { kind: 'bank'; tested: number } | null>(null);
  /** The demo whose sets are loaded, if any (its ground truth is shown next to the results). */
  demo = $state.raw<DemoComparison | null>(null);
  sortKey = $state<SortKey>('auroc');
  descending = $state(true);
  #controller: AbortController | null = null;

  readonly parsed = $derived(parseFindingsText(this.findingsText));
  readonly findingsNotes = $derived(this.parsed.notes.map(describeNote));
  readonly running = $derived(['generating', 'loading-model', 'embedding', 'ranking'].includes(this.status));
  readonly setsReady: boolean;
  readonly canRank: boolean;

  /** The demo whose cohorts are still the loaded sets (adding or clearing files ends it). */
  readonly activeDemo: DemoComparison | null;

  /**
   * For a demo (known ground truth): the concept judge's score per shown finding (2 exact, 1 partial, 0 not) and
   * the rank of the first exact match, so the user sees at once whether the method found the difference.
   */
  readonly verdicts = $derived.by(() => {
    const demo = this.activeDemo;
    if (!demo || this.source?.kind !== 'bank') return null;
    const scores = new Map(
      this.results.map((r) => [r.finding, judgeConcept(r.finding, demo.truth, demo.truthB).score]),
    );
    const firstExact = this.results.findIndex((r) => scores.get(r.finding) === 2);
    return { scores, firstExact: firstExact === -1 ? null : firstExact + 1 };
  });

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
      case 'generating':
        return 'generating phantoms…';
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
    this.setsReady = $derived(
      !this.running && sets.a.images.length > 0 && sets.b.images.length > 0 && !sets.a.busy && !sets.b.busy,
    );
    this.canRank = $derived(this.setsReady && this.parsed.findings.length > 0);
    this.activeDemo = $derived(
      this.demo && sets.a.label === this.demo.a.label && sets.b.label === this.demo.b.label
        ? this.demo
        : null,
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

  /** Ranks the typed findings. */
  rank(): Promise<void> {
    if (!this.canRank) return Promise.resolve();
    const findings = this.parsed.findings;
    return this.#run(async (signal, messages) => {
      const sets = await this.#embedSets(signal, messages);
      this.status = 'ranking';
      const started = performance.now();
      const texts = await this.#models.session.embedTexts(findings, signal);
      const ranked = rankFindings({
        imageEmbeddings: sets.matrix,
        dim: sets.dim,
        labels: sets.labels,
        textEmbeddings: texts.embeddings,
        findings,
      });
      const truncated = new Set(findings.filter((_, i) => texts.truncated[i]));
      if (truncated.size) {
        messages.push({
          level: 'warning',
          text: `${truncated.size} finding(s) were longer than the text model’s ${this.#models.selected?.maxTextTokens ?? ''}-token context and were truncated (flagged in the table).`,
        });
      }
      this.#show(ranked, truncated, sets, performance.now() - started, { kind: 'typed' });
    });
  }

  /**
   * Concept-bank proposer: ranks every phrase of the bank on both sets and shows the best variant of each concept
   * (top 10). q-values stay corrected across every phrase tested. The proposals fill the findings box for editing.
   */
  proposeFromBank(phrases: readonly BankPhrase[]): Promise<void> {
    if (!this.setsReady || phrases.length === 0) return Promise.resolve();
    return this.#run((signal, messages) => this.#propose(phrases, signal, messages));
  }

  /** Generates the demo's two phantom cohorts, loads them as the sets, and runs the concept-bank proposer. */
  runDemo(demo: DemoComparison, phrases: readonly BankPhrase[]): Promise<void> {
    if (this.running) return Promise.resolve();
    return this.#run(async (signal, messages) => {
      this.status = 'generating';
      this.demo = demo;
      this.results = [];
      const generate = async (recipe: DemoComparison['a'], prefix: string, seed: number) => {
        const generated = await generatePhantomCohort(
          { n: demo.n, seed, size: 256, findings: recipe.findings },
          prefix,
          (done, total) => (this.progress = { label: `Generating set ${prefix} phantoms`, done, total }),
        );
        if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
        return generated.map((g) => g.file);
      };
      const filesA = await generate(demo.a, 'A', demo.seed);
      const filesB = await generate(demo.b, 'B', demo.seed + 1);
      this.progress = null;
      this.#sets.a.clear();
      this.#sets.b.clear();
      await Promise.all([
        this.#sets.a.addFiles(filesA, demo.a.label),
        this.#sets.b.addFiles(filesB, demo.b.label),
      ]);
      this.#models.select(DEMO_RANKER);
      await this.#propose(phrases, signal, messages);
    });
  }

  async #propose(phrases: readonly BankPhrase[], signal: AbortSignal, messages: RunMessage[]): Promise<void> {
    const sets = await this.#embedSets(signal, messages);
    this.status = 'ranking';
    const started = performance.now();
    const texts = await this.#models.session.embedTexts(
      phrases.map((p) => p.text),
      signal,
    );
    const { proposals } = proposeFromBank({
      phrases,
      imageEmbeddings: sets.matrix,
      dim: sets.dim,
      labels: sets.labels,
      textEmbeddings: texts.embeddings,
      topK: BANK_TOP_K,
    });
    this.findingsText = proposals.map((p) => p.finding).join('\n');
    this.#show(
      proposals.map((p) => p.ranked),
      new Set(),
      sets,
      performance.now() - started,
      { kind: 'bank', tested: phrases.length },
    );
  }

  #show(
    ranked: RankedFinding[],
    truncated: Set<string>,
    sets: EmbeddedSets,
    rankMs: number,
    source: NonNullable<RunState['source']>,
  ): void {
    this.results = ranked;
    this.truncated = truncated;
    this.embedStats = { computed: sets.computed, cached: sets.cached, rankMs };
    this.source = source;
    this.status = 'done';
  }

  /** Loads the model and embeds both sets; images that fail to decode move to their set's skipped list. */
  async #embedSets(signal: AbortSignal, messages: RunMessage[]): Promise<EmbeddedSets> {
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
      const reasons = embedded.failures.map((f) => ({
        sha256: images[f.index]!.sha256,
        reason: f.reason,
        index: f.index,
      }));
      this.#sets.a.reject(reasons.filter((f) => f.index < a.length));
      this.#sets.b.reject(reasons.filter((f) => f.index >= a.length));
      messages.push({
        level: 'warning',
        text: `${failed.size} image(s) could not be decoded and were left out (listed under their set).`,
      });
    }
    // Rows of undecodable images are dropped; labels follow the rows that remain. The same sha256 can be in both
    // sets, so labels come from positions, not ids.
    const positions = images.map((_, i) => String(i));
    const rows = compactRows(positions, embedded.matrix, embedded.dim, embedded.failures);
    const labels = new Uint8Array(rows.ok.map((i) => (Number(i) < a.length ? 1 : 0)));
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
    const matrix = rows.embeddings;
    return { matrix, dim, labels, computed: embedded.computed, cached: embedded.cached };
  }

  /** Runs one job: every failure ends as a message, never as an exception, and earlier results stay. */
  async #run(job: (signal: AbortSignal, messages: RunMessage[]) => Promise<void>): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    const messages: RunMessage[] = [];
    this.messages = [];
    try {
      await job(controller.signal, messages);
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
