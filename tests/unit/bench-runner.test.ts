// Checks src/lib/core/bench-runner.ts with scripted pair runs and judges: records per pair, failures recorded
// and the batch continuing, skips, resume from a store, abort between and inside pairs, re-judging, summaries;
// and scripts/lib/file-record-store.ts on a temporary directory (encoding, atomic replace, corrupt files, resume).
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryRecordStore,
  runBenchmark,
  summarize,
  type PairRecord,
  type RankedFindingLike,
  type RecordStore,
} from '../../src/lib/core/bench-runner.ts';
import type { BenchmarkPair } from '../../src/lib/core/benchmarks.ts';
import type { Judge, JudgeVerdict } from '../../src/lib/core/evaluator.ts';
import { createConceptJudge } from '../../src/lib/core/judges/concept-judge.ts';
import { createFileRecordStore, recordFileName } from '../../scripts/lib/file-record-store.ts';

const pair = (id: string, truthA: string, difficulty?: 'easy' | 'medium' | 'hard'): BenchmarkPair => ({
  id,
  setA: { description: `${truthA} `, images: ['a1.jpg', 'a2.jpg'] },
  setB: { description: 'no abnormality ', images: ['b1.jpg', 'b2.jpg'] },
  ...(difficulty ? { difficulty } : {}),
});

const PAIRS = [
  pair('0', 'left pleural effusion', 'easy'),
  pair('1', 'cardiomegaly', 'medium'),
  pair('2', 'right pneumothorax', 'hard'),
];

const findings = (...texts: string[]): RankedFindingLike[] =>
  texts.map((finding, i) => ({ finding, auroc: 0.9 - i * 0.1 }));

/** Findings per pair id; an Error entry makes that pair's run throw. */
function runner(script: Record<string, RankedFindingLike[] | Error>) {
  const calls: string[] = [];
  return {
    calls,
    runPair: (p: BenchmarkPair) => {
      calls.push(p.id);
      const out = script[p.id];
      return out instanceof Error ? Promise.reject(out) : Promise.resolve(out ?? []);
    },
  };
}

/** A clock that advances 1.5 s per reading, from 2026-01-01. */
function clock() {
  let t = Date.UTC(2026, 0, 1);
  return () => {
    t += 1500;
    return t;
  };
}

const SCRIPT = {
  '0': findings('cardiomegaly', 'left effusion'),
  '1': findings('enlarged cardiac silhouette'),
  '2': findings('pneumothorax', 'left pneumothorax'),
};

