// Bookkeeping of an image set once files are hashed: which files are hidden/system files, which are byte-identical
// copies of another file in the same set, and which images appear in both sets (a confounder: the same image
// cannot tell the sets apart). Pure: no DOM, no workers; imports nothing, so Node tests cover it.

/** Something with a content hash, e.g. an accepted image. */
export interface Hashed {
  sha256: string;
}

/** A file that repeats an earlier one of the same set, byte for byte. */
export interface Duplicate<T> {
  item: T;
  duplicateOf: T;
}

/** An image (same SHA-256) present in both sets. */
export interface Confounder<T> {
  sha256: string;
  a: T;
  b: T;
}

/**
 * Keeps the first item of each content hash, in input order, and reports every later one as a duplicate of it.
 * Callers sort first (intake sorts by path) so the kept copy does not depend on enumeration order.
 */
export function dedupeByHash<T extends Hashed>(
  items: readonly T[],
): { unique: T[]; duplicates: Duplicate<T>[] } {
  const first = new Map<string, T>();
  const unique: T[] = [];
  const duplicates: Duplicate<T>[] = [];
  for (const item of items) {
    const kept = first.get(item.sha256);
    if (kept) duplicates.push({ item, duplicateOf: kept });
    else {
      first.set(item.sha256, item);
      unique.push(item);
    }
  }
  return { unique, duplicates };
}

/**
 * Images whose content is in both sets, in set A's order; pass deduplicated sets (one entry per hash in each).
 * If a set still holds copies, the first of each hash stands for them.
 */
export function findConfounders<T extends Hashed>(a: readonly T[], b: readonly T[]): Confounder<T>[] {
  const inB = new Map<string, T>();
  for (const item of b) if (!inB.has(item.sha256)) inB.set(item.sha256, item);
  const seen = new Set<string>();
  const out: Confounder<T>[] = [];
  for (const item of a) {
    const match = inB.get(item.sha256);
    if (match && !seen.has(item.sha256)) {
      seen.add(item.sha256);
      out.push({ sha256: item.sha256, a: item, b: match });
    }
  }
  return out;
}

// Files that operating systems and tools leave next to images; never images a user meant to add.
const SYSTEM_FILE_NAMES = new Set(['thumbs.db', 'ehthumbs.db', 'ehthumbs_vista.db', 'desktop.ini', 'icon\r']);

/**
 * True for hidden or system files: any path segment starting with '.' (.DS_Store, ._AppleDouble, .git/…),
 * a `__MACOSX` folder (zip resource forks), or a known system file name (Thumbs.db, desktop.ini).
 */
export function isSystemPath(path: string): boolean {
  const segments = path.split('/').filter((s) => s !== '');
  const name = segments.at(-1) ?? '';
  return (
    SYSTEM_FILE_NAMES.has(name.toLowerCase()) ||
    segments.some((segment) => segment.startsWith('.') || segment === '__MACOSX')
  );
}

/** Sort order of intake: by path, digits compared as numbers (img2 before img10), independent of the locale. */
export const comparePaths: (a: string, b: string) => number = new Intl.Collator('en', {
  numeric: true,
  sensitivity: 'variant',
}).compare;
