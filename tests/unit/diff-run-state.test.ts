// DiffRunState (a Svelte rune class, compiled for the client runtime: see vite.config.ts) driven by scripted event
// streams: timeline and live view, cancel keeping the partial ranking, failed rounds, run failures, presets and
// validation, the plain config handed to `start`, endpoint persistence, and one run over the real pipeline.
import { describe, expect, it } from 'vitest';
import { presetConfig, type DiffConfig } from '../../src/lib/core/diff-config.ts';
import type { DiffEvent } from '../../src/lib/core/diff-events.ts';
import type { EncodedImage } from '../../src/lib/core/ports.ts';
import type { PoolFinding, RunRecord } from '../../src/lib/core/run-record.ts';
import { runDiff } from '../../src/lib/core/pipeline.ts';
import {
  DiffRunState,
  SETUP_STORAGE_KEY,
  type DiffRunOptions,
  type DiffRunSetup,
  type KeyValueStorage,
  type TimelineRow,
} from '../../src/lib/state/diff-run.svelte.ts';
import {
  createWorld,
  memoryCache,
  newCounts,
  scriptedCaptioner,
  scriptedCompositor,
  scriptedEmbedder,
  scriptedLlm,
} from '../fakes/scripted-ports.ts';

// ---------------------------------------------------------------------------------------------------------------
// Scripted streams

function finding(text: string, auroc: number, index = 0): PoolFinding {
  return {
    index,
    finding: text,
    auroc,
    aurocCI: { lo: auroc - 0.1, hi: Math.min(1, auroc + 0.1) },
    meanA: 0.3,
    meanB: 0.2,
    pWelch: 0.01,
    pMannWhitney: 0.01,
    q: 0.02,
    cliffsDelta: 2 * auroc - 1,
    classificationDelta: 0.2,
    threshold: 0.3,
    nA: 10,
    nB: 10,
    ciContainsHalf: false,
    origins: [{ proposer: 'raddiff', iteration: 1, round: 1 }],
    merged: [],
  };
}

function record(
  config: DiffConfig,
  patch: Partial<Pick<RunRecord, 'status' | 'ranking' | 'failures' | 'warnings'>> = {},
): RunRecord {
  return {
    schemaVersion: 1,
    app: { name: 'raddiff-web', version: 'test' },
    runId: 'run-1',
    status: 'done',
    config,
    inputs: { images: [], counts: { A: 2, B: 2, reports: 0 } },
    models: { embedder: 'clip' },
    promptVersions: {},
    iterations: [],
    calls: [],
    ranking: [],
    unranked: [],
    execution: { startedAt: '', totalMs: 0, portMs: 0, stages: {}, modelCalls: 0, cacheHits: 0 },
    failures: [],
    warnings: [],
    ...patch,
  };
}

const png = (key: string): EncodedImage => ({
  key,
  mime: 'image/png',
  bytes: new Uint8Array([1, 2, 3]),
  width: 10,
  height: 8,
});

const at = (iteration: number, round: number) => ({ iteration, round });

/** Iteration 1, one round: sample 2 + 2, caption, grids, propose (malformed then ok), merge, rank. */
function iterationOne(pool: PoolFinding[]): DiffEvent[] {
  const w = at(1, 1);
  return [
    { type: 'run-start', runId: 'run-1', iterations: 2, rounds: 1, nA: 2, nB: 2 },
    { type: 'stage', stage: 'embed', done: 2, total: 4 },
    { type: 'stage', stage: 'embed', done: 4, total: 4 },
    { type: 'iteration-start', iteration: 1 },
    { type: 'round-start', ...w },
    { type: 'sampled', ...w, a: ['a1', 'a2'], b: ['b1', 'b2'] },
    { type: 'captioned', ...w, imageId: 'a1', text: 'effusion right', cached: false, done: 1, total: 4 },
    { type: 'captioned', ...w, imageId: 'a2', text: 'effusion', cached: true, done: 2, total: 4 },
    { type: 'captioned', ...w, imageId: 'b1', text: '', cached: false, error: 'no text', done: 3, total: 4 },
    { type: 'captioned', ...w, imageId: 'b2', text: 'clear lungs', cached: false, done: 4, total: 4 },
    { type: 'composed', ...w, purpose: 'grid-a', image: png('grid-a') },
    { type: 'composed', ...w, purpose: 'grid-b', image: png('grid-b') },
    {
      type: 'prompt',
      ...w,
      purpose: 'propose',
      messages: [{ role: 'user', content: 'Group A: effusion right' }],
    },
    {
      type: 'reply',
      ...w,
      purpose: 'propose',
      attempt: 1,
      outcome: 'malformed',
      text: '{"diff',
      problem: 'bad JSON',
      cached: false,
    },
    {
      type: 'reply',
      ...w,
      purpose: 'propose',
      attempt: 2,
      outcome: 'ok',
      text: '{"differences":["x"]}',
      cached: false,
    },
    { type: 'proposed', ...w, findings: ['right pleural effusion'], dropped: [] },
    { type: 'deduplicated', iteration: 1, kept: 1, merged: [] },
    { type: 'ranked', iteration: 1, pool },
  ];
}