describe('runBenchmark', () => {
  it('runs, judges and stores one record per pair', async () => {
    const store = createMemoryRecordStore();
    const { runPair } = runner(SCRIPT);
    const seen: [string, number, boolean][] = [];
    const result = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store,
      now: clock(),
      onRecord: (r, p) => seen.push([r.pairId, p.index, p.resumed]),
    });
    expect(result.aborted).toBe(false);
    expect(result.records.map((r) => [r.pairId, r.status, r.acc1, r.acc5, r.accN])).toEqual([
      ['0', 'done', 0, 1, 1],
      ['1', 'done', 1, 1, 1],
      ['2', 'done', 0.5, 0.5, 0.5],
    ]);
    expect(seen).toEqual([
      ['0', 0, false],
      ['1', 1, false],
      ['2', 2, false],
    ]);
    const stored = await store.get('0');
    expect(stored).toMatchObject({
      pairId: '0',
      status: 'done',
      difficulty: 'easy',
      findings: [
        { finding: 'cardiomegaly', auroc: 0.9 },
        { finding: 'left effusion', auroc: 0.8 },
      ],
      seconds: 1.5,
      finishedAt: '2026-01-01T00:00:03.000Z',
    });
    expect(stored?.verdicts?.map((v) => v.score)).toEqual([0, 2]);
    expect(await store.list()).toHaveLength(3);
  });

  it('records a thrown run or an empty one as failed and carries on', async () => {
    const store = createMemoryRecordStore();
    const { runPair } = runner({ '0': new Error('proposer gave up'), '1': [], '2': SCRIPT['2'] });
    const { records } = await runBenchmark({ pairs: PAIRS, runPair, judge: createConceptJudge(), store });
    expect(records.map((r) => [r.pairId, r.status, r.reason])).toEqual([
      ['0', 'failed', 'Error: proposer gave up'],
      ['1', 'failed', 'the run returned no findings'],
      ['2', 'done', undefined],
    ]);
  });

  it('records skipped pairs without running them', async () => {
    const { runPair, calls } = runner(SCRIPT);
    const { records } = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store: createMemoryRecordStore(),
      skipReason: (p) => (p.id === '1' ? 'set A: 0 of 2 images found' : undefined),
    });
    expect(calls).toEqual(['0', '2']);
    expect(records[1]).toMatchObject({
      pairId: '1',
      status: 'skipped',
      reason: 'set A: 0 of 2 images found',
      seconds: 0,
    });
  });

  it('resumes: done pairs are not rerun, failed and skipped ones are', async () => {
    const done: PairRecord = {
      pairId: '0',
      status: 'done',
      findings: findings('left effusion'),
      verdicts: [{ score: 2 }],
      acc1: 1,
      acc5: 1,
      accN: 1,
      seconds: 9,
      finishedAt: '2025-12-31T00:00:00.000Z',
    };
    const store = createMemoryRecordStore([
      done,
      { pairId: '1', status: 'failed', reason: 'x', seconds: 1, finishedAt: '2025-12-31T00:00:00.000Z' },
      { pairId: '2', status: 'skipped', reason: 'y', seconds: 0, finishedAt: '2025-12-31T00:00:00.000Z' },
    ]);
    const { runPair, calls } = runner(SCRIPT);
    const resumed: boolean[] = [];
    const { records } = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store,
      onRecord: (_r, p) => resumed.push(p.resumed),
    });
    expect(calls).toEqual(['1', '2']);
    expect(resumed).toEqual([true, false, false]);
    expect(records[0]).toEqual(done);
    expect(records.map((r) => r.status)).toEqual(['done', 'done', 'done']);
  });

  it('stops between pairs on abort and records nothing for the interrupted pair', async () => {
    const controller = new AbortController();
    const store = createMemoryRecordStore();
    const calls: string[] = [];
    const runPair = (p: BenchmarkPair, signal?: { aborted: boolean }) => {
      calls.push(p.id);
      if (p.id === '1') {
        controller.abort();
        return Promise.reject(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
      }
      return Promise.resolve(SCRIPT[p.id as '0' | '2']).then((f) => (signal?.aborted ? [] : f));
    };
    const result = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store,
      signal: controller.signal,
    });
    expect(result.aborted).toBe(true);
    expect(result.records.map((r) => r.pairId)).toEqual(['0']);
    expect(calls).toEqual(['0', '1']);
    expect((await store.list()).map((r) => r.pairId)).toEqual(['0']);
  });

  it('treats a run that returns after the abort as aborted, and an already aborted signal as no work', async () => {
    const controller = new AbortController();
    const store = createMemoryRecordStore();
    const runPair = () => {
      controller.abort();
      return Promise.resolve(findings('x'));
    };
    const result = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store,
      signal: controller.signal,
    });
    expect(result).toEqual({ records: [], aborted: true });
    expect(await store.list()).toEqual([]);
    const again = await runBenchmark({
      pairs: PAIRS,
      runPair,
      judge: createConceptJudge(),
      store,
      signal: controller.signal,
    });
    expect(again).toEqual({ records: [], aborted: true });
  });

  it('turns a throwing or miscounting judge into failed verdicts, never a crash', async () => {
    const throwing: Judge = { judge: () => Promise.reject(new Error('LLM offline')) };
    const short: Judge = { judge: () => Promise.resolve([{ score: 2 }]) };
    const { runPair } = runner(SCRIPT);
    const a = await runBenchmark({
      pairs: [PAIRS[0] as BenchmarkPair],
      runPair,
      judge: throwing,
      store: createMemoryRecordStore(),
    });
    expect(a.records[0]?.status).toBe('done');
    expect(a.records[0]?.verdicts).toEqual([
      { score: null, error: 'judge failed: Error: LLM offline' },
      { score: null, error: 'judge failed: Error: LLM offline' },
    ]);
    expect(a.records[0]?.accN).toBe(0);
    const b = await runBenchmark({
      pairs: [PAIRS[0] as BenchmarkPair],
      runPair,
      judge: short,
      store: createMemoryRecordStore(),
    });
    expect(b.records[0]?.verdicts?.[1]).toEqual({
      score: null,
      error: 'the judge returned 1 verdict(s) for 2 finding(s)',
    });
    expect(b.records[0]?.acc1).toBe(1);
  });

  it('re-judges stored findings with failed verdicts on request, without rerunning', async () => {
    const failedVerdicts: JudgeVerdict[] = [{ score: null, error: 'timeout' }, { score: 0 }];
    const store = createMemoryRecordStore([
      {
        pairId: '0',
        status: 'done',
        findings: findings('cardiomegaly', 'left effusion'),
        verdicts: failedVerdicts,
        acc1: 0,
        acc5: 0,
        accN: 0,
        seconds: 10,
        finishedAt: '2025-12-31T00:00:00.000Z',
      },
    ]);
    const { runPair, calls } = runner(SCRIPT);
    const { records } = await runBenchmark({
      pairs: [PAIRS[0] as BenchmarkPair],
      runPair,
      judge: createConceptJudge(),
      store,
      rejudgeFailedVerdicts: true,
      now: clock(),
    });
    expect(calls).toEqual([]);
    expect(records[0]).toMatchObject({ acc1: 0, acc5: 1, accN: 1, seconds: 11.5 });
    expect((await store.get('0'))?.verdicts?.map((v) => v.score)).toEqual([0, 2]);
  });

  it('refuses repeated pair ids', async () => {
    await expect(
      runBenchmark({
        pairs: [PAIRS[0] as BenchmarkPair, PAIRS[0] as BenchmarkPair],
        runPair: () => Promise.resolve([]),
        judge: createConceptJudge(),
        store: createMemoryRecordStore(),
      }),
    ).rejects.toThrow(/appears twice/);
  });
});

