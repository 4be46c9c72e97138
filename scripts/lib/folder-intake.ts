// Intake for the headless runner: reads one image folder recursively (PNG/JPEG; every image is hashed with SHA-256
// and decoded once, so corrupt files are reported and left out before the run), collects `.txt` reports lying
// beside the images, and gives each image its report from a reports table and/or those `.txt` files, resolving a
// report that fits an image of both sets. Imports core's report matching, node-compositor's decoder and node only.
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import type { AbortSignalLike, SetLabel } from '../../src/lib/core/ports.ts';
import {
  decodeReportBytes,
  matchReports,
  pairTxtReports,
  type MatchStage,
} from '../../src/lib/core/reports.ts';
import { namedError } from '../../src/lib/core/types.ts';
import { decodeImage, type RgbaImage } from './node-compositor.ts';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** `.txt` files larger than this are not reports (a log or a dump): skipped with a note. */
const MAX_TXT_BYTES = 1024 * 1024;

/** One usable image of a folder. */
export interface FolderImage {
  /** SHA-256 of the file's bytes, hex: the pipeline's image identity. */
  id: string;
  /** Path relative to the folder, `/`-separated. */
  name: string;
  /** Absolute path. */
  path: string;
  /** Size as displayed (EXIF orientation applied). */
  width: number;
  height: number;
}

/** What reading one folder found. */
export interface FolderIntake {
  root: string;
  /** Usable images, each content once, in path order. */
  images: FolderImage[];
  /** Byte-identical copies of an earlier image (they count once). */
  duplicates: { name: string; sameAs: string }[];
  /** Image files that could not be read or decoded: left out of the run. */
  leftOut: { name: string; reason: string }[];
  /** Files that are not images (nor usable `.txt` reports) and entries not followed. */
  skipped: { name: string; reason: string }[];
  /** `.txt` files (relative paths) with their decoded text, candidates for reports. */
  txt: { path: string; text: string }[];
  /** Hidden entries (names starting with a dot) ignored: `.DS_Store`, `.git`, a cache folder. */
  hidden: number;
}

