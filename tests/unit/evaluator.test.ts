// Checks src/lib/core/evaluator.ts: acc@1/5/N of a pair by exact arithmetic, the aggregate's bookkeeping (failed
// pairs count 0 and are listed, skipped pairs listed, per-difficulty groups), and the seeded percentile bootstrap.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  aggregate,
  bootstrapMeanCIs,
  pairAccuracy,
  type JudgeVerdict,
  type PairOutcome,
} from '../../src/lib/core/evaluator.ts';

const v = (...scores: (0 | 1 | 2 | null)[]): JudgeVerdict[] =>
  scores.map((score) => (score === null ? { score: null, error: 'bad reply' } : { score }));

const scored = (
  pairId: string,
  acc1: number,
  acc5: number,
  accN: number,
  difficulty?: 'easy' | 'medium' | 'hard',
  failedJudgements = 0,
): PairOutcome => ({
  pairId,
  status: 'scored',
  acc1,
  acc5,
  accN,
  failedJudgements,
  ...(difficulty ? { difficulty } : {}),
});

describe('pairAccuracy', () => {
  it.each([
    { scores: [2, 0, 0], acc: [1, 1, 1] },
    { scores: [1, 2, 0], acc: [0.5, 1, 1] },
    { scores: [0, 0, 1, 0, 0], acc: [0, 0.5, 0.5] },
    { scores: [0, 0, 0, 0, 0, 2], acc: [0, 0, 1] },
    { scores: [0, 1, 0, 0, 0, 2, 1], acc: [0, 0.5, 1] },
    { scores: [0], acc: [0, 0, 0] },
    { scores: [1], acc: [0.5, 0.5, 0.5] },
  ] as { scores: (0 | 1 | 2)[]; acc: number[] }[])('scores $scores → $acc', ({ scores, acc }) => {
    const result = pairAccuracy(v(...scores));
    expect([result.acc1, result.acc5, result.accN]).toEqual(acc);
    expect(result.judged).toBe(scores.length);
    expect(result.failedJudgements).toBe(0);
  });

  it('counts failed judgements as 0 and reports them', () => {
    expect(pairAccuracy(v(null, 1, null, 0, 0, 2))).toEqual({
      acc1: 0,
      acc5: 0.5,
      accN: 1,
      judged: 6,
      failedJudgements: 2,
    });
  });

  it('gives zeros for no verdicts', () => {
    expect(pairAccuracy([])).toEqual({ acc1: 0, acc5: 0, accN: 0, judged: 0, failedJudgements: 0 });
  });

  it('always has acc@1 ≤ acc@5 ≤ acc@N, each in {0, 0.5, 1}', () => {
    const verdict = fc.oneof(
      fc.constantFrom<JudgeVerdict>({ score: 0 }, { score: 1 }, { score: 2 }),
      fc.constant<JudgeVerdict>({ score: null, error: 'x' }),
    );
    fc.assert(
      fc.property(fc.array(verdict, { maxLength: 30 }), (verdicts) => {
        const r = pairAccuracy(verdicts);
        for (const x of [r.acc1, r.acc5, r.accN]) expect([0, 0.5, 1]).toContain(x);
        expect(r.acc1).toBeLessThanOrEqual(r.acc5);
        expect(r.acc5).toBeLessThanOrEqual(r.accN);
      }),
    );
  });
});

