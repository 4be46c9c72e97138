// Benchmark import: RadDiffBench (jsonl + difficulty csv) and VisDiffBench (PairedImageSets.csv + per-difficulty
// pair jsonl) into one pair list with ground truth kept verbatim, plus the safe mapping of a pair's image paths
// onto the files under a user-chosen root. Includes a small RFC 4180 CSV reader (no CSV dependency in core).
// Pure: imports only core.

import type { Difficulty } from './evaluator.ts';
import { DIFFICULTY_LEVELS } from './evaluator.ts';

/** One image set of a pair: its ground-truth description (verbatim) and image paths (as written in the source). */
export interface BenchmarkSet {
  description: string;
  images: string[];
}

/** One benchmark pair. */
export interface BenchmarkPair {
  /** RadDiffBench: the 0-based jsonl line ("0".."56"). VisDiffBench: `<difficulty folder>/<pair folder>` ("easy/1"). */
  id: string;
  setA: BenchmarkSet;
  setB: BenchmarkSet;
  difficulty?: Difficulty;
  /** VisDiffBench's one-line statement of the difference, e.g. "Animal species (Dogs vs Cats)". */
  difference?: string;
}

/** Something odd but not fatal in the input. */
export interface BenchmarkWarning {
  code:
    | 'unknown-column'
    | 'unknown-key'
    | 'blank-line'
    | 'empty-set'
    | 'duplicate-image'
    | 'image-in-both-sets'
    | 'unexpected-extension'
    | 'no-difficulty'
    | 'condition-mismatch'
    | 'inconsistent-group'
    | 'difficulty-column-ignored'
    | 'difficulty-disagrees'
    | 'definition-mismatch'
    | 'definition-without-images'
    | 'pair-without-definition';
  message: string;
  pairId?: string;
}

/** Pairs plus warnings. */
export interface ParsedBenchmark {
  pairs: BenchmarkPair[];
  warnings: BenchmarkWarning[];
}

/** Input that cannot be imported. `problems` lists every problem found, each naming its file line or column. */
export class BenchmarkFormatError extends Error {
  override name = 'BenchmarkFormatError';
  readonly problems: string[];
  constructor(what: string, problems: string[]) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
    super(`${what}:\n${shown.join('\n')}${more}`);
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CSV (RFC 4180)
// ---------------------------------------------------------------------------------------------------------------

/** A parsed CSV: header names and records with the 1-based line each starts on. */
export interface CsvTable {
  header: string[];
  rows: { line: number; fields: string[] }[];
}

/**
 * Reads RFC 4180 CSV: comma-separated, fields optionally in double quotes (`""` escapes a quote; quoted fields may
 * hold commas and line breaks), CRLF or LF records, an optional UTF-8 BOM. Blank lines are skipped. Throws a
 * BenchmarkFormatError naming the line of an unterminated quote, text after a closing quote, or a record whose
 * field count differs from the header's. `delimiter` '\t' reads TSV with the same quoting rules (a field that does
 * not start with a quote may contain quotes freely).
 */
export function parseCsv(text: string, what = 'CSV', delimiter: ',' | '\t' = ','): CsvTable {
  const records: { line: number; fields: string[] }[] = [];
  const problems: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let blank = true;
    for (;;) {
      if (text[i] === '"') {
        blank = false;
        const quoteLine = line;
        i += 1;
        let closed = false;
        while (i < text.length) {
          const ch = text[i] as string;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i += 1;
            closed = true;
            break;
          }
          if (ch === '\n') line += 1;
          field += ch;
          i += 1;
        }
        if (!closed) {
          problems.push(`${what} line ${quoteLine}: unterminated quoted field`);
          i = text.length;
        } else if (i < text.length && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          problems.push(`${what} line ${line}: unexpected text after a closing quote`);
          while (i < text.length && text[i] !== delimiter && text[i] !== '\n') i += 1;
        }
      } else {
        while (i < text.length && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          field += text[i];
          i += 1;
        }
        if (field !== '') blank = false;
      }
      if (text[i] === delimiter) {
        blank = false;
        fields.push(field);
        field = '';
        i += 1;
        continue;
      }
      fields.push(field);
      if (text[i] === '\r') i += 1;
      if (text[i] === '\n') {
        i += 1;
        line += 1;
      }
      break;
    }
    if (!blank) records.push({ line: startLine, fields });
  }
  if (problems.length > 0) throw new BenchmarkFormatError(`${what} is not valid CSV`, problems);
  const [head, ...rows] = records;
  if (!head) throw new BenchmarkFormatError(`${what} is empty`, [`${what}: no header row`]);
  for (const row of rows) {
    if (row.fields.length !== head.fields.length) {
      problems.push(
        `${what} line ${row.line}: ${row.fields.length} fields, the header has ${head.fields.length}`,
      );
    }
  }
  if (problems.length > 0) throw new BenchmarkFormatError(`${what} is not valid CSV`, problems);
  return { header: head.fields.map((h) => h.trim()), rows };
}

