// The evidence behind one finding (METHOD.md §5, made inspectable): its cosine with every image, the A/B score
// histograms on shared axes, the ROC curve whose area is the ranker's AUROC, the images that score highest and
// lowest in each set, and the caption/report sentences that mention it. Pure: imports only core.

import { scoreMatrix } from './ranker.ts';
import type { RunRecord } from './run-record.ts';

/** Every image of A ∪ B embedded with the run's model, in one matrix (the workbench's evidence source). */
export interface EmbeddedImages {
  /** Image ids (content hashes), one per row. */
  ids: string[];
  /** One label per row: 1 = set A, 0 = set B. */
  labels: Uint8Array;
  /** n×dim row-major, rows L2-normalized. */
  matrix: Float32Array;
  dim: number;
}

/**
 * Cosine of every image with one finding: out[i] = ⟨matrix row i, textVector⟩ (textVector L2-normalized, `dim`
 * long). The ranker's score kernel with one text row, so the values are bit-identical to the ranker's scores;
 * about a millisecond for 10,000 × 512.
 */
export function findingScores(images: EmbeddedImages, textVector: Float32Array): Float32Array {
  checkImages(images);
  if (textVector.length !== images.dim) {
    throw new Error(`textVector has ${textVector.length} values, expected dim = ${images.dim}`);
  }
  return scoreMatrix(images.matrix, textVector, images.dim);
}

/** Score histograms of A and B on shared bins. */
export interface Histogram {
  /** bins + 1 ascending bin edges from the lowest to the highest score of A ∪ B. */
  edges: number[];
  /** Fraction of set A per bin (sums to 1 unless A is empty); densities, so A and B share the y axis. */
  a: number[];
  /** Fraction of set B per bin. */
  b: number[];
}

/** ROC curve of "score above a threshold ⇒ set A". */
export interface RocCurve {
  /**
   * False-positive rates (fraction of B at or above the threshold), from 0 to 1, one point per distinct score
   * (tied scores form one diagonal step, which is what makes the area count ties as ½).
   */
  fpr: number[];
  /** True-positive rates (fraction of A at or above the threshold), aligned with `fpr`. */
  tpr: number[];
  /** Area under the curve: exactly the ranker's AUROC (Mann–Whitney U / (nA·nB)) on the same scores. */
  auroc: number;
}

/** One image with its score for the finding. */
export interface ScoredImage {
  id: string;
  score: number;
  set: 'A' | 'B';
}

/** Everything the evidence panel shows for one finding. */
export interface Evidence {
  /** The scores given to {@link buildEvidence} (same array, same order as `images.ids`). */
  scores: Float32Array;
  histogram: Histogram;
  roc: RocCurve;
  /** Mean score of A and of B (NaN for an empty set). */
  meanA: number;
  meanB: number;
  /** Highest-scoring images of each set, highest first. */
  topA: ScoredImage[];
  topB: ScoredImage[];
  /** Lowest-scoring images of each set, lowest first. */
  bottomA: ScoredImage[];
  bottomB: ScoredImage[];
}

/** Defaults of {@link buildEvidence}. */
export const EVIDENCE_DEFAULTS = { bins: 30, k: 8 } as const;

function checkImages(images: EmbeddedImages): void {
  const { ids, labels, matrix, dim } = images;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`dim must be a positive integer, got ${dim}`);
  if (labels.length !== ids.length) {
    throw new Error(`labels has ${labels.length} entries, expected one per id (${ids.length})`);
  }
  if (matrix.length !== ids.length * dim) {
    throw new Error(`matrix has ${matrix.length} values, expected ids × dim = ${ids.length} × ${dim}`);
  }
}

/**
 * Histogram, ROC curve, means and the top/bottom `k` images per set of one finding's `scores` (one per image,
 * in `images` order, e.g. from {@link findingScores}). Uses every image (no ranker cap), so with more than
 * `rankerCap` images per set the AUROC here can differ slightly from the ranked one. One sort of the scores,
 * O(n log n): a few milliseconds for 5,000 + 5,000 images. Ties among images are broken by input order, so the
 * result is deterministic. An empty set gives NaN means and AUROC and an empty histogram side. Throws on
 * mismatched lengths, non-finite scores or invalid options.
 */
