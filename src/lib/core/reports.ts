// Reports intake (METHOD §1: optionally one free-text report per image): decoding report files from bytes,
// reading report tables (CSV, TSV, JSONL or a JSON array) into image-name → report maps, and matching them to
// images by path, path suffix, file name or stem; also `.txt` reports lying beside their images.
// Pure: imports only core (the CSV reader of benchmarks.ts); no DOM, no Node.

import { BenchmarkFormatError, parseCsv } from './benchmarks.ts';

// ---------------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------------

/** Encodings {@link decodeReportBytes} reads. */
export type TextEncodingName = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

/** Decoded text, the encoding it was read as, and anything the user should check. */
export interface DecodedText {
  text: string;
  encoding: TextEncodingName;
  warnings: string[];
}

/**
 * Decodes a report file. A byte-order mark decides UTF-8 (stripped), UTF-16 LE or UTF-16 BE; otherwise the bytes
 * are read as strict UTF-8, and if they are not valid UTF-8 (typically an old export from Excel or a hospital
 * system) as Windows-1252, with a warning naming the first invalid byte. Never throws.
 *
 * Hand-written rather than TextDecoder: core compiles against the ES2023 library, which has no TextDecoder, and
 * the fallback needs to know whether the UTF-8 was valid, which a non-fatal TextDecoder hides. Both decoders are
 * small and follow the WHATWG Encoding Standard, so results equal TextDecoder's.
 */
export function decodeReportBytes(bytes: Uint8Array): DecodedText {
  const warnings: string[] = [];
  let decoded: DecodedText;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    const utf8 = decodeUtf8(bytes, 3);
    if (typeof utf8 === 'string') {
      decoded = { text: utf8, encoding: 'utf-8', warnings };
    } else {
      warnings.push(
        `starts with a UTF-8 byte-order mark but byte ${utf8.invalidAt} is not valid UTF-8; read as Windows-1252, so check accented characters`,
      );
      decoded = { text: decodeWindows1252(bytes, 3), encoding: 'windows-1252', warnings };
    }
  } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    decoded = { text: decodeUtf16(bytes, 2, true, warnings), encoding: 'utf-16le', warnings };
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    decoded = { text: decodeUtf16(bytes, 2, false, warnings), encoding: 'utf-16be', warnings };
  } else {
    const utf8 = decodeUtf8(bytes, 0);
    if (typeof utf8 === 'string') {
      decoded = { text: utf8, encoding: 'utf-8', warnings };
    } else {
      warnings.push(
        `not valid UTF-8 (first invalid byte at offset ${utf8.invalidAt}); read as Windows-1252, so check accented characters`,
      );
      decoded = { text: decodeWindows1252(bytes, 0), encoding: 'windows-1252', warnings };
    }
  }
  if (decoded.text.includes('\u0000')) {
    warnings.push(
      'contains NUL characters: is it UTF-16 without a byte-order mark? Save it as UTF-8 and retry',
    );
  }
  return decoded;
}

/** Collects UTF-16 code units and turns them into a string in chunks (a single spread would overflow the stack). */
class StringBuilder {
  private readonly parts: string[] = [];
  private units: number[] = [];
  push(unit: number): void {
    this.units.push(unit);
    if (this.units.length >= 8192) this.flush();
  }
  pushCodePoint(cp: number): void {
    if (cp > 0xffff) {
      const v = cp - 0x10000;
      this.push(0xd800 + (v >> 10));
      this.push(0xdc00 + (v & 0x3ff));
    } else {
      this.push(cp);
    }
  }
  toString(): string {
    this.flush();
    return this.parts.join('');
  }
  private flush(): void {
    if (this.units.length > 0) this.parts.push(String.fromCharCode(...this.units));
    this.units = [];
  }
}

