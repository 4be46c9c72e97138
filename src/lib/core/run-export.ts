// Run records in and out of the app: the zod schema of a record, importing JSON (with readable problems and the
// migration of older schema versions), serializing (optionally with image names hashed), the findings CSV, the
// Markdown and self-contained HTML reports, records for rankings made outside the pipeline, and review updates.
// Pure: imports only core and zod.

import { z } from 'zod';
import { DIFF_CONFIG_SCHEMA, PROPOSERS, presetConfig } from './diff-config.ts';
import type { ScoredImage } from './evidence.ts';
import { hashString } from './hash.ts';
import { RUN_RECORD_SCHEMA_VERSION, type PoolFinding, type RunRecord } from './run-record.ts';
import type { RankedFinding } from './types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------------------------

const count = z.number().int().nonnegative();
// JSON has no NaN: JSON.stringify writes the NaN statistics of degenerate sets (p, q, CI with one image in a set)
// as null, so null reads back as NaN. (±Infinity would also become null → NaN; no statistic produces it.)
const stat = z
  .union([z.number(), z.null()], { error: 'expected a number (or null for NaN)' })
  .transform((v) => v ?? NaN);
const BOX = z.object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() });
const SET = z.enum(['A', 'B']);

const ORIGIN = z.object({
  proposer: z.enum(PROPOSERS),
  iteration: count,
  round: count.optional(),
});

const POOL_FINDING = z.object({
  index: count,
  finding: z.string(),
  auroc: stat,
  aurocCI: z.object({ lo: stat, hi: stat }),
  meanA: stat,
  meanB: stat,
  pWelch: stat,
  pMannWhitney: stat,
  q: stat,
  cliffsDelta: stat,
  classificationDelta: stat,
  threshold: z.number(),
  nA: count,
  nB: count,
  ciContainsHalf: z.boolean(),
  origins: z.array(ORIGIN),
  merged: z.array(z.string()),
  heldOut: z.object({ auroc: stat, nA: count, nB: count }).optional(),
  localized: z
    .object({
      box: BOX,
      boxSource: z.enum(['model', 'preset']),
      auroc: stat,
      nA: count,
      nB: count,
    })
    .optional(),
});

const CALL = z.object({
  purpose: z.enum(['caption', 'propose', 'refine', 'boxes', 'summarize']),
  iteration: count,
  round: count,
  model: z.string(),
  promptVersion: z.string(),
  cacheKey: z.string(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })),
  attempts: z.array(
    z.object({
      attempt: count,
      outcome: z.enum(['ok', 'malformed', 'error', 'timeout']),
      reply: z.string().optional(),
      problem: z.string().optional(),
    }),
  ),
});

const ROUND = z.object({
  iteration: count,
  round: count,
  status: z.enum(['ok', 'failed', 'cancelled']),
  sampleA: z.array(z.string()),
  sampleB: z.array(z.string()),
  captions: z.array(
    z.object({
      imageId: z.string(),
      crop: z.union([z.literal('full'), BOX]),
      text: z.string(),
      error: z.string().optional(),
    }),
  ),
  compositions: z.array(
    z.object({
      key: z.string(),
      purpose: z.enum(['grid-a', 'grid-b', 'combined', 'crops']),
      width: count,
      height: count,
      finding: z.string().optional(),
      box: BOX.optional(),
    }),
  ),
  boxes: z.array(
    z.object({
      finding: z.string(),
      box: BOX,
      source: z.enum(['model', 'preset']),
      problem: z.string().optional(),
    }),
  ),
  findings: z.array(z.string()),
  problems: z.array(z.string()),
});

const ITERATION = z.object({
  iteration: count,
  rounds: z.array(ROUND),
  dedup: z.object({
    kept: count,
    merged: z.array(z.object({ from: z.string(), into: z.string(), cosine: z.number().nullable() })),
  }),
  pool: z.array(POOL_FINDING),
});

const EXECUTION = z.object({
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  totalMs: z.number(),
  portMs: z.number(),
  stages: z.record(z.string(), z.number()),
  modelCalls: count,
  cacheHits: count,
});

/**
 * Zod schema of a {@link RunRecord} (schema version 1), fields in the interface's order. Unknown keys are dropped
 * (DIFF_CONFIG_SCHEMA, which validates `config`, rejects them instead); known fields must have their exact types
 * (counts are non-negative integers). Statistics accept null and read it as NaN (JSON cannot hold NaN).
 */
