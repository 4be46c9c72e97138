// Exporting a run (JSON record, findings CSV, Markdown or self-contained HTML report) as a download, and importing
// a saved JSON record with a clear problem message when the file is corrupt or not a RadDiff run. Formats come
// from core/run-export.ts; the download sink is injected, so this class is unit-tested in Node.
import {
  findingsCsv,
  htmlReport,
  markdownReport,
  parseRunRecordJson,
  serializeRunRecord,
} from '../core/run-export.ts';
import type { ScoredImage } from '../core/evidence.ts';
import type { RunRecord } from '../core/run-record.ts';

/** The export formats, by file extension. */
export type ExportFormat = 'json' | 'csv' | 'html' | 'md';

/** What the export bar's checkboxes choose. */
export interface ExportOptions {
  /** Replace image file names by hashes (JSON, and every report built from the hashed record). */
  hashNames: boolean;
  /** Embed thumbnails in the HTML report (larger file; shows the images themselves). */
  thumbnails: boolean;
  /** Findings listed in the Markdown and HTML reports (the module's default when absent). */
  top?: number;
}

/** Costly inputs of the HTML report, produced only when that report is asked for. */
export interface ExportExtras {
  /** Chart SVG per finding text. */
  charts?: () => Promise<Map<string, string>>;
  /** Data URL per image id. */
  thumbnails?: () => Promise<Map<string, string>>;
  /** Top images of each set per finding text: which thumbnails the report shows under each finding. */
  evidence?: () => Promise<Map<string, { topA: ScoredImage[]; topB: ScoredImage[] }>>;
}

/** Hands a finished file to the user. */
export type DownloadSink = (blob: Blob, fileName: string) => void;

/** Injected collaborators; both default to the browser's. */
export interface ExportStateOptions {
  download?: DownloadSink;
  now?: () => Date;
}

/** Largest file importFile reads: records are megabytes; anything far larger is not one, and would stall the tab. */
export const MAX_IMPORT_BYTES = 256 * 1024 ** 2;

const MIME: Record<ExportFormat, string> = {
  json: 'application/json',
  csv: 'text/csv;charset=utf-8',
  html: 'text/html;charset=utf-8',
  md: 'text/markdown;charset=utf-8',
};

/** Export and import of run records, with the outcome of the last of each for the export bar. */
export class ExportState {
  readonly #download: DownloadSink;
  readonly #now: () => Date;
  /** The format being produced (the bar disables its buttons meanwhile). */
  busy = $state<ExportFormat | null>(null);
  /** Why the last export failed, if it did. */
  exportError = $state<string | null>(null);
  /** The file the last export produced. */
  lastExport = $state.raw<{ fileName: string; bytes: number } | null>(null);
  /** Why the last import failed (corrupt or foreign file), if it did. */
  problem = $state<string | null>(null);
  /** What the last successful import converted or noticed (older schema, dropped fields…). */
  notes = $state.raw<string[]>([]);
  #imports = 0;

