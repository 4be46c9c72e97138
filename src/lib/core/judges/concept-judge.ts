// Deterministic judge for benchmarks whose ground truth is a short radiology phrase (the phantom pairs): reads the
// finding and both descriptions into concept mentions (concept, negation, side, zone, size, catheter site) with
// the tables of synonyms.ts, and scores the finding 2/1/0 against A with B as the counter-check. No model, no
// randomness: the same strings always get the same score and rationale. Pure: imports only core.

import type { Judge, JudgeInput, JudgeScore, JudgeVerdict } from '../evaluator.ts';
import type { AbortSignalLike } from '../llm.ts';
import { namedError } from '../types.ts';
import {
  CLAUSE_BREAKS,
  CONCEPTS,
  NEGATION_CUES,
  PHRASE_REWRITES,
  PSEUDO_NEGATIONS,
  RELATIONS,
  SIDE_WORDS,
  SITE_WORDS,
  SIZE_WORDS,
  TOKEN_REWRITES,
  ZONE_WORDS,
  type ConceptId,
  type ConceptSpec,
  type Side,
  type Site,
  type Zone,
} from './synonyms.ts';

/** One concept named in a text, with the qualifiers attached to it. */
export interface Mention {
  concept: ConceptId;
  /** 'no pleural effusion', 'normal heart size', 'tube removed'. */
  negated: boolean;
  side?: Side | 'bilateral';
  /** For `side: 'bilateral'` written as 'left > right': the dominant side. */
  predominant?: Side;
  /** Zones named for this mention (several for 'mid and lower lung'); empty when none. */
  zones: Zone[];
  /** Size/severity interval on the 1–4 scale of SIZE_WORDS. */
  size?: [number, number];
  site?: Site;
  /** The words that named the concept, for rationales. */
  words: string;
}

/** A score with the reason for it. */
export interface ConceptJudgement {
  score: JudgeScore;
  rationale: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------------

interface Token {
  text: string;
  clause: number;
  /** The clause follows a comma (a soft break a list-negation may continue across). */
  softStart: boolean;
}

const BREAK_WORDS = new Set(CLAUSE_BREAKS);
/** Tokens read from one text; the rest is ignored. */
const MAX_TOKENS = 256;
const SIDE_LETTERS: Record<string, Side> = { left: 'left', l: 'left', right: 'right', r: 'right' };

function singular(word: string): string {
  const rewritten = TOKEN_REWRITES[word];
  if (rewritten !== undefined) return rewritten;
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith('sses')) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !/(ss|us|is|xs)$/.test(word)) return word.slice(0, -1);
  return word;
}

const PHRASES = Object.entries(PHRASE_REWRITES)
  .map(([from, to]) => ({ from: from.split(' '), to }))
  .sort((a, b) => b.from.length - a.from.length);