export const RUN_RECORD_ZOD: z.ZodType<RunRecord, unknown> = z.object({
  schemaVersion: z.literal(RUN_RECORD_SCHEMA_VERSION),
  app: z.object({ name: z.literal('raddiff-web'), version: z.string() }),
  runId: z.string(),
  status: z.enum(['running', 'done', 'cancelled', 'failed']),
  config: DIFF_CONFIG_SCHEMA,
  inputs: z.object({
    images: z.array(z.object({ id: z.string(), name: z.string(), set: SET, hasReport: z.boolean() })),
    counts: z.object({ A: count, B: count, reports: count }),
  }),
  models: z.object({
    embedder: z.string(),
    captioner: z.string().optional(),
    llm: z.string().optional(),
    llmVision: z.boolean().optional(),
  }),
  promptVersions: z.record(z.string(), z.string()),
  iterations: z.array(ITERATION),
  calls: z.array(CALL),
  ranking: z.array(POOL_FINDING),
  unranked: z.array(z.object({ id: z.string(), reason: z.string() })),
  execution: EXECUTION,
  failures: z.array(
    z.object({
      stage: z.string(),
      iteration: count.optional(),
      round: count.optional(),
      message: z.string(),
    }),
  ),
  warnings: z.array(z.string()),
  title: z.string().optional(),
  review: z.record(z.string(), z.enum(['accepted', 'rejected'])).optional(),
  pinned: z.array(z.string()).optional(),
  hidden: z.array(z.string()).optional(),
  edits: z
    .array(
      z.object({
        at: z.string(),
        action: z.enum(['add', 'edit']),
        from: z.string().optional(),
        to: z.string(),
      }),
    )
    .optional(),
});

// Schema 0, the pre-release shape: what is now `execution` was `timings` ({ totalMs, modelMs, stages }) and the
// start/finish times were top-level fields. Only the parts that differ are described; the rest is schema 1's.
const V0_PARTS = z.object({
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  timings: z.object({
    totalMs: z.number(),
    modelMs: z.number(),
    stages: z.record(z.string(), z.number()),
  }),
});

// ---------------------------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------------------------

/** Result of {@link parseRunRecordJson}: the record, or one readable paragraph saying what is wrong. */
export type ParsedRunRecord =
  | {
      ok: true;
      record: RunRecord;
      /** The schema version the file had, when it was older and has been migrated. */
      migratedFrom?: number;
      /** What the import changed or ignored, in words (migration steps, unknown fields dropped). */
      notes: string[];
    }
  | { ok: false; problem: string };

/** How many field-level problems a failed import lists. */
const LISTED_PROBLEMS = 5;

/**
 * Reads a run record from JSON text (a file the user imports, or one this app exported). Problems come back as
 * readable text, never as exceptions: not JSON (with the line and column when the engine reports a position),
 * not a raddiff-web record, a record from a newer app, or the first field-level problems with their JSON paths.
 * Records of schema 0 are migrated to schema 1 (`migratedFrom: 0`).
 */
export function parseRunRecordJson(text: string): ParsedRunRecord {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a BOM from Windows editors
  if (source.trim() === '')
    return { ok: false, problem: 'The file is empty; expected a raddiff-web run record.' };
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    return { ok: false, problem: `This is not JSON: ${describeJsonError(error, source)}` };
  }
  return parseRunRecordValue(value);
}

/**
 * Like {@link parseRunRecordJson}, for a value already parsed (e.g. a record read back from IndexedDB, which may
 * have been stored by an older version of the app).
 */
export function parseRunRecordValue(value: unknown): ParsedRunRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const found = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    return {
      ok: false,
      problem: `This is not a raddiff-web run record: expected a JSON object, found ${found}.`,
    };
  }
  const raw = value as Record<string, unknown>;
  const app = raw['app'];
  const appName =
    typeof app === 'object' && app !== null ? (app as Record<string, unknown>)['name'] : undefined;
  const version = raw['schemaVersion'];
  if (appName !== 'raddiff-web') {
    const missing = [
      version === undefined ? '`schemaVersion`' : '',
      appName === undefined ? '`app.name`' : '',
    ]
      .filter((s) => s !== '')
      .join(' and ');
    return {
      ok: false,
      problem:
        typeof appName === 'string'
          ? `This is not a raddiff-web run record: it was made by ${JSON.stringify(appName)}.`
          : `This is not a raddiff-web run record: it has no ${missing || '`app.name` of "raddiff-web"'}.`,
    };
  }
  if (version === undefined) {
    return { ok: false, problem: 'This is not a raddiff-web run record: it has no `schemaVersion`.' };
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    return {
      ok: false,
      problem: `The run record's schemaVersion must be a whole number, found ${JSON.stringify(version)}.`,
    };
  }
  if (version > RUN_RECORD_SCHEMA_VERSION) {
    return {
      ok: false,
      problem:
        `This run record was made by a newer raddiff-web (schema ${version}); this version reads up to ` +
        `${RUN_RECORD_SCHEMA_VERSION} — update the app.`,
    };
  }

  const notes: string[] = [];
  let candidate: Record<string, unknown> = raw;
  let migratedFrom: number | undefined;
  if (version === 0) {
    const migrated = migrateV0(raw);
    if (!migrated.ok) return migrated;
    candidate = migrated.value;
    migratedFrom = 0;
    notes.push(...migrated.notes);
  }

  const parsed = RUN_RECORD_ZOD.safeParse(candidate);
  if (!parsed.success) return { ok: false, problem: describeIssues(parsed.error.issues) };
  const known = new Set(Object.keys(RUN_RECORD_KEYS));
  const ignored = Object.keys(candidate).filter((key) => !known.has(key));
  if (ignored.length > 0) {
    notes.push(`Ignored unknown field${ignored.length === 1 ? '' : 's'}: ${ignored.join(', ')}.`);
  }
  return migratedFrom === undefined
    ? { ok: true, record: parsed.data, notes }
    : { ok: true, record: parsed.data, migratedFrom, notes };
}