/** Iteration 2, one round with visual search: combined grid, boxes, crops, refine; localized ranking. */
function iterationTwo(pool: PoolFinding[]): DiffEvent[] {
  const w = at(2, 1);
  const box = { x1: 0.5, y1: 0.5, x2: 1, y2: 1 };
  return [
    { type: 'iteration-start', iteration: 2 },
    { type: 'round-start', ...w },
    { type: 'sampled', ...w, a: ['a2', 'a1'], b: ['b2', 'b1'] },
    ...(['a2', 'a1', 'b2', 'b1'] as const).map((id, i): DiffEvent => ({
      type: 'captioned',
      ...w,
      imageId: id,
      text: `c ${id}`,
      cached: true,
      done: i + 1,
      total: 4,
    })),
    { type: 'composed', ...w, purpose: 'grid-a', image: png('grid-a2') },
    { type: 'composed', ...w, purpose: 'grid-b', image: png('grid-b2') },
    { type: 'composed', ...w, purpose: 'combined', image: png('combined') },
    { type: 'prompt', ...w, purpose: 'boxes', messages: [{ role: 'user', content: 'boxes please' }] },
    { type: 'reply', ...w, purpose: 'boxes', attempt: 1, outcome: 'ok', text: '{"boxes":[]}', cached: true },
    { type: 'boxes', ...w, boxes: [{ finding: 'right pleural effusion', box, source: 'model' }] },
    { type: 'composed', ...w, purpose: 'crops', image: png('crops'), finding: 'right pleural effusion', box },
    { type: 'prompt', ...w, purpose: 'refine', messages: [{ role: 'user', content: 'refine' }] },
    {
      type: 'reply',
      ...w,
      purpose: 'refine',
      attempt: 1,
      outcome: 'ok',
      text: '{"differences":["y"]}',
      cached: false,
    },
    { type: 'proposed', ...w, findings: ['blunted right costophrenic angle'], dropped: [] },
    { type: 'deduplicated', iteration: 2, kept: 2, merged: [] },
    { type: 'stage', stage: 'crop', done: 4, total: 4, iteration: 2 },
    { type: 'ranked', iteration: 2, pool },
  ];
}

type Hook = (state: DiffRunState) => void;

/**
 * A `start` that yields `events` in order, calling `hooks[i]` after event i was applied (the consumer asks for
 * the next event only after applying the previous one). `waitForAbortAfter` = index after which the stream waits for
 * the signal, then yields `done` with a cancelled record (as the pipeline does).
 */
function scripted(
  events: DiffEvent[],
  options: {
    hooks?: Record<number, Hook>;
    waitForAbortAfter?: number;
    cancelledRanking?: PoolFinding[];
  } = {},
) {
  const calls: { config: DiffConfig; signal: AbortSignal; setup: DiffRunSetup }[] = [];
  let state: DiffRunState | null = null;
  const start = async function* (config: DiffConfig, signal: AbortSignal, setup: DiffRunSetup) {
    calls.push({ config, signal, setup });
    for (let i = 0; i < events.length; i++) {
      yield events[i] as DiffEvent;
      options.hooks?.[i]?.(state!);
      if (i === options.waitForAbortAfter) {
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        });
        yield {
          type: 'done',
          record: record(config, { status: 'cancelled', ranking: options.cancelledRanking ?? [] }),
        } satisfies DiffEvent;
        return;
      }
    }
  };
  return {
    calls,
    bind(s: DiffRunState) {
      state = s;
      return s;
    },
    start,
  };
}

function fakeUrls() {
  let n = 0;
  const live = new Set<string>();
  const revoked: string[] = [];
  return {
    live,
    revoked,
    objectUrls: {
      create: (image: EncodedImage) => {
        const url = `blob:test/${image.key}/${++n}`;
        live.add(url);
        return url;
      },
      revoke: (url: string) => {
        live.delete(url);
        revoked.push(url);
      },
    },
  };
}

function memoryStorage(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
  };
}

function newState(start: ReturnType<typeof scripted>, options: DiffRunOptions = {}) {
  return start.bind(
    new DiffRunState(start.start, {
      counts: () => ({ A: 2, B: 2 }),
      storage: null,
      ...options,
    }),
  );
}

