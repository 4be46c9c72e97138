// The proposer's prompts (METHOD.md §3, in our own words), their versions and JSON schemas, and the lenient parsers
// of the replies. A prompt's version is part of every reply cache key: change the wording, bump the version. The
// parsers never throw: an unusable reply is a value (`{ ok: false, problem }`) the pipeline retries. Pure.

import type { EncodedImage, LlmContentPart, LlmMessage } from './llm.ts';

/** Versions of every prompt; recorded in the run record and part of the cache keys. */
export const PROMPT_VERSIONS = {
  caption: 'caption/1',
  propose: 'propose/1',
  proposeCaptionsOnly: 'propose-captions/1',
  proposeReports: 'propose-reports/1',
  refine: 'refine/1',
  boxes: 'boxes/1',
  summarize: 'summarize/1',
} as const;

/** What the captioner is asked for every sampled image (and crop). */
export const CAPTION_PROMPT =
  'You are looking at one chest radiograph. Describe it in detail as a radiologist would: projection, lines and ' +
  'devices, lungs (each zone, both sides), pleura, heart size and mediastinum, hila, diaphragm and costophrenic ' +
  'angles, bones and soft tissues. Name abnormalities with their side, zone and size. Plain sentences, no preamble.';

const PERSONA =
  'You are a senior radiologist comparing two cohorts of chest radiographs, group A and group B, to find ' +
  'patterns that distinguish them. You are careful, specific and clinically minded.';

/** Schema of a proposal or refinement reply. */
export function differencesSchema(min: number, max: number): object {
  return {
    type: 'object',
    properties: {
      differences: {
        type: 'array',
        items: { type: 'string', minLength: 3, maxLength: 160 },
        minItems: min,
        maxItems: max,
      },
    },
    required: ['differences'],
    additionalProperties: false,
  };
}

/** Schema of a box-selection reply: exactly `k` boxes. */
export function boxesSchema(k: number): object {
  const coordinate = { type: 'number', minimum: 0, maximum: 1 };
  return {
    type: 'object',
    properties: {
      boxes: {
        type: 'array',
        minItems: k,
        maxItems: k,
        items: {
          type: 'object',
          properties: {
            finding: { type: 'string' },
            x1: coordinate,
            y1: coordinate,
            x2: coordinate,
            y2: coordinate,
          },
          required: ['finding', 'x1', 'y1', 'x2', 'y2'],
          additionalProperties: false,
        },
      },
    },
    required: ['boxes'],
    additionalProperties: false,
  };
}

/** Schema of a report summary. */
export const SUMMARY_SCHEMA = {
  type: 'object',
  properties: { summary: { type: 'string', maxLength: 600 } },
  required: ['summary'],
  additionalProperties: false,
} as const;

/** One line per caption: `Group A: …` then `Group B: …`, newlines inside a caption flattened to spaces. */
export function captionBlock(a: readonly string[], b: readonly string[]): string {
  const flat = (text: string) => text.replace(/\s+/g, ' ').trim() || '(no description)';
  return [...a.map((c) => `Group A: ${flat(c)}`), ...b.map((c) => `Group B: ${flat(c)}`)].join('\n');
}

/** The report block of the report-guided variant. */
export function reportBlock(a: readonly string[], b: readonly string[]): string {
  const flat = (text: string) => text.replace(/\s+/g, ' ').trim() || '(no report)';
  const list = (items: readonly string[]) => items.map((r, i) => `${i + 1}. ${flat(r)}`).join('\n');
  return `GROUP A REPORTS:\n${list(a)}\n\nGROUP B REPORTS:\n${list(b)}`;
}

/** A previous finding fed back with its AUROC. */
export interface ScoredFinding {
  finding: string;
  auroc: number;
}

function previousBlock(previous: readonly ScoredFinding[]): string {
  return previous.map((p, i) => `${i + 1}. ${p.finding} (AUROC ${p.auroc.toFixed(3)})`).join('\n');
}

const RULES = (min: number, max: number) =>
  [
    `List ${min} to ${max} findings that are more frequent or more pronounced in group A than in group B.`,
    'Each finding is one short noun phrase naming one concept, anatomically specific where possible ' +
      '(side, zone, size), e.g. "moderate right pleural effusion" or "enlarged cardiac silhouette".',
    'Write only the finding itself: it must complete the sentence "Group A has more …". Do not start with ' +
      '"more", "presence of", "evidence of" or "images with"; do not mention group B; no parenthetical lists; ' +
      'one concept per item; no duplicates.',
    'Answer in JSON only, exactly in the form {"differences": ["…", "…"]}.',
  ].join('\n');

/** Inputs of the first-iteration proposal prompt. */
export interface ProposeInput {
  findingsMin: number;
  findingsMax: number;
  /** Caption block (RadDiff, caption-only) — omitted in the report-guided variant. */
  captions?: string;
  /** Report block (report-guided). */
  reports?: string;
  /** Grids of A and of B; omitted for text-only models and the caption-only variant. */
  gridA?: EncodedImage;
  gridB?: EncodedImage;
}

function imagePart(image: EncodedImage): LlmContentPart {
  return { type: 'image', image };
}