// Top-level keys of schema 1 (the `satisfies` keeps this list in step with RunRecord).
const RUN_RECORD_KEYS = {
  schemaVersion: 1,
  app: 1,
  runId: 1,
  status: 1,
  config: 1,
  inputs: 1,
  models: 1,
  promptVersions: 1,
  iterations: 1,
  calls: 1,
  ranking: 1,
  unranked: 1,
  execution: 1,
  failures: 1,
  warnings: 1,
  title: 1,
  review: 1,
  pinned: 1,
  hidden: 1,
  edits: 1,
} satisfies Record<keyof RunRecord, 1>;

/** Schema 0 → 1: `timings` + top-level start/finish become `execution`. */
function migrateV0(
  raw: Record<string, unknown>,
): { ok: true; value: Record<string, unknown>; notes: string[] } | { ok: false; problem: string } {
  const parts = V0_PARTS.safeParse(raw);
  if (!parts.success) return { ok: false, problem: describeIssues(parts.error.issues, 'schema 0 ') };
  const { startedAt, finishedAt, timings } = parts.data;
  const { startedAt: _s, finishedAt: _f, timings: _t, ...rest } = raw;
  const execution: Record<string, unknown> = { startedAt };
  if (finishedAt !== undefined) execution['finishedAt'] = finishedAt;
  Object.assign(execution, {
    totalMs: timings.totalMs,
    // Schema 0 timed only model calls; schema 1 times every port wait, of which model calls are nearly all.
    portMs: timings.modelMs,
    stages: timings.stages,
    // Not counted before schema 1.
    modelCalls: 0,
    cacheHits: 0,
  });
  return {
    ok: true,
    value: { ...rest, schemaVersion: RUN_RECORD_SCHEMA_VERSION, execution },
    notes: [
      'Migrated from schema 0: `timings` and the start/finish times became `execution` (modelMs → portMs).',
      'Schema 0 did not count model calls and cache hits; they read as 0.',
    ],
  };
}

