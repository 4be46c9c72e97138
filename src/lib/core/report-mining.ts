// The LLM-free "report mining" proposer: candidate findings are phrases that occur in more reports of set A than
// of set B. Reports are split into sentences and clauses, negated clauses ("no pleural effusion") are dropped, and
// 1–4-word phrases of content words are scored by the difference in document frequency. Deterministic.
// Pure: imports nothing.

/** One mined phrase with the statistics behind its rank. */
export interface MinedPhrase {
  phrase: string;
  /** Reports of A (of B) that affirm the phrase at least once. */
  countA: number;
  countB: number;
  /** countA / |A| and countB / |B|, unsmoothed. */
  fracA: number;
  fracB: number;
  /** The ranking score (smoothed difference or log-odds ratio, down-weighted without a finding noun). */
  score: number;
  /** Whether the phrase contains a word of {@link FINDING_NOUNS}. */
  findingNoun: boolean;
}

/** Options of {@link mineReportPhrases}. */
export interface MiningOptions {
  /** How many phrases to return (default 20). */
  top?: number;
  /** Longest phrase in words (default 4). */
  maxWords?: number;
  /** A phrase must be affirmed in at least this many reports of A (default 2), so one report cannot propose. */
  minCount?: number;
  /**
   * `difference` (default): (cA + α)/(|A| + 2α) − (cB + α)/(|B| + 2α). `log-odds`: the smoothed log odds ratio
   * ln((cA + α)/(|A| − cA + α)) − ln((cB + α)/(|B| − cB + α)), which favours phrases absent from B.
   */
  scoring?: 'difference' | 'log-odds';
  /** α of the add-α smoothing above (default 0.5, Jeffreys). */
  smoothing?: number;
  /** Score multiplier of phrases without a finding noun (default 0.5): prefer "pleural effusion" to "moderate". */
  nonFindingWeight?: number;
}

/**
 * Nouns (and a few adjectives) that name radiographic findings or devices. A phrase containing one is preferred
 * over phrases of bare modifiers or anatomy ("moderate", "right lower").
 */
export const FINDING_NOUNS: ReadonlySet<string> = new Set([
  'atelectasis',
  'calcification',
  'calcifications',
  'cardiomegaly',
  'catheter',
  'clips',
  'collapse',
  'congestion',
  'consolidation',
  'consolidations',
  'deformity',
  'device',
  'edema',
  'effusion',
  'effusions',
  'emphysema',
  'enlarged',
  'enlargement',
  'fibrosis',
  'fracture',
  'fractures',
  'granuloma',
  'hernia',
  'hyperinflation',
  'infiltrate',
  'infiltrates',
  'lesion',
  'lesions',
  'line',
  'lines',
  'mass',
  'masses',
  'nodule',
  'nodules',
  'opacification',
  'opacities',
  'opacity',
  'pacemaker',
  'pneumonia',
  'pneumoperitoneum',
  'pneumothorax',
  'scarring',
  'sternotomy',
  'thickening',
  'tube',
  'tubes',
  'widening',
  'wires',
]);

// Function words and report boilerplate. They end a phrase: candidates are runs of the remaining words, so every
// phrase appears verbatim in some report ("enlargement of the cardiac silhouette" → "enlargement", "cardiac
// silhouette"), never as a gapped word list.
const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a an the and or of in on at to for with within is are was were be been being there here this that these those ' +
    'it its as by from has have had which who whom than then also may might can could would should will shall ' +
    'seen noted identified present again since compared comparison prior previous previously study studies exam ' +
    'examination radiograph radiographs image images film films view views chest findings impression report ' +
    'appears appear appearance likely possibly probably suggest suggests suggesting consistent concerning ' +
    'remains remain redemonstrated demonstrate demonstrates demonstrated evidence some any very more most less ' +
    'stable unchanged interval overall otherwise please note'
  ).split(/\s+/),
);

// A negation cue negates the rest of its clause ("heart size normal without effusion" keeps "heart size normal").
const NEGATION_CUE =
  /\b(?:no|not|without|negative for|free of|absence of|absent|neither|nor|denies|rule out|ruled out|r\/o|resolution of|resolved|cleared|excluded|cannot be excluded)\b/;
// These negate what comes before them ("effusion has resolved", "nodule is no longer seen"): drop the clause.
const POST_NEGATION =
  /\b(?:resolved|cleared|absent|excluded|ruled out|no longer|not (?:seen|identified|visualized|present|appreciated|evident|demonstrated|visible))\b/;