const row = (state: DiffRunState, key: string): TimelineRow => {
  const r = state.stages.find((x) => x.key === key);
  if (!r) throw new Error(`no row ${key}: ${state.stages.map((x) => x.key).join(', ')}`);
  return r;
};
const chips = (r: TimelineRow) => r.stages.map((s) => `${s.stage}:${s.state}`);

// ---------------------------------------------------------------------------------------------------------------

describe('DiffRunState: a run from a scripted stream', () => {
  it('builds the timeline, fills the live view, and ends with the record and ranking', async () => {
    const pool1 = [finding('right pleural effusion', 0.8)];
    const pool2 = [
      finding('blunted right costophrenic angle', 0.85, 1),
      finding('right pleural effusion', 0.8),
    ];
    const events = [...iterationOne(pool1), ...iterationTwo(pool2)];
    const seen: Record<string, unknown> = {};
    const hooks: Record<number, Hook> = {
      1: (s) => {
        seen['statusWhileRunning'] = s.status;
        seen['embed'] = row(s, 'setup').stages[0];
      },
      6: (s) => (seen['captionChip'] = row(s, 'round-1-1').stages.find((c) => c.stage === 'caption')),
      13: (s) => (seen['afterMalformed'] = s.calls.at(-1)?.outcome),
      15: (s) => (seen['round1'] = chips(row(s, 'round-1-1'))),
      17: (s) => (seen['rankingAfterIteration1'] = s.ranking.map((f) => f.finding)),
      19: (s) => (seen['statusText'] = s.statusText),
    };
    const urls = fakeUrls();
    const script = scripted(
      [...events, { type: 'done', record: record(presetConfig('raddiff'), { ranking: pool2 }) }],
      {
        hooks,
      },
    );
    const state = newState(script, { objectUrls: urls.objectUrls });
    state.setField('iterations', 2);
    state.setField('rounds', 1);
    expect(state.preset).toBe('custom');
    expect(state.canStart).toBe(true);
    await state.run();

    expect(seen['statusWhileRunning']).toBe('running');
    expect(seen['embed']).toMatchObject({ stage: 'embed', state: 'active', done: 2, total: 4 });
    expect(seen['captionChip']).toMatchObject({ state: 'active', done: 1, total: 4 });
    expect(seen['afterMalformed']).toBe('malformed');
    // Iteration 1 has no boxes or crops; the propose chip closes the row.
    expect(seen['round1']).toEqual(['sample:done', 'caption:done', 'compose:done', 'propose:done']);
    expect(seen['rankingAfterIteration1']).toEqual(['right pleural effusion']);
    expect(seen['statusText']).toBe('Running: iteration 2, round 1.');

    // Timeline at the end: everything done, iteration 2 with boxes, crops, refine and localized ranking.
    expect(state.stages.map((r) => [r.key, r.state])).toEqual([
      ['setup', 'done'],
      ['round-1-1', 'done'],
      ['iteration-1', 'done'],
      ['round-2-1', 'done'],
      ['iteration-2', 'done'],
    ]);
    const round2 = row(state, 'round-2-1');
    expect(chips(round2)).toEqual([
      'sample:done',
      'caption:done',
      'compose:done',
      'boxes:done',
      'crop:done',
      'propose:done',
    ]);
    expect(round2.stages.find((c) => c.stage === 'propose')?.label).toBe('Refine');
    expect(round2.stages.find((c) => c.stage === 'compose')?.done).toBe(3);
    expect(round2.stages.find((c) => c.stage === 'crop')).toMatchObject({ done: 1, total: 1 });
    expect(chips(row(state, 'iteration-2'))).toEqual(['dedup:done', 'rank:done', 'crop:done']);

    // Live view.
    expect(state.sampled).toEqual({ iteration: 2, round: 1, a: ['a2', 'a1'], b: ['b2', 'b1'] });
    expect(state.captions.size).toBe(4);
    expect(state.captions.get('b1')).toMatchObject({ set: 'B', text: 'c b1', cached: true, iteration: 2 });
    expect(state.compositions.map((c) => c.purpose)).toEqual([
      'grid-a',
      'grid-b',
      'grid-a',
      'grid-b',
      'combined',
      'crops',
    ]);
    expect(state.compositions.at(-1)).toMatchObject({
      finding: 'right pleural effusion',
      width: 10,
      height: 8,
    });
    expect(state.compositions.every((c) => urls.live.has(c.url))).toBe(true);
    expect(state.calls.map((c) => [c.purpose, c.outcome, c.attempts.length])).toEqual([
      ['propose', 'ok', 2],
      ['boxes', 'ok', 1],
      ['refine', 'ok', 1],
    ]);
    expect(state.calls[0]?.attempts[0]).toMatchObject({
      outcome: 'malformed',
      problem: 'bad JSON',
      text: '{"diff',
    });
    expect(state.calls[1]?.attempts[0]?.cached).toBe(true);
    expect(state.calls[0]?.messages[0]?.content).toContain('Group A');
    expect(state.boxes).toHaveLength(1);
    expect(state.proposals.map((p) => p.findings[0])).toEqual([
      'right pleural effusion',
      'blunted right costophrenic angle',
    ]);

    expect(state.status).toBe('done');
    expect(state.record?.status).toBe('done');
    expect(state.ranking.map((f) => f.finding)).toEqual(pool2.map((f) => f.finding));
    expect(state.statusText).toBe('Done: 2 findings ranked.');
    expect(state.running).toBe(false);
  });

  it('captions in iteration 1 know their set from the sample', async () => {
    const script = scripted([...iterationOne([]), { type: 'done', record: record(presetConfig('raddiff')) }]);
    const state = newState(script, { objectUrls: fakeUrls().objectUrls });
    await state.run();
    expect(state.captions.get('a1')).toMatchObject({ set: 'A', cached: false, text: 'effusion right' });
    expect(state.captions.get('b1')).toMatchObject({ set: 'B', error: 'no text' });
  });

  it('hands `start` a plain snapshot of the config (no Svelte proxy) and the provider setup', async () => {
    const script = scripted([{ type: 'done', record: record(presetConfig('raddiff')) }]);
    const state = newState(script);
    state.setUserFindings(['cardiomegaly']);
    state.setField('seed', 7);
    await state.run();
    const call = script.calls[0]!;
    // A proxy cannot be structured-cloned (postMessage would throw); the edited config is one.
    expect(() => structuredClone(state.config)).toThrow();
    expect(structuredClone(call.config)).toEqual(call.config);
    expect(call.config).not.toBe(state.config);
    expect(call.config).toMatchObject({ preset: 'custom', seed: 7, userFindings: ['cardiomegaly'] });
    expect(structuredClone(call.setup)).toEqual({
      providers: { captioner: 'local', llm: 'local' },
      endpoint: null,
    });
    // Editing after the start does not reach the running config.
    state.setField('seed', 8);
    expect(call.config.seed).toBe(7);
  });
});