/** Column positions by name; throws naming missing required columns, warns about unknown ones. */
function columns(
  table: CsvTable,
  what: string,
  required: readonly string[],
  optional: readonly string[],
  warnings: BenchmarkWarning[],
): Map<string, number> {
  const positions = new Map<string, number>();
  const problems: string[] = [];
  table.header.forEach((name, i) => {
    if (positions.has(name)) problems.push(`${what}: column "${name}" appears twice`);
    positions.set(name, i);
  });
  const missing = required.filter((name) => !positions.has(name));
  if (missing.length > 0) {
    problems.push(
      `${what}: missing column(s) ${missing.map((m) => `"${m}"`).join(', ')} (header: ${table.header.join(',')})`,
    );
  }
  if (problems.length > 0) throw new BenchmarkFormatError(`${what} has the wrong columns`, problems);
  const known = new Set([...required, ...optional]);
  const unknown = table.header.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    warnings.push({
      code: 'unknown-column',
      message: `${what}: unknown column(s) ${unknown.map((u) => `"${u}"`).join(', ')} ignored`,
    });
  }
  return positions;
}

function field(row: { fields: string[] }, positions: Map<string, number>, name: string): string | undefined {
  const i = positions.get(name);
  return i === undefined ? undefined : row.fields[i];
}

// ---------------------------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------------------------

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'dcm', 'avif']);

/** Removes within-set duplicates (a repeated image would count twice in AUROC) and warns about oddities. */
function checkImages(pair: BenchmarkPair, warnings: BenchmarkWarning[]): void {
  for (const [name, set] of [
    ['A', pair.setA],
    ['B', pair.setB],
  ] as const) {
    const unique = [...new Set(set.images)];
    if (unique.length !== set.images.length) {
      warnings.push({
        code: 'duplicate-image',
        pairId: pair.id,
        message: `pair ${pair.id}: set ${name} lists ${set.images.length - unique.length} image(s) twice; kept once`,
      });
      set.images = unique;
    }
    if (set.images.length === 0) {
      warnings.push({
        code: 'empty-set',
        pairId: pair.id,
        message: `pair ${pair.id}: set ${name} has no images`,
      });
    }
    const odd = set.images.filter(
      (p) => !IMAGE_EXTENSIONS.has(p.slice(p.lastIndexOf('.') + 1).toLowerCase()),
    );
    if (odd.length > 0) {
      warnings.push({
        code: 'unexpected-extension',
        pairId: pair.id,
        message: `pair ${pair.id}: set ${name} has ${odd.length} path(s) without an image extension, e.g. ${odd[0]}`,
      });
    }
  }
  const inA = new Set(pair.setA.images);
  const shared = pair.setB.images.filter((p) => inA.has(p));
  if (shared.length > 0) {
    warnings.push({
      code: 'image-in-both-sets',
      pairId: pair.id,
      message: `pair ${pair.id}: ${shared.length} image(s) are in both sets, e.g. ${shared[0]}`,
    });
  }
}

function splitLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function describeLines(lines: number[]): string {
  const shown = lines.slice(0, 10).join(', ');
  return lines.length > 10 ? `${shown}, … (${lines.length} lines)` : shown;
}

// ---------------------------------------------------------------------------------------------------------------
// RadDiffBench
// ---------------------------------------------------------------------------------------------------------------