/** Strict UTF-8 (WHATWG well-formed byte sequences: no overlongs, surrogates or code points above U+10FFFF). */
function decodeUtf8(bytes: Uint8Array, start: number): string | { invalidAt: number } {
  const out = new StringBuilder();
  const n = bytes.length;
  let i = start;
  while (i < n) {
    const b0 = bytes[i] as number;
    if (b0 < 0x80) {
      out.push(b0);
      i += 1;
      continue;
    }
    let needed: number;
    let cp: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      needed = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      needed = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lower = 0xa0; // no overlong 3-byte forms
      if (b0 === 0xed) upper = 0x9f; // no UTF-16 surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      needed = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lower = 0x90; // no overlong 4-byte forms
      if (b0 === 0xf4) upper = 0x8f; // nothing above U+10FFFF
    } else {
      return { invalidAt: i };
    }
    for (let k = 1; k <= needed; k++) {
      const b = bytes[i + k];
      if (b === undefined || b < lower || b > upper) return { invalidAt: i };
      cp = (cp << 6) | (b & 0x3f);
      lower = 0x80;
      upper = 0xbf;
    }
    out.pushCodePoint(cp);
    i += needed + 1;
  }
  return out.toString();
}

/** Windows-1252 bytes 0x80–0x9F (WHATWG index; the five unassigned bytes map to the C1 controls, as in browsers). */
const WINDOWS_1252_HIGH = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152,
  0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122,
  0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
];

function decodeWindows1252(bytes: Uint8Array, start: number): string {
  const out = new StringBuilder();
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i] as number;
    out.push(b >= 0x80 && b <= 0x9f ? (WINDOWS_1252_HIGH[b - 0x80] as number) : b);
  }
  return out.toString();
}

/** UTF-16 with lone surrogates and a trailing odd byte replaced by U+FFFD (each counted in a warning). */
function decodeUtf16(bytes: Uint8Array, start: number, littleEndian: boolean, warnings: string[]): string {
  const out = new StringBuilder();
  const unitCount = Math.floor((bytes.length - start) / 2);
  const unit = (k: number) => {
    const a = bytes[start + 2 * k] as number;
    const b = bytes[start + 2 * k + 1] as number;
    return littleEndian ? a | (b << 8) : (a << 8) | b;
  };
  let replaced = 0;
  for (let k = 0; k < unitCount; k++) {
    const u = unit(k);
    if (u >= 0xd800 && u <= 0xdbff && k + 1 < unitCount) {
      const next = unit(k + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out.push(u);
        out.push(next);
        k += 1;
        continue;
      }
    }
    if (u >= 0xd800 && u <= 0xdfff) {
      out.push(0xfffd);
      replaced += 1;
    } else {
      out.push(u);
    }
  }
  if (replaced > 0) warnings.push(`${replaced} unpaired UTF-16 surrogate(s) replaced by �`);
  if ((bytes.length - start) % 2 === 1) {
    out.push(0xfffd);
    warnings.push('odd number of bytes for UTF-16: the last byte was replaced by �');
  }
  return out.toString();
}

// ---------------------------------------------------------------------------------------------------------------
// Report tables
// ---------------------------------------------------------------------------------------------------------------

/** Formats {@link parseReports} reads. */
export type ReportFormat = 'csv' | 'tsv' | 'jsonl' | 'json';

/** Column (or JSON key) names that name the image, in order of preference (compared after {@link columnName}). */
export const IMAGE_COLUMNS = [
  'path',
  'relative_path',
  'image_path',
  'file_path',
  'filepath',
  'file',
  'filename',
  'file_name',
  'image',
  'image_file',
  'image_name',
  'image_id',
  'dicom_id',
  'name',
  'id',
] as const;
/** Columns holding a whole report, in order of preference. */
export const REPORT_COLUMNS = ['report', 'report_text', 'text', 'reports'] as const;
/** Report sections, used (labelled and joined) when no whole-report column exists, as in sectioned MIMIC-CXR CSVs. */
export const SECTION_COLUMNS = ['findings', 'impression'] as const;