describe('DiffRunState: cancel', () => {
  it('cancel mid-run keeps the partial ranking and unwinds the interrupted stage', async () => {
    const pool1 = [finding('right pleural effusion', 0.8), finding('cardiomegaly', 0.6, 1)];
    const events: DiffEvent[] = [
      ...iterationOne(pool1),
      { type: 'iteration-start', iteration: 2 },
      { type: 'round-start', ...at(2, 1) },
      { type: 'sampled', ...at(2, 1), a: ['a1'], b: ['b1'] },
      { type: 'captioned', ...at(2, 1), imageId: 'a1', text: 'x', cached: true, done: 1, total: 2 },
    ];
    const last = events.length - 1;
    const seen: Record<string, unknown> = {};
    const script = scripted(events, {
      waitForAbortAfter: last,
      cancelledRanking: pool1,
      hooks: {
        [last]: (s) => {
          s.cancel();
          seen['cancelRequested'] = s.cancelRequested;
          seen['statusText'] = s.statusText;
          seen['status'] = s.status;
        },
      },
    });
    const state = newState(script, { objectUrls: fakeUrls().objectUrls });
    state.setField('rounds', 1);
    await state.run();

    expect(seen).toEqual({ cancelRequested: true, statusText: 'Cancelling…', status: 'running' });
    expect(script.calls[0]!.signal.aborted).toBe(true);
    expect(state.status).toBe('cancelled');
    expect(state.cancelRequested).toBe(false);
    expect(state.record?.status).toBe('cancelled');
    expect(state.ranking.map((f) => f.finding)).toEqual(['right pleural effusion', 'cardiomegaly']);
    expect(state.statusText).toBe('Cancelled: 2 findings ranked so far are kept.');
    // Work done stays done; the interrupted round goes back to pending, never "failed".
    expect(row(state, 'iteration-1').state).toBe('done');
    const interrupted = row(state, 'round-2-1');
    expect(interrupted.state).toBe('pending');
    expect(chips(interrupted)).toContain('sample:done');
    expect(interrupted.stages.some((c) => c.state === 'failed' || c.state === 'active')).toBe(false);
    // The live view keeps what was computed.
    expect(state.captions.size).toBe(4);
    expect(state.failures).toEqual([]);
  });

  it('a stream that throws AbortError after cancel ends cancelled, not failed', async () => {
    const holder: { state?: DiffRunState } = {};
    const start = async function* (_config: DiffConfig, signal: AbortSignal): AsyncGenerator<DiffEvent> {
      yield { type: 'run-start', runId: 'r', iterations: 1, rounds: 1, nA: 2, nB: 2 };
      holder.state?.cancel();
      await Promise.resolve();
      if (signal.aborted) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    };
    const state = (holder.state = new DiffRunState(start, { counts: () => ({ A: 2, B: 2 }), storage: null }));
    await state.run();
    expect(state.status).toBe('cancelled');
    expect(state.failures).toEqual([]);
  });
});

