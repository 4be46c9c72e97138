// Checks src/lib/core/report-mining.ts: negation handling per clause, phrase extraction, and the ranking on a small
// synthetic corpus where "pleural effusion" is affirmed in most A reports and only negated in B reports.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { affirmedClauses, candidatePhrases, mineReportPhrases } from '../../src/lib/core/report-mining.ts';

describe('affirmedClauses', () => {
  it.each([
    ['No pleural effusion or pneumothorax.', []],
    ['No effusion, pneumothorax, or consolidation.', []],
    ['Heart size normal without effusion.', ['heart size normal']],
    ['Negative for pneumonia. Mild cardiomegaly.', ['mild cardiomegaly']],
    ['There is no pneumothorax; small left pleural effusion.', ['there is', 'small left pleural effusion']],
    ['No pneumothorax but a small right effusion is present.', ['a small right effusion is present']],
    ['Previously seen right effusion has resolved.', []],
    ['The nodule is no longer seen.', []],
    ['Pneumonia cannot be excluded.', []], // hedged mentions count as negated
    ['Right lower lobe opacity is not seen.', []],
    ['Nodule measures 2.5 cm. Lungs are clear.', ['nodule measures 2.5 cm', 'lungs are clear']],
    [
      'FINDINGS: Enlarged heart\nIMPRESSION: Cardiomegaly',
      ['findings', 'enlarged heart', 'impression', 'cardiomegaly'],
    ],
  ])('%j → %j', (report, clauses) => {
    expect(affirmedClauses(report)).toEqual(clauses);
  });
});

describe('candidatePhrases', () => {
  it('yields 1–4-word runs of content words, split at stop words', () => {
    const phrases = candidatePhrases('Enlargement of the cardiac silhouette. Small left pleural effusion.');
    expect([...phrases].sort()).toEqual(
      [
        'enlargement',
        'cardiac',
        'cardiac silhouette',
        'silhouette',
        'small',
        'small left',
        'small left pleural',
        'small left pleural effusion',
        'left',
        'left pleural',
        'left pleural effusion',
        'pleural',
        'pleural effusion',
        'effusion',
      ].sort(),
    );
    expect(candidatePhrases('a b c d e', 2).has('b c d')).toBe(false);
    expect(candidatePhrases('No pleural effusion.').size).toBe(0);
  });
});

// Twelve reports per set. A: "pleural effusion" affirmed in 8 (sides and sizes vary; a ninth says "effusions"),
// B: mentioned in 10, always negated. Cardiomegaly is equally common in both, so it must not be proposed.
const REPORTS_A = [
  'Moderate right pleural effusion. Mild cardiomegaly.',
  'Small left pleural effusion with adjacent atelectasis.',
  'Large right pleural effusion. No pneumothorax.',
  'Bilateral pleural effusions, small. Heart size normal.',
  'Pleural effusion on the right, increased. Mild cardiomegaly.',
  'Small right pleural effusion. No focal consolidation.',
  'Left pleural effusion is unchanged.',
  'There is a moderate left pleural effusion; no pneumothorax.',
  'Right pleural effusion with compressive atelectasis.',
  'No pleural effusion. Mild cardiomegaly.',
  'Lungs are clear. Mild cardiomegaly.',
  'Stable mild cardiomegaly. No pneumothorax.',
];
const REPORTS_B = [
  'No pleural effusion or pneumothorax. Mild cardiomegaly.',
  'Lungs are clear without pleural effusion.',
  'No pleural effusion. Heart size normal.',
  'Negative for pleural effusion. Mild cardiomegaly.',
  'No pleural effusion. Mild cardiomegaly.',
  'Previously seen pleural effusion has resolved.',
  'No pleural effusion, pneumothorax, or consolidation.',
  'No evidence of pleural effusion. Stable mild cardiomegaly.',
  'Clear lungs. No pleural effusion.',
  'Free of pleural effusion. Mild cardiomegaly.',
  'Mild cardiomegaly. Lungs are clear.',
  'Right upper lobe nodule.',
];