/** The proposal prompt of iteration 1 (RadDiff, caption-only or report-guided by what `input` carries). */
export function buildProposeMessages(input: ProposeInput): LlmMessage[] {
  const parts: LlmContentPart[] = [];
  const intro: string[] = [];
  if (input.captions !== undefined) {
    intro.push('Below are descriptions of sampled radiographs, one per line, labelled with their group.');
  }
  if (input.reports !== undefined) {
    intro.push('Below are the radiology reports of sampled radiographs of each group.');
  }
  if (input.gridA && input.gridB) {
    intro.push(
      'You also see two image grids: the first shows the sampled group A radiographs, the second the sampled ' +
        'group B radiographs (4 rows of 5).',
    );
  }
  parts.push({ type: 'text', text: intro.join(' ') });
  if (input.gridA && input.gridB) {
    parts.push({ type: 'text', text: 'Group A grid:' }, imagePart(input.gridA));
    parts.push({ type: 'text', text: 'Group B grid:' }, imagePart(input.gridB));
  }
  if (input.captions !== undefined) parts.push({ type: 'text', text: input.captions });
  if (input.reports !== undefined) parts.push({ type: 'text', text: input.reports });
  parts.push({ type: 'text', text: RULES(input.findingsMin, input.findingsMax) });
  return [
    { role: 'system', content: PERSONA },
    { role: 'user', content: parts },
  ];
}

/** Inputs of the refinement prompt (iteration ≥ 2). */
export interface RefineInput extends ProposeInput {
  previous: readonly ScoredFinding[];
  /** One crop grid per previous finding that got a box, labelled with it. */
  cropGrids: { finding: string; image: EncodedImage }[];
  /** The combined grid (A above, gap, B below), kept as context (the reference drops it). */
  combined?: EncodedImage;
}

/** The refinement prompt with targeted visual search (METHOD.md §2, iteration 2). */
export function buildRefineMessages(input: RefineInput): LlmMessage[] {
  const parts: LlmContentPart[] = [];
  parts.push({
    type: 'text',
    text:
      'An earlier pass proposed these findings for group A; the number is how well each separates A from B ' +
      '(AUROC: 1.0 perfect, 0.5 chance):\n' +
      previousBlock(input.previous),
  });
  if (input.cropGrids.length > 0) {
    parts.push({
      type: 'text',
      text:
        'For each finding, the same region was cut out of every sampled radiograph and zoomed. In each crop ' +
        'grid the upper rows are group A and the lower rows, after the wide gap, are group B.',
    });
    for (const crop of input.cropGrids) {
      parts.push({ type: 'text', text: `Crops for "${crop.finding}":` }, imagePart(crop.image));
    }
  }
  if (input.combined) {
    parts.push(
      { type: 'text', text: 'Full radiographs for context (group A above the gap, group B below):' },
      imagePart(input.combined),
    );
  } else if (input.gridA && input.gridB) {
    parts.push({ type: 'text', text: 'Group A grid:' }, imagePart(input.gridA));
    parts.push({ type: 'text', text: 'Group B grid:' }, imagePart(input.gridB));
  }
  if (input.captions !== undefined) parts.push({ type: 'text', text: input.captions });
  if (input.reports !== undefined) parts.push({ type: 'text', text: input.reports });
  parts.push({
    type: 'text',
    text:
      'Refine the list: make findings more specific where the crops support it (side, zone, size, pattern), ' +
      'drop findings that look like false positives, artifacts or labelling differences, keep findings that ' +
      'separate the groups well, and add new ones you now see. Prefer reproducible, clinically relevant ' +
      'findings.\n' +
      RULES(input.findingsMin, input.findingsMax),
  });
  return [
    { role: 'system', content: PERSONA },
    { role: 'user', content: parts },
  ];
}

/** Inputs of the box-selection prompt. */
export interface BoxesInput {
  previous: readonly ScoredFinding[];
  combined?: EncodedImage;
  captions?: string;
}

/** Asks for one rectangle per finding, normalized to a single radiograph. */
export function buildBoxMessages(input: BoxesInput): LlmMessage[] {
  const parts: LlmContentPart[] = [];
  if (input.combined) {
    parts.push(
      {
        type: 'text',
        text: 'The image shows sampled chest radiographs: group A in the grid above the wide gap, group B below it.',
      },
      imagePart(input.combined),
    );
  }
  if (input.captions !== undefined) parts.push({ type: 'text', text: input.captions });
  parts.push({
    type: 'text',
    text:
      'For each finding below, give the rectangle of a single radiograph where it is best seen, as fractions ' +
      'of that radiograph’s width and height: x1,y1 is the top-left and x2,y2 the bottom-right corner, all ' +
      'between 0 and 1 (0,0 is the top-left of the image; the patient’s right is on the image’s left). Make ' +
      'each box at least a fifth of the image on each side.\n' +
      previousBlock(input.previous) +
      '\nAnswer in JSON only: {"boxes": [{"finding": "…", "x1": 0.1, "y1": 0.2, "x2": 0.5, "y2": 0.6}, …]} with ' +
      `exactly ${input.previous.length} boxes, in the order of the findings.`,
  });
  return [
    { role: 'system', content: PERSONA },
    { role: 'user', content: parts },
  ];
}