describe('DiffRunState: failures', () => {
  it('shows a failed round on its row and in the live view, and the run continues', async () => {
    const w = at(1, 2);
    const events: DiffEvent[] = [
      ...iterationOne([]).slice(0, -2),
      { type: 'round-start', ...w },
      { type: 'sampled', ...w, a: ['a1'], b: ['b1'] },
      { type: 'captioned', ...w, imageId: 'a1', text: 'x', cached: false, done: 1, total: 2 },
      { type: 'captioned', ...w, imageId: 'b1', text: 'y', cached: false, done: 2, total: 2 },
      { type: 'prompt', ...w, purpose: 'propose', messages: [{ role: 'user', content: 'p' }] },
      {
        type: 'reply',
        ...w,
        purpose: 'propose',
        attempt: 1,
        outcome: 'timeout',
        problem: 'no reply',
        cached: false,
      },
      {
        type: 'reply',
        ...w,
        purpose: 'propose',
        attempt: 2,
        outcome: 'error',
        problem: 'HTTP 500',
        cached: false,
      },
      { type: 'round-failed', ...w, reason: 'HTTP 500 (after 2 attempts)' },
      { type: 'deduplicated', iteration: 1, kept: 1, merged: [] },
      { type: 'ranked', iteration: 1, pool: [finding('right pleural effusion', 0.8)] },
    ];
    const config = presetConfig('raddiff');
    const script = scripted([
      ...events,
      {
        type: 'done',
        record: record(config, {
          ranking: [finding('right pleural effusion', 0.8)],
          failures: [{ stage: 'round', iteration: 1, round: 2, message: 'HTTP 500 (after 2 attempts)' }],
          warnings: ['no compositor: the model sees captions or reports only, no image grids'],
        }),
      },
    ]);
    const state = newState(script, { objectUrls: fakeUrls().objectUrls });
    state.setField('iterations', 1);
    state.setField('rounds', 2);
    await state.run();

    expect(state.status).toBe('done');
    expect(state.roundFailures).toEqual([{ iteration: 1, round: 2, reason: 'HTTP 500 (after 2 attempts)' }]);
    const failed = row(state, 'round-1-2');
    expect(failed.state).toBe('failed');
    expect(failed.problem).toBe('HTTP 500 (after 2 attempts)');
    expect(chips(failed)).toEqual(['sample:done', 'caption:done', 'compose:pending', 'propose:failed']);
    expect(row(state, 'round-1-1').state).toBe('done');
    expect(row(state, 'iteration-1').state).toBe('done');
    expect(state.calls.at(-1)).toMatchObject({
      outcome: 'error',
      attempts: [{ outcome: 'timeout' }, { outcome: 'error' }],
    });
    // Round failures are not run failures; record warnings reach the live view.
    expect(state.failures).toEqual([]);
    expect(state.warnings).toEqual([
      'no compositor: the model sees captions or reports only, no image grids',
    ]);
    expect(state.statusText).toBe('Done: 1 findings ranked; 1 round failed.');
  });

  it('a failed embedding fails the setup row and says why', async () => {
    const config = presetConfig('raddiff');
    const script = scripted([
      { type: 'run-start', runId: 'r', iterations: 2, rounds: 3, nA: 2, nB: 2 },
      { type: 'stage', stage: 'embed', done: 1, total: 4 },
      {
        type: 'done',
        record: record(config, {
          status: 'failed',
          failures: [{ stage: 'embed', message: 'WebGPU device lost' }],
        }),
      },
    ]);
    const state = newState(script);
    await state.run();
    expect(state.status).toBe('failed');
    expect(state.failures).toEqual([{ stage: 'embed', message: 'WebGPU device lost' }]);
    expect(row(state, 'setup')).toMatchObject({ state: 'failed', problem: 'WebGPU device lost' });
    expect(chips(row(state, 'setup'))).toEqual(['embed:failed']);
    expect(state.statusText).toBe('Failed: WebGPU device lost.');
  });

  it('model loading, when the launcher reports it, comes first in the setup row', async () => {
    const config = presetConfig('raddiff');
    const script = scripted([
      { type: 'run-start', runId: 'r', iterations: 2, rounds: 3, nA: 2, nB: 2 },
      { type: 'stage', stage: 'load', done: 10, total: 100 },
      { type: 'stage', stage: 'load', done: 100, total: 100 },
      { type: 'stage', stage: 'embed', done: 1, total: 4 },
      {
        type: 'done',
        record: record(config, { status: 'failed', failures: [{ stage: 'embed', message: 'stop' }] }),
      },
    ]);
    const state = newState(script);
    await state.run();
    expect(chips(row(state, 'setup'))).toEqual(['load:done', 'embed:failed']);
  });

  it('a `start` that throws (ports could not be built) fails the run with its message', async () => {
    const start = async function* (): AsyncGenerator<DiffEvent> {
      yield* [];
      throw new Error('the captioner model failed to load');
    };
    const state = new DiffRunState(start, { counts: () => ({ A: 1, B: 1 }), storage: null });
    await state.run();
    expect(state.status).toBe('failed');
    expect(state.failures).toEqual([{ stage: 'run', message: 'the captioner model failed to load' }]);
  });

  it('a stream that ends without `done` is a failure', async () => {
    const start = async function* (): AsyncGenerator<DiffEvent> {
      yield { type: 'run-start', runId: 'r', iterations: 1, rounds: 1, nA: 1, nB: 1 };
    };
    const state = new DiffRunState(start, { counts: () => ({ A: 1, B: 1 }), storage: null });
    await state.run();
    expect(state.status).toBe('failed');
    expect(state.failures[0]?.message).toBe('the run ended without a record');
  });
});