const RDB_KEYS = ['set1', 'set2', 'set1_images', 'set2_images'] as const;
const RDB_DIFFICULTY: Record<number, Difficulty> = { 1: 'easy', 2: 'medium', 3: 'hard' };

/**
 * Reads RadDiffBench: one JSON object a line with `set1`, `set2` (descriptions, kept exactly, trailing space
 * included), `set1_images`, `set2_images`. Sets are built per line, never by description: four descriptions
 * repeat across pairs with different images. The optional difficulty CSV (`index` = 0-based jsonl line,
 * `difficulty` 1/2/3 = easy/medium/hard, also `condition_A`, `condition_B`, `usefulness`) adds difficulties.
 * Pair ids are the 0-based line numbers. Throws a BenchmarkFormatError listing every bad line or column.
 */
export function parseRadDiffBench(jsonlText: string, difficultyCsvText?: string): ParsedBenchmark {
  const warnings: BenchmarkWarning[] = [];
  const problems: string[] = [];
  const unknownKeys = new Map<string, number[]>();
  const blank: number[] = [];
  const pairs: BenchmarkPair[] = [];
  const lines = splitLines(jsonlText);
  lines.forEach((text, index) => {
    const lineNo = index + 1;
    if (text.trim() === '') {
      blank.push(lineNo);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      problems.push(`jsonl line ${lineNo}: not valid JSON (${(error as Error).message})`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`jsonl line ${lineNo}: expected a JSON object`);
      return;
    }
    const record = value as Record<string, unknown>;
    const missing = RDB_KEYS.filter((k) => !(k in record));
    if (missing.length > 0) {
      problems.push(`jsonl line ${lineNo}: missing key(s) ${missing.join(', ')}`);
      return;
    }
    const { set1, set2, set1_images: images1, set2_images: images2 } = record;
    const typeProblems: string[] = [];
    if (typeof set1 !== 'string') typeProblems.push('set1 must be a string');
    if (typeof set2 !== 'string') typeProblems.push('set2 must be a string');
    if (!isStringArray(images1)) typeProblems.push('set1_images must be an array of strings');
    if (!isStringArray(images2)) typeProblems.push('set2_images must be an array of strings');
    if (typeProblems.length > 0) {
      problems.push(`jsonl line ${lineNo}: ${typeProblems.join('; ')}`);
      return;
    }
    for (const key of Object.keys(record)) {
      if (!(RDB_KEYS as readonly string[]).includes(key))
        unknownKeys.set(key, [...(unknownKeys.get(key) ?? []), lineNo]);
    }
    pairs.push({
      id: String(index),
      setA: { description: set1 as string, images: [...(images1 as string[])] },
      setB: { description: set2 as string, images: [...(images2 as string[])] },
    });
  });
  if (problems.length > 0) throw new BenchmarkFormatError('RadDiffBench jsonl cannot be imported', problems);
  if (pairs.length === 0)
    throw new BenchmarkFormatError('RadDiffBench jsonl cannot be imported', ['no pairs']);
  for (const [key, at] of unknownKeys) {
    warnings.push({
      code: 'unknown-key',
      message: `jsonl: unknown key "${key}" ignored (line ${describeLines(at)})`,
    });
  }
  if (blank.length > 0) {
    warnings.push({
      code: 'blank-line',
      message: `jsonl: blank line(s) ${describeLines(blank)} skipped; pair ids still follow the physical line numbers`,
    });
  }
  for (const pair of pairs) checkImages(pair, warnings);
  if (difficultyCsvText !== undefined) applyRadDiffDifficulty(pairs, difficultyCsvText, warnings);
  return { pairs, warnings };
}