  constructor(options: ExportStateOptions = {}) {
    this.#download = options.download ?? browserDownload;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Builds the file and downloads it as `raddiff-<title or runId>-<date>.<ext>`. Resolves to the file name, or
   * null when building failed (then `exportError` says why). The HTML report asks `extras` for charts, and for
   * thumbnails and evidence only when `options.thumbnails` is on.
   */
  async exportRun(
    record: RunRecord,
    format: ExportFormat,
    options: ExportOptions,
    extras: ExportExtras = {},
  ): Promise<string | null> {
    this.busy = format;
    this.exportError = null;
    try {
      const text = await this.#build(record, format, options, extras);
      const blob = new Blob([text], { type: MIME[format] });
      const fileName = exportFileName(record, format, this.#now());
      this.#download(blob, fileName);
      this.lastExport = { fileName, bytes: blob.size };
      return fileName;
    } catch (error) {
      this.exportError = `Could not export the ${format.toUpperCase()} file: ${error instanceof Error ? error.message : String(error)}`;
      return null;
    } finally {
      this.busy = null;
    }
  }

  /**
   * Reads a saved JSON record. Resolves to the record, or null when the file is unreadable, corrupt or not a
   * RadDiff run (then `problem` says which, and nothing else changes). The latest call wins.
   */
  async importFile(file: Pick<File, 'name' | 'size' | 'text'>): Promise<RunRecord | null> {
    const generation = ++this.#imports;
    const fail = (why: string): null => {
      if (generation === this.#imports) {
        this.problem = `Could not import “${file.name}”: ${why}`;
        this.notes = [];
      }
      return null;
    };
    if (file.size > MAX_IMPORT_BYTES) {
      return fail(`it is ${Math.round(file.size / 1024 ** 2)} MB, larger than any run record.`);
    }
    let text: string;
    try {
      text = await file.text();
    } catch (error) {
      return fail(`the file could not be read (${error instanceof Error ? error.message : String(error)}).`);
    }
    const parsed = parseRunRecordJson(text);
    if (!parsed.ok) return fail(parsed.problem);
    if (generation !== this.#imports) return null;
    this.problem = null;
    this.notes = [
      ...(parsed.migratedFrom !== undefined
        ? [`Converted from run record schema version ${parsed.migratedFrom}.`]
        : []),
      ...parsed.notes,
    ];
    return parsed.record;
  }

  /** Forgets the last import's problem and notes (the user dismissed them). */
  clearImport(): void {
    this.problem = null;
    this.notes = [];
  }

  async #build(
    record: RunRecord,
    format: ExportFormat,
    options: ExportOptions,
    extras: ExportExtras,
  ): Promise<string> {
    if (format === 'json') return serializeRunRecord(record, { hashNames: options.hashNames });
    const source = options.hashNames ? hashedRecord(record) : record;
    const top = options.top === undefined ? {} : { top: options.top };
    switch (format) {
      case 'csv':
        return findingsCsv(source);
      case 'md':
        return markdownReport(source, top);
      case 'html': {
        // Thumbnails and evidence go together (the report shows each finding's top images): both only on request.
        const [charts, thumbnails, evidence] = await Promise.all([
          extras.charts?.(),
          options.thumbnails ? extras.thumbnails?.() : undefined,
          options.thumbnails ? extras.evidence?.() : undefined,
        ]);
        return htmlReport(source, {
          ...top,
          ...(charts ? { charts } : {}),
          ...(thumbnails ? { thumbnails } : {}),
          ...(evidence ? { evidence } : {}),
        });
      }
    }
  }
}

/**
 * The record with file names replaced by hashes, exactly as the JSON export writes it: one hashing rule for every
 * format, so a report and its JSON can be matched up.
 */
function hashedRecord(record: RunRecord): RunRecord {
  const parsed = parseRunRecordJson(serializeRunRecord(record, { hashNames: true }));
  if (!parsed.ok) throw new Error(`hashing the file names failed: ${parsed.problem}`);
  return parsed.record;
}

/** `raddiff-<title or runId>-<YYYY-MM-DD>.<ext>`, with the title reduced to safe file-name characters. */
export function exportFileName(record: RunRecord, format: ExportFormat, date: Date): string {
  const slug = (record.title ?? '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  const pad = (n: number) => String(n).padStart(2, '0');
  // The local date: the day the user sees on their calendar.
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const name = slug || record.runId.slice(0, 16) || 'run';
  return `raddiff-${name}-${day}.${format}`;
}

interface AnchorLike {
  href: string;
  download: string;
  rel: string;
  style: { display: string };
  click(): void;
  remove(): void;
}

/** Downloads through a temporary <a download>: the portable way to save a Blob under a chosen file name. */
function browserDownload(blob: Blob, fileName: string): void {
  // Structural read: document's type is absent from the Node realm the unit tests compile in.
  const doc = (
    globalThis as unknown as {
      document?: { createElement(tag: 'a'): AnchorLike; body: { append(node: AnchorLike): void } };
    }
  ).document;
  if (!doc) throw new Error('no document to download from');
  const url = URL.createObjectURL(blob);
  const anchor = doc.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  anchor.rel = 'noopener';
  anchor.style.display = 'none';
  // Firefox only follows links that are in the document.
  doc.body.append(anchor);
  anchor.click();
  anchor.remove();
  // Revoking at once can cancel the download in some browsers; a minute is ample for it to start.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