describe('DiffRunState: reset', () => {
  it('revokes object URLs and forgets the run; the setup stays', async () => {
    const urls = fakeUrls();
    const script = scripted([...iterationOne([]), { type: 'done', record: record(presetConfig('raddiff')) }]);
    const state = newState(script, { objectUrls: urls.objectUrls });
    state.setField('seed', 3);
    await state.run();
    expect(urls.live.size).toBe(2);
    state.reset();
    expect(urls.live.size).toBe(0);
    expect(urls.revoked).toHaveLength(2);
    expect(state.status).toBe('idle');
    expect(state.compositions).toEqual([]);
    expect(state.captions.size).toBe(0);
    expect(state.stages).toEqual([]);
    expect(state.record).toBeNull();
    expect(state.config.seed).toBe(3);
  });

  it('a new run frees the previous run’s images', async () => {
    const urls = fakeUrls();
    const script = scripted([...iterationOne([]), { type: 'done', record: record(presetConfig('raddiff')) }]);
    const state = newState(script, { objectUrls: urls.objectUrls });
    await state.run();
    await state.run();
    expect(urls.revoked).toHaveLength(2);
    expect(urls.live.size).toBe(2);
  });

  it('reset during a run aborts it and ignores its remaining events', async () => {
    const script = scripted(iterationOne([]), {
      waitForAbortAfter: 5,
      hooks: { 5: (s) => s.reset() },
    });
    const state = newState(script, { objectUrls: fakeUrls().objectUrls });
    await state.run();
    expect(script.calls[0]!.signal.aborted).toBe(true);
    expect(state.status).toBe('idle');
    expect(state.record).toBeNull();
    expect(state.sampled).toBeNull();
  });
});