export function buildEvidence(
  images: EmbeddedImages,
  scores: Float32Array,
  options: { bins?: number; k?: number } = {},
): Evidence {
  const bins = options.bins ?? EVIDENCE_DEFAULTS.bins;
  const k = options.k ?? EVIDENCE_DEFAULTS.k;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  if (!Number.isInteger(k) || k < 0) throw new Error(`k must be a non-negative integer, got ${k}`);
  const { ids, labels } = images;
  const n = ids.length;
  if (labels.length !== n) {
    throw new Error(`labels has ${labels.length} entries, expected one per id (${n})`);
  }
  if (scores.length !== n)
    throw new Error(`scores has ${scores.length} values, expected one per image (${n})`);

  let nA = 0;
  let sumA = 0;
  let sumB = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = scores[i] as number;
    if (!Number.isFinite(v))
      throw new Error(`score of image ${i} (${ids[i]}) is ${v}: embeddings hold NaN/∞`);
    const label = labels[i] as number;
    if (label > 1) throw new Error(`labels[${i}] is ${label}; expected 1 (set A) or 0 (set B)`);
    if (label === 1) {
      nA++;
      sumA += v;
    } else sumB += v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const nB = n - nA;

  // One descending sort serves the ROC curve (a sweep over thresholds) and all four extreme lists.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => (scores[j] as number) - (scores[i] as number) || i - j);

  return {
    scores,
    histogram: histogram(scores, labels, nA, nB, lo, hi, bins),
    roc: rocCurve(scores, labels, order, nA, nB),
    meanA: nA > 0 ? sumA / nA : NaN,
    meanB: nB > 0 ? sumB / nB : NaN,
    topA: extremes(images, scores, order, 1, k, false),
    topB: extremes(images, scores, order, 0, k, false),
    bottomA: extremes(images, scores, order, 1, k, true),
    bottomB: extremes(images, scores, order, 0, k, true),
  };
}

function histogram(
  scores: Float32Array,
  labels: Uint8Array,
  nA: number,
  nB: number,
  lo: number,
  hi: number,
  bins: number,
): Histogram {
  const n = scores.length;
  if (n === 0) return { edges: [], a: [], b: [] };
  // All scores equal: a zero-width axis cannot be drawn, so centre one small interval on the value.
  if (hi === lo) {
    lo -= 1e-3;
    hi += 1e-3;
  }
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const a = new Array<number>(bins).fill(0);
  const b = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    // The maximum lands in the last bin (closed on the right), like every histogram library does.
    const bin = Math.min(bins - 1, Math.floor(((scores[i] as number) - lo) / width));
    if (labels[i] === 1) a[bin]! += 1;
    else b[bin]! += 1;
  }
  for (let j = 0; j < bins; j++) {
    a[j] = nA > 0 ? a[j]! / nA : 0;
    b[j] = nB > 0 ? b[j]! / nB : 0;
  }
  return { edges, a, b };
}

function rocCurve(
  scores: Float32Array,
  labels: Uint8Array,
  order: Uint32Array,
  nA: number,
  nB: number,
): RocCurve {
  if (nA === 0 || nB === 0) return { fpr: [0, 1], tpr: [0, 1], auroc: NaN };
  const fpr = [0];
  const tpr = [0];
  // U = Σ over A images of (#B below + ½ #B tied), accumulated in half-integers, which doubles hold exactly; the
  // one division then rounds exactly like stats.ts does, so the area equals the ranker's AUROC bit for bit.
  let u = 0;
  let tp = 0;
  let fp = 0;
  const n = order.length;
  let i = 0;
  while (i < n) {
    const v = scores[order[i] as number] as number;
    let ca = 0;
    let cb = 0;
    do {
      if (labels[order[i] as number] === 1) ca++;
      else cb++;
      i++;
    } while (i < n && scores[order[i] as number] === v);
    u += ca * (nB - fp - cb + 0.5 * cb);
    tp += ca;
    fp += cb;
    fpr.push(fp / nB);
    tpr.push(tp / nA);
  }
  return { fpr, tpr, auroc: u / (nA * nB) };
}