describe('aggregate', () => {
  const outcomes: PairOutcome[] = [
    scored('p1', 1, 1, 1, 'easy'),
    scored('p2', 0.5, 1, 1, 'easy'),
    scored('p3', 0, 0.5, 1, 'medium'),
    scored('p4', 0, 0, 0.5, 'hard', 3),
    { pairId: 'p5', status: 'failed', reason: 'proposer: no JSON', difficulty: 'medium' },
    { pairId: 'p6', status: 'skipped', reason: 'set A: 0 of 10 images found', difficulty: 'hard' },
    scored('p7', 1, 1, 1),
  ];

  it('means over pairs with failed pairs as 0, skipped pairs left out', () => {
    const s = aggregate(outcomes);
    // In the means: p1 p2 p3 p4 p5(0) p7 → n = 6.
    expect(s.n).toBe(6);
    expect(s.scored).toBe(5);
    expect(s.failed).toBe(1);
    expect(s.skipped).toBe(1);
    expect(s.failedJudgements).toBe(3);
    expect(s.acc1?.mean).toBe((1 + 0.5 + 0 + 0 + 0 + 1) / 6);
    expect(s.acc5?.mean).toBe((1 + 1 + 0.5 + 0 + 0 + 1) / 6);
    expect(s.accN?.mean).toBe((1 + 1 + 1 + 0.5 + 0 + 1) / 6);
    expect(s.failures).toEqual([{ pairId: 'p5', reason: 'proposer: no JSON' }]);
    expect(s.skippedPairs).toEqual([{ pairId: 'p6', reason: 'set A: 0 of 10 images found' }]);
    expect(s.withoutDifficulty).toBe(1);
    expect(s.bootstrap).toEqual({ seed: 0, resamples: 2000, level: 0.95 });
  });

  it('breaks down by difficulty with the same statistics', () => {
    const s = aggregate(outcomes);
    expect(s.by_difficulty.easy).toMatchObject({ n: 2, scored: 2, failed: 0, skipped: 0 });
    expect(s.by_difficulty.easy.acc1?.mean).toBe(0.75);
    expect(s.by_difficulty.easy.acc5?.mean).toBe(1);
    expect(s.by_difficulty.medium).toMatchObject({ n: 2, scored: 1, failed: 1 });
    expect(s.by_difficulty.medium.accN?.mean).toBe(0.5);
    expect(s.by_difficulty.hard).toMatchObject({ n: 1, scored: 1, skipped: 1, failedJudgements: 3 });
    expect(s.by_difficulty.hard.accN?.mean).toBe(0.5);
    expect(s.by_difficulty.hard.accN?.ci).toEqual({ lo: 0.5, hi: 0.5 });
  });

  it('counts skipped pairs as 0 on request', () => {
    const s = aggregate(outcomes, { skipped: 'count-as-zero' });
    expect(s.n).toBe(7);
    expect(s.accN?.mean).toBe(4.5 / 7);
    expect(s.by_difficulty.hard.n).toBe(2);
    expect(s.by_difficulty.hard.accN?.mean).toBe(0.25);
  });

  it('has null estimates for an empty group', () => {
    const s = aggregate([scored('x', 1, 1, 1, 'easy')]);
    expect(s.by_difficulty.hard).toEqual({
      n: 0,
      scored: 0,
      failed: 0,
      skipped: 0,
      failedJudgements: 0,
      acc1: null,
      acc5: null,
      accN: null,
    });
    expect(aggregate([]).acc1).toBeNull();
  });

  it('rejects accuracies outside {0, 0.5, 1} and repeated pair ids', () => {
    expect(() => aggregate([scored('a', 0.3, 1, 1)])).toThrow(/acc1 must be 0, 0.5 or 1/);
    expect(() => aggregate([scored('a', 1, 1, 1), scored('a', 0, 0, 0)])).toThrow(/appears twice/);
  });

  it('is deterministic for a seed and moves with it', () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      scored(`p${i}`, i % 3 === 0 ? 1 : 0, i % 2 ? 1 : 0.5, 1),
    );
    expect(aggregate(many, { seed: 7 })).toEqual(aggregate(many, { seed: 7 }));
    // Percentiles of a discrete statistic often coincide across seeds; with 50 resamples some seeds must differ.
    const cis = [1, 2, 3, 4, 5].map((seed) =>
      JSON.stringify(aggregate(many, { seed, resamples: 50 }).acc1?.ci),
    );
    expect(new Set(cis).size).toBeGreaterThan(1);
  });
});

describe('bootstrapMeanCIs', () => {
  it('collapses to the value when every pair agrees, or for one pair', () => {
    expect(bootstrapMeanCIs([[0.5, 0.5, 0.5]], { seed: 0, stream: 't' })).toEqual([{ lo: 0.5, hi: 0.5 }]);
    expect(bootstrapMeanCIs([[1]], { seed: 0, stream: 't' })).toEqual([{ lo: 1, hi: 1 }]);
  });

  it('spans 0..1 for the pairs {0, 1}: resample means are 0, ½, 1 with probability ¼, ½, ¼', () => {
    // P(mean = 0) = ¼ ≫ 2.5%, so the 2.5th and 97.5th percentiles of 2000 resamples are exactly 0 and 1.
    expect(bootstrapMeanCIs([[0, 1]], { seed: 3, stream: 't' })).toEqual([{ lo: 0, hi: 1 }]);
  });

  it('matches the normal-theory width for a large benchmark', () => {
    const values = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const [ci] = bootstrapMeanCIs([values], { seed: 0, stream: 't', resamples: 4000 });
    // se = 0.5 / √400 = 0.025 → 95% half-width ≈ 0.049.
    expect(ci?.lo).toBeCloseTo(0.5 - 0.049, 1);
    expect(ci?.hi).toBeCloseTo(0.5 + 0.049, 1);
    expect((ci?.hi ?? 0) - (ci?.lo ?? 0)).toBeGreaterThan(0.08);
    expect((ci?.hi ?? 0) - (ci?.lo ?? 0)).toBeLessThan(0.12);
  });

  it('resamples the same rows for every column', () => {
    // Column 2 is column 1 shifted by +1, so its interval is the first's shifted by exactly 1.
    const c1 = [0, 0.5, 1, 1, 0, 0.5];
    const c2 = c1.map((x) => x + 1);
    const [i1, i2] = bootstrapMeanCIs([c1, c2], { seed: 5, stream: 't' });
    expect(i2?.lo).toBeCloseTo((i1?.lo ?? 0) + 1, 12);
    expect(i2?.hi).toBeCloseTo((i1?.hi ?? 0) + 1, 12);
  });

  it('keeps ordered intervals inside the range of the values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 0.5, 1), { minLength: 1, maxLength: 60 }),
        fc.nat(1000),
        (xs, seed) => {
          const [ci] = bootstrapMeanCIs([xs], { seed, stream: 'p', resamples: 200 });
          expect(ci?.lo).toBeGreaterThanOrEqual(Math.min(...xs));
          expect(ci?.hi).toBeLessThanOrEqual(Math.max(...xs));
          expect(ci?.lo).toBeLessThanOrEqual(ci?.hi ?? NaN);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('rejects bad options', () => {
    expect(() => bootstrapMeanCIs([[1]], { seed: 0, stream: 't', resamples: 0 })).toThrow(RangeError);
    expect(() => bootstrapMeanCIs([[1]], { seed: 0, stream: 't', level: 1 })).toThrow(RangeError);
    expect(() => bootstrapMeanCIs([[1], [1, 2]], { seed: 0, stream: 't' })).toThrow(RangeError);
  });
});