describe('DiffRunState: presets and validation', () => {
  it('switching preset resets every field but keeps typed findings', () => {
    const state = new DiffRunState(scripted([]).start, { storage: null });
    expect(state.preset).toBe('raddiff');
    state.setUserFindings(['cardiomegaly']);
    state.setField('rounds', 5);
    expect(state.preset).toBe('custom');
    expect(state.config.preset).toBe('custom');
    expect(state.config.rounds).toBe(5);
    expect(state.config.iterations).toBe(2);

    state.setPreset('quick');
    expect(state.config).toMatchObject({
      preset: 'quick',
      proposer: 'concept-bank',
      iterations: 1,
      rounds: 1,
    });
    expect(state.needs).toEqual({ captioner: false, llm: false, vision: false });
    expect(state.config.userFindings).toEqual(['cardiomegaly']);

    state.setPreset('report-guided');
    expect(state.config).toMatchObject({ preset: 'report-guided', proposer: 'report-guided', rounds: 3 });
    expect(state.needs.captioner).toBe(false);

    state.setPreset('custom');
    expect(state.config).toMatchObject({ preset: 'custom', proposer: 'raddiff', rounds: 3 });
    // Typed findings never turn a preset into custom.
    state.setPreset('raddiff');
    state.setUserFindings(['a', 'b']);
    expect(state.preset).toBe('raddiff');
  });

  it('reports problems per field and blocks the start', () => {
    const state = new DiffRunState(scripted([]).start, { storage: null, counts: () => ({ A: 3, B: 3 }) });
    expect(state.canStart).toBe(true);
    expect(state.statusText).toBe('Ready to start.');
    state.setField('iterations', 0);
    state.setField('temperature', Number.NaN);
    state.setField('findingsMin', 12);
    expect(state.validation.ok).toBe(false);
    expect(Object.keys(state.fieldProblems).sort()).toEqual(['iterations', 'temperature']);
    expect(state.fieldProblems['iterations']?.[0]).toMatch(/1/);
    expect(state.canStart).toBe(false);
    expect(state.blockers).toEqual(['Fix the settings marked below.']);
    expect(state.estimate).toBeNull();
    state.setField('iterations', 2);
    state.setField('temperature', 0.7);
    // The cross-field rule has no single field.
    expect(state.fieldProblems['config']).toEqual(['findingsMin must not exceed findingsMax']);
    state.setField('findingsMax', 12);
    expect(state.validation.ok).toBe(true);
    expect(state.canStart).toBe(true);
  });

  it('needs images in both sets', async () => {
    const script = scripted([]);
    const state = new DiffRunState(script.start, { storage: null, counts: () => ({ A: 0, B: 4 }) });
    expect(state.blockers).toEqual(['Add images to set A.']);
    expect(state.statusText).toBe('Add images to set A.');
    await state.run();
    expect(script.calls).toHaveLength(0);
    expect(state.status).toBe('idle');
  });

  it('estimates with local models, and costs endpoint roles as nothing to download', () => {
    const models = () => ({
      ranker: { id: 'clip', downloadMB: 100, gpuMB: 200 },
      captioner: { id: 'vlm', downloadMB: 1000, gpuMB: 1500 },
      llm: { id: 'llm', downloadMB: 2000, gpuMB: 3000 },
    });
    const state = new DiffRunState(scripted([]).start, {
      storage: null,
      counts: () => ({ A: 40, B: 40 }),
      models,
    });
    expect(state.estimate).toMatchObject({
      downloadMB: 3100,
      peakGpuMB: 4700,
      calls: { captions: 240, llm: 9 },
    });
    state.setProvider('llm', 'endpoint');
    state.setEndpoint({ model: 'qwen2.5vl:7b' });
    expect(state.estimate).toMatchObject({ downloadMB: 1100, peakGpuMB: 1700 });
    state.setPreset('quick');
    expect(state.estimate).toMatchObject({ downloadMB: 100, calls: { captions: 0, llm: 0, embeddings: 80 } });
  });
});