function extremes(
  images: EmbeddedImages,
  scores: Float32Array,
  order: Uint32Array,
  label: number,
  k: number,
  fromBottom: boolean,
): ScoredImage[] {
  const out: ScoredImage[] = [];
  const set = label === 1 ? 'A' : 'B';
  const n = order.length;
  for (let step = 0; step < n && out.length < k; step++) {
    const i = order[fromBottom ? n - 1 - step : step] as number;
    if (images.labels[i] === label)
      out.push({ id: images.ids[i] as string, score: scores[i] as number, set });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Mentions in captions and reports
// ---------------------------------------------------------------------------------------------------------------

/** A caption or report of one image. */
export interface MentionSource {
  imageId: string;
  kind: 'caption' | 'report';
  text: string;
}

/** One sentence that mentions a finding. */
export interface Mention {
  imageId: string;
  kind: 'caption' | 'report';
  /** The sentence as written (whitespace collapsed). */
  sentence: string;
  /** Fraction of the finding's content words the sentence contains, in (0, 1]. */
  score: number;
}

// Function words and the radiology filler that appears in nearly every sentence ("there is", "seen", "image"),
// which would otherwise make every sentence "mention" every finding.
const STOP_WORDS = new Set(
  (
    'a an the and or of in on at to for from by with as is are was were be been being this that these those ' +
    'there here it its which who whom whose than then also both each either such into onto over under upon ' +
    'within per via about again any some very more most less least much many few other same own so ' +
    'has have had having do does did can could may might must shall should will would ' +
    'seen noted note noting shows show showing shown demonstrates demonstrated appears appear appearing ' +
    'evidence presence present suggest suggests suggestive suggesting consistent likely possible possibly ' +
    'image images radiograph radiographs film films view views study x ray xray chest cxr patient'
  ).split(' '),
);

// Cues that negate what follows them in a sentence ("no pleural effusion", "without consolidation", "absence of";
// "negative for" and "free of" are rewritten to "no" first, since "free air" alone is a finding), and cues that
// negate what precedes them ("effusion has resolved"). "absent" only counts after: "absent breast shadow" is one.
const NEGATION_BEFORE = new Set(['no', 'not', 'without', 'absence', 'neither', 'nor']);
const NEGATION_AFTER = new Set(['absent', 'resolved', 'excluded']);
// Words that end a negation's scope: "no pneumothorax but a small effusion" mentions the effusion.
const SCOPE_END = new Set(['but', 'however', 'although', 'though', 'except', 'yet', 'whereas', 'while']);
// "no change in the effusion", "no interval increase of …": the negation is about the change, not the finding.
const PSEUDO_NEGATION =
  /\b(?:no|not)\s+(?:(?:significant|significantly|interval|appreciable|substantial|definite|major)\s+)?(?:change|changes|changed|increase|increased|decrease|decreased|progression|improvement|improved|worsening|worse)\b/g;

/** Reduces a plural to its singular with a few suffix rules (opacities → opacity, effusions → effusion). */
function stem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(?:ch|sh|x|z|ss)es$/.test(word)) return word.slice(0, -2);
  // Words ending in "us", "is" or "ss" are singular (hilus, stenosis, mass).
  if (word.endsWith('s') && !/(?:us|is|ss)$/.test(word)) return word.slice(0, -1);
  return word;
}

/** Lowercased word tokens, with "n't" spelled out so it counts as a negation. */
function tokens(text: string): string[] {
  return (
    text
      .toLowerCase()
      .replace(/n['’]t\b/g, ' not')
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** The distinct content-word stems of a text, in order of first occurrence. */
function contentStems(text: string): string[] {
  const seen = new Set<string>();
  for (const token of tokens(text)) if (!STOP_WORDS.has(token)) seen.add(stem(token));
  return [...seen];
}

/** Sentences of a text: split after . ! ? ; or a line break (a period inside "2.5 cm" is not a boundary). */
function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?;])\s+|[\r\n]+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s !== '');
}

/**
 * A run's full-image captions as mention sources: one per image (the first successful one), in run order. Failed or
 * empty captions and crop captions are left out.
 */
export function runCaptions(iterations: RunRecord['iterations']): MentionSource[] {
  const seen = new Set<string>();
  const texts: MentionSource[] = [];
  for (const it of iterations) {
    for (const round of it.rounds) {
      for (const c of round.captions) {
        if (c.crop !== 'full' || c.error !== undefined || c.text === '' || seen.has(c.imageId)) continue;
        seen.add(c.imageId);
        texts.push({ imageId: c.imageId, kind: 'caption', text: c.text });
      }
    }
  }
  return texts;
}

/** A sentence prepared for mention search: its words (negation phrases normalized) and their stems. */
interface PreparedSentence {
  imageId: string;
  kind: MentionSource['kind'];
  sentence: string;
  /** Duplicate key: one image's identical sentences are listed once. */
  key: string;
  position: number;
  words: string[];
  stems: string[];
}

function prepare(sentence: string): { words: string[]; stems: string[] } {
  const words = tokens(
    sentence
      .toLowerCase()
      .replace(PSEUDO_NEGATION, ' ')
      .replace(/\b(?:negative\s+for|free\s+of)\b/g, ' no '),
  );
  return { words, stems: words.map(stem) };
}