describe('summarize', () => {
  const records: PairRecord[] = [
    { pairId: '0', status: 'done', verdicts: [{ score: 0 }, { score: 2 }], seconds: 1, finishedAt: '' },
    { pairId: '1', status: 'failed', reason: 'boom', seconds: 1, finishedAt: '' },
    {
      pairId: '2',
      status: 'done',
      verdicts: [{ score: 1 }, { score: null, error: 'e' }],
      seconds: 1,
      finishedAt: '',
      difficulty: 'hard',
    },
    { pairId: 'x', status: 'skipped', reason: 'no images', seconds: 0, finishedAt: '' },
  ];

  it('aggregates records: failed as 0, skipped listed, accuracy from the verdicts', () => {
    const s = summarize(records);
    expect(s.n).toBe(3);
    expect(s.acc1?.mean).toBe((0 + 0 + 0.5) / 3);
    expect(s.acc5?.mean).toBe((1 + 0 + 0.5) / 3);
    expect(s.failures).toEqual([{ pairId: '1', reason: 'boom' }]);
    expect(s.skippedPairs).toEqual([{ pairId: 'x', reason: 'no images' }]);
    expect(s.failedJudgements).toBe(1);
    expect(s.by_difficulty.hard.n).toBe(1);
    expect(s.notRun).toEqual([]);
  });

  it('restricts to the given pairs, takes their difficulties and lists the ones not run', () => {
    const s = summarize(records, {
      pairs: [PAIRS[0], PAIRS[1], PAIRS[2], pair('3', 'nodule', 'easy')] as BenchmarkPair[],
    });
    expect(s.n).toBe(3);
    expect(s.skipped).toBe(0);
    expect(s.notRun).toEqual(['3']);
    expect(s.by_difficulty.easy.acc5?.mean).toBe(1);
    expect(s.by_difficulty.medium.failed).toBe(1);
  });
});

