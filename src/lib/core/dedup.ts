// Deterministic clean-up of proposed findings (METHOD §7, replacing the reference's lossy LLM deduplication):
// cleaning one proposer reply into a list of findings, normalizing texts for exact matching, and merging near
// duplicates by the cosine of their text embeddings, greedily in input order so the result is reproducible.
// Pure: imports nothing.

/** Merge findings whose text embeddings have a cosine above this (METHOD §7; configurable per run). */
export const DEDUP_COSINE_THRESHOLD = 0.9;
/** Longest finding accepted from a proposer reply, in characters (code points). */
export const MAX_FINDING_CHARS = 160;

// Phrasing the proposer prompt forbids (METHOD §3: no "more …", "presence of …", "images with …") plus leading
// articles: they change the words but not the finding, so they must not defeat exact matching.
const LEADING_FILLER = /^(?:more|presence of|evidence of|images? with|an?|the)\s+/;
// Quotes, sentence punctuation and list bullets around a finding. Brackets are left alone: stripping only one of
// a pair ("effusion (left)" → "effusion (left") would make the text worse, not more canonical.
const EDGE_PUNCTUATION = /^[\s"'`“”‘’«».,;:!?*•‣◦–—-]+|[\s"'`“”‘’«».,;:!?*•‣◦–—-]+$/g;

/**
 * The matching key of a finding: NFC, lowercase, whitespace collapsed, surrounding quotes/punctuation stripped,
 * and leading "more", "presence of", "evidence of", "images with" and articles stripped (repeatedly, but never down
 * to nothing). Idempotent. Only used to compare findings; the text shown to users is never altered by it.
 */
export function normalizeFinding(text: string): string {
  let current = text;
  // Iterate the whole step to a fixed point so the function is idempotent even when one rule exposes work for
  // another: in `the "effusion"` stripping the article exposes quotes. Each pass shortens the text or stops.
  for (let pass = 0; pass < 64; pass++) {
    let next = current.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').replace(EDGE_PUNCTUATION, '');
    const filler = LEADING_FILLER.exec(next);
    if (filler && next.length > filler[0].length) next = next.slice(filler[0].length);
    if (next === current) break;
    current = next;
  }
  return current;
}

/** One finding folded into an earlier one. */
export interface DedupMerge<T> {
  from: T;
  into: T;
  /** Indices in the input list. */
  fromIndex: number;
  intoIndex: number;
  /** Cosine of the two text embeddings; null when the texts are equal after {@link normalizeFinding}. */
  cosine: number | null;
}

/** Result of {@link dedupFindings}. */
export interface DedupResult<T> {
  /** Surviving items in first-seen order. */
  kept: T[];
  /** Input index of each kept item (to select their embedding rows). */
  keptIndices: number[];
  /** Every dropped item and what it was merged into, in input order. */
  merged: DedupMerge<T>[];
}

/**
 * Deduplicates findings deterministically (METHOD §7). Items are visited in input order; each one
 * 1. merges into the kept item with the same {@link normalizeFinding} key, if any (cosine null), else
 * 2. merges into the earliest kept item whose embedding cosine is > `threshold` (when `embeddings` is given), else
 * 3. is kept.
 * The earliest match, not the most similar one, so a merge never depends on items that come later.
 * `embeddings` holds one L2-normalized row of `dim` floats per item, aligned to `items` (cosine = dot product).
 * O(n²·d); fine for the few hundred findings of a run. Idempotent: deduplicating the kept items (with their rows)
 * merges nothing more. Throws a RangeError when the embedding matrix does not match the items.
 */
export function dedupFindings<T extends { text: string }>(
  items: readonly T[],
  embeddings: Float32Array | null,
  dim: number,
  threshold: number = DEDUP_COSINE_THRESHOLD,
): DedupResult<T> {
  if (embeddings) {
    if (!Number.isSafeInteger(dim) || dim < 1) {
      throw new RangeError(`dim must be a positive integer, got ${dim}`);
    }
    if (embeddings.length !== items.length * dim) {
      throw new RangeError(
        `expected ${items.length} embedding rows of ${dim} (${items.length * dim} floats), got ${embeddings.length} floats`,
      );
    }
  }
  if (Number.isNaN(threshold)) throw new RangeError('threshold must be a number, got NaN');
  const kept: T[] = [];
  const keptIndices: number[] = [];
  const merged: DedupMerge<T>[] = [];
  const keptByKey = new Map<string, number>();

  const cosine = (i: number, j: number): number => {
    const rows = embeddings as Float32Array;
    let dot = 0;
    for (let k = 0, a = i * dim, b = j * dim; k < dim; k++)
      dot += (rows[a + k] as number) * (rows[b + k] as number);
    return dot;
  };
  const merge = (index: number, into: number, cos: number | null) =>
    merged.push({
      from: items[index] as T,
      into: items[into] as T,
      fromIndex: index,
      intoIndex: into,
      cosine: cos,
    });

  items.forEach((item, index) => {
    const key = normalizeFinding(item.text);
    const same = keptByKey.get(key);
    if (same !== undefined) return merge(index, same, null);
    if (embeddings) {
      for (const candidate of keptIndices) {
        const cos = cosine(index, candidate);
        if (cos > threshold) return merge(index, candidate, cos);
      }
    }
    keptByKey.set(key, index);
    keptIndices.push(index);
    kept.push(item);
  });
  return { kept, keptIndices, merged };
}

/** Options of {@link cleanFindingList}. */
export interface CleanFindingOptions {
  /** Longer findings are dropped (default {@link MAX_FINDING_CHARS}). */
  maxChars?: number;
  /** Findings beyond this many are dropped (default: no limit). */
  maxItems?: number;
}

/** A proposer reply's findings, and every item that was not kept with the reason why. */
export interface CleanedFindings {
  findings: string[];
  dropped: { text: string; reason: string }[];
}

const LIST_MARKER = /^(?:[-*•‣◦–—]+|\(?\d{1,3}[.)])\s+/;
const QUOTE_PAIRS: readonly (readonly [string, string])[] = [
  ['"', '"'],
  ["'", "'"],
  ['“', '”'],
  ['‘', '’'],
  ['«', '»'],
  ['`', '`'],
];

/**
 * Turns the `differences` array of a proposer reply (any JSON value; never throws) into clean findings: each
 * string has its whitespace collapsed, list bullets or numbering ("1. ", "2) ", "- ", "* ", "• ") and enclosing
 * quotes removed and trailing periods dropped. Dropped, with a reason each: non-strings, empty items (nothing but whitespace and punctuation), items longer
 * than `maxChars` code points, duplicates (equal {@link normalizeFinding} keys), and items beyond `maxItems`.
 * Order is kept. A value that is not an array yields no findings and one dropped entry.
 */
export function cleanFindingList(raw: unknown, options: CleanFindingOptions = {}): CleanedFindings {
  const maxChars = options.maxChars ?? MAX_FINDING_CHARS;
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  const findings: string[] = [];
  const dropped: CleanedFindings['dropped'] = [];
  if (!Array.isArray(raw)) return { findings, dropped: [{ text: preview(raw), reason: 'not a list' }] };
  const firstByKey = new Map<string, string>();
  for (const item of raw as unknown[]) {
    if (typeof item !== 'string') {
      dropped.push({ text: preview(item), reason: 'not a string' });
      continue;
    }
    const text = cleanFinding(item);
    const key = normalizeFinding(text);
    // Judged by the key, so leftovers of pure punctuation ("-", "…", "\"\"") count as empty too.
    if (key === '') {
      dropped.push({ text: item, reason: 'empty' });
      continue;
    }
    const length = [...text].length;
    if (length > maxChars) {
      dropped.push({ text, reason: `too long: ${length} characters (at most ${maxChars})` });
      continue;
    }
    const first = firstByKey.get(key);
    if (first !== undefined) {
      dropped.push({ text, reason: `duplicate of "${first}"` });
      continue;
    }
    if (findings.length >= maxItems) {
      dropped.push({ text, reason: `beyond the first ${maxItems} findings` });
      continue;
    }
    firstByKey.set(key, text);
    findings.push(text);
  }
  return { findings, dropped };
}

/** Display clean-up of one finding: whitespace, list markers, enclosing quotes, trailing periods. */
function cleanFinding(raw: string): string {
  let text = raw.normalize('NFC').replace(/\s+/g, ' ').trim();
  for (;;) {
    const before = text;
    text = text.replace(LIST_MARKER, '').trim();
    for (const [open, close] of QUOTE_PAIRS) {
      if (text.length >= 2 && text.startsWith(open) && text.endsWith(close)) text = text.slice(1, -1).trim();
    }
    text = text.replace(/\.+$/, '').trim();
    if (text === before) return text;
  }
}

/** A short description of any value for a dropped-item list; never throws (cyclic or exotic values included). */
function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