function applyRadDiffDifficulty(pairs: BenchmarkPair[], csvText: string, warnings: BenchmarkWarning[]): void {
  const what = 'difficulty CSV';
  const table = parseCsv(csvText, what);
  const at = columns(
    table,
    what,
    ['index', 'difficulty'],
    ['condition_A', 'condition_B', 'usefulness'],
    warnings,
  );
  const byId = new Map(pairs.map((p) => [p.id, p]));
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const row of table.rows) {
    const rawIndex = (field(row, at, 'index') ?? '').trim();
    const index = Number(rawIndex);
    if (rawIndex === '' || !Number.isInteger(index) || index < 0) {
      problems.push(`${what} line ${row.line}: index "${rawIndex}" is not a 0-based line number`);
      continue;
    }
    const id = String(index);
    const pair = byId.get(id);
    if (!pair) {
      problems.push(`${what} line ${row.line}: index ${index} has no jsonl line`);
      continue;
    }
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      problems.push(`${what} line ${row.line}: index ${index} repeats line ${earlier}`);
      continue;
    }
    seen.set(id, row.line);
    const rawDifficulty = (field(row, at, 'difficulty') ?? '').trim();
    if (rawDifficulty === '') {
      warnings.push({
        code: 'no-difficulty',
        pairId: id,
        message: `${what} line ${row.line}: no difficulty for pair ${id}`,
      });
    } else {
      const difficulty = RDB_DIFFICULTY[Number(rawDifficulty)];
      if (difficulty === undefined) {
        problems.push(`${what} line ${row.line}: difficulty "${rawDifficulty}" is not 1, 2 or 3`);
        continue;
      }
      pair.difficulty = difficulty;
    }
    // The CSV repeats the descriptions without the trailing space; a different text means a misaligned index.
    for (const [column, set] of [
      ['condition_A', pair.setA],
      ['condition_B', pair.setB],
    ] as const) {
      const condition = field(row, at, column);
      if (condition !== undefined && condition.trim() !== set.description.trim()) {
        warnings.push({
          code: 'condition-mismatch',
          pairId: id,
          message: `${what} line ${row.line}: ${column} "${condition}" differs from the jsonl's "${set.description}"`,
        });
      }
    }
  }
  if (problems.length > 0) throw new BenchmarkFormatError(`${what} cannot be imported`, problems);
  const without = pairs.filter((p) => !seen.has(p.id)).map((p) => p.id);
  if (without.length > 0) {
    warnings.push({
      code: 'no-difficulty',
      message: `${what}: no row for pair(s) ${without.join(', ')}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// VisDiffBench
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link parseVisDiffBench}. */
export interface VisDiffOptions {
  /**
   * Where a pair's difficulty comes from. `folder` (default): the difficulty folder in its image paths.
   * `jsonl`: the pair file that lists it, as VisDiff's own sweep script does (26 pairs differ; see the tests).
   */
  difficultySource?: 'folder' | 'jsonl';
}

interface FolderGroup {
  id: string;
  key: string;
  difficulty?: Difficulty;
  firstLine: number;
  a: { names: Set<string>; images: string[] };
  b: { names: Set<string>; images: string[] };
  differences: Set<string>;
  difficultyColumn: Set<string>;
}

const SET_FOLDER = /^(.+)_(a|b|1|2)$/;

/**
 * Reads VisDiffBench's PairedImageSets.csv (`group_name,path` required; `difference`, `difficulty` known). Rows
 * form pairs by folder, not by `group_name`: `<…>/<difficulty>/<n>_a/<file>` is set A and `<n>_b` set B of pair
 * `<difficulty>/<n>` (`_1`/`_2` are accepted too). The difficulty is the folder's; the CSV's `difficulty` column is
 * shifted in the source and ignored. Optional pair files (`set1`, `set2`, `difference` per line, keyed by the
 * difficulty of the file) are matched to pairs by their exact (set1, set2) = (A's, B's) group names, not by line
 * number; disagreements are warnings. Also reads VisDiff's Examples.csv (one pair from set_a/set_b).
 */
export function parseVisDiffBench(
  pairedImageSetsCsvText: string,
  pairJsonlTexts?: Partial<Record<Difficulty, string>>,
  options: VisDiffOptions = {},
): ParsedBenchmark {
  const what = 'PairedImageSets CSV';
  const warnings: BenchmarkWarning[] = [];
  const table = parseCsv(pairedImageSetsCsvText, what);
  const at = columns(table, what, ['group_name', 'path'], ['difference', 'difficulty'], warnings);
  const problems: string[] = [];
  const groups = new Map<string, FolderGroup>();
  const ids = new Map<string, string>();
  for (const row of table.rows) {
    const path = field(row, at, 'path') ?? '';
    const groupName = field(row, at, 'group_name') ?? '';
    const segments = path.split('/');
    const folder = SET_FOLDER.exec(segments[segments.length - 2] ?? '');
    if (segments.length < 2 || !folder) {
      problems.push(`${what} line ${row.line}: path "${path}" is not inside a <name>_a or <name>_b folder`);
      continue;
    }
    const parents = segments.slice(0, -2);
    const key = [...parents, folder[1]].join('/');
    let group = groups.get(key);
    if (!group) {
      let levelAt = -1;
      for (let s = parents.length - 1; s >= 0; s--) {
        if ((DIFFICULTY_LEVELS as readonly string[]).includes(parents[s] as string)) {
          levelAt = s;
          break;
        }
      }
      const difficulty = levelAt >= 0 ? (parents[levelAt] as Difficulty) : undefined;
      const id =
        levelAt >= 0 ? [...parents.slice(levelAt), folder[1]].join('/') : key.replace(/^(\.\/)+/, '');
      const other = ids.get(id);
      if (other !== undefined)
        problems.push(`${what} line ${row.line}: pair id "${id}" also names folder ${other}`);
      ids.set(id, key);
      group = {
        id,
        key,
        firstLine: row.line,
        a: { names: new Set(), images: [] },
        b: { names: new Set(), images: [] },
        differences: new Set(),
        difficultyColumn: new Set(),
        ...(difficulty ? { difficulty } : {}),
      };
      groups.set(key, group);
    }
    const set = folder[2] === 'a' || folder[2] === '1' ? group.a : group.b;
    set.names.add(groupName);
    set.images.push(path);
    const difference = field(row, at, 'difference');
    if (difference !== undefined) group.differences.add(difference);
    const difficultyColumn = field(row, at, 'difficulty');
    if (difficultyColumn !== undefined) group.difficultyColumn.add(difficultyColumn.trim());
  }
  if (problems.length > 0) throw new BenchmarkFormatError(`${what} cannot be imported`, problems);

  const pairs: BenchmarkPair[] = [];
  let columnDisagrees = 0;
  for (const group of groups.values()) {
    for (const [name, set] of [
      ['A', group.a],
      ['B', group.b],
    ] as const) {
      if (set.names.size > 1) {
        warnings.push({
          code: 'inconsistent-group',
          pairId: group.id,
          message: `pair ${group.id}: set ${name} rows carry ${set.names.size} group names; using the first`,
        });
      }
    }
    if (group.differences.size > 1) {
      warnings.push({
        code: 'inconsistent-group',
        pairId: group.id,
        message: `pair ${group.id}: rows carry ${group.differences.size} difference texts; using the first`,
      });
    }
    if (group.difficulty && [...group.difficultyColumn].some((d) => d !== group.difficulty))
      columnDisagrees += 1;
    const pair: BenchmarkPair = {
      id: group.id,
      setA: { description: [...group.a.names][0] ?? '', images: group.a.images },
      setB: { description: [...group.b.names][0] ?? '', images: group.b.images },
    };
    if (group.difficulty) pair.difficulty = group.difficulty;
    const difference = [...group.differences][0];
    if (difference !== undefined) pair.difference = difference;
    pairs.push(pair);
  }
  if (columnDisagrees > 0) {
    warnings.push({
      code: 'difficulty-column-ignored',
      message:
        `${what}: the difficulty column disagrees with the difficulty folder for ${columnDisagrees} pair(s); ` +
        'the folder is used (the column is shifted in the published file)',
    });
  }
  const missingDifficulty = pairs.filter((p) => !p.difficulty).map((p) => p.id);
  if (missingDifficulty.length > 0) {
    warnings.push({
      code: 'no-difficulty',
      message: `${what}: no easy/medium/hard folder in the paths of pair(s) ${missingDifficulty.slice(0, 10).join(', ')}`,
    });
  }
  for (const pair of pairs) checkImages(pair, warnings);
  if (pairJsonlTexts) matchVisDiffDefinitions(pairs, pairJsonlTexts, options, warnings);
  return { pairs, warnings };
}

interface Definition {
  difficulty: Difficulty;
  line: number;
  set1: string;
  set2: string;
  difference?: string;
}

function matchVisDiffDefinitions(
  pairs: BenchmarkPair[],
  texts: Partial<Record<Difficulty, string>>,
  options: VisDiffOptions,
  warnings: BenchmarkWarning[],
): void {
  const problems: string[] = [];
  const definitions: Definition[] = [];
  for (const difficulty of DIFFICULTY_LEVELS) {
    const text = texts[difficulty];
    if (text === undefined) continue;
    const file = `${difficulty}.jsonl`;
    splitLines(text).forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (error) {
        problems.push(`${file} line ${line}: not valid JSON (${(error as Error).message})`);
        return;
      }
      const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
      const { set1, set2, difference } = record;
      if (typeof set1 !== 'string' || typeof set2 !== 'string') {
        problems.push(`${file} line ${line}: set1 and set2 must be strings`);
        return;
      }
      if (difference !== undefined && typeof difference !== 'string') {
        problems.push(`${file} line ${line}: difference must be a string`);
        return;
      }
      const extra = Object.keys(record).filter((k) => !['set1', 'set2', 'difference'].includes(k));
      if (extra.length > 0) {
        warnings.push({
          code: 'unknown-key',
          message: `${file} line ${line}: unknown key(s) ${extra.join(', ')} ignored`,
        });
      }
      definitions.push({ difficulty, line, set1, set2, ...(difference === undefined ? {} : { difference }) });
    });
  }
  if (problems.length > 0)
    throw new BenchmarkFormatError('VisDiffBench pair files cannot be imported', problems);

  const byNames = new Map<string, Definition[]>();
  for (const d of definitions) {
    const key = JSON.stringify([d.set1, d.set2]);
    byNames.set(key, [...(byNames.get(key) ?? []), d]);
  }
  const matched = new Set<Definition>();
  const moved: string[] = [];
  const unmatched: string[] = [];
  for (const pair of pairs) {
    const candidates = byNames.get(JSON.stringify([pair.setA.description, pair.setB.description])) ?? [];
    const definition = candidates.find((d) => d.difficulty === pair.difficulty) ?? candidates[0];
    if (!definition) {
      unmatched.push(pair.id);
      continue;
    }
    matched.add(definition);
    if (definition.difficulty !== pair.difficulty) {
      moved.push(`${pair.id} (${definition.difficulty}.jsonl line ${definition.line})`);
      if (options.difficultySource === 'jsonl') pair.difficulty = definition.difficulty;
    }
    if (
      definition.difference !== undefined &&
      pair.difference !== undefined &&
      definition.difference !== pair.difference
    ) {
      warnings.push({
        code: 'definition-mismatch',
        pairId: pair.id,
        message: `pair ${pair.id}: difference "${pair.difference}" in the CSV, "${definition.difference}" in ${definition.difficulty}.jsonl line ${definition.line}`,
      });
    }
    if (pair.difference === undefined && definition.difference !== undefined)
      pair.difference = definition.difference;
  }
  if (moved.length > 0) {
    const source = options.difficultySource === 'jsonl' ? 'the pair file' : 'the folder';
    warnings.push({
      code: 'difficulty-disagrees',
      message:
        `${moved.length} pair(s) sit in a different difficulty folder than the pair file that lists them; ` +
        `difficulty taken from ${source}: ${moved.join(', ')}`,
    });
  }
  if (unmatched.length > 0) {
    warnings.push({
      code: 'pair-without-definition',
      message: `${unmatched.length} pair(s) have no line with their group names in the pair files: ${unmatched.slice(0, 20).join(', ')}`,
    });
  }
  const orphans = definitions.filter((d) => !matched.has(d));
  if (orphans.length > 0) {
    warnings.push({
      code: 'definition-without-images',
      message: `${orphans.length} pair definition(s) have no images in the CSV: ${orphans
        .slice(0, 20)
        .map((d) => `${d.difficulty}.jsonl line ${d.line}`)
        .join(', ')}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Image paths under a chosen root
// ---------------------------------------------------------------------------------------------------------------

/** The files under the chosen root, as relative `/`-separated paths, or a predicate over such paths. */
export type ImageAvailability = ReadonlySet<string> | ((relativePath: string) => boolean);

/** A benchmark path made safe, or why it was refused. */
export type SafePath = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Normalizes a benchmark's relative image path (drops `./` and empty segments) and refuses anything that could
 * leave the chosen root or is not a plain relative path: `..` segments, absolute paths, drive letters, URL
 * schemes, backslashes, control characters.
 */
export function safeRelativePath(path: string): SafePath {
  if (path === '') return { ok: false, reason: 'empty path' };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is being refused
  if (/[\u0000-\u001f\u007f]/.test(path)) return { ok: false, reason: 'control character in path' };
  if (path.includes('\\')) return { ok: false, reason: 'backslash in path (Windows separator or escape)' };
  if (/^[a-zA-Z]:/.test(path)) return { ok: false, reason: 'drive letter: absolute Windows path' };
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path))
    return { ok: false, reason: 'URL or scheme, not a relative path' };
  if (path.startsWith('/')) return { ok: false, reason: 'absolute path' };
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: "'..' would leave the chosen folder" };
  if (segments.length === 0) return { ok: false, reason: 'path names no file' };
  return { ok: true, path: segments.join('/') };
}