/** Asks for a short summary of one long report (report-guided variant). */
export function buildSummaryMessages(report: string): LlmMessage[] {
  return [
    { role: 'system', content: PERSONA },
    {
      role: 'user',
      content:
        'Summarize the findings of this chest radiograph report in at most three short sentences. Keep ' +
        'every positive finding with its side and size; drop history, technique and normal statements.\n\n' +
        report +
        '\n\nAnswer in JSON only: {"summary": "…"}',
    },
  ];
}

/** The correction appended after a malformed reply (a deterministic model would otherwise repeat itself). */
export function correctionMessages(reply: string, problem: string): LlmMessage[] {
  return [
    { role: 'assistant', content: reply.slice(0, 2000) },
    {
      role: 'user',
      content: `That reply could not be used (${problem}). Answer again with JSON only, in the requested form.`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Reply parsing
// ---------------------------------------------------------------------------------------------------------------

/** Result of a lenient parse. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * Finds the JSON value in a model reply: strips `<think>` blocks and Markdown fences, then parses the whole text
 * or, failing that, the first balanced `{…}` or `[…]` span. Returns a problem naming what was wrong.
 */
export function extractJson(reply: string): Parsed<unknown> {
  let text = reply.replace(/<think>[\s\S]*?<\/think>/gi, '').trim();
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence) text = (fence[1] as string).trim();
  if (text.length === 0) return { ok: false, problem: 'the reply was empty' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    // fall through to the first balanced span
  }
  const start = text.search(/[{[]/);
  if (start < 0) return { ok: false, problem: 'the reply contained no JSON' };
  const span = balancedSpan(text, start);
  if (span === null) return { ok: false, problem: 'the JSON in the reply was truncated or unbalanced' };
  try {
    return { ok: true, value: JSON.parse(span) as unknown };
  } catch (error) {
    return { ok: false, problem: `the JSON in the reply did not parse (${(error as Error).message})` };
  }
}

/** The first balanced bracket span starting at `start`, honouring strings and escapes; null if unbalanced. */
function balancedSpan(text: string, start: number): string | null {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') stack.push(ch === '{' ? '}' : ']');
    else if (ch === '}' || ch === ']') {
      if (stack.pop() !== ch) return null;
      if (stack.length === 0) return text.slice(start, i + 1);
    }
  }
  return null;
}

/**
 * The list of raw items in a proposal reply: `{"differences": [...]}`, also `{"findings": [...]}` or a bare
 * array. Items are returned unvalidated (the caller cleans them); an empty list is a problem.
 */
export function parseDifferencesReply(reply: string): Parsed<unknown[]> {
  const json = extractJson(reply);
  if (!json.ok) return json;
  const value = json.value;
  let list: unknown;
  if (Array.isArray(value)) list = value;
  else if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    list = record['differences'] ?? record['findings'];
    if (list === undefined) return { ok: false, problem: 'the JSON had no "differences" list' };
  } else return { ok: false, problem: 'the JSON was not an object' };
  if (!Array.isArray(list)) return { ok: false, problem: '"differences" was not a list' };
  if (list.length === 0) return { ok: false, problem: 'the "differences" list was empty' };
  return { ok: true, value: list };
}

/** Raw boxes of a box-selection reply, unvalidated (geometry.ts validates each). */
export function parseBoxesReply(reply: string): Parsed<{ finding?: unknown; raw: unknown }[]> {
  const json = extractJson(reply);
  if (!json.ok) return json;
  const value = json.value;
  const list = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)['boxes']
      : undefined;
  if (!Array.isArray(list)) return { ok: false, problem: 'the JSON had no "boxes" list' };
  if (list.length === 0) return { ok: false, problem: 'the "boxes" list was empty' };
  return {
    ok: true,
    value: list.map((item) => ({
      finding:
        typeof item === 'object' && item !== null ? (item as Record<string, unknown>)['finding'] : undefined,
      raw: item,
    })),
  };
}

/** The summary text of a summarize reply. */
export function parseSummaryReply(reply: string): Parsed<string> {
  const json = extractJson(reply);
  if (!json.ok) return json;
  const summary =
    typeof json.value === 'object' && json.value !== null
      ? (json.value as Record<string, unknown>)['summary']
      : undefined;
  if (typeof summary !== 'string' || summary.trim() === '') {
    return { ok: false, problem: 'the JSON had no non-empty "summary" string' };
  }
  return { ok: true, value: summary.trim() };
}

/** Messages as plain text for the record, the live view and cache keys: images become `[image key w×h]`. */
export function messagesAsText(messages: readonly LlmMessage[]): { role: string; content: string }[] {
  return messages.map((m) => ({
    role: m.role,
    content:
      typeof m.content === 'string'
        ? m.content
        : m.content
            .map((part) =>
              part.type === 'text'
                ? part.text
                : `[image ${part.image.key} ${part.image.width}×${part.image.height}]`,
            )
            .join('\n'),
  }));
}