function tokenize(text: string): Token[] {
  let s = text.normalize('NFKC').toLowerCase();
  s = s
    .replace(/\bw\/o\b/g, ' without ')
    .replace(/\bw\//g, ' with ')
    .replace(/&/g, ' and ')
    .replace(/\bs\/p\b/g, ' status post ');
  // 'left > right', 'R>L', 'left greater than right': bilateral, with the first side dominant.
  s = s.replace(
    /\b(left|right|l|r)\s*(?:>+|greater than|more than|worse than|larger than)\s*(left|right|l|r)\b/g,
    (match: string, a: string, b: string) => {
      const first = SIDE_LETTERS[a];
      const second = SIDE_LETTERS[b];
      return first && second && first !== second ? ` bilateral predom${first} ` : match;
    },
  );
  // Findings and ground truths are phrases; the cap only bounds the work on pathological input.
  const raw = (s.match(/[a-z0-9]+|[,;:.()]/g) ?? [])
    .slice(0, MAX_TOKENS)
    .map((t) => (/^[a-z0-9]+$/.test(t) ? singular(t) : t));
  const words: string[] = [];
  for (let i = 0; i < raw.length;) {
    const phrase = PHRASES.find((p) => p.from.every((w, k) => raw[i + k] === w));
    if (phrase) {
      words.push(phrase.to);
      i += phrase.from.length;
    } else {
      words.push(raw[i] as string);
      i += 1;
    }
  }
  const tokens: Token[] = [];
  let clause = 0;
  let softStart = false;
  let clauseHasTokens = false;
  for (const word of words) {
    if (/^[,;:.()]$/.test(word)) {
      if (clauseHasTokens) clause += 1;
      clauseHasTokens = false;
      softStart = word === ',';
      continue;
    }
    if (BREAK_WORDS.has(word) && clauseHasTokens) {
      clause += 1;
      softStart = false;
    }
    tokens.push({ text: word, clause, softStart });
    clauseHasTokens = true;
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------------------------

interface Alternative {
  text: string;
  prefix: boolean;
}
type Slot = Alternative[];

interface CompiledPattern {
  concept: ConceptId;
  negative: boolean;
  slots: Slot[];
}

function compile(pattern: string): Slot[] {
  return pattern
    .split(' ')
    .map((slot) =>
      slot
        .split('|')
        .map((alt) =>
          alt.endsWith('*') ? { text: alt.slice(0, -1), prefix: true } : { text: alt, prefix: false },
        ),
    );
}

// Longer phrasings first, so 'pericardial effusion' claims its words before 'effusion' can, and 'airspace opacity'
// before the generic 'opacity'. Array.prototype.sort is stable: ties keep table order.
const PATTERNS: CompiledPattern[] = CONCEPTS.flatMap((spec) => [
  ...spec.patterns.map((p) => ({ concept: spec.id, negative: false, slots: compile(p) })),
  ...(spec.negativePatterns ?? []).map((p) => ({ concept: spec.id, negative: true, slots: compile(p) })),
]).sort((a, b) => b.slots.length - a.slots.length);

const SPECS = new Map<ConceptId, ConceptSpec>(CONCEPTS.map((spec) => [spec.id, spec]));

function slotMatches(slot: Slot, word: string): boolean {
  return slot.some((alt) => (alt.prefix ? word.startsWith(alt.text) : word === alt.text));
}

/** Extra tokens a phrasing may span beyond its slots ('enlargement of the cardiac silhouette'). */
const SLACK = 4;

/** Positions of the tightest match of `slots` among the free tokens of one clause, or undefined. */
function findMatch(
  slots: Slot[],
  positions: number[],
  tokens: Token[],
  used: boolean[],
): number[] | undefined {
  const candidates = slots.map((slot) =>
    positions.filter((p) => !used[p] && slotMatches(slot, (tokens[p] as Token).text)),
  );
  if (candidates.some((c) => c.length === 0)) return undefined;
  const window = slots.length + SLACK;
  let best: number[] | undefined;
  let bestSpan = Infinity;
  const chosen: number[] = [];
  const visit = (k: number, lo: number, hi: number): void => {
    if (k === slots.length) {
      const span = hi - lo;
      if (span < bestSpan || (span === bestSpan && best !== undefined && lo < Math.min(...best))) {
        best = [...chosen];
        bestSpan = span;
      }
      return;
    }
    for (const p of candidates[k] as number[]) {
      if (chosen.includes(p)) continue;
      const nlo = Math.min(lo, p);
      const nhi = Math.max(hi, p);
      if (nhi - nlo + 1 > window) continue;
      chosen.push(p);
      visit(k + 1, nlo, nhi);
      chosen.pop();
    }
  };
  visit(0, Infinity, -Infinity);
  return best?.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------
// Mentions
// ---------------------------------------------------------------------------------------------------------------

interface RawMention {
  concept: ConceptId;
  negative: boolean;
  positions: number[];
  clause: number;
  sides: Set<Side | 'bilateral'>;
  predominant?: Side;
  zones: Set<Zone>;
  size?: [number, number];
  site?: Site;
}

function cueList(cues: readonly string[]): string[][] {
  return cues.map((c) => c.split(' ')).sort((a, b) => b.length - a.length);
}
const PRE_CUES = cueList(NEGATION_CUES.pre);
const POST_CUES = cueList(NEGATION_CUES.post);
const PSEUDO = cueList(PSEUDO_NEGATIONS);

function phraseAt(tokens: Token[], i: number, phrase: string[]): boolean {
  const clause = tokens[i]?.clause;
  return phrase.every((w, k) => {
    const t = tokens[i + k];
    return t !== undefined && t.clause === clause && t.text === w;
  });
}

/** Applies a side/zone/site word to `m`; `own`: the word is part of the mention's phrasing. */
function qualify(m: RawMention, word: string, next: string | undefined, own = false): void {
  const side = SIDE_WORDS[word];
  if (side !== undefined) m.sides.add(side);
  if (word === 'predomleft' || word === 'predomright') {
    m.sides.add('bilateral');
    m.predominant = word === 'predomleft' ? 'left' : 'right';
  }
  const zone = ZONE_WORDS[word];
  if (zone !== undefined) m.zones.add(zone);
  // 'low' is a zone only in 'low(er) lobe/zone/lung'; in 'low lung volumes' the concept has already claimed it.
  if (!own && (word === 'low' || word === 'lo') && (next === 'lobe' || next === 'zone' || next === 'lung')) {
    m.zones.add('lower');
  }
  const site = SITE_WORDS[word];
  if (site !== undefined) m.site = site;
}

function isQualifier(word: string): boolean {
  return (
    SIDE_WORDS[word] !== undefined ||
    ZONE_WORDS[word] !== undefined ||
    SIZE_WORDS[word] !== undefined ||
    SITE_WORDS[word] !== undefined ||
    word === 'low' ||
    word === 'lo' ||
    word.startsWith('predom')
  );
}

/**
 * Reads the concept mentions of a text: concepts by the longest phrasing first (each word used once), then each
 * free qualifier word is attached to the nearest mention of its clause (ties go to the following mention), then
 * negation cues negate the mentions in their scope.
 */
export function extractMentions(text: string): Mention[] {
  const tokens = tokenize(text);
  const used = tokens.map(() => false);
  const clauses = new Map<number, number[]>();
  tokens.forEach((t, i) => {
    const list = clauses.get(t.clause);
    if (list) list.push(i);
    else clauses.set(t.clause, [i]);
  });
  const raw: RawMention[] = [];
  for (const pattern of PATTERNS) {
    for (const [clause, positions] of clauses) {
      for (;;) {
        const match = findMatch(pattern.slots, positions, tokens, used);
        if (!match) break;
        for (const p of match) used[p] = true;
        raw.push({
          concept: pattern.concept,
          negative: pattern.negative,
          positions: match,
          clause,
          sides: new Set(),
          zones: new Set(),
        });
      }
    }
  }
  raw.sort((a, b) => (a.positions[0] as number) - (b.positions[0] as number));

  // Qualifiers inside a phrasing ('jugular catheter', 'blunting of the costophrenic angle') belong to it; size
  // words inside one do not ('large heart' is cardiomegaly, not a graded one).
  for (const m of raw) {
    for (const p of m.positions) qualify(m, (tokens[p] as Token).text, tokens[p + 1]?.text, true);
  }
  tokens.forEach((token, p) => {
    if (used[p] || !isQualifier(token.text)) return;
    let nearest: RawMention | undefined;
    let nearestDistance = Infinity;
    for (const m of raw) {
      if (m.clause !== token.clause) continue;
      for (const q of m.positions) {
        const distance = Math.abs(q - p);
        // Ties go to the mention after the word: English puts modifiers before the noun.
        if (distance < nearestDistance || (distance === nearestDistance && q > p)) {
          nearest = m;
          nearestDistance = distance;
        }
      }
    }
    if (!nearest) return;
    qualify(nearest, token.text, tokens[p + 1]?.text);
    const size = SIZE_WORDS[token.text];
    if (size !== undefined) {
      const prev = nearest.size;
      nearest.size = prev ? [Math.min(prev[0], size[0]), Math.max(prev[1], size[1])] : [size[0], size[1]];
    }
  });

  // Negation scopes. A pre-cue covers the rest of its clause and continues across commas into list items
  // ('without consolidation, effusion, or pneumothorax'); a post-cue covers its clause up to the cue.
  const negatedBy = raw.map(() => false);
  const pseudoAt = (i: number) => PSEUDO.some((p) => phraseAt(tokens, i, p));
  tokens.forEach((token, i) => {
    if (pseudoAt(i)) return;
    const pre = PRE_CUES.find((c) => phraseAt(tokens, i, c));
    if (pre) {
      const cueEnd = i + pre.length - 1;
      const scope = new Set([token.clause]);
      for (let c = token.clause + 1; clauses.has(c); c++) {
        const first = (clauses.get(c) as number[])[0] as number;
        const startsItem =
          (tokens[first] as Token).softStart &&
          (used[first] || ['or', 'and', 'nor'].includes((tokens[first] as Token).text));
        if (!startsItem) break;
        scope.add(c);
      }
      raw.forEach((m, k) => {
        const last = m.positions[m.positions.length - 1] as number;
        if (scope.has(m.clause) && (m.clause !== token.clause || last > cueEnd)) negatedBy[k] = true;
      });
    }
    // 'not', 'resolved', 'removed' work both ways: 'not seen' after the concept, 'not enlarged' inside it.
    const post = POST_CUES.find((c) => phraseAt(tokens, i, c));
    if (post) {
      raw.forEach((m, k) => {
        const last = m.positions[m.positions.length - 1] as number;
        if (m.clause === token.clause && last < i) negatedBy[k] = true;
      });
    }
  });

  return raw.map((m, k) => {
    const mention: Mention = {
      concept: m.concept,
      negated: m.negative !== negatedBy[k],
      zones: [...m.zones].sort(),
      words: m.positions.map((p) => (tokens[p] as Token).text).join(' '),
    };
    if (m.sides.has('bilateral') || (m.sides.has('left') && m.sides.has('right'))) mention.side = 'bilateral';
    else if (m.sides.has('left')) mention.side = 'left';
    else if (m.sides.has('right')) mention.side = 'right';
    if (mention.side === 'bilateral' && m.predominant) mention.predominant = m.predominant;
    if (m.size) mention.size = m.size;
    if (m.site) mention.site = m.site;
    return mention;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------------------------------

interface Comparison {
  score: JudgeScore;
  why: string;
}

function relation(f: Mention, t: Mention): boolean {
  return RELATIONS.some((r) => {
    const [a, b] = r.concepts;
    const generic =
      f.concept === a && t.concept === b ? f : f.concept === b && t.concept === a ? t : undefined;
    if (!generic) return false;
    return r.whenZone === undefined || generic.zones.includes(r.whenZone);
  });
}

function compareSide(f: Mention, t: Mention, spec: ConceptSpec): Comparison {
  if (spec.laterality === 'ignored') return { score: 2, why: '' };
  if (spec.laterality === 'bilateral') {
    return f.side === 'left' || f.side === 'right'
      ? { score: 1, why: `one side (${f.side}) of a bilateral finding` }
      : { score: 2, why: '' };
  }
  const fallback = spec.defaults?.side;
  const truthSide = t.side ?? fallback;
  const findingSide = f.side ?? fallback;
  const defaulted = t.side === undefined || f.side === undefined;
  if (truthSide === undefined && findingSide === undefined) return { score: 2, why: '' };
  if (truthSide === undefined) return { score: 1, why: `side ${findingSide} narrower than the truth` };
  if (findingSide === undefined) return { score: 1, why: `side missing (truth: ${truthSide})` };
  if (truthSide === findingSide) return { score: 2, why: '' };
  if (truthSide === 'bilateral') return { score: 1, why: `one side (${findingSide}) of a bilateral truth` };
  if (findingSide === 'bilateral') {
    return f.predominant !== undefined && f.predominant !== truthSide
      ? { score: 0, why: `bilateral, ${f.predominant}-predominant (truth: ${truthSide})` }
      : { score: 1, why: `bilateral, broader than ${truthSide}` };
  }
  return defaulted
    ? { score: 1, why: `side ${findingSide} vs ${truthSide}, one of them assumed` }
    : { score: 0, why: `wrong side (${findingSide}, truth: ${truthSide})` };
}

function compareZone(f: Mention, t: Mention, spec: ConceptSpec): Comparison {
  if (!spec.zoned) return { score: 2, why: '' };
  const fallback = spec.defaults?.zone;
  const truthZones = t.zones.length > 0 ? t.zones : fallback ? [fallback] : [];
  const findingZones = f.zones.length > 0 ? f.zones : fallback ? [fallback] : [];
  if (truthZones.length === 0) {
    return findingZones.length === 0
      ? { score: 2, why: '' }
      : { score: 1, why: 'zone narrower than the truth' };
  }
  if (findingZones.length === 0) return { score: 1, why: `zone missing (truth: ${truthZones.join('+')})` };
  const same = truthZones.length === findingZones.length && truthZones.every((z) => findingZones.includes(z));
  return same
    ? { score: 2, why: '' }
    : { score: 1, why: `zone ${findingZones.join('+')} vs ${truthZones.join('+')}` };
}

function compareMentions(f: Mention, t: Mention): Comparison {
  if (f.negated !== t.negated) {
    return {
      score: 0,
      why: `${f.negated ? 'negated' : 'affirmed'} "${f.words}" vs ${t.negated ? 'negated' : 'affirmed'} "${t.words}"`,
    };
  }
  let score: JudgeScore;
  const reasons: string[] = [];
  if (f.concept === t.concept) {
    score = 2;
    reasons.push(`same concept ${t.concept}`);
  } else if (relation(f, t)) {
    score = 1;
    reasons.push(`${f.concept} is a relative of ${t.concept}`);
  } else {
    return { score: 0, why: `${f.concept} is not ${t.concept}` };
  }
  const spec = SPECS.get(t.concept) as ConceptSpec;
  const checks = [compareSide(f, t, spec), compareZone(f, t, spec)];
  if (spec.graded && f.size && t.size && (f.size[1] < t.size[0] || t.size[1] < f.size[0])) {
    checks.push({ score: 1, why: 'size/severity disagrees' });
  }
  if (f.site && t.site && f.site !== t.site) checks.push({ score: 1, why: `site ${f.site} vs ${t.site}` });
  for (const check of checks) {
    if (check.score < score) score = check.score;
    if (check.why) reasons.push(check.why);
  }
  return { score, why: reasons.join('; ') };
}

function best(finding: Mention[], truth: Mention[]): Comparison {
  let result: Comparison = { score: 0, why: 'no shared concept' };
  for (const f of finding) {
    for (const t of truth) {
      const c = compareMentions(f, t);
      if (c.score > result.score || (result.why === 'no shared concept' && c.score === result.score))
        result = c;
    }
  }
  return result;
}

const STOPWORDS = new Set([
  'a',
  'an',
  'the',
  'of',
  'in',
  'at',
  'on',
  'to',
  'and',
  'or',
  'is',
  'are',
  'be',
  'with',
]);

function contentWords(text: string): string {
  return tokenize(text)
    .map((t) => t.text)
    .filter((w) => !STOPWORDS.has(w))
    .sort()
    .join(' ');
}

/**
 * Scores one finding against a pair's ground truth:
 * - 2: names A's concept with the same polarity, a compatible side, zone and size (size left out is fine:
 *   'left pleural effusion' for 'large left pleural effusion'); defaults fill in the obvious (effusions are basal).
 * - 1: A's concept with a location qualifier missing, broader or narrower ('pleural effusion', 'bilateral
 *   effusions' or 'left > right effusions' for a left one), a conflicting size or zone, or a broader/narrower
 *   relative ('left basilar opacity' for a left effusion, 'catheter' for a central venous catheter).
 * - 0: wrong side, another concept, the opposite polarity ('no left pleural effusion'), or at least as true of B.
 * When A and B match the finding equally well (> 0), it does not tell them apart and scores at most 1; when B
 * matches better, 0. A truth naming no concept the tables know scores 2 only for the same words.
 */
export function judgeConcept(finding: string, truthA: string, truthB: string): ConceptJudgement {
  const f = extractMentions(finding);
  const a = extractMentions(truthA);
  if (a.length === 0) {
    const same = contentWords(finding) !== '' && contentWords(finding) === contentWords(truthA);
    return same
      ? { score: 2, rationale: 'same wording as A (A names no known concept)' }
      : { score: 0, rationale: 'A names no concept the judge knows and the wording differs' };
  }
  if (f.length === 0) return { score: 0, rationale: 'the finding names no known concept' };
  const vsA = best(f, a);
  const vsB = best(f, extractMentions(truthB));
  if (vsA.score === 0) return { score: 0, rationale: `not aligned with A: ${vsA.why}` };
  if (vsB.score > vsA.score) {
    return { score: 0, rationale: `closer to B (${vsB.score} vs ${vsA.score}): ${vsB.why}` };
  }
  if (vsB.score === vsA.score) {
    return { score: 1, rationale: `fits A and B alike (${vsA.score}): ${vsA.why}` };
  }
  return { score: vsA.score, rationale: vsA.why };
}

/** The concept judge behind the {@link Judge} port. Never fails a verdict; aborts between findings. */
export function createConceptJudge(): Judge {
  return {
    judge(input: readonly JudgeInput[], signal?: AbortSignalLike): Promise<JudgeVerdict[]> {
      const verdicts: JudgeVerdict[] = [];
      for (const item of input) {
        if (signal?.aborted) return Promise.reject(namedError('AbortError', 'judging was cancelled'));
        verdicts.push(judgeConcept(item.finding, item.truthA, item.truthB));
      }
      return Promise.resolve(verdicts);
    },
  };
}