describe('mineReportPhrases', () => {
  it('ranks "pleural effusion" first; negated mentions in B do not count', () => {
    const mined = mineReportPhrases(REPORTS_A, REPORTS_B, { top: 5 });
    expect(mined[0]).toMatchObject({ phrase: 'pleural effusion', countA: 8, countB: 0, findingNoun: true });
    expect(mined[0]?.fracA).toBeCloseTo(8 / 12, 12);
    expect(mined[0]?.fracB).toBe(0);
    expect(mined[0]?.score).toBeCloseTo(8.5 / 13 - 0.5 / 13, 12);
    // "effusion" alone occurs in exactly the same reports: hidden behind the longer phrase. "pleural" is also in
    // "pleural effusions", so it stays, ranked lower for lacking a finding noun.
    const phrases = mined.map((m) => m.phrase);
    expect(phrases).not.toContain('effusion');
    expect(mined.find((m) => m.phrase === 'pleural')).toMatchObject({ countA: 9, findingNoun: false });
    expect(phrases).not.toContain('cardiomegaly');
    expect(phrases).not.toContain('mild cardiomegaly');
    // Scores are non-increasing.
    for (let i = 1; i < mined.length; i++) expect(mined[i]!.score).toBeLessThanOrEqual(mined[i - 1]!.score);
    expect(mined.length).toBeLessThanOrEqual(5);
  });

  it('swapping the sets proposes what B has more of', () => {
    const mined = mineReportPhrases(REPORTS_B, REPORTS_A, { top: 10 });
    const phrases = mined.map((m) => m.phrase);
    expect(phrases).not.toContain('pleural effusion');
    expect(phrases).toContain('clear'); // 3 of B ("lungs are clear", "clear lungs") vs 1 of A
    expect(phrases).not.toContain('nodule'); // a single report: below minCount
  });

  it('prefers phrases with a finding noun, and log-odds scoring favours phrases absent from B', () => {
    const a = ['moderate edema', 'moderate edema', 'moderate edema', 'moderate', 'moderate'];
    const b = ['clear', 'clear', 'clear', 'clear', 'clear'];
    const mined = mineReportPhrases(a, b);
    // "moderate" is in 5/5 but has no finding noun (score halved: 0.42); "moderate edema" in 3/5 has one (0.5).
    expect(mined.map((m) => [m.phrase, m.findingNoun])).toEqual([
      ['moderate edema', true],
      ['moderate', false],
    ]);
    const logOdds = mineReportPhrases(['effusion', 'effusion', 'x'], ['y', 'y', 'y'], {
      scoring: 'log-odds',
    });
    expect(logOdds[0]?.phrase).toBe('effusion');
    expect(logOdds[0]?.score).toBeCloseTo(Math.log(2.5 / 1.5) - Math.log(0.5 / 3.5), 12);
  });

  it('needs minCount reports in A, returns [] for an empty set, and breaks ties deterministically', () => {
    expect(mineReportPhrases(['rare effusion'], ['clear'])).toEqual([]);
    expect(mineReportPhrases(['rare effusion'], ['clear'], { minCount: 1 }).map((m) => m.phrase)).toEqual([
      'rare effusion',
    ]);
    expect(mineReportPhrases([], ['x'])).toEqual([]);
    expect(mineReportPhrases(['x', 'x'], [])).toEqual([]);
    // Same counts, different report sets: more words first, then code-unit order.
    const tie = mineReportPhrases(['beta nodule', 'alpha effusion', 'beta nodule', 'alpha effusion'], ['z'], {
      minCount: 2,
    });
    expect(tie.map((m) => m.phrase)).toEqual(['alpha effusion', 'beta nodule']);
  });

  it('property: deterministic, bounded, consistent fractions', () => {
    const word = fc.constantFrom(
      'no',
      'pleural',
      'effusion',
      'mild',
      'edema',
      'right',
      'the',
      'nodule',
      '.',
      ',',
      'but',
    );
    const report = fc.array(word, { maxLength: 12 }).map((w) => w.join(' '));
    fc.assert(
      fc.property(
        fc.array(report, { minLength: 1, maxLength: 10 }),
        fc.array(report, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 8 }),
        (a, b, top) => {
          const mined = mineReportPhrases(a, b, { top, minCount: 1 });
          expect(mineReportPhrases([...a], [...b], { top, minCount: 1 })).toEqual(mined);
          expect(mined.length).toBeLessThanOrEqual(top);
          expect(new Set(mined.map((m) => m.phrase)).size).toBe(mined.length);
          for (const m of mined) {
            expect(m.fracA).toBe(m.countA / a.length);
            expect(m.fracB).toBe(m.countB / b.length);
            expect(m.score).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