/** A report table that could be read. */
export interface ReportTable {
  ok: true;
  format: ReportFormat;
  /** Image name or path as written (trimmed, `\` turned into `/`) → report text (trimmed, LF line breaks). */
  reports: Map<string, string>;
  /** The columns or JSON keys that were used, as written in the file. */
  imageFields: string[];
  reportFields: string[];
  /** Repeated image names: the first report is kept, these are ignored. `line` is the 1-based line (JSON: item). */
  duplicates: { key: string; line: number; firstLine: number }[];
  /** Skipped rows and other non-fatal problems, each naming its line. */
  warnings: string[];
}

/** A report file that yielded no reports. */
export interface ReportTableError {
  ok: false;
  format: ReportFormat;
  problems: string[];
}

/**
 * Reads a reports file. The format comes from the extension (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`, `.json`)
 * or, for others, from the content (`{` → JSONL, `[` → JSON array, a first line with more tabs than commas → TSV,
 * else CSV); a `.csv` whose header has tabs but no commas is read as TSV, with a warning.
 *
 * Tables need a header row with an image column ({@link IMAGE_COLUMNS}: path, file, filename, image, dicom_id, …)
 * and a report column ({@link REPORT_COLUMNS}: report, text, …) or section columns (findings, impression), matched
 * case-insensitively with spaces and dashes read as underscores; a missing column is a problem naming what was
 * expected and what the header has. JSONL needs one object per line with such keys; a malformed line is a warning
 * naming the line, not fatal. Rows without an image name or with an empty report are skipped with a warning. The
 * first report of a repeated image name is kept and the repeats are listed. Never throws.
 */
export function parseReports(text: string, fileName: string): ReportTable | ReportTableError {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const warnings: string[] = [];
  let format = detectFormat(source, fileName);
  if (format === 'csv') {
    const header = firstLine(source);
    if (!header.includes(',') && header.includes('\t')) {
      warnings.push(`${fileName}: the header has tabs but no commas, so it was read as TSV`);
      format = 'tsv';
    }
  }
  const collector = new ReportCollector(format, fileName, warnings);
  if (format === 'csv' || format === 'tsv') collectTable(source, fileName, format, collector);
  else if (format === 'json') collectJsonArray(source, fileName, collector);
  else collectJsonLines(source, collector);
  return collector.result();
}

/** Normalizes a column or key name for lookup: trimmed, lowercase, runs of spaces and dashes as one underscore. */
function columnName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

