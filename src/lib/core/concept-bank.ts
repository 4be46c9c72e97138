// The concept-bank proposer (LLM-free): a user-editable vocabulary of chest-radiograph findings written as slotted
// templates, its plain-text format (parse with line-numbered errors, format back), its deterministic expansion
// into phrases, and the proposer that ranks every phrase on both sets and keeps the best variant of each concept.
// Pure: imports only core (the ranker and the default bank data).

import { DEFAULT_BANK_SECTIONS, DEFAULT_SLOTS } from './concept-bank-data.ts';
import { rankFindings, rankFromScores } from './ranker.ts';
import type { RankedFinding } from './types.ts';

/** One template of a bank: text with `{slot}` placeholders, and the `[section]` it belongs to. */
export interface BankTemplate {
  text: string;
  category: string;
}

/** A concept bank: templates plus the values of every slot they use. */
export interface ConceptBank {
  templates: readonly BankTemplate[];
  /** Slot name → values. Slots a template uses but the bank does not define fall back to {@link DEFAULT_SLOTS}. */
  slots: Readonly<Record<string, readonly string[]>>;
}

/** A problem on one line of a bank text (1-based line number); the line is skipped, the rest still parses. */
export interface BankError {
  line: number;
  message: string;
}

/** What {@link parseBank} returns: the usable bank and every problem found, each named by its line. */
export interface ParsedBank extends ConceptBank {
  templates: BankTemplate[];
  slots: Record<string, string[]>;
  errors: BankError[];
}

/** One expanded phrase and where it came from (used to collapse a template's variants). */
export interface BankPhrase {
  text: string;
  /** Index of the template in `bank.templates`. */
  template: number;
  category: string;
  /** Slot name → the value used ('' where an optional slot was left out). */
  values: Readonly<Record<string, string>>;
}

/** Most phrases one template may expand to; more is almost always a slot used by mistake. */
export const MAX_PHRASES_PER_TEMPLATE = 64;
/** Longest template or slot line accepted, in characters. */
export const MAX_BANK_LINE_CHARACTERS = 200;
/** Category of templates that come before any `[section]` line. */
export const DEFAULT_CATEGORY = 'findings';

/** The default bank (see concept-bank-data.ts): 184 phrases once expanded. */
export const DEFAULT_BANK: ConceptBank = {
  templates: DEFAULT_BANK_SECTIONS.flatMap((s) =>
    s.templates.map((text) => ({ text, category: s.category })),
  ),
  slots: DEFAULT_SLOTS,
};

// ---------------------------------------------------------------------------------------------------------------
// Templates

type Part = { literal: string } | { slot: string; values: readonly string[]; optional: boolean };

const SLOT_NAME = /^[a-z][a-z0-9_-]*$/;
const SLOT_BODY = /^([a-z][a-z0-9_-]*)(?::([^{}]*?))?(\?)?$/;

/** Splits a template into literal text and slots; returns an error message instead when it is malformed. */
function parseTemplate(text: string, slots: Readonly<Record<string, readonly string[]>>): Part[] | string {
  const parts: Part[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('{', at);
    const close = text.indexOf('}', at);
    if (close !== -1 && (open === -1 || close < open)) return `unexpected "}" at column ${close + 1}`;
    if (open === -1) {
      parts.push({ literal: text.slice(at) });
      break;
    }
    if (open > at) parts.push({ literal: text.slice(at, open) });
    const end = text.indexOf('}', open);
    if (end === -1) return `unclosed "{" at column ${open + 1}`;
    const body = text.slice(open + 1, end).trim();
    if (body.includes('{')) return `"{" inside a slot at column ${open + 1}`;
    const match = SLOT_BODY.exec(body);
    if (!match) {
      return `bad slot {${body}}: write {name}, {name?} or {name:value|value} (name in lower case)`;
    }
    const [, name = '', inline, optional] = match;
    let values: string[];
    if (inline !== undefined) {
      values = inline.split('|').map((v) => v.trim());
      if (values.some((v) => v === '')) return `slot {${body}} has an empty value (use {${name}:…?} instead)`;
    } else {
      const known = slots[name] ?? DEFAULT_SLOTS[name];
      if (known === undefined) {
        const names = [...new Set([...Object.keys(slots), ...Object.keys(DEFAULT_SLOTS)])].sort();
        return `unknown slot {${name}} (known: ${names.join(', ')}; or list values inline: {${name}:a|b})`;
      }
      values = [...known];
    }
    parts.push({ slot: name, values, optional: optional === '?' });
    at = end + 1;
  }
  return parts;
}