describe('createMemoryRecordStore', () => {
  it('stores copies', async () => {
    const store = createMemoryRecordStore();
    const record: PairRecord = { pairId: 'a', status: 'failed', reason: 'r', seconds: 0, finishedAt: '' };
    await store.put(record);
    record.reason = 'changed';
    const got = await store.get('a');
    expect(got?.reason).toBe('r');
    if (got) got.reason = 'changed again';
    expect((await store.get('a'))?.reason).toBe('r');
    expect(await store.get('missing')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('file record store', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raddiff-records-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('encodes pair ids into safe, distinct file names', () => {
    expect(recordFileName('0')).toBe('0.json');
    expect(recordFileName('easy/1')).toBe('easy%2F1.json');
    expect(recordFileName('..')).toBe('%2E%2E.json');
    expect(recordFileName('A')).not.toBe(recordFileName('a').toUpperCase());
    expect(recordFileName('A').toLowerCase()).not.toBe(recordFileName('a').toLowerCase());
    expect(recordFileName('é')).toBe('%C3%A9.json');
    expect(() => recordFileName('')).toThrow(RangeError);
    expect(() => recordFileName('x'.repeat(500))).toThrow(RangeError);
  });

  it('puts, gets, replaces and lists records, leaving no temp files', async () => {
    const dir = join(await tempDir(), 'records');
    const store: RecordStore = createFileRecordStore(dir);
    expect(await store.list()).toEqual([]);
    expect(await store.get('easy/1')).toBeUndefined();
    const record: PairRecord = {
      pairId: 'easy/1',
      status: 'failed',
      reason: 'r',
      seconds: 2,
      finishedAt: 't',
    };
    await store.put(record);
    await store.put({ ...record, status: 'skipped', reason: 'again' });
    await store.put({ ...record, pairId: 'hard/7' });
    expect(await store.get('easy/1')).toEqual({ ...record, status: 'skipped', reason: 'again' });
    expect((await store.list()).map((r) => r.pairId).sort()).toEqual(['easy/1', 'hard/7']);
    expect((await readdir(dir)).sort()).toEqual(['easy%2F1.json', 'hard%2F7.json']);
  });

  it('throws with the file path for a corrupt or foreign record', async () => {
    const dir = await tempDir();
    const store = createFileRecordStore(dir);
    await writeFile(join(dir, recordFileName('p')), '{"pairId": "p", "status": "done"', 'utf8');
    await expect(store.get('p')).rejects.toThrow(/p\.json is not valid JSON/);
    await writeFile(join(dir, recordFileName('q')), '{"pairId": "other", "status": "done"}', 'utf8');
    await expect(store.get('q')).rejects.toThrow(/holds pair "other"/);
    await expect(store.list()).rejects.toThrow(/not valid JSON/);
  });

  it('resumes a batch across runs', async () => {
    const dir = await tempDir();
    const controller = new AbortController();
    const first = runner(SCRIPT);
    const stopAfterFirst = (p: BenchmarkPair) => {
      if (p.id === '1') controller.abort();
      return first.runPair(p);
    };
    const partial = await runBenchmark({
      pairs: PAIRS,
      runPair: stopAfterFirst,
      judge: createConceptJudge(),
      store: createFileRecordStore(dir),
      signal: controller.signal,
    });
    expect(partial.aborted).toBe(true);
    const second = runner(SCRIPT);
    const full = await runBenchmark({
      pairs: PAIRS,
      runPair: second.runPair,
      judge: createConceptJudge(),
      store: createFileRecordStore(dir),
    });
    expect(second.calls).toEqual(['1', '2']);
    expect(full.records.map((r) => r.status)).toEqual(['done', 'done', 'done']);
    expect(summarize(await createFileRecordStore(dir).list(), { pairs: PAIRS }).accN?.mean).toBe(2.5 / 3);
  });
});