function detectFormat(text: string, fileName: string): ReportFormat {
  const extension = /\.([^./\\]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (extension === 'csv') return 'csv';
  if (extension === 'tsv' || extension === 'tab') return 'tsv';
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  const first = text.trimStart()[0];
  if (extension === 'json') return first === '[' ? 'json' : 'jsonl';
  if (first === '{') return 'jsonl';
  if (first === '[') return 'json';
  const header = firstLine(text);
  const tabs = header.split('\t').length - 1;
  const commas = header.split(',').length - 1;
  return tabs > 0 && tabs >= commas ? 'tsv' : 'csv';
}

function firstLine(text: string): string {
  return /^[^\r\n]*/.exec(text.trimStart())?.[0] ?? '';
}

const expectedImage = `expected one of ${IMAGE_COLUMNS.join(', ')}`;
const expectedReport = `expected one of ${[...REPORT_COLUMNS, ...SECTION_COLUMNS].join(', ')}`;

/** Which fields of a header (or a JSON object's keys) hold the image name and the report. */
interface FieldChoice {
  image?: string;
  report?: string;
  sections: string[];
}

/** Picks fields by preference from names as written; lookups compare {@link columnName}s. */
function chooseFields(names: readonly string[]): FieldChoice {
  const byNormal = new Map<string, string>();
  for (const name of names) if (!byNormal.has(columnName(name))) byNormal.set(columnName(name), name);
  const image = IMAGE_COLUMNS.map((c) => byNormal.get(c)).find((n) => n !== undefined);
  const report = REPORT_COLUMNS.map((c) => byNormal.get(c)).find((n) => n !== undefined);
  const sections = report
    ? []
    : SECTION_COLUMNS.map((c) => byNormal.get(c)).filter((n): n is string => n !== undefined);
  return { image, report, sections };
}

/** Report text of one record given the chosen fields: the whole report, or the labelled non-empty sections. */
function reportText(get: (field: string) => string | undefined, choice: FieldChoice): string {
  if (choice.report !== undefined) return normalizeReport(get(choice.report) ?? '');
  return choice.sections
    .map((field) => [columnName(field).toUpperCase(), normalizeReport(get(field) ?? '')] as const)
    .filter(([, body]) => body !== '')
    .map(([label, body]) => `${label}: ${body}`)
    .join('\n');
}

function normalizeReport(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

/** Normalizes an image name as written in a report file: trimmed, forward slashes, no leading `./` or `/`. */
function normalizeKey(name: string): string {
  return name
    .trim()
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/')
    .replace(/^(?:\.\/|\/)+/, '');
}

/** Accumulates records, skipping and reporting bad ones, and builds the result. */
class ReportCollector {
  readonly reports = new Map<string, string>();
  private readonly firstLines = new Map<string, number>();
  private readonly duplicates: ReportTable['duplicates'] = [];
  private readonly imageFields = new Set<string>();
  private readonly reportFields = new Set<string>();
  private readonly problems: string[] = [];

  constructor(
    private readonly format: ReportFormat,
    private readonly fileName: string,
    readonly warnings: string[],
  ) {}

  /** A problem that makes the whole file unreadable. */
  fail(problem: string): void {
    this.problems.push(problem);
  }

  add(where: string, line: number, rawKey: string, text: string, fields: FieldChoice): void {
    const key = normalizeKey(rawKey);
    if (key === '') {
      this.warnings.push(`${where}: no image name; skipped`);
      return;
    }
    if (text === '') {
      this.warnings.push(`${where}: empty report for "${key}"; skipped`);
      return;
    }
    const firstLine = this.firstLines.get(key);
    if (firstLine !== undefined) {
      this.duplicates.push({ key, line, firstLine });
      return;
    }
    this.firstLines.set(key, line);
    this.reports.set(key, text);
    if (fields.image !== undefined) this.imageFields.add(fields.image);
    if (fields.report !== undefined) this.reportFields.add(fields.report);
    for (const s of fields.sections) this.reportFields.add(s);
  }

  result(): ReportTable | ReportTableError {
    if (this.problems.length === 0 && this.reports.size === 0) {
      this.problems.push(`${this.fileName}: no reports found`, ...this.warnings.slice(0, 20));
    }
    if (this.problems.length > 0) return { ok: false, format: this.format, problems: this.problems };
    return {
      ok: true,
      format: this.format,
      reports: this.reports,
      imageFields: [...this.imageFields],
      reportFields: [...this.reportFields],
      duplicates: this.duplicates,
      warnings: this.warnings,
    };
  }
}

function collectTable(text: string, fileName: string, format: 'csv' | 'tsv', out: ReportCollector): void {
  let table;
  try {
    table = parseCsv(text, fileName, format === 'tsv' ? '\t' : ',');
  } catch (error) {
    if (error instanceof BenchmarkFormatError) {
      for (const p of error.problems) out.fail(p);
      return;
    }
    throw error;
  }
  const choice = chooseFields(table.header);
  const found = `the header has: ${table.header.map((h) => JSON.stringify(h)).join(', ')}`;
  if (choice.image === undefined) out.fail(`${fileName}: no image column (${expectedImage}); ${found}`);
  if (choice.report === undefined && choice.sections.length === 0) {
    out.fail(`${fileName}: no report column (${expectedReport}); ${found}`);
  }
  if (choice.image === undefined || (choice.report === undefined && choice.sections.length === 0)) return;
  const index = new Map(table.header.map((h, i) => [h, i] as const));
  for (const row of table.rows) {
    const get = (field: string) => row.fields[index.get(field) ?? -1];
    out.add(
      `${fileName} line ${row.line}`,
      row.line,
      get(choice.image) ?? '',
      reportText(get, choice),
      choice,
    );
  }
}

/** One JSON record (a JSONL line or an element of a JSON array). */
function collectRecord(where: string, line: number, value: unknown, out: ReportCollector): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    out.warnings.push(`${where}: not a JSON object; skipped`);
    return;
  }
  const record = value as Record<string, unknown>;
  const asText = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  // Only string-valued (or numeric, for ids) keys can name an image or hold a report.
  const choice = chooseFields(Object.keys(record).filter((k) => asText(record[k]) !== undefined));
  if (choice.image === undefined) {
    out.warnings.push(`${where}: no image name (${expectedImage}); skipped`);
    return;
  }
  if (choice.report === undefined && choice.sections.length === 0) {
    out.warnings.push(`${where}: no report text (${expectedReport}); skipped`);
    return;
  }
  const get = (field: string) => asText(record[field]);
  out.add(where, line, get(choice.image) ?? '', reportText(get, choice), choice);
}