/** Options of {@link resolveImagePaths}. */
export interface ResolveOptions {
  /** Fewest resolved images per set for the pair to run (default 2). */
  minImagesPerSet?: number;
  /** Folder prepended to every path, e.g. 'files' when the user picked the MIMIC-CXR-JPG root. */
  prefix?: string;
  /** Leading folder removed when present, e.g. 'data/VisDiffBench' when the user picked that folder itself. */
  stripPrefix?: string;
}

/** One set's paths sorted into found, not found and refused. */
export interface ResolvedSet {
  /** Paths relative to the chosen root, in benchmark order. */
  resolved: string[];
  /** Benchmark paths (as written) with no file under the root. */
  missing: string[];
  rejected: { path: string; reason: string }[];
}

/** A pair with its images mapped onto the chosen root. */
export interface ResolvedPair {
  pair: BenchmarkPair;
  status: 'ready' | 'skipped';
  reason?: string;
  setA: ResolvedSet;
  setB: ResolvedSet;
}

function normalizedFolder(folder: string | undefined, name: string): string {
  if (folder === undefined || folder === '' || folder === '.') return '';
  const safe = safeRelativePath(folder);
  if (!safe.ok) throw new RangeError(`${name} "${folder}": ${safe.reason}`);
  return safe.path;
}