/** `ranking[3].aurocCI.lo`, `config.seed`, or `(record)` for the root. */
function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(record)' : out;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], what = ''): string {
  const n = issues.length;
  const lines = issues
    .slice(0, LISTED_PROBLEMS)
    .map((issue) => `- ${jsonPath(issue.path)}: ${issue.message}`);
  if (n > LISTED_PROBLEMS) lines.push(`- … and ${n - LISTED_PROBLEMS} more.`);
  return `This ${what}run record has ${n} problem${n === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}

/** The engine's message plus the line and column of the error when the message gives a position. */
function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  // V8: "… at position 12" (newer versions add "(line 1 column 13)"); Firefox: "… at line 1 column 13 …".
  if (/line \d+ column \d+/.test(message)) return message;
  const position = /position (\d+)/.exec(message);
  if (position) {
    const offset = Number(position[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return `${message} (line ${line}, column ${column})`;
  }
  return message;
}

// ---------------------------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------------------------

/** The name an image gets in exports with hashed names: `sha256:` and the first 16 hex digits of its id. */
export function hashedImageName(id: string): string {
  return `sha256:${id.slice(0, 16)}`;
}

/**
 * A function replacing every verbatim occurrence of an input image's name in a text by its hashed name. Only
 * names that occur in `corpus` enter the pattern (usually none), so a record with 10,000 images stays cheap;
 * longer names win over names they contain, and replaced text is never replaced again.
 */
function nameScrubber(
  images: RunRecord['inputs']['images'],
  corpus: readonly string[],
): (text: string) => string {
  const joined = corpus.join('\u0000');
  const found = new Map<string, string>();
  for (const image of images) {
    if (image.name !== '' && !found.has(image.name) && joined.includes(image.name)) {
      found.set(image.name, hashedImageName(image.id));
    }
  }
  if (found.size === 0) return (text) => text;
  const names = [...found.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const pattern = new RegExp(names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (text) => text.replace(pattern, (name) => found.get(name) as string);
}

/** Texts of a record that may quote file names: warnings, failures, unranked reasons, round problems. */
function scrubbedTexts(record: RunRecord): string[] {
  return [
    ...record.warnings,
    ...record.failures.map((f) => f.message),
    ...record.unranked.map((u) => u.reason),
    ...record.iterations.flatMap((it) => it.rounds.flatMap((r) => r.problems)),
  ];
}

/**
 * The record as pretty JSON (2-space indent, keys in the record's own order); NaN statistics are written as null
 * and read back as NaN by {@link parseRunRecordJson}, so `parseRunRecordJson(serializeRunRecord(r))` equals r
 * (−0 reads back as 0). With `hashNames`, every `inputs.images[].name` becomes `sha256:<first 16 hex of the
 * id>` and verbatim occurrences of those names in warnings, failure messages, unranked reasons and round
 * problems are replaced the same way — for sharing a run without its file names. Captions, prompts and replies
 * are left as they are (they describe pixels, not files).
 */
export function serializeRunRecord(record: RunRecord, options: { hashNames?: boolean } = {}): string {
  if (!options.hashNames) return JSON.stringify(record, null, 2);
  const scrub = nameScrubber(record.inputs.images, scrubbedTexts(record));
  const hashed: RunRecord = {
    ...record,
    inputs: {
      ...record.inputs,
      images: record.inputs.images.map((image) => ({ ...image, name: hashedImageName(image.id) })),
    },
    iterations: record.iterations.map((it) => ({
      ...it,
      rounds: it.rounds.map((round) => ({ ...round, problems: round.problems.map(scrub) })),
    })),
    unranked: record.unranked.map((u) => ({ ...u, reason: scrub(u.reason) })),
    failures: record.failures.map((f) => ({ ...f, message: scrub(f.message) })),
    warnings: record.warnings.map(scrub),
  };
  return JSON.stringify(hashed, null, 2);
}

const CSV_HEADER = [
  'rank',
  'finding',
  'auroc',
  'auroc_ci_low',
  'auroc_ci_high',
  'held_out_auroc',
  'localized_auroc',
  'q',
  'p_mann_whitney',
  'mean_a',
  'mean_b',
  'cliffs_delta',
  'n_a',
  'n_b',
  'origins',
  'review',
  'flags',
] as const;

/**
 * A text cell for a spreadsheet. Cells starting with = + - @ (or a tab or carriage return) are prefixed with ' so
 * that Excel, LibreOffice and Sheets show them as text instead of evaluating a formula (CSV injection: finding
 * texts come from a language model or an imported file). Then quoted per RFC 4180 when needed.
 */
function textCell(value: string): string {
  return quoteCell(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

/** RFC 4180: a field with a comma, a quote or a line break is quoted, with quotes doubled. */
function quoteCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * A numeric cell, full precision; empty when not available (NaN, or no held-out/localized AUROC). Numbers are
 * written by us, never taken from text, so they need no formula guard — and keeping "-0.12" unprefixed keeps
 * negative values numeric in spreadsheets.
 */
function numberCell(value: number | undefined): string {
  return value !== undefined && Number.isFinite(value) ? String(value) : '';
}

function originText(origins: PoolFinding['origins']): string {
  return origins
    .map((o) => `${o.proposer} i${o.iteration}${o.round === undefined ? '' : ` r${o.round}`}`)
    .join('; ');
}

/** Flags of a finding, as the CSV and the reports name them. */
function flagsOf(record: RunRecord, f: PoolFinding): string[] {
  const flags: string[] = [];
  if (record.pinned?.includes(f.finding)) flags.push('pinned');
  if (record.hidden?.includes(f.finding)) flags.push('hidden');
  if (f.origins.some((o) => o.proposer === 'user')) flags.push('user');
  if (f.ciContainsHalf) flags.push('ci_contains_half');
  if (f.merged.length > 0) flags.push('merged');
  return flags;
}

/**
 * The final ranking as CSV (RFC 4180, CRLF line ends, header first), one row per finding in ranking order
 * including hidden ones (flagged). Columns: rank, finding, auroc, auroc_ci_low, auroc_ci_high, held_out_auroc,
 * localized_auroc, q, p_mann_whitney, mean_a, mean_b, cliffs_delta, n_a, n_b, origins ("proposer iN rM", "; "
 * separated), review (accepted/rejected/empty) and flags (pinned, hidden, user, ci_contains_half, merged; ";"
 * separated). Numbers at full precision; NaN and missing values are empty cells. Text cells are guarded against
 * formula injection (see textCell).
 */
export function findingsCsv(record: RunRecord): string {
  const lines = [CSV_HEADER.join(',')];
  record.ranking.forEach((f, i) => {
    lines.push(
      [
        String(i + 1),
        textCell(f.finding),
        numberCell(f.auroc),
        numberCell(f.aurocCI.lo),
        numberCell(f.aurocCI.hi),
        numberCell(f.heldOut?.auroc),
        numberCell(f.localized?.auroc),
        numberCell(f.q),
        numberCell(f.pMannWhitney),
        numberCell(f.meanA),
        numberCell(f.meanB),
        numberCell(f.cliffsDelta),
        String(f.nA),
        String(f.nB),
        textCell(originText(f.origins)),
        textCell(record.review?.[f.finding] ?? ''),
        textCell(flagsOf(record, f).join(';')),
      ].join(','),
    );
  });
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------------------

/** Findings a report shows by default. */
export const REPORT_TOP = 20;

/** One table row of a report. */
interface ReportRow {
  rank: number;
  finding: PoolFinding;
  review: 'accepted' | 'rejected' | undefined;
  notes: string[];
}

/** Everything both reports show, resolved once. */
interface ReportView {
  title: string;
  date: string;
  rows: ReportRow[];
  hiddenCount: number;
  total: number;
  inputs: string[];
  models: string[];
  config: string[];
  review: string | null;
  failures: string[];
  warnings: string[];
  footer: string;
}

const fixed3 = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(3) : '—');
const pValue = (v: number) => (!Number.isFinite(v) ? '—' : v < 0.001 ? v.toExponential(1) : v.toFixed(3));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const onOff = (v: boolean) => (v ? 'on' : 'off');

function aurocText(f: PoolFinding): string {
  const ci = Number.isFinite(f.aurocCI.lo) ? ` [${fixed3(f.aurocCI.lo)}, ${fixed3(f.aurocCI.hi)}]` : '';
  return `${fixed3(f.auroc)}${ci}`;
}

/** "2026-05-01 14:03 UTC" from an ISO timestamp (no locale: the same record always renders the same). */
function dateText(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

function reportView(record: RunRecord, top: number): ReportView {
  if (!Number.isInteger(top) || top < 0) throw new Error(`top must be a non-negative integer, got ${top}`);
  const pinned = new Set(record.pinned ?? []);
  const hidden = new Set(record.hidden ?? []);
  // The user's view of the run: hidden findings left out, pinned ones first (each group in ranking order).
  const all = record.ranking.map((finding, i) => ({ finding, rank: i + 1 }));
  const visible = all.filter((r) => !hidden.has(r.finding.finding));
  const ordered = [
    ...visible.filter((r) => pinned.has(r.finding.finding)),
    ...visible.filter((r) => !pinned.has(r.finding.finding)),
  ];
  const rows = ordered.slice(0, top).map(({ finding, rank }) => {
    const notes: string[] = [];
    if (pinned.has(finding.finding)) notes.push('pinned');
    if (finding.origins.some((o) => o.proposer === 'user')) notes.push('added by the user');
    if (finding.ciContainsHalf) notes.push('CI includes 0.5');
    return { rank, finding, review: record.review?.[finding.finding], notes };
  });

  const c = record.config;
  const counts = record.inputs.counts;
  const scrub = nameScrubber(record.inputs.images, scrubbedTexts(record));
  const verdicts = Object.values(record.review ?? {});
  const accepted = verdicts.filter((v) => v === 'accepted').length;
  const models = [`Embedder (ranker): ${record.models.embedder}`];
  if (record.models.captioner) models.push(`Captioner: ${record.models.captioner}`);
  if (record.models.llm) {
    const vision =
      record.models.llmVision === undefined ? '' : record.models.llmVision ? ' (vision)' : ' (text only)';
    models.push(`Proposer LLM: ${record.models.llm}${vision}`);
  }
  return {
    title: record.title?.trim() || `RadDiff run ${record.runId.slice(0, 8)}`,
    date: dateText(record.execution.startedAt),
    rows,
    hiddenCount: all.length - visible.length,
    total: all.length,
    inputs: [
      `Set A: ${plural(counts.A, 'image')}`,
      `Set B: ${plural(counts.B, 'image')}`,
      `Reports: ${counts.reports}`,
      ...(record.unranked.length > 0
        ? [`Not ranked (could not be embedded): ${record.unranked.length}`]
        : []),
    ],
    models,
    config: [
      `Preset: ${c.preset}; proposer: ${c.proposer}`,
      `${plural(c.iterations, 'iteration')} × ${plural(c.rounds, 'round')}, ${c.samplesPerSet} images per set per round, ${c.findingsMin}–${c.findingsMax} findings per round, top-k ${c.topK}`,
      `Ranker: at most ${c.rankerCap} images per set, threshold τ ${c.threshold}, seed ${c.seed}`,
      `Temperature ${c.temperature}; dedup cosine ${c.dedupThreshold}; visual search ${onOff(c.visualSearch)}; held-out AUROC ${onOff(c.heldOut)}; localized ranking ${onOff(c.localizedRanking)}`,
    ],
    review:
      verdicts.length > 0 || (record.edits?.length ?? 0) > 0
        ? `${accepted} accepted, ${verdicts.length - accepted} rejected; ${plural(record.edits?.length ?? 0, 'edit')} after the run`
        : null,
    failures: record.failures.map((f) => {
      const where = [
        f.iteration === undefined ? '' : `iteration ${f.iteration}`,
        f.round === undefined ? '' : `round ${f.round}`,
      ]
        .filter((s) => s !== '')
        .join(', ');
      return `${f.stage}${where ? ` (${where})` : ''}: ${scrub(f.message)}`;
    }),
    warnings: record.warnings.map(scrub),
    footer: `raddiff-web ${record.app.version}, run ${record.runId}, status ${record.status}`,
  };
}

/**
 * Escapes text for inline Markdown: a backslash before every character that could start emphasis, code, a link,
 * inline HTML, an entity or a table cell boundary (CommonMark allows escaping any ASCII punctuation); line breaks
 * become spaces so a text never leaves its list item or cell.
 */
function md(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#|~&]/g, '\\$&').replace(/\s+/g, ' ');
}

/** A list item; a leading "-", "+" or "1." in the text would start a nested list, so it is escaped too. */
function mdItem(text: string): string {
  return `- ${md(text)
    .replace(/^(\d+)([.)])/, '$1\\$2')
    .replace(/^([-+])/, '\\$1')}`;
}

/**
 * The run as a Markdown report: title, date, inputs (counts only, never file names), models, configuration, the
 * top findings (default 20; hidden ones left out, pinned ones first), the user's review, failures and warnings
 * (file names in them replaced by hashed names). Every text taken from the record is escaped.
 */
export function markdownReport(record: RunRecord, options: { top?: number } = {}): string {
  const view = reportView(record, options.top ?? REPORT_TOP);
  const out: string[] = [`# ${md(view.title)}`, '', `${md(view.date)} · status: ${record.status}`, ''];
  const list = (items: string[]) => items.map(mdItem);
  out.push('## Inputs', '', ...list(view.inputs), '');
  out.push('## Models', '', ...list(view.models), '');
  out.push('## Configuration', '', ...list(view.config), '');
  out.push('## Findings', '');
  const shown = view.rows.length;
  const more = view.total - view.hiddenCount - shown;
  if (shown === 0) out.push('No findings.', '');
  else {
    out.push(
      '| Rank | Finding | AUROC [95% CI] | Held-out AUROC | q | Mean A | Mean B | Review | Notes |',
      '|---:|---|---|---:|---:|---:|---:|---|---|',
    );
    for (const row of view.rows) {
      const f = row.finding;
      out.push(
        `| ${row.rank} | ${md(f.finding)} | ${aurocText(f)} | ${fixed3(f.heldOut?.auroc)} | ${pValue(f.q)} | ` +
          `${fixed3(f.meanA)} | ${fixed3(f.meanB)} | ${row.review ?? ''} | ${row.notes.join(', ')} |`,
      );
    }
    out.push('');
  }
  const omitted = [
    more > 0 ? `${plural(more, 'more finding')} not shown` : '',
    view.hiddenCount > 0 ? `${view.hiddenCount} hidden by the user` : '',
  ].filter((s) => s !== '');
  if (omitted.length > 0) out.push(`${omitted.join('; ')}.`, '');
  if (view.review) out.push(`Review: ${md(view.review)}.`, '');
  out.push('## Failures', '', ...(view.failures.length > 0 ? list(view.failures) : ['None.']), '');
  out.push('## Warnings', '', ...(view.warnings.length > 0 ? list(view.warnings) : ['None.']), '');
  out.push('---', '', md(view.footer), '');
  return out.join('\n');
}