// Clause boundaries that end a negation's scope. Commas do not: "no effusion, pneumothorax, or consolidation"
// negates the whole list.
const CLAUSE_BOUNDARY = /[;:]|\b(?:but|however|although|though|whereas|except|apart from|aside from)\b/;
const SENTENCE_BOUNDARY = /[.!?](?=\s|$)|\n/;
const WORD = /[a-z][a-z'-]*[a-z]|[a-z]/g;

/**
 * The affirmed parts of a report, lowercase: sentences split at `.`, `!`, `?` (not inside numbers like 2.5) and
 * line breaks, clauses at `;`, `:` and contrast words (but, however, although, except, …); in each clause text from
 * a negation cue (no, not, without, negative for, free of, …) to the clause end is dropped, and a clause with a
 * post-negation (resolved, absent, no longer seen, not seen, …) is dropped whole. Uncertain mentions ("cannot be
 * excluded") count as negated: a proposer should not be led by hedges.
 */
export function affirmedClauses(report: string): string[] {
  const out: string[] = [];
  for (const sentence of report.toLowerCase().split(SENTENCE_BOUNDARY)) {
    for (const clause of sentence.split(CLAUSE_BOUNDARY)) {
      if (POST_NEGATION.test(clause)) continue;
      const cue = NEGATION_CUE.exec(clause);
      const affirmed = (cue ? clause.slice(0, cue.index) : clause).replace(/\s+/g, ' ').trim();
      if (affirmed !== '') out.push(affirmed);
    }
  }
  return out;
}

/** Every phrase of 1..`maxWords` consecutive content words in the affirmed clauses of one report. */
export function candidatePhrases(report: string, maxWords = 4): Set<string> {
  const phrases = new Set<string>();
  for (const clause of affirmedClauses(report)) {
    const words = clause.match(WORD) ?? [];
    let run: string[] = [];
    const flush = () => {
      for (let start = 0; start < run.length; start++) {
        for (let n = 1; n <= maxWords && start + n <= run.length; n++) {
          phrases.add(run.slice(start, start + n).join(' '));
        }
      }
      run = [];
    };
    for (const word of words) {
      if (STOP_WORDS.has(word)) flush();
      else run.push(word);
    }
    flush();
  }
  return phrases;
}

/**
 * Phrases affirmed in more reports of A than of B, best first. Each report counts a phrase once (document
 * frequency). Phrases affirmed in fewer than `minCount` reports of A, or not more frequent in A after smoothing,
 * are left out. Ties are broken by more words first, then by the phrase's code-unit order, so the output is fully
 * deterministic. A phrase is skipped when a better-ranked phrase that contains it, or is contained in it, occurs
 * in exactly the same reports: it adds no information ("pleural effusion" hides "pleural" and "effusion" when they
 * never occur apart). Returns [] when either set has no reports.
 */
export function mineReportPhrases(
  reportsA: readonly string[],
  reportsB: readonly string[],
  options: MiningOptions = {},
): MinedPhrase[] {
  const top = options.top ?? 20;
  const maxWords = options.maxWords ?? 4;
  const minCount = options.minCount ?? 2;
  const alpha = options.smoothing ?? 0.5;
  const nonFindingWeight = options.nonFindingWeight ?? 0.5;
  const scoring = options.scoring ?? 'difference';
  if (!(alpha > 0)) throw new RangeError(`smoothing must be positive, got ${alpha}`);
  if (!Number.isSafeInteger(maxWords) || maxWords < 1) {
    throw new RangeError(`maxWords must be ≥ 1, got ${maxWords}`);
  }
  const nA = reportsA.length;
  const nB = reportsB.length;
  if (nA === 0 || nB === 0) return [];

  // Reports of A and B each phrase is affirmed in, as index lists (ascending, since reports are visited in order).
  const docs = new Map<string, { a: number[]; b: number[] }>();
  const count = (reports: readonly string[], side: 'a' | 'b') =>
    reports.forEach((report, index) => {
      for (const phrase of candidatePhrases(report, maxWords)) {
        let entry = docs.get(phrase);
        if (!entry) docs.set(phrase, (entry = { a: [], b: [] }));
        entry[side].push(index);
      }
    });
  count(reportsA, 'a');
  count(reportsB, 'b');

  const candidates: (MinedPhrase & { words: number; signature: string })[] = [];
  for (const [phrase, entry] of docs) {
    const countA = entry.a.length;
    const countB = entry.b.length;
    if (countA < minCount) continue;
    const raw =
      scoring === 'log-odds'
        ? Math.log((countA + alpha) / (nA - countA + alpha)) -
          Math.log((countB + alpha) / (nB - countB + alpha))
        : (countA + alpha) / (nA + 2 * alpha) - (countB + alpha) / (nB + 2 * alpha);
    if (!(raw > 0)) continue;
    const words = phrase.split(' ');
    const findingNoun = words.some((w) => FINDING_NOUNS.has(w));
    candidates.push({
      phrase,
      countA,
      countB,
      fracA: countA / nA,
      fracB: countB / nB,
      score: findingNoun ? raw : raw * nonFindingWeight,
      findingNoun,
      words: words.length,
      signature: `${entry.a.join(',')}|${entry.b.join(',')}`,
    });
  }
  candidates.sort(
    (x, y) =>
      y.score - x.score || y.words - x.words || (x.phrase < y.phrase ? -1 : x.phrase > y.phrase ? 1 : 0),
  );

  const chosen: typeof candidates = [];
  for (const c of candidates) {
    if (chosen.length >= top) break;
    const redundant = chosen.some(
      (k) =>
        k.signature === c.signature &&
        (` ${k.phrase} `.includes(` ${c.phrase} `) || ` ${c.phrase} `.includes(` ${k.phrase} `)),
    );
    if (!redundant) chosen.push(c);
  }
  return chosen.map(({ phrase, countA, countB, fracA, fracB, score, findingNoun }) => ({
    phrase,
    countA,
    countB,
    fracA,
    fracB,
    score,
    findingNoun,
  }));
}