describe('DiffRunState: endpoint settings', () => {
  it('persists providers and settings without the API key unless asked to remember it', () => {
    const storage = memoryStorage();
    const state = new DiffRunState(scripted([]).start, { storage });
    state.setProvider('llm', 'endpoint');
    state.setEndpoint({
      baseUrl: 'https://api.example.com/v1',
      model: 'gpt-x',
      apiKey: 'sk-secret',
      vision: false,
    });
    const saved = storage.data.get(SETUP_STORAGE_KEY)!;
    expect(saved).not.toContain('sk-secret');
    expect(JSON.parse(saved)).toMatchObject({
      providers: { captioner: 'local', llm: 'endpoint' },
      endpoint: { baseUrl: 'https://api.example.com/v1', model: 'gpt-x', vision: false },
      rememberKey: false,
    });
    // The key is kept in memory for this session.
    expect(state.endpointParsed.ok && state.endpointParsed.settings.apiKey).toBe('sk-secret');

    state.setRememberKey(true);
    expect(storage.data.get(SETUP_STORAGE_KEY)).toContain('sk-secret');
    const again = new DiffRunState(scripted([]).start, { storage });
    expect(again.endpoint.apiKey).toBe('sk-secret');
    expect(again.providers.llm).toBe('endpoint');

    again.setRememberKey(false);
    expect(storage.data.get(SETUP_STORAGE_KEY)).not.toContain('sk-secret');
    const third = new DiffRunState(scripted([]).start, { storage });
    expect(third.endpoint.apiKey).toBe('');
    expect(third.endpoint.model).toBe('gpt-x');
  });

  it('ignores unreadable stored settings', () => {
    const storage = memoryStorage();
    storage.data.set(SETUP_STORAGE_KEY, '{not json');
    const state = new DiffRunState(scripted([]).start, { storage });
    expect(state.providers).toEqual({ captioner: 'local', llm: 'local' });
    storage.data.set(
      SETUP_STORAGE_KEY,
      JSON.stringify({ providers: { llm: 'cloud' }, endpoint: { jsonMode: 'xml' } }),
    );
    const other = new DiffRunState(scripted([]).start, { storage });
    expect(other.providers.llm).toBe('local');
    expect(other.endpoint.jsonMode).toBe('json_schema');
  });

  it('says what will be sent, blocks a start until the server is set up, and passes the settings to start', async () => {
    const script = scripted([{ type: 'done', record: record(presetConfig('raddiff')) }]);
    const state = newState(script);
    state.setProvider('captioner', 'endpoint');
    state.setEndpoint({ baseUrl: '', model: '' });
    expect(state.endpointInUse).toBe(true);
    expect(state.endpointProblems.length).toBeGreaterThan(0);
    expect(state.blockers).toContain('Complete the server settings (URL and model).');
    state.setEndpoint({ baseUrl: 'http://127.0.0.1:8080', model: 'qwen', vision: false, apiKey: 'k' });
    expect(state.blockers).toEqual([
      'The captioner must see images: tick “vision” for the server model, or caption in this browser.',
    ]);
    state.setEndpoint({ vision: true });
    expect(state.canStart).toBe(true);
    expect(state.endpointTraffic.join(' ')).toContain('http://127.0.0.1:8080');
    await state.run();
    expect(script.calls[0]!.setup).toEqual({
      providers: { captioner: 'endpoint', llm: 'local' },
      endpoint: {
        baseUrl: 'http://127.0.0.1:8080/v1',
        model: 'qwen',
        vision: true,
        jsonMode: 'json_schema',
        apiKey: 'k',
      },
    });
    // An endpoint chosen for a role the preset does not use is not in use.
    state.setPreset('quick');
    expect(state.endpointInUse).toBe(false);
  });

  it('tests the connection through the injected model listing', async () => {
    let fail = false;
    const state = new DiffRunState(scripted([]).start, {
      storage: null,
      listModels: async (settings) => {
        if (fail) throw new Error(`could not reach ${settings.baseUrl}`);
        return ['qwen', 'llama'];
      },
    });
    state.setEndpoint({ baseUrl: 'http://127.0.0.1:8080', model: 'qwen' });
    const pending = state.testEndpoint();
    expect(state.endpointTest.status).toBe('testing');
    await pending;
    expect(state.endpointTest).toMatchObject({ status: 'ok', models: ['qwen', 'llama'] });
    state.setEndpoint({ model: 'mistral' });
    expect(state.endpointTest.status).toBe('idle');
    await state.testEndpoint();
    expect(state.endpointTest.status === 'ok' && state.endpointTest.message).toContain('not among');
    fail = true;
    await state.testEndpoint();
    expect(state.endpointTest).toEqual({
      status: 'failed',
      message: 'could not reach http://127.0.0.1:8080/v1',
    });
    state.setEndpoint({ baseUrl: 'ftp://x' });
    await state.testEndpoint();
    expect(state.endpointTest.status).toBe('failed');
  });
});

describe('DiffRunState over the real pipeline with scripted ports', () => {
  it('ends with every timeline row done and the ranking of the record', async () => {
    const world = createWorld({ nA: 30, nB: 30, truth: 'right pleural effusion', seed: 3 });
    const counts = newCounts();
    let clock = 0;
    const ports = {
      embedder: scriptedEmbedder(world, counts),
      captioner: scriptedCaptioner(world, counts),
      llm: scriptedLlm(counts, { vision: true }),
      compositor: scriptedCompositor(counts),
      cache: memoryCache(),
      now: () => (clock += 1),
      sleep: async () => {},
    };
    const urls = fakeUrls();
    const state = new DiffRunState(
      (config, signal) => runDiff(ports, { images: world.images }, config, signal),
      {
        storage: null,
        counts: () => ({ A: 30, B: 30 }),
        objectUrls: urls.objectUrls,
      },
    );
    state.setField('samplesPerSet', 8);
    await state.run();
    expect(state.status).toBe('done');
    expect(state.stages.filter((r) => r.state !== 'done').map((r) => r.key)).toEqual([]);
    expect(state.stages.flatMap((r) => r.stages).every((s) => s.state === 'done')).toBe(true);
    expect(state.stages.filter((r) => r.kind === 'round')).toHaveLength(6);
    expect(state.ranking).toBe(state.record?.ranking);
    expect(state.ranking[0]?.finding.toLowerCase()).toContain('right pleural effusion');
    expect(state.calls.filter((c) => c.purpose === 'boxes')).toHaveLength(3);
    expect(state.compositions.length).toBe(urls.live.size);
  });
});