/**
 * Maps a pair's image paths onto the files under a user-chosen root: refuses unsafe paths with a reason, sorts the
 * rest into resolved and missing, and marks the pair `skipped` (with a reason) when either set resolves fewer than
 * `minImagesPerSet` images.
 */
export function resolveImagePaths(
  pair: BenchmarkPair,
  available: ImageAvailability,
  options: ResolveOptions = {},
): ResolvedPair {
  const min = options.minImagesPerSet ?? 2;
  const prefix = normalizedFolder(options.prefix, 'prefix');
  const strip = normalizedFolder(options.stripPrefix, 'stripPrefix');
  const exists = typeof available === 'function' ? available : (p: string) => available.has(p);
  const resolveSet = (set: BenchmarkSet): ResolvedSet => {
    const out: ResolvedSet = { resolved: [], missing: [], rejected: [] };
    for (const original of set.images) {
      const safe = safeRelativePath(original);
      if (!safe.ok) {
        out.rejected.push({ path: original, reason: safe.reason });
        continue;
      }
      let path = safe.path;
      if (strip && path.startsWith(`${strip}/`)) path = path.slice(strip.length + 1);
      if (prefix) path = `${prefix}/${path}`;
      if (exists(path)) out.resolved.push(path);
      else out.missing.push(original);
    }
    return out;
  };
  const setA = resolveSet(pair.setA);
  const setB = resolveSet(pair.setB);
  const short = (
    [
      ['A', setA, pair.setA],
      ['B', setB, pair.setB],
    ] as const
  )
    .filter(([, resolved]) => resolved.resolved.length < min)
    .map(
      ([name, resolved, set]) =>
        `set ${name}: ${resolved.resolved.length} of ${set.images.length} images found`,
    );
  if (short.length > 0) {
    return { pair, status: 'skipped', reason: `${short.join('; ')} (need ≥ ${min} per set)`, setA, setB };
  }
  return { pair, status: 'ready', setA, setB };
}