function collectJsonLines(text: string, out: ReportCollector): void {
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      out.warnings.push(`line ${line}: not valid JSON (${shortMessage(error)}); skipped`);
      return;
    }
    collectRecord(`line ${line}`, line, value, out);
  });
}

function collectJsonArray(text: string, fileName: string, out: ReportCollector): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    out.fail(`${fileName}: not valid JSON (${shortMessage(error)})`);
    return;
  }
  if (!Array.isArray(value)) {
    out.fail(`${fileName}: expected a JSON array of report objects`);
    return;
  }
  value.forEach((item: unknown, i) => collectRecord(`item ${i + 1}`, i + 1, item, out));
}

function shortMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 100 ? `${message.slice(0, 100)}…` : message;
}

// ---------------------------------------------------------------------------------------------------------------
// Matching reports to images
// ---------------------------------------------------------------------------------------------------------------

/** How a report was matched to an image, from the most to the least specific. */
export type MatchStage = 'path' | 'path-suffix' | 'basename' | 'stem';

/** A report assigned to an image. */
export interface ReportMatch {
  /** The report's key (image name as written in the reports file, or the `.txt` path). */
  key: string;
  text: string;
  via: MatchStage;
}

/** Several images and/or several reports share a matching value: none of them is matched through it. */
export interface MatchAmbiguity {
  via: MatchStage;
  /** The shared value (a path, suffix, file name or stem, lowercase for the last two). */
  value: string;
  imageNames: string[];
  reportKeys: string[];
}

/** Result of {@link matchReports}. */
export interface ReportMatching {
  byImageId: Map<string, ReportMatch>;
  /** Names of images without a report (ambiguous ones included), in input order. */
  unmatchedImages: string[];
  /** Keys of reports given to no image (ambiguous ones included), in the map's order. */
  unmatchedReports: string[];
  ambiguous: MatchAmbiguity[];
}

