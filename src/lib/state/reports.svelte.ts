// UI state of the optional radiology reports: one table file (CSV/TSV/JSON/JSONL: image name or path → report)
// and/or `.txt` files named like the images. Parsing and matching are core's (reports.ts); this class keeps what was
// read, and matches it against the current image sets on demand, so adding images later still finds their reports.

import { decodeReportBytes, matchReports, pairTxtReports, parseReports } from '../core/reports.ts';

/** One image as matching needs it. */
export interface ReportImage {
  id: string;
  name: string;
}

/** What the reports panel shows. */
export interface ReportsView {
  source: string | null;
  count: number;
  problems: string[];
  warnings: string[];
  matched: { A: number; B: number };
  unmatchedImages: { A: string[]; B: string[] };
  unmatchedReports: string[];
}

export class ReportsState {
  /** Report key (file name or path as written in the table, or a .txt image name) → text. */
  reports = $state.raw<ReadonlyMap<string, string>>(new Map());
  source = $state<string | null>(null);
  problems = $state.raw<string[]>([]);
  warnings = $state.raw<string[]>([]);
  busy = $state(false);

  /** Reads dropped or picked files: `.txt` files pair with images by name; anything else is a report table. */
  async addFiles(files: readonly File[], imageNames: readonly string[]): Promise<void> {
    this.busy = true;
    const problems: string[] = [];
    const warnings: string[] = [];
    const reports = new Map(this.reports);
    const texts: { path: string; text: string }[] = [];
    try {
      for (const file of files) {
        const decoded = decodeReportBytes(new Uint8Array(await file.arrayBuffer()));
        warnings.push(...decoded.warnings.map((w) => `${file.name}: ${w}`));
        if (/\.txt$/i.test(file.name)) {
          texts.push({ path: file.webkitRelativePath || file.name, text: decoded.text });
          continue;
        }
        const table = parseReports(decoded.text, file.name);
        if (!table.ok) {
          problems.push(...table.problems.map((p) => `${file.name}: ${p}`));
          continue;
        }
        warnings.push(...table.warnings.map((w) => `${file.name}: ${w}`));
        if (table.duplicates.length > 0) {
          warnings.push(
            `${file.name}: ${table.duplicates.length} duplicate key(s) — the first report of each was kept (e.g. "${table.duplicates[0]!.key}", line ${table.duplicates[0]!.line}).`,
          );
        }
        for (const [key, text] of table.reports) if (!reports.has(key)) reports.set(key, text);
      }
      if (texts.length > 0) {
        const paired = pairTxtReports(texts, imageNames);
        for (const [name, text] of paired.byImageName) reports.set(name, text);
        if (paired.unmatchedTxt.length > 0) {
          warnings.push(
            `${paired.unmatchedTxt.length} .txt file(s) match no image name (e.g. ${paired.unmatchedTxt[0]}).`,
          );
        }
        if (paired.emptyTxt.length > 0) warnings.push(`${paired.emptyTxt.length} .txt file(s) are empty.`);
      }
      this.reports = reports;
      this.source = files.length === 1 ? files[0]!.name : `${files.length} files`;
    } catch (error) {
      problems.push(
        `The reports could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      this.problems = problems;
      this.warnings = warnings;
      this.busy = false;
    }
  }

  clear(): void {
    this.reports = new Map();
    this.source = null;
    this.problems = [];
    this.warnings = [];
  }

  /** Report text per image id, for each set (matched separately: names may repeat across sets). */
  match(
    a: readonly ReportImage[],
    b: readonly ReportImage[],
  ): {
    byId: Map<string, string>;
    view: ReportsView;
  } {
    const byId = new Map<string, string>();
    const view: ReportsView = {
      source: this.source,
      count: this.reports.size,
      problems: this.problems,
      warnings: this.warnings,
      matched: { A: 0, B: 0 },
      unmatchedImages: { A: [], B: [] },
      unmatchedReports: [],
    };
    if (this.reports.size === 0) return { byId, view };
    const used = new Set<string>();
    for (const [label, images] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const result = matchReports(images, this.reports);
      for (const [id, m] of result.byImageId) {
        byId.set(id, m.text);
        used.add(m.key);
      }
      view.matched[label] = result.byImageId.size;
      view.unmatchedImages[label] = result.unmatchedImages;
    }
    view.unmatchedReports = [...this.reports.keys()].filter((k) => !used.has(k));
    return { byId, view };
  }
}
