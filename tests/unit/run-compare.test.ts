// Checks src/lib/core/run-compare.ts: findings are matched by normalized text, ranks, AUROCs, status and rank
// delta are right, the order is by best rank and deterministic, and comparing a run with itself moves nothing.
import { describe, it, expect } from 'vitest';
import { compareRuns } from '../../src/lib/core/run-compare.ts';
import { recordFromRanking } from '../../src/lib/core/run-export.ts';
import type { RunRecord } from '../../src/lib/core/run-record.ts';
import type { RankedFinding } from '../../src/lib/core/types.ts';

function run(findings: [string, number][]): RunRecord {
  const ranking: RankedFinding[] = findings.map(([finding, auroc], index) => ({
    index,
    finding,
    auroc,
    aurocCI: { lo: auroc - 0.05, hi: auroc + 0.05 },
    meanA: 0.2,
    meanB: 0.1,
    pWelch: 0.01,
    pMannWhitney: 0.01,
    q: 0.02,
    cliffsDelta: 2 * auroc - 1,
    classificationDelta: 0,
    threshold: 0.3,
    nA: 10,
    nB: 10,
    ciContainsHalf: false,
  }));
  return recordFromRanking({
    ranking,
    images: [
      { id: 'a', name: 'a.png', set: 'A' },
      { id: 'b', name: 'b.png', set: 'B' },
    ],
    embedder: 'clip',
    proposer: 'user',
    appVersion: '0',
    now: 0,
  });
}

describe('compareRuns', () => {
  it('matches by normalized text and reports ranks, AUROCs and movement', () => {
    const a = run([
      ['Left pleural effusion.', 0.9],
      ['cardiomegaly', 0.8],
      ['hilar fullness', 0.7],
    ]);
    const b = run([
      ['cardiomegaly', 0.85],
      ['pneumothorax', 0.8],
      ['left  pleural effusion', 0.75],
    ]);
    expect(compareRuns(a, b)).toEqual([
      {
        finding: 'Left pleural effusion.',
        rankA: 1,
        rankB: 3,
        aurocA: 0.9,
        aurocB: 0.75,
        status: 'both',
        rankDelta: -2,
      },
      {
        finding: 'cardiomegaly',
        rankA: 2,
        rankB: 1,
        aurocA: 0.8,
        aurocB: 0.85,
        status: 'both',
        rankDelta: 1,
      },
      {
        finding: 'pneumothorax',
        rankA: null,
        rankB: 2,
        aurocA: null,
        aurocB: 0.8,
        status: 'only-b',
        rankDelta: null,
      },
      {
        finding: 'hilar fullness',
        rankA: 3,
        rankB: null,
        aurocA: 0.7,
        aurocB: null,
        status: 'only-a',
        rankDelta: null,
      },
    ]);
  });

  it('puts shared findings before one-sided ones at the same best rank, then A before B', () => {
    const a = run([
      ['x', 0.9],
      ['y', 0.8],
    ]);
    const b = run([
      ['z', 0.9],
      ['y', 0.8],
    ]);
    expect(compareRuns(a, b).map((r) => [r.finding, r.status])).toEqual([
      ['x', 'only-a'],
      ['z', 'only-b'],
      ['y', 'both'],
    ]);
    const c = run([
      ['x', 0.9],
      ['y', 0.8],
    ]);
    const d = run([
      ['y', 0.9],
      ['w', 0.8],
    ]);
    // y is best at rank 1 in d; x is rank 1 in c: both best rank 1, the shared one first.
    expect(compareRuns(c, d).map((r) => r.finding)).toEqual(['y', 'x', 'w']);
  });

  it('moves nothing when a run is compared with itself, and handles empty runs', () => {
    const a = run([
      ['x', 0.9],
      ['y', 0.8],
    ]);
    expect(compareRuns(a, a).every((r) => r.status === 'both' && r.rankDelta === 0)).toBe(true);
    const empty = run([]);
    expect(compareRuns(empty, empty)).toEqual([]);
    expect(compareRuns(a, empty).map((r) => r.status)).toEqual(['only-a', 'only-a']);
    expect(compareRuns(empty, a).map((r) => r.status)).toEqual(['only-b', 'only-b']);
  });

  it('lets the better-ranked of two texts that normalize alike speak for a run', () => {
    const a = run([
      ['the effusion', 0.9],
      ['Effusion', 0.8],
    ]);
    const b = run([['effusion', 0.7]]);
    expect(compareRuns(a, b)).toEqual([
      { finding: 'the effusion', rankA: 1, rankB: 1, aurocA: 0.9, aurocB: 0.7, status: 'both', rankDelta: 0 },
    ]);
  });
});