interface MatchingStage {
  via: MatchStage;
  /** Every value an image can be found under in this stage. */
  imageValues(name: string): string[];
  /** The value a report key is looked up by in this stage, if it takes part. */
  keyValue(key: string): string | undefined;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** File name without its last extension (a leading dot is not an extension: `.hidden` stays). */
function stem(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Proper suffixes of a path that start after a `/` and still contain one (`r/a/b.png` → `a/b.png`). */
function pathSuffixes(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length - 1; i++) out.push(parts.slice(i).join('/'));
  return out;
}

const REPORT_STAGES: readonly MatchingStage[] = [
  { via: 'path', imageValues: (n) => [normalizeKey(n)], keyValue: (k) => normalizeKey(k) },
  {
    via: 'path-suffix',
    imageValues: (n) => pathSuffixes(normalizeKey(n)),
    keyValue: (k) => (normalizeKey(k).includes('/') ? normalizeKey(k) : undefined),
  },
  {
    via: 'basename',
    imageValues: (n) => [basename(normalizeKey(n)).toLowerCase()],
    keyValue: (k) => basename(normalizeKey(k)).toLowerCase(),
  },
  {
    via: 'stem',
    imageValues: (n) => [stem(basename(normalizeKey(n))).toLowerCase()],
    keyValue: (k) => stem(basename(normalizeKey(k))).toLowerCase(),
  },
];

/**
 * Matches stages in order; each stage sees only the images and keys still free. Within a stage a value links an
 * image and a key only when exactly one free image and exactly one free key share it and no other value claims
 * that image; otherwise all of them are recorded as ambiguous and take no further part.
 */
function matchInStages(
  names: readonly string[],
  keys: readonly string[],
  stages: readonly MatchingStage[],
): { pairs: Map<number, { key: number; via: MatchStage }>; ambiguous: MatchAmbiguity[] } {
  const FREE = 0;
  const TAKEN = 1;
  const imageState = new Uint8Array(names.length);
  const keyState = new Uint8Array(keys.length);
  const pairs = new Map<number, { key: number; via: MatchStage }>();
  const ambiguous: MatchAmbiguity[] = [];
  const push = (map: Map<string, number[]>, value: string, index: number) => {
    const list = map.get(value);
    if (list) list.push(index);
    else map.set(value, [index]);
  };
  for (const stage of stages) {
    const imagesByValue = new Map<string, number[]>();
    names.forEach((name, i) => {
      if (imageState[i] !== FREE) return;
      for (const value of new Set(stage.imageValues(name))) push(imagesByValue, value, i);
    });
    const keysByValue = new Map<string, number[]>();
    keys.forEach((key, j) => {
      if (keyState[j] !== FREE) return;
      const value = stage.keyValue(key);
      if (value !== undefined) push(keysByValue, value, j);
    });
    const candidates: { value: string; images: number[]; keys: number[] }[] = [];
    const claims = new Map<number, number>();
    for (const [value, keyIndices] of keysByValue) {
      const imageIndices = imagesByValue.get(value);
      if (!imageIndices) continue;
      candidates.push({ value, images: imageIndices, keys: keyIndices });
      for (const i of imageIndices) claims.set(i, (claims.get(i) ?? 0) + 1);
    }
    for (const c of candidates) {
      const [image] = c.images;
      const [key] = c.keys;
      if (c.images.length === 1 && c.keys.length === 1 && image !== undefined && key !== undefined) {
        if (claims.get(image) === 1) {
          pairs.set(image, { key, via: stage.via });
          imageState[image] = TAKEN;
          keyState[key] = TAKEN;
          continue;
        }
      }
      ambiguous.push({
        via: stage.via,
        value: c.value,
        imageNames: c.images.map((i) => names[i] as string),
        reportKeys: c.keys.map((j) => keys[j] as string),
      });
      for (const i of c.images) imageState[i] = TAKEN;
      for (const j of c.keys) keyState[j] = TAKEN;
    }
  }
  return { pairs, ambiguous };
}

/**
 * Gives each image its report. Stages, most specific first: exact relative path; the report key is a trailing
 * part of the image path (`p10/x.jpg` for `cohortA/p10/x.jpg`, when the user picked a parent folder); same file
 * name; same file name without extension (`x` or `x.dcm` for `x.png`, as with MIMIC-CXR `dicom_id`s). Paths are
 * compared with `/` separators and case-sensitively; file names and stems case-insensitively. Nothing is matched
 * through a value shared by several images or several reports: those are listed in `ambiguous`. Image names should
 * be unique within one call (match each set separately if A and B reuse names).
 */
export function matchReports(
  images: readonly { id: string; name: string }[],
  reports: ReadonlyMap<string, string>,
): ReportMatching {
  const keys = [...reports.keys()];
  const { pairs, ambiguous } = matchInStages(
    images.map((i) => i.name),
    keys,
    REPORT_STAGES,
  );
  const byImageId = new Map<string, ReportMatch>();
  const usedKeys = new Set<number>();
  const unmatchedImages: string[] = [];
  images.forEach((image, i) => {
    const pair = pairs.get(i);
    if (!pair) {
      unmatchedImages.push(image.name);
      return;
    }
    const key = keys[pair.key] as string;
    usedKeys.add(pair.key);
    if (!byImageId.has(image.id)) {
      byImageId.set(image.id, { key, text: reports.get(key) as string, via: pair.via });
    }
  });
  return {
    byImageId,
    unmatchedImages,
    unmatchedReports: keys.filter((_, j) => !usedKeys.has(j)),
    ambiguous,
  };
}

/** Result of {@link pairTxtReports}. */
export interface TxtPairing {
  /** Image name → report text. */
  byImageName: Map<string, string>;
  /** Paths of `.txt` files given to no image (ambiguous ones included). */
  unmatchedTxt: string[];
  /** Paths of `.txt` files with no text (whitespace only); never matched. */
  emptyTxt: string[];
  /** Images without a report, in input order. */
  unmatchedImages: string[];
  ambiguous: MatchAmbiguity[];
}

const TXT_EXTENSION = /\.txt$/i;

const TXT_STAGES: readonly MatchingStage[] = [
  // Same folder: `a/x.txt` or `a/x.png.txt` beside `a/x.png`.
  {
    via: 'path',
    imageValues: (n) => [normalizeKey(n), stem(normalizeKey(n))],
    keyValue: (k) => normalizeKey(k).replace(TXT_EXTENSION, ''),
  },
  // Elsewhere (a separate reports folder): by file name, case-insensitively.
  {
    via: 'stem',
    imageValues: (n) => {
      const name = basename(normalizeKey(n)).toLowerCase();
      return [name, stem(name)];
    },
    keyValue: (k) => basename(normalizeKey(k)).replace(TXT_EXTENSION, '').toLowerCase(),
  },
];

/**
 * Pairs `.txt` reports with images by stem: first in the same folder (`a/x.txt` or `a/x.png.txt` for `a/x.png`),
 * then anywhere by file name (`reports/x.txt` for `images/x.png`), unambiguous matches only. The texts are trimmed
 * with LF line breaks; empty files are listed, not matched.
 */
export function pairTxtReports(
  files: readonly { path: string; text: string }[],
  imageNames: readonly string[],
): TxtPairing {
  const emptyTxt: string[] = [];
  const usable: { path: string; text: string }[] = [];
  for (const file of files) {
    const text = normalizeReport(file.text);
    if (text === '') emptyTxt.push(file.path);
    else usable.push({ path: file.path, text });
  }
  const { pairs, ambiguous } = matchInStages(
    imageNames,
    usable.map((f) => f.path),
    TXT_STAGES,
  );
  const byImageName = new Map<string, string>();
  const used = new Set<number>();
  const unmatchedImages: string[] = [];
  imageNames.forEach((name, i) => {
    const pair = pairs.get(i);
    if (!pair) {
      unmatchedImages.push(name);
      return;
    }
    used.add(pair.key);
    if (!byImageName.has(name)) byImageName.set(name, (usable[pair.key] as { text: string }).text);
  });
  return {
    byImageName,
    unmatchedTxt: usable.filter((_, j) => !used.has(j)).map((f) => f.path),
    emptyTxt,
    unmatchedImages,
    ambiguous,
  };
}