/** Collapses runs of whitespace and trims: optional slots left empty must not leave double spaces. */
function tidy(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Every phrase of one parsed template, first slot outermost, values in listed order (empty value first). */
function expandParts(parts: readonly Part[]): { text: string; values: Record<string, string> }[] {
  let out: { text: string; values: Record<string, string> }[] = [{ text: '', values: {} }];
  for (const part of parts) {
    if ('literal' in part) {
      out = out.map((p) => ({ text: p.text + part.literal, values: p.values }));
      continue;
    }
    const choices = part.optional ? ['', ...part.values] : part.values;
    out = out.flatMap((p) =>
      choices.map((v) => ({ text: p.text + v, values: { ...p.values, [part.slot]: v } })),
    );
  }
  return out.map((p) => ({ text: tidy(p.text), values: p.values }));
}

function countPhrases(parts: readonly Part[]): number {
  let n = 1;
  for (const part of parts) if (!('literal' in part)) n *= part.values.length + (part.optional ? 1 : 0);
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Text format

/**
 * Parses the plain-text bank format:
 *
 * ```text
 * # comment (also after a template: "pleural effusion  # common")
 * @side = left | right | bilateral      slot definition (overrides the default values of that slot)
 * [devices]                             section: the category of the templates below it
 * {size?} {side} pleural effusion       template: {slot}, {slot?} (may be left out), {slot:a|b} (inline values)
 * ```
 *
 * Slot definitions apply to the whole text, wherever they stand. Blank lines are ignored. Bad lines (unknown slot,
 * unbalanced braces, duplicate template, too many variants, …) are reported with their 1-based line number and
 * skipped; the rest of the bank stays usable.
 */
export function parseBank(text: string): ParsedBank {
  const lines = text.split(/\r\n|\r|\n/);
  const errors: BankError[] = [];
  const slots: Record<string, string[]> = {};
  const slotLine = new Map<string, number>();
  const body = lines.map((raw) => {
    const hash = raw.indexOf('#');
    return (hash === -1 ? raw : raw.slice(0, hash)).trim();
  });

  // Pass 1: slot definitions, so a template may use a slot defined further down.
  body.forEach((line, i) => {
    if (!line.startsWith('@')) return;
    const lineNo = i + 1;
    const eq = line.indexOf('=');
    const name = (eq === -1 ? line.slice(1) : line.slice(1, eq)).trim();
    if (eq === -1) {
      errors.push({ line: lineNo, message: `slot definition needs "=": write @${name || 'name'} = a | b` });
      return;
    }
    if (!SLOT_NAME.test(name)) {
      errors.push({
        line: lineNo,
        message: `bad slot name "${name}": use lower-case letters, digits, - or _`,
      });
      return;
    }
    const values = line
      .slice(eq + 1)
      .split('|')
      .map((v) => tidy(v));
    if (values.some((v) => v === '' || /[{}]/.test(v))) {
      errors.push({
        line: lineNo,
        message: `slot @${name} has an empty value or a brace; values are a | b | c`,
      });
      return;
    }
    const first = slotLine.get(name);
    if (first !== undefined) {
      errors.push({ line: lineNo, message: `slot @${name} is already defined on line ${first}` });
      return;
    }
    slotLine.set(name, lineNo);
    slots[name] = [...new Set(values)];
  });

  // Pass 2: sections and templates.
  const templates: BankTemplate[] = [];
  const templateLine = new Map<string, number>();
  let category = DEFAULT_CATEGORY;
  body.forEach((line, i) => {
    const lineNo = i + 1;
    if (line === '' || line.startsWith('@')) return;
    if (line.length > MAX_BANK_LINE_CHARACTERS) {
      errors.push({
        line: lineNo,
        message: `line is ${line.length} characters long (limit ${MAX_BANK_LINE_CHARACTERS})`,
      });
      return;
    }
    if (line.startsWith('[')) {
      const name = line.endsWith(']') ? tidy(line.slice(1, -1)) : '';
      if (name === '' || /[[\]{}]/.test(name)) {
        errors.push({ line: lineNo, message: 'bad section header: write [name]' });
        return;
      }
      category = name;
      return;
    }
    const parts = parseTemplate(line, slots);
    if (typeof parts === 'string') {
      errors.push({ line: lineNo, message: parts });
      return;
    }
    const n = countPhrases(parts);
    if (n > MAX_PHRASES_PER_TEMPLATE) {
      errors.push({
        line: lineNo,
        message: `template expands to ${n} phrases (limit ${MAX_PHRASES_PER_TEMPLATE}): use fewer slots or {slot:a|b}`,
      });
      return;
    }
    const key = tidy(line).toLowerCase();
    const first = templateLine.get(key);
    if (first !== undefined) {
      errors.push({ line: lineNo, message: `duplicate template (first on line ${first})` });
      return;
    }
    templateLine.set(key, lineNo);
    templates.push({ text: tidy(line), category });
  });
  errors.sort((x, y) => x.line - y.line);
  return { templates, slots, errors };
}

/**
 * Writes a bank in the text format {@link parseBank} reads: slot definitions first, then the templates under one
 * `[section]` header per run of equal categories. `parseBank(formatBank(bank))` gives the same bank back.
 */
export function formatBank(bank: ConceptBank): string {
  const lines: string[] = [
    '# Concept bank: one finding template per line; # starts a comment.',
    '# {slot} takes every value of the slot, {slot?} may also be left out, {slot:a|b} lists its own values.',
  ];
  const slotNames = Object.keys(bank.slots);
  if (slotNames.length > 0) lines.push('');
  for (const name of slotNames) lines.push(`@${name} = ${(bank.slots[name] ?? []).join(' | ')}`);
  let category: string | undefined;
  for (const t of bank.templates) {
    if (t.category !== category) {
      lines.push('', `[${t.category}]`);
      category = t.category;
    }
    lines.push(t.text);
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Expansion

/**
 * Every phrase of the bank with its template and slot values, in a deterministic order (templates in bank order,
 * slot values in listed order, the first slot outermost). Phrases are whitespace-tidied and deduplicated
 * case-insensitively; the first occurrence wins. Malformed templates are skipped (parseBank reports them).
 */
export function expandBankPhrases(bank: ConceptBank): BankPhrase[] {
  const seen = new Set<string>();
  const out: BankPhrase[] = [];
  bank.templates.forEach((t, template) => {
    const parts = parseTemplate(t.text, bank.slots);
    if (typeof parts === 'string') return;
    for (const p of expandParts(parts)) {
      const key = p.text.toLowerCase();
      if (p.text === '' || seen.has(key)) continue;
      seen.add(key);
      out.push({ text: p.text, template, category: t.category, values: p.values });
    }
  });
  return out;
}

/** The bank's phrases, deduplicated, in the deterministic order of {@link expandBankPhrases}. */
export function expandBank(bank: ConceptBank): string[] {
  return expandBankPhrases(bank).map((p) => p.text);
}

/**
 * A short stable fingerprint of a phrase list (FNV-1a over the phrases, hex), for keying cached text embeddings:
 * the same phrases in the same order give the same fingerprint in every runtime.
 */
export function phraseFingerprint(phrases: readonly string[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ phrases.length;
  for (const phrase of phrases) {
    for (let i = 0; i < phrase.length; i++) {
      const c = phrase.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h1 = Math.imul(h1 ^ 0x0a, 0x01000193);
    h2 = Math.imul(h2 ^ 0x0a, 0x5bd1e995);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// Proposer

/**
 * A slot value that claims several others at once: `bilateral` = `left` and `right`. The proposer keeps such a
 * variant only when every part separates the sets on its own (AUROC CI above ½), so a right-sided difference is
 * never reported as bilateral just because a side-less embedding scores well.
 */
export interface CompositeValue {
  slot: string;
  value: string;
  parts: readonly string[];
}

/** Default composite values: `bilateral` sides. */
export const DEFAULT_COMPOSITES: readonly CompositeValue[] = [
  { slot: 'side', value: 'bilateral', parts: ['left', 'right'] },
];

/** Words ignored when deciding whether one phrase is a more specific form of another. */
export const GENERIC_WORDS: readonly string[] = [
  'a',
  'an',
  'the',
  'of',
  'in',
  'on',
  'at',
  'with',
  'lung',
  'zone',
];

/** Defaults of the proposer's collapsing rules. */
export const PROPOSER_DEFAULTS = {
  topK: 10,
  /** METHOD.md §7: findings whose text embeddings have cosine ≥ this are one finding. */
  mergeCosine: 0.9,
  /**
   * AUROC a more specific phrase may lose and still replace the general one: `one-se` = one standard error of the
   * general phrase's AUROC (from its DeLong CI), the "one-standard-error rule" of model selection.
   */
  specificityTolerance: 'one-se',
} as const;

/** z of the ranker's default 95% AUROC interval, to turn its width back into a standard error. */
const Z95 = 1.959963984540054;

/** Options shared by both inputs of {@link proposeFromBank}. */
export interface ProposeOptions {
  /** Expanded bank (from {@link expandBankPhrases}); row h of the text embeddings / scores is phrase h. */
  phrases: readonly BankPhrase[];
  /** Proposals to return (default 10). */
  topK?: number;
  /**
   * Slots whose values keep variants apart (default `['side']`): "left pleural effusion" and "right pleural
   * effusion" are both proposed (and never merged), "small left …" and "large left …" collapse into the better one.
   */
  distinctSlots?: readonly string[];
  /** Composite slot values and their parts (default {@link DEFAULT_COMPOSITES}); `[]` turns the check off. */
  composites?: readonly CompositeValue[];
  /** Cosine at or above which two proposals' text embeddings count as one finding (default 0.9; > 1 = off). */
  mergeCosine?: number;
  /**
   * AUROC tolerance of the specificity rule: `one-se` (default; one standard error of the general phrase's AUROC,
   * assuming the ranker's default 95% CI) or a fixed number; a negative number turns the rule off.
   */
  specificityTolerance?: number | 'one-se';
  /** Words ignored by the specificity rule (default {@link GENERIC_WORDS}). */
  genericWords?: readonly string[];
  /** Ranker classification threshold τ (default the ranker's). */
  threshold?: number;
}

/** Proposer input from embeddings: all phrases are ranked with {@link rankFindings}. */
export interface ProposeFromEmbeddings extends ProposeOptions {
  /** N×dim, L2-normalized. */
  imageEmbeddings: Float32Array;
  dim: number;
  /** Length N: 1 = set A, 0 = set B. */
  labels: Uint8Array;
  /** H×dim, L2-normalized, one row per phrase (embed once per model and cache). */
  textEmbeddings: Float32Array;
  cap?: number;
  seed?: number;
}

/**
 * Proposer input from a precomputed H×(nA+nB) score matrix (columns: A first), ranked with {@link rankFromScores}.
 * Without text embeddings the near-duplicate merge is skipped.
 */
export interface ProposeFromScores extends ProposeOptions {
  scores: Float32Array;
  nA: number;
  nB: number;
  textEmbeddings?: Float32Array;
  dim?: number;
}

/** One proposal: the best variant of a concept, with its ranking. */
export interface BankProposal {
  finding: string;
  auroc: number;
  phrase: BankPhrase;
  ranked: RankedFinding;
  /** The phrases folded into this one (variants, near-duplicates, more general phrases), in the order folded. */
  collapsed: string[];
}

/** What {@link proposeFromBank} returns: the top-k proposals and the full ranking of every phrase. */
export interface BankProposals {
  proposals: BankProposal[];
  ranked: RankedFinding[];
}

/** Default number of proposals. */
export const DEFAULT_BANK_TOP_K = PROPOSER_DEFAULTS.topK;

/** A candidate proposal while the rules run. */
interface Group {
  proposal: BankProposal;
  /** Texts that name this group's claim (its head and merged near-duplicates), for the specificity rule. */
  names: string[];
  /** Best AUROC among the group's heads: a specific phrase must come within the tolerance of it. */
  anchor: number;
  /** The tolerance that applies to the anchor. */
  slack: number;
}

function slotKey(phrase: BankPhrase, replace?: { slot: string; value: string }): string {
  const values = Object.entries(phrase.values)
    .map(([k, v]) => [k, replace !== undefined && k === replace.slot ? replace.value : v])
    .sort(([x], [y]) => (x! < y! ? -1 : x! > y! ? 1 : 0));
  return JSON.stringify([phrase.template, values]);
}

/** Indices of variants claiming a composite value whose parts do not each separate the sets. */
function unsupportedComposites(
  phrases: readonly BankPhrase[],
  byIndex: ReadonlyMap<number, RankedFinding>,
  composites: readonly CompositeValue[],
): Set<number> {
  const out = new Set<number>();
  if (composites.length === 0) return out;
  const index = new Map<string, number>();
  phrases.forEach((p, i) => index.set(slotKey(p), i));
  phrases.forEach((p, i) => {
    for (const c of composites) {
      if (p.values[c.slot] !== c.value) continue;
      const parts = c.parts.map((value) => index.get(slotKey(p, { slot: c.slot, value })));
      if (parts.some((j) => j === undefined)) continue; // no siblings to check against: keep
      const separates = (j: number) => (byIndex.get(j)?.aurocCI.lo ?? Number.NaN) > 0.5;
      if (!parts.every((j) => separates(j as number))) out.add(i);
    }
  });
  return out;
}

function contentWords(text: string, generic: ReadonlySet<string>): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w !== '' && !generic.has(w)),
  );
}

/** True when `general` names a strict subset of the content words of `specific`. */
function generalizes(general: ReadonlySet<string>, specific: ReadonlySet<string>): boolean {
  if (general.size === 0 || general.size >= specific.size) return false;
  for (const w of general) if (!specific.has(w)) return false;
  return true;
}

function cosine(e: Float32Array, dim: number, i: number, j: number): number {
  let dot = 0;
  let ni = 0;
  let nj = 0;
  for (let k = 0; k < dim; k++) {
    const a = e[i * dim + k] as number;
    const b = e[j * dim + k] as number;
    dot += a * b;
    ni += a * a;
    nj += b * b;
  }
  return ni > 0 && nj > 0 ? dot / Math.sqrt(ni * nj) : 0;
}

/**
 * Ranks every phrase of an expanded bank on both sets (AUROC, the normal ranker) and returns the top-k as
 * proposals. Rules, in order, all deterministic:
 * 1. a composite variant ("bilateral …") is dropped unless each of its parts ("left …", "right …") separates the
 *    sets on its own (AUROC CI above ½);
 * 2. the variants of one template collapse into one unless they differ in a `distinctSlots` slot: among the
 *    variants within `specificityTolerance` of the best AUROC, the one with the largest mean score gap (A − B);
 * 3. near-duplicates (text-embedding cosine ≥ `mergeCosine`, METHOD.md §7) merge into the better-ranked one,
 *    never across different values of a distinct slot;
 * 4. a general phrase ("pleural effusion") gives way to a more specific one that contains all its words
 *    ("right pleural effusion") when the specific one's AUROC is within `specificityTolerance` of it (by default
 *    one standard error: the two are statistically indistinguishable, so say the more precise thing) and the
 *    model tells the two texts apart (they were not merged by rule 3).
 * Proposals come in ranker order (AUROC descending) with what each one absorbed in `collapsed`.
 */
export function proposeFromBank(input: ProposeFromEmbeddings | ProposeFromScores): BankProposals {
  const { phrases } = input;
  const topK = input.topK ?? PROPOSER_DEFAULTS.topK;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`topK must be a positive integer, got ${topK}`);
  if (phrases.length === 0) throw new Error('the concept bank has no phrases');
  const findings = phrases.map((p) => p.text);
  const threshold = input.threshold === undefined ? {} : { threshold: input.threshold };
  const ranked =
    'scores' in input
      ? rankFromScores({ scores: input.scores, nA: input.nA, nB: input.nB, findings, ...threshold })
      : rankFindings({
          imageEmbeddings: input.imageEmbeddings,
          dim: input.dim,
          labels: input.labels,
          textEmbeddings: input.textEmbeddings,
          findings,
          ...threshold,
          ...(input.cap === undefined ? {} : { cap: input.cap }),
          ...(input.seed === undefined ? {} : { seed: input.seed }),
        });
  const text = input.textEmbeddings;
  const dim = input.dim;
  if (text !== undefined && dim !== undefined && text.length !== phrases.length * dim) {
    throw new Error(`textEmbeddings has ${text.length} values, expected ${phrases.length} × ${dim}`);
  }
  const distinct = input.distinctSlots ?? ['side'];
  const mergeCosine = input.mergeCosine ?? PROPOSER_DEFAULTS.mergeCosine;
  const tolerance = input.specificityTolerance ?? PROPOSER_DEFAULTS.specificityTolerance;
  const generic = new Set((input.genericWords ?? GENERIC_WORDS).map((w) => w.toLowerCase()));
  const slackOf = (r: RankedFinding): number => {
    if (tolerance !== 'one-se') return tolerance;
    const se = (r.aurocCI.hi - r.aurocCI.lo) / (2 * Z95);
    return Number.isFinite(se) ? se : 0;
  };
  const byIndex = new Map(ranked.map((r) => [r.index, r]));
  const unsupported = unsupportedComposites(phrases, byIndex, input.composites ?? DEFAULT_COMPOSITES);

  // Rule 2: one candidate per (template, distinct slot values). Among the variants whose AUROC is within the
  // tolerance of the best one, the one with the largest mean score gap (A − B) represents the template: AUROC
  // hardly moves when a qualifier ("small", "large") is added, the score gap does.
  const families = new Map<string, RankedFinding[]>();
  for (const r of ranked) {
    if (unsupported.has(r.index)) continue;
    const phrase = phrases[r.index] as BankPhrase;
    const key = JSON.stringify([phrase.template, ...distinct.map((s) => phrase.values[s] ?? null)]);
    const family = families.get(key);
    if (family === undefined) families.set(key, [r]);
    else family.push(r);
  }
  const position = new Map(ranked.map((r, i) => [r.index, i]));
  const gap = (r: RankedFinding) => r.meanA - r.meanB;
  const candidates: BankProposal[] = [...families.values()].map((family) => {
    const best = family[0] as RankedFinding;
    let pick = best;
    for (const r of family) {
      if (r.auroc >= best.auroc - slackOf(best) && gap(r) > gap(pick)) pick = r;
    }
    const phrase = phrases[pick.index] as BankPhrase;
    const collapsed = family.filter((r) => r !== pick).map((r) => r.finding);
    return { finding: phrase.text, auroc: pick.auroc, phrase, ranked: pick, collapsed };
  });
  candidates.sort((x, y) => (position.get(x.ranked.index) ?? 0) - (position.get(y.ranked.index) ?? 0));

  // Rule 3: near-duplicate text embeddings are one finding (never across distinct slot values).
  const clash = (a: BankPhrase, b: BankPhrase) =>
    distinct.some((s) => {
      const x = a.values[s] ?? '';
      const y = b.values[s] ?? '';
      return x !== '' && y !== '' && x !== y;
    });
  let groups: Group[] = [];
  for (const c of candidates) {
    const home =
      text === undefined || dim === undefined || mergeCosine > 1
        ? undefined
        : groups.find(
            (g) =>
              !clash(g.proposal.phrase, c.phrase) &&
              cosine(text, dim, g.proposal.ranked.index, c.ranked.index) >= mergeCosine,
          );
    if (home === undefined) {
      groups.push({ proposal: c, names: [c.finding], anchor: c.auroc, slack: slackOf(c.ranked) });
      continue;
    }
    home.proposal.collapsed.push(c.finding, ...c.collapsed);
    home.names.push(c.finding);
  }

  // Rule 4: a general claim gives way to a near-tied, more specific one the model tells apart from it.
  if (tolerance === 'one-se' || tolerance >= 0) {
    const words = new Map(groups.map((g) => [g, g.names.map((n) => contentWords(n, generic))]));
    const superseded = new Set<Group>();
    groups.forEach((g, i) => {
      const general = words.get(g) as Set<string>[];
      const target = groups.find(
        (h, j) =>
          j > i &&
          h.proposal.auroc >= g.anchor - g.slack &&
          general.some((n) => (words.get(h) as Set<string>[]).some((m) => generalizes(n, m))),
      );
      if (target === undefined) return;
      target.proposal.collapsed.push(g.proposal.finding, ...g.proposal.collapsed);
      if (g.anchor > target.anchor) {
        target.anchor = g.anchor;
        target.slack = g.slack;
      }
      superseded.add(g);
    });
    groups = groups.filter((g) => !superseded.has(g));
  }
  return { proposals: groups.slice(0, topK).map((g) => g.proposal), ranked };
}