/** Escapes text for HTML element content and quoted attribute values. */
function html(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Inline SVG needs no namespace declarations in HTML; dropping them keeps the document free of URLs.
const SVG_NAMESPACES = /\s+xmlns(?::xlink)?="http:\/\/www\.w3\.org\/(?:2000\/svg|1999\/xlink)"/g;
// Only embedded images: anything else could make the report fetch from the network when opened.
const DATA_IMAGE_URL = /^data:image\/[a-z0-9.+-]+(?:;[a-z0-9=.+-]+)*,[a-z0-9+/=%._~-]*$/i;

const HTML_STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de;
  --accent: #0a58ca; --a: #b35900; --b: #0b6e99; --zebra: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9aa4ae; --line: #30363d; --accent: #6cb6ff; --a: #f0a35e;
    --b: #5cc4f0; --zebra: #161b22; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 72rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .25rem; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: var(--zebra); }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; margin: .5rem 0; }
.charts svg { max-width: 100%; height: auto; color: var(--fg); }
.thumbs { display: flex; flex-wrap: wrap; gap: .5rem; margin: .25rem 0 .75rem; }
.thumbs figure { margin: 0; width: 112px; }
.thumbs img { width: 112px; height: 112px; object-fit: contain; background: #000; border-radius: 4px; display: block; }
.thumbs figcaption { font-size: .75rem; color: var(--muted); }
.set-a { color: var(--a); } .set-b { color: var(--b); }
footer { margin-top: 3rem; font-size: .8rem; color: var(--muted); }
`;

/**
 * The run as ONE self-contained HTML document: inline CSS (light and dark via prefers-color-scheme), no script,
 * no external URL, and a Content-Security-Policy that blocks any fetch but data: images. Sections: the header,
 * inputs (counts, never file names), models, configuration, the findings table (top `top`, default 20; hidden
 * ones left out, pinned first), then per finding of the table its statistics, its `charts` and — only when
 * `thumbnails` are given — its top A and B images from `evidence` (ids looked up in `thumbnails`; images without
 * a thumbnail are skipped), then failures and warnings. Every text from the record is escaped.
 *
 * `charts` (finding text → SVG markup) is inserted as is, so it must come from our own chart code, never from a
 * record or user input; only its SVG/XLink namespace declarations are dropped (HTML needs none). `thumbnails`
 * must be `data:image/…` URLs; others are ignored.
 */
export function htmlReport(
  record: RunRecord,
  options: {
    charts?: Map<string, string>;
    thumbnails?: Map<string, string>;
    /** Top images per finding text (e.g. the workbench's Evidence), used with `thumbnails`. */
    evidence?: Map<string, { topA: ScoredImage[]; topB: ScoredImage[] }>;
    top?: number;
  },
): string {
  const view = reportView(record, options.top ?? REPORT_TOP);
  const list = (items: string[]) => `<ul>${items.map((s) => `<li>${html(s)}</li>`).join('')}</ul>`;
  const parts: string[] = [];
  parts.push(
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<title>${html(view.title)}</title>`,
    `<style>${HTML_STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<header><h1>${html(view.title)}</h1><p class="muted">${html(view.date)} · status: ${html(record.status)}</p></header>`,
    `<section><h2>Inputs</h2>${list(view.inputs)}</section>`,
    `<section><h2>Models</h2>${list(view.models)}</section>`,
    `<section><h2>Configuration</h2>${list(view.config)}</section>`,
    '<section><h2>Findings</h2>',
  );
  if (view.rows.length === 0) parts.push('<p>No findings.</p>');
  else {
    parts.push(
      '<table><thead><tr><th class="num">Rank</th><th>Finding</th><th class="num">AUROC [95% CI]</th>' +
        '<th class="num">Held-out</th><th class="num">q</th><th class="num">Mean A</th><th class="num">Mean B</th>' +
        '<th>Review</th><th>Notes</th></tr></thead><tbody>',
    );
    for (const row of view.rows) {
      const f = row.finding;
      parts.push(
        `<tr><td class="num">${row.rank}</td><td>${html(f.finding)}</td><td class="num">${aurocText(f)}</td>` +
          `<td class="num">${fixed3(f.heldOut?.auroc)}</td><td class="num">${pValue(f.q)}</td>` +
          `<td class="num">${fixed3(f.meanA)}</td><td class="num">${fixed3(f.meanB)}</td>` +
          `<td>${html(row.review ?? '')}</td><td>${html(row.notes.join(', '))}</td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  }
  const more = view.total - view.hiddenCount - view.rows.length;
  const omitted = [
    more > 0 ? `${plural(more, 'more finding')} not shown` : '',
    view.hiddenCount > 0 ? `${view.hiddenCount} hidden by the user` : '',
  ].filter((s) => s !== '');
  if (omitted.length > 0) parts.push(`<p class="muted">${html(omitted.join('; '))}.</p>`);
  if (view.review) parts.push(`<p>Review: ${html(view.review)}.</p>`);
  parts.push('</section>');

  for (const row of view.rows) {
    const f = row.finding;
    parts.push(`<section><h3>${row.rank}. ${html(f.finding)}</h3>`);
    const stats = [
      `AUROC ${aurocText(f)}`,
      f.heldOut ? `held-out ${fixed3(f.heldOut.auroc)}` : '',
      f.localized ? `localized ${fixed3(f.localized.auroc)}` : '',
      `q ${pValue(f.q)}`,
      `mean A ${fixed3(f.meanA)}, mean B ${fixed3(f.meanB)}`,
      `n ${f.nA} + ${f.nB}`,
    ].filter((s) => s !== '');
    parts.push(`<p class="muted">${html(stats.join(' · '))}</p>`);
    const chart = options.charts?.get(f.finding);
    if (chart !== undefined) parts.push(`<div class="charts">${chart.replace(SVG_NAMESPACES, '')}</div>`);
    const evidence = options.evidence?.get(f.finding);
    if (options.thumbnails && evidence) {
      for (const [set, images] of [
        ['A', evidence.topA],
        ['B', evidence.topB],
      ] as const) {
        const figures = images.flatMap((image, i) => {
          const url = options.thumbnails?.get(image.id);
          if (url === undefined || !DATA_IMAGE_URL.test(url)) return [];
          const label = `Set ${set}, #${i + 1}, score ${image.score.toFixed(3)}`;
          return [
            `<figure><img src="${html(url)}" alt="${html(label)}"><figcaption>${html(label)}</figcaption></figure>`,
          ];
        });
        if (figures.length > 0) {
          parts.push(
            `<p class="set-${set.toLowerCase()}">Highest-scoring images of set ${set}</p><div class="thumbs">${figures.join('')}</div>`,
          );
        }
      }
    }
    parts.push('</section>');
  }

  parts.push(
    `<section><h2>Failures</h2>${view.failures.length > 0 ? list(view.failures) : '<p>None.</p>'}</section>`,
    `<section><h2>Warnings</h2>${view.warnings.length > 0 ? list(view.warnings) : '<p>None.</p>'}</section>`,
    `<footer>${html(view.footer)}. Self-contained report: no scripts, no external resources.</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  );
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Records made outside the pipeline, and review
// ---------------------------------------------------------------------------------------------------------------

/**
 * A valid schema-1 record for a ranking made outside the pipeline (findings the user typed, the concept-bank
 * demo): the `quick` preset with `proposer` (and, for `user`, the findings as `userFindings`), one iteration with
 * no rounds whose pool is the ranking (origin `{ proposer, iteration: 1 }`), no calls, status `done`, started and
 * finished at `now` (epoch ms). The run id hashes the images (ids and sets), findings, embedder, proposer and
 * seed, so the same ranking of the same images gets the same id.
 */
export function recordFromRanking(input: {
  ranking: RankedFinding[];
  images: { id: string; name: string; set: 'A' | 'B' }[];
  embedder: string;
  proposer: 'user' | 'concept-bank';
  appVersion: string;
  seed?: number;
  now: number;
}): RunRecord {
  const { ranking, images, embedder, proposer } = input;
  const seed = input.seed ?? 0;
  const config = { ...presetConfig('quick'), proposer, seed };
  if (proposer === 'user') {
    config.userFindings = [...ranking].sort((x, y) => x.index - y.index).map((f) => f.finding);
  }
  const pool: PoolFinding[] = ranking.map((f) => ({
    ...f,
    origins: [{ proposer, iteration: 1 }],
    merged: [],
  }));
  const at = new Date(input.now).toISOString();
  const runId = hashString(
    JSON.stringify({
      kind: 'ranking',
      embedder,
      proposer,
      seed,
      images: images.map((i) => [i.id, i.set]),
      findings: ranking.map((f) => f.finding),
    }),
  );
  return {
    schemaVersion: RUN_RECORD_SCHEMA_VERSION,
    app: { name: 'raddiff-web', version: input.appVersion },
    runId,
    status: 'done',
    config,
    inputs: {
      images: images.map((i) => ({ id: i.id, name: i.name, set: i.set, hasReport: false })),
      counts: {
        A: images.filter((i) => i.set === 'A').length,
        B: images.filter((i) => i.set === 'B').length,
        reports: 0,
      },
    },
    models: { embedder },
    promptVersions: {},
    iterations: [{ iteration: 1, rounds: [], dedup: { kept: pool.length, merged: [] }, pool }],
    calls: [],
    ranking: pool,
    unranked: [],
    execution: {
      startedAt: at,
      finishedAt: at,
      totalMs: 0,
      portMs: 0,
      stages: {},
      modelCalls: 0,
      cacheHits: 0,
    },
    failures: [],
    warnings: [],
  };
}

/**
 * The record with the user's verdict on `finding` (by its exact text) set, or cleared with null; a record whose
 * review becomes empty has no `review` field. Returns a new record; `record` is not modified.
 */
export function applyReview(
  record: RunRecord,
  finding: string,
  verdict: 'accepted' | 'rejected' | null,
): RunRecord {
  const review = { ...record.review };
  if (verdict === null) delete review[finding];
  else review[finding] = verdict;
  const { review: _old, ...rest } = record;
  return Object.keys(review).length > 0 ? { ...record, review } : rest;
}