/** Options of {@link readImageFolder}. */
export interface ReadFolderOptions {
  signal?: AbortSignalLike;
  /** Called with every decoded image (e.g. to prepare its model input while the pixels are at hand). */
  onDecoded?: (id: string, image: RgbaImage) => void;
  /** Called after each image file with the number read so far and the number found. */
  onProgress?: (done: number, total: number) => void;
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && error instanceof Error) return `${code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Every file under `root` (relative `/` paths), sorted, hidden entries and directory symlinks not followed. */
async function listFiles(
  root: string,
  skipped: FolderIntake['skipped'],
): Promise<{ files: string[]; hidden: number }> {
  const files: string[] = [];
  let hidden = 0;
  const walk = async (relative: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, relative), { withFileTypes: true });
    } catch (error) {
      if (relative === '') throw error;
      skipped.push({ name: relative, reason: `folder could not be read (${describe(error)})` });
      return;
    }
    // Code-unit order, not locale order: the same folder lists the same way on every machine.
    entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const entry of entries) {
      const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.name.startsWith('.')) {
        hidden++;
        continue;
      }
      if (entry.isDirectory()) await walk(name);
      else if (entry.isFile()) files.push(name);
      else if (entry.isSymbolicLink()) {
        // Linked files are read; linked folders are not followed (a link to a parent would loop forever).
        const target = await stat(join(root, name)).catch(() => undefined);
        if (target?.isFile()) files.push(name);
        else
          skipped.push({ name, reason: target ? 'symbolic link to a folder (not followed)' : 'broken link' });
      } else skipped.push({ name, reason: 'not a regular file' });
    }
  };
  await walk('');
  return { files, hidden };
}

/** Reads, hashes and decodes one image file; a reason instead when it cannot. */
async function readImage(path: string): Promise<{ id: string; image: RgbaImage } | { reason: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    return { reason: `could not be read (${describe(error)})` };
  }
  const id = createHash('sha256').update(bytes).digest('hex');
  try {
    return { id, image: decodeImage(bytes) };
  } catch (error) {
    return { reason: `could not be decoded (${describe(error)})` };
  }
}

/**
 * Reads a folder recursively. Images (.png/.jpg/.jpeg) are read, hashed and decoded (EXIF orientation applied)
 * one at a time; one that cannot be read or decoded goes to `leftOut` with the reason, never an exception. Small
 * `.txt` files are decoded as report candidates; anything else is listed in `skipped`. Throws when `root` itself
 * cannot be listed; rejects with an Error named `AbortError` when `signal` aborts (checked between files).
 */
export async function readImageFolder(root: string, options: ReadFolderOptions = {}): Promise<FolderIntake> {
  const skipped: FolderIntake['skipped'] = [];
  const { files, hidden } = await listFiles(root, skipped);
  const images: FolderImage[] = [];
  const duplicates: FolderIntake['duplicates'] = [];
  const leftOut: FolderIntake['leftOut'] = [];
  const txt: FolderIntake['txt'] = [];
  const byId = new Map<string, string>();
  const imageFiles = files.filter((f) =>
    (IMAGE_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()),
  );
  let done = 0;
  for (const name of files) {
    if (options.signal?.aborted) throw namedError('AbortError', 'reading the images was cancelled');
    const path = join(root, ...name.split('/'));
    const extension = extname(name).toLowerCase();
    if (extension === '.txt') {
      try {
        const info = await stat(path);
        if (info.size > MAX_TXT_BYTES) {
          skipped.push({
            name,
            reason: `.txt larger than ${MAX_TXT_BYTES / 1024 / 1024} MB: not read as a report`,
          });
        } else txt.push({ path: name, text: decodeReportBytes(await readFile(path)).text });
      } catch (error) {
        skipped.push({ name, reason: `.txt could not be read (${describe(error)})` });
      }
      continue;
    }
    if (!(IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
      const kind = extension === '.dcm' ? 'DICOM is not read: export PNG' : 'not a PNG or JPEG image';
      skipped.push({ name, reason: kind });
      continue;
    }
    const outcome = await readImage(path);
    options.onProgress?.(++done, imageFiles.length);
    if ('reason' in outcome) {
      leftOut.push({ name, reason: outcome.reason });
      continue;
    }
    const first = byId.get(outcome.id);
    if (first !== undefined) {
      duplicates.push({ name, sameAs: first });
      continue;
    }
    byId.set(outcome.id, name);
    options.onDecoded?.(outcome.id, outcome.image);
    images.push({ id: outcome.id, name, path, width: outcome.image.width, height: outcome.image.height });
  }
  return { root, images, duplicates, leftOut, skipped, txt, hidden };
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

/** One reports table: its file and its image name or path → report map (core's parseReports). */
export interface ReportTableFile {
  /** Absolute path of the file: relative image paths in it are resolved against its folder first. */
  path: string;
  reports: ReadonlyMap<string, string>;
}

/** Where each image's report came from, and what did not fit. */
export interface ReportAssignment {
  /** Image id → report, per set. */
  reports: Record<SetLabel, Map<string, string>>;
  /** Per set: images with a report from a table, from a `.txt` file, and names of those without one. */
  perSet: Record<SetLabel, { table: number; txt: number; without: string[] }>;
  /** Table keys given to no image, as `file: key`. */
  unmatchedKeys: string[];
  /** Table keys that fit an image in A and one in B equally well: given to neither (`file: key`). */
  crossSet: string[];
  /** Values shared by several images or several keys within a set (matched through nothing), as readable text. */
  ambiguous: string[];
  /** `.txt` files given to no image, per set (paths relative to the set's folder). */
  unmatchedTxt: Record<SetLabel, string[]>;
  /** Reports not used because the image already had one (from an earlier table, or a table row over a `.txt`). */
  superseded: number;
}

/** Most to least specific: a match by path beats one by file name when a key fits images in both sets. */
const STAGE_RANK: Record<MatchStage, number> = { path: 0, 'path-suffix': 1, basename: 2, stem: 3 };

/**
 * Gives images their reports, first source first. For each reports table in order: a key that is a path relative
 * to the table's folder (or absolute) and names an image file is that image's report (so `A/reports.csv` listing
 * `x.png` means `A/x.png`, even when B has an `x.png` too). The other keys are matched to each set separately
 * (core's matchReports, images named by absolute path, so a key may also be a path relative to any parent folder, a
 * file name or a stem); a key that fits an image of each set goes to the more specific match (path over file
 * name) and, equally specific, to neither. Then `.txt` files beside the images fill in the images still without
 * a report (core's pairTxtReports, per set).
 */
export function assignReports(
  sets: Record<SetLabel, FolderIntake>,
  tables: readonly ReportTableFile[],
): ReportAssignment {
  const labels: SetLabel[] = ['A', 'B'];
  const reports: ReportAssignment['reports'] = { A: new Map(), B: new Map() };
  const perSet: ReportAssignment['perSet'] = {
    A: { table: 0, txt: 0, without: [] },
    B: { table: 0, txt: 0, without: [] },
  };
  const ambiguous: string[] = [];
  const crossSet: string[] = [];
  const unmatchedKeys: string[] = [];
  let superseded = 0;
  const byPath = new Map<string, { set: SetLabel; id: string }>();
  for (const set of labels) {
    for (const image of sets[set].images) {
      if (!byPath.has(image.path)) byPath.set(image.path, { set, id: image.id });
    }
  }
  const give = (set: SetLabel, id: string, text: string, source: 'table' | 'txt') => {
    if (reports[set].has(id)) {
      superseded++;
      return;
    }
    reports[set].set(id, text);
    perSet[set][source]++;
  };

  for (const table of tables) {
    const file = basename(table.path);
    const remaining = new Map<string, string>();
    for (const [key, text] of table.reports) {
      // Windows separators in a key work on every platform; resolve() keeps an absolute key as it is.
      const target = byPath.get(resolve(dirname(table.path), key.replace(/\\/g, '/')));
      if (target) give(target.set, target.id, text, 'table');
      else remaining.set(key, text);
    }
    if (remaining.size === 0) continue;
    const uses = new Map<string, { set: SetLabel; id: string; rank: number }[]>();
    for (const set of labels) {
      const named = sets[set].images
        .filter((i) => !reports[set].has(i.id))
        .map((i) => ({ id: i.id, name: i.path.split(sep).join('/') }));
      const matching = matchReports(named, remaining);
      for (const [id, match] of matching.byImageId) {
        const list = uses.get(match.key) ?? [];
        list.push({ set, id, rank: STAGE_RANK[match.via] });
        uses.set(match.key, list);
      }
      for (const a of matching.ambiguous) {
        ambiguous.push(
          `${file}, set ${set}: ${a.via} "${a.value}" fits ${a.imageNames.length} image(s) and ` +
            `${a.reportKeys.length} report(s)`,
        );
      }
    }
    for (const key of remaining.keys()) {
      const list = uses.get(key);
      if (!list) {
        unmatchedKeys.push(`${file}: ${key}`);
        continue;
      }
      const best = Math.min(...list.map((u) => u.rank));
      const winners = list.filter((u) => u.rank === best);
      if (winners.length === 1) give(winners[0]!.set, winners[0]!.id, remaining.get(key)!, 'table');
      else crossSet.push(`${file}: ${key}`);
    }
  }

  const unmatchedTxt: ReportAssignment['unmatchedTxt'] = { A: [], B: [] };
  for (const set of labels) {
    const intake = sets[set];
    if (intake.txt.length > 0) {
      const pairing = pairTxtReports(
        intake.txt,
        intake.images.map((i) => i.name),
      );
      unmatchedTxt[set] = pairing.unmatchedTxt;
      for (const image of intake.images) {
        const text = pairing.byImageName.get(image.name);
        if (text !== undefined) give(set, image.id, text, 'txt');
      }
    }
    perSet[set].without = intake.images.filter((i) => !reports[set].has(i.id)).map((i) => i.name);
  }
  return { reports, perSet, unmatchedKeys, crossSet, ambiguous, unmatchedTxt, superseded };
}