/**
 * Which of `wanted` a sentence mentions outside a negation scope; null when any wanted word it mentions is
 * negated (a sentence that denies part of the finding does not support it).
 */
function mentionedStems(prepared: PreparedSentence, wanted: ReadonlySet<string>): Set<string> | null {
  const { words, stems } = prepared;
  const found = new Set<string>();
  let negatedForward = false;
  let clauseHits: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (SCOPE_END.has(word)) {
      negatedForward = false;
      clauseHits = [];
      continue;
    }
    if (NEGATION_AFTER.has(word) && clauseHits.length > 0) return null;
    if (NEGATION_BEFORE.has(word)) {
      negatedForward = true;
      continue;
    }
    const s = stems[i] as string;
    if (!wanted.has(s)) continue;
    if (negatedForward) return null;
    found.add(s);
    clauseHits.push(s);
  }
  return found;
}

/**
 * Captions and reports split into sentences and tokenized once, with an inverted index from word stems to
 * sentences, so each selected finding only looks at the sentences that share a word with it (a report-guided run
 * can have tens of thousands of sentences). Build it once per set of texts; {@link findingMentions} accepts it in
 * place of the texts.
 */
export interface MentionIndex {
  readonly sentences: readonly PreparedSentence[];
  readonly byStem: ReadonlyMap<string, readonly number[]>;
}

/** Builds the {@link MentionIndex} of `texts`. */
export function indexMentions(texts: readonly MentionSource[]): MentionIndex {
  const prepared: PreparedSentence[] = [];
  const byStem = new Map<string, number[]>();
  let position = 0;
  for (const source of texts) {
    for (const sentence of sentences(source.text)) {
      position++;
      const { words, stems } = prepare(sentence);
      const index = prepared.length;
      prepared.push({
        imageId: source.imageId,
        kind: source.kind,
        sentence,
        key: `${source.imageId}\u0000${source.kind}\u0000${sentence.toLowerCase()}`,
        position,
        words,
        stems,
      });
      for (const s of new Set(stems)) {
        const list = byStem.get(s);
        if (list) list.push(index);
        else byStem.set(s, [index]);
      }
    }
  }
  return { sentences: prepared, byStem };
}

/**
 * Caption and report sentences that mention `finding`, best first, at most `limit` (default 10).
 *
 * A sentence mentions the finding when it contains at least half (rounded up) of the finding's content words —
 * lowercased, stop words removed, plurals reduced to singulars — and none of them under a negation ("no pleural
 * effusion", "without consolidation", "effusion has resolved"; "no change in the effusion" is not a negation).
 * Score = fraction of the finding's content words present. Order: score, then shorter sentence (more focused),
 * then image id, kind and position in the input, so the result is deterministic. Identical sentences of one
 * image are listed once.
 */
export function findingMentions(
  finding: string,
  texts: readonly MentionSource[] | MentionIndex,
  limit = 10,
): Mention[] {
  const wanted = new Set(contentStems(finding));
  if (wanted.size === 0 || limit <= 0) return [];
  const index = 'byStem' in texts ? texts : indexMentions(texts);
  const needed = Math.ceil(wanted.size / 2);
  // Only sentences that share at least one content word can mention the finding; ascending = input order.
  const candidates = new Set<number>();
  for (const s of wanted) for (const i of index.byStem.get(s) ?? []) candidates.add(i);
  const found: (Mention & { position: number })[] = [];
  const seen = new Set<string>();
  for (const i of [...candidates].sort((x, y) => x - y)) {
    const prepared = index.sentences[i] as PreparedSentence;
    const hits = mentionedStems(prepared, wanted);
    if (hits === null || hits.size < needed) continue;
    if (seen.has(prepared.key)) continue;
    seen.add(prepared.key);
    found.push({
      imageId: prepared.imageId,
      kind: prepared.kind,
      sentence: prepared.sentence,
      score: hits.size / wanted.size,
      position: prepared.position,
    });
  }
  found.sort(
    (x, y) =>
      y.score - x.score ||
      x.sentence.length - y.sentence.length ||
      (x.imageId < y.imageId ? -1 : x.imageId > y.imageId ? 1 : 0) ||
      (x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0) ||
      x.position - y.position,
  );
  return found
    .slice(0, limit)
    .map(({ imageId, kind, sentence, score }) => ({ imageId, kind, sentence, score }));
}
