// runDiff with scripted ports: the RadDiff loop end to end (events, ranking, record), reproducibility from warm
// caches, sampling determinism, every bad reply and fault of issue 4 (fuzzed too), cancel, and the LLM-free
// proposers.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runDiff, type DiffInput } from '../../src/lib/core/pipeline.ts';
import { presetConfig, type DiffConfig } from '../../src/lib/core/diff-config.ts';
import type { DiffEvent } from '../../src/lib/core/diff-events.ts';
import type { DiffPorts } from '../../src/lib/core/ports.ts';
import type { RunRecord } from '../../src/lib/core/run-record.ts';
import { expandBankPhrases, DEFAULT_BANK } from '../../src/lib/core/concept-bank.ts';
import {
  createWorld,
  memoryCache,
  newCounts,
  scriptedCaptioner,
  scriptedCompositor,
  scriptedEmbedder,
  scriptedLlm,
  type CallCounts,
  type LlmFault,
  type LlmScript,
  type World,
} from '../fakes/scripted-ports.ts';

const TRUTH = 'right pleural effusion';
const instantSleep = async () => {};

interface Setup {
  world: World;
  counts: CallCounts;
  ports: DiffPorts;
  llm: ReturnType<typeof scriptedLlm>;
  cache: ReturnType<typeof memoryCache>;
}

function setup(
  options: {
    world?: World;
    faults?: (LlmFault | undefined)[];
    script?: LlmScript;
    cache?: ReturnType<typeof memoryCache>;
    vision?: boolean;
    emptyCaptions?: Set<string>;
    embedFail?: Error;
  } = {},
): Setup {
  const world = options.world ?? createWorld({ nA: 40, nB: 40, truth: TRUTH, seed: 3 });
  const counts = newCounts();
  const llm = scriptedLlm(counts, {
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.script ? { script: options.script } : {}),
    vision: options.vision ?? true,
  });
  const cache = options.cache ?? memoryCache();
  let clock = 0;
  const ports: DiffPorts = {
    embedder: scriptedEmbedder(world, counts, options.embedFail ? { fail: options.embedFail } : {}),
    captioner: scriptedCaptioner(
      world,
      counts,
      options.emptyCaptions ? { emptyIds: options.emptyCaptions } : {},
    ),
    llm,
    compositor: scriptedCompositor(counts),
    cache,
    now: () => (clock += 1),
    sleep: instantSleep,
  };
  return { world, counts, ports, llm, cache };
}

async function collect(
  ports: DiffPorts,
  input: DiffInput,
  config: DiffConfig,
  signal?: AbortSignal,
): Promise<{ events: DiffEvent[]; record: RunRecord }> {
  const events: DiffEvent[] = [];
  for await (const event of runDiff(ports, input, config, signal)) events.push(event);
  const last = events[events.length - 1];
  if (last?.type !== 'done') throw new Error(`last event was ${last?.type}`);
  return { events, record: last.record };
}

const raddiff = (overrides: Partial<DiffConfig> = {}): DiffConfig => ({
  ...presetConfig('raddiff'),
  ...overrides,
});

/** The record without the execution section (the only part allowed to differ between identical runs). */
function reproducible(record: RunRecord): Omit<RunRecord, 'execution'> {
  const { execution: _execution, ...rest } = record;
  return JSON.parse(JSON.stringify(rest)) as Omit<RunRecord, 'execution'>;
}

describe('runDiff: the RadDiff preset with scripted engines', () => {
  it('ranks the known finding first and emits the whole event story', async () => {
    const { ports, world, counts } = setup();
    const { events, record } = await collect(ports, { images: world.images }, raddiff());
    expect(record.status).toBe('done');
    expect(record.ranking[0]?.finding.toLowerCase()).toContain(TRUTH);
    expect(record.ranking[0]?.auroc).toBeGreaterThan(0.8);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('run-start');
    expect(types.filter((t) => t === 'iteration-start')).toHaveLength(2);
    expect(types.filter((t) => t === 'round-start')).toHaveLength(6);
    expect(types.filter((t) => t === 'sampled')).toHaveLength(6);
    expect(types.filter((t) => t === 'captioned')).toHaveLength(6 * 40);
    expect(types.filter((t) => t === 'proposed')).toHaveLength(6);
    expect(types.filter((t) => t === 'boxes')).toHaveLength(3);
    expect(types.filter((t) => t === 'deduplicated')).toHaveLength(2);
    expect(types.filter((t) => t === 'ranked')).toHaveLength(2);
    const composed = events.filter((e) => e.type === 'composed');
    expect(new Set(composed.map((e) => e.purpose))).toEqual(
      new Set(['grid-a', 'grid-b', 'combined', 'crops']),
    );
    // Golden sizes (METHOD.md §4): 20 square images per set.
    const gridA = composed.find((e) => e.purpose === 'grid-a');
    expect([gridA?.image.width, gridA?.image.height]).toEqual([1320, 1054]);
    const combined = composed.find((e) => e.purpose === 'combined');
    expect([combined?.image.width, combined?.image.height]).toEqual([1320, 2158]);
    expect(types[types.length - 1]).toBe('done');
    // The record holds every prompt and reply, boxes, and the pool per iteration.
    expect(record.calls.filter((c) => c.purpose === 'propose')).toHaveLength(3);
    expect(record.calls.filter((c) => c.purpose === 'refine')).toHaveLength(3);
    expect(record.calls.filter((c) => c.purpose === 'boxes')).toHaveLength(3);
    expect(record.iterations.map((i) => i.pool.length).every((n) => n > 0)).toBe(true);
    expect(record.iterations[1]?.rounds[0]?.boxes).toHaveLength(5);
    expect(record.promptVersions['propose']).toBe('propose/1');
    // Refinement saw crop grids labelled with findings, and the full grid (ours, §7).
    const refine = record.calls.find((c) => c.purpose === 'refine')!;
    expect(refine.messages[1]?.content).toMatch(/Crops for "/);
    expect(refine.messages[1]?.content).toMatch(/\[image grid\/1:combined:/);
    // Each distinct sampled image is captioned once (later rounds hit the cache); 9 LLM calls.
    const distinct = new Set(
      record.iterations.flatMap((i) => i.rounds.flatMap((r) => [...r.sampleA, ...r.sampleB])),
    );
    expect(counts.captions).toBe(distinct.size);
    expect(counts.llm).toBe(9);
    expect(record.execution.modelCalls).toBe(distinct.size + 9);
    expect(record.execution.cacheHits).toBe(240 - distinct.size);
  });

  it('keeps a pool across iterations, marking who proposed each finding', async () => {
    const { ports, world } = setup();
    const { record } = await collect(ports, { images: world.images }, raddiff());
    const top = record.ranking[0]!;
    expect(top.origins.some((o) => o.iteration === 1 && o.proposer === 'raddiff')).toBe(true);
    // "Right pleural effusion." and "right pleural effusion" merged (normalization).
    expect(record.ranking.filter((f) => f.finding.toLowerCase().includes(TRUTH))).toHaveLength(1);
    // Iteration-1 findings survive into the final ranking (the reference discards them).
    const firstIteration = new Set(record.iterations[0]!.pool.map((f) => f.finding));
    for (const finding of firstIteration) expect(record.ranking.map((f) => f.finding)).toContain(finding);
  });

  it('reports held-out AUROC on images no proposer saw, and localized AUROC for boxed findings', async () => {
    const world = createWorld({ nA: 120, nB: 120, truth: TRUTH, seed: 5 });
    const { ports } = setup({ world });
    const { record } = await collect(ports, { images: world.images }, raddiff({ iterations: 2, rounds: 1 }));
    const top = record.ranking[0]!;
    expect(top.heldOut?.nA).toBeGreaterThan(0);
    expect(top.heldOut!.nA).toBeLessThan(120);
    expect(top.heldOut!.auroc).toBeGreaterThan(0.7);
    const boxed = record.ranking.filter((f) => f.localized);
    expect(boxed.length).toBeGreaterThan(0);
    expect(boxed[0]!.localized!.nA + boxed[0]!.localized!.nB).toBe(240);
  });

  it('reruns from warm caches with zero model calls and reproduces the record exactly', async () => {
    const cache = memoryCache();
    const first = setup({ cache });
    const a = await collect(first.ports, { images: first.world.images }, raddiff());
    const second = setup({ cache, world: first.world });
    const b = await collect(second.ports, { images: first.world.images }, raddiff());
    expect(second.counts.captions).toBe(0);
    expect(second.counts.llm).toBe(0);
    expect(b.record.execution.modelCalls).toBe(0);
    expect(b.record.execution.cacheHits).toBeGreaterThan(0);
    expect(reproducible(b.record)).toEqual(reproducible(a.record));
  });

  it('replays a cached call with its failed attempts, so a rerun reproduces failures too', async () => {
    const cache = memoryCache();
    const first = setup({ cache, faults: [{ kind: 'reply', text: '{"differences": ["a",' }] });
    const a = await collect(
      first.ports,
      { images: first.world.images },
      raddiff({ iterations: 1, rounds: 1 }),
    );
    expect(a.record.calls[0]!.attempts.map((x) => x.outcome)).toEqual(['malformed', 'ok']);
    const second = setup({ cache, world: first.world });
    const b = await collect(
      second.ports,
      { images: first.world.images },
      raddiff({ iterations: 1, rounds: 1 }),
    );
    expect(second.counts.llm).toBe(0);
    expect(reproducible(b.record)).toEqual(reproducible(a.record));
  });

  it('a different seed or temperature misses the cache', async () => {
    const cache = memoryCache();
    const first = setup({ cache });
    await collect(first.ports, { images: first.world.images }, raddiff({ iterations: 1, rounds: 1 }));
    const second = setup({ cache, world: first.world });
    await collect(
      second.ports,
      { images: first.world.images },
      raddiff({ iterations: 1, rounds: 1, temperature: 0.2 }),
    );
    expect(second.counts.llm).toBe(1);
    expect(second.counts.captions).toBe(0); // captions do not depend on the temperature
  });
});

describe('runDiff: sampling', () => {
  const samples = (record: RunRecord) =>
    record.iterations.flatMap((it) => it.rounds.map((r) => [...r.sampleA, ...r.sampleB].join(',')));

  it('draws a fresh sample per (iteration, round) from seeded streams (the reference reused them)', async () => {
    const world = createWorld({ nA: 100, nB: 100, truth: TRUTH, seed: 2 });
    const { ports } = setup({ world });
    const { record } = await collect(ports, { images: world.images }, raddiff());
    const all = samples(record);
    expect(new Set(all).size).toBe(6);
    const again = await collect(setup({ world }).ports, { images: world.images }, raddiff());
    expect(samples(again.record)).toEqual(all);
    const other = await collect(setup({ world }).ports, { images: world.images }, raddiff({ seed: 1 }));
    expect(samples(other.record)).not.toEqual(all);
  });

  it('samples without replacement and never more than a set holds', async () => {
    const world = createWorld({ nA: 7, nB: 30, truth: TRUTH, seed: 2 });
    const { ports } = setup({ world });
    const { record } = await collect(ports, { images: world.images }, raddiff({ iterations: 1, rounds: 2 }));
    for (const round of record.iterations[0]!.rounds) {
      expect(round.sampleA).toHaveLength(7);
      expect(new Set(round.sampleA).size).toBe(7);
      expect(round.sampleB).toHaveLength(20);
      expect(new Set(round.sampleB).size).toBe(20);
    }
  });
});

describe('runDiff: bad replies and faults never abort the run', () => {
  const one = raddiff({ iterations: 1, rounds: 1, maxAttempts: 3 });

  it.each([
    ['truncated JSON', '{"differences": ["right pleural effusion", "cardio'],
    ['not JSON at all', 'Group A has more effusions, I think.'],
    ['an empty list', '{"differences": []}'],
    ['non-string items', '{"differences": [1, null, {"a": 2}, true]}'],
    ['a wrong key', '{"answer": ["x"]}'],
    ['only overlong items', JSON.stringify({ differences: ['x'.repeat(400)] })],
    ['an empty reply', ''],
  ])('retries after %s with a correction, then succeeds', async (_label, text) => {
    const { ports, world, llm } = setup({ faults: [{ kind: 'reply', text }] });
    const { events, record } = await collect(ports, { images: world.images }, one);
    expect(record.status).toBe('done');
    expect(record.calls[0]!.attempts.map((a) => a.outcome)).toEqual(['malformed', 'ok']);
    // The second attempt carried the bad reply and a correction.
    const retry = llm.requests[1]!.messages;
    expect(retry[retry.length - 2]?.role).toBe('assistant');
    expect(String(retry[retry.length - 1]?.content)).toMatch(/could not be used/);
    expect(events.some((e) => e.type === 'reply' && e.outcome === 'malformed')).toBe(true);
    expect(record.ranking[0]?.finding.toLowerCase()).toContain(TRUTH);
  });

  it('drops duplicated, overlong and non-string items but keeps the rest', async () => {
    const text = JSON.stringify({
      differences: [
        'right pleural effusion',
        'Right pleural effusion',
        'x'.repeat(500),
        7,
        'pulmonary nodule',
      ],
    });
    const { ports, world } = setup({ faults: [{ kind: 'reply', text }] });
    const { events, record } = await collect(ports, { images: world.images }, one);
    const proposed = events.find((e) => e.type === 'proposed');
    expect(proposed?.type === 'proposed' && proposed.findings).toEqual([
      'right pleural effusion',
      'pulmonary nodule',
    ]);
    expect(proposed?.type === 'proposed' && proposed.dropped.length).toBe(3);
    expect(record.status).toBe('done');
  });

  it('retries errors with backoff and records a failed round after the last attempt; other rounds go on', async () => {
    const waits: number[] = [];
    const fail: LlmFault = { kind: 'throw', name: 'EndpointError', message: 'HTTP 500' };
    const { ports, world } = setup({ faults: [fail, fail, fail] });
    ports.sleep = async (ms) => void waits.push(ms);
    const { events, record } = await collect(
      ports,
      { images: world.images },
      raddiff({ iterations: 1, rounds: 2, retryBackoffMs: 100 }),
    );
    expect(waits.slice(0, 2)).toEqual([100, 200]);
    const failed = events.filter((e) => e.type === 'round-failed');
    expect(failed).toHaveLength(1);
    expect(record.iterations[0]!.rounds.map((r) => r.status)).toEqual(['failed', 'ok']);
    expect(record.failures[0]).toMatchObject({ stage: 'round', iteration: 1, round: 1 });
    expect(record.failures[0]!.message).toMatch(/HTTP 500.*after 3 attempts/);
    expect(record.status).toBe('done');
    expect(record.ranking.length).toBeGreaterThan(0);
  });

  it('a timed-out call is retried and recorded as a timeout', async () => {
    const { ports, world } = setup({ faults: [{ kind: 'hang' }] });
    ports.sleep = instantSleep;
    const { record } = await collect(ports, { images: world.images }, { ...one, callTimeoutMs: 20 });
    expect(record.calls[0]!.attempts.map((a) => a.outcome)).toEqual(['timeout', 'ok']);
  });

  it('a lost GPU device mid-run fails one attempt, not the run', async () => {
    const { ports, world } = setup({
      faults: [undefined, { kind: 'throw', name: 'DeviceLost', message: 'GPU device was lost' }],
    });
    const { record } = await collect(ports, { images: world.images }, raddiff({ iterations: 1, rounds: 2 }));
    expect(record.calls[1]!.attempts[0]).toMatchObject({ outcome: 'error' });
    expect(record.calls[1]!.attempts[0]!.problem).toMatch(/DeviceLost/);
    expect(record.status).toBe('done');
  });

  it('a captioner that returns nothing marks those images and the round still proposes', async () => {
    const world = createWorld({ nA: 20, nB: 20, truth: TRUTH, seed: 9 });
    const empty = new Set(world.images.slice(0, 5).map((i) => i.id));
    const { ports } = setup({ world, emptyCaptions: empty });
    const { record } = await collect(ports, { images: world.images }, one);
    const captions = record.iterations[0]!.rounds[0]!.captions;
    expect(captions.filter((c) => c.error)).toHaveLength(5);
    expect(captions.find((c) => c.error)!.error).toMatch(/no text.*after 3 attempts/);
    expect(record.status).toBe('done');
  });

  it('invalid boxes fall back to anatomical presets, recorded with the problem', async () => {
    const script: LlmScript = (request) =>
      JSON.stringify(request.jsonSchema).includes('"boxes"')
        ? ({
            kind: 'reply',
            text: JSON.stringify({
              boxes: [
                { finding: 'x', x1: 0.5, y1: 0.5, x2: 0.52, y2: 0.9 },
                { x1: 'a', y1: 0, x2: 1, y2: 1 },
                { x1: -3, y1: 0.1, x2: 7, y2: 0.9 },
              ],
            }),
          } as LlmFault)
        : undefined;
    const { ports, world } = setup({ script });
    const { record } = await collect(ports, { images: world.images }, raddiff({ rounds: 1, maxAttempts: 1 }));
    const boxes = record.iterations[1]!.rounds[0]!.boxes;
    expect(boxes).toHaveLength(5);
    for (const b of boxes) {
      expect(b.box.x2 - b.box.x1).toBeGreaterThanOrEqual(0.15);
      expect(b.box.y2 - b.box.y1).toBeGreaterThanOrEqual(0.15);
    }
    expect(boxes.filter((b) => b.source === 'preset').length).toBeGreaterThanOrEqual(3);
    expect(boxes.find((b) => b.source === 'preset')!.problem).toBeTruthy();
  });

  it('a broken reply cache is a warning, not a failure', async () => {
    const { ports, world } = setup({ cache: memoryCache({ failing: true }) });
    const { record } = await collect(ports, { images: world.images }, one);
    expect(record.status).toBe('done');
    expect(record.warnings.join(' ')).toMatch(/cache could not be/);
  });

  it('an embedder failure fails the run with the reason and still ends with done', async () => {
    const error = new Error('model file missing');
    error.name = 'ModelLoadFailed';
    const { ports, world } = setup({ embedFail: error });
    const { events, record } = await collect(ports, { images: world.images }, one);
    expect(record.status).toBe('failed');
    expect(record.failures[0]!.message).toMatch(/ModelLoadFailed: model file missing/);
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
  });

  it('fuzz: any reply text (JSON or not) ends the run with a done event and a consistent record', async () => {
    const world = createWorld({ nA: 12, nB: 12, truth: TRUTH, seed: 4 });
    const replies = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ differences: v })),
      fc
        .array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 12 })
        .map((d) => JSON.stringify({ differences: d })),
      fc
        .record({ x1: fc.double(), y1: fc.double(), x2: fc.double(), y2: fc.double() })
        .map((b) => JSON.stringify({ boxes: [b] })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(replies, { minLength: 1, maxLength: 12 }), async (texts) => {
        const faults: LlmFault[] = texts.map((text) => ({ kind: 'reply', text }));
        const { ports } = setup({ world, faults });
        const { record } = await collect(
          ports,
          { images: world.images },
          raddiff({ rounds: 2, maxAttempts: 2 }),
        );
        expect(['done']).toContain(record.status);
        for (const it of record.iterations) {
          for (const round of it.rounds) {
            expect(['ok', 'failed']).toContain(round.status);
            if (round.status === 'ok') expect(round.findings.length).toBeGreaterThan(0);
            for (const f of round.findings) expect(typeof f).toBe('string');
          }
        }
        for (const f of record.ranking) expect(f.auroc).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 40 },
    );
  });
});

describe('runDiff: cancel', () => {
  it('keeps everything computed so far and ends with a cancelled record', async () => {
    const { ports, world } = setup();
    const controller = new AbortController();
    const events: DiffEvent[] = [];
    for await (const event of runDiff(ports, { images: world.images }, raddiff(), controller.signal)) {
      events.push(event);
      if (event.type === 'ranked' && event.iteration === 1) controller.abort();
    }
    const done = events[events.length - 1];
    expect(done?.type).toBe('done');
    const record = (done as Extract<DiffEvent, { type: 'done' }>).record;
    expect(record.status).toBe('cancelled');
    expect(record.iterations[0]!.pool.length).toBeGreaterThan(0);
    expect(record.ranking.length).toBeGreaterThan(0);
  });

  it('cancelling during a hung model call settles promptly', async () => {
    const { ports, world } = setup({ faults: [{ kind: 'hang' }] });
    const controller = new AbortController();
    const iterator = runDiff(
      ports,
      { images: world.images },
      raddiff({ callTimeoutMs: 0 }),
      controller.signal,
    );
    const events: DiffEvent[] = [];
    for await (const event of iterator) {
      events.push(event);
      if (event.type === 'prompt') setTimeout(() => controller.abort(), 5);
    }
    const record = (events[events.length - 1] as Extract<DiffEvent, { type: 'done' }>).record;
    expect(record.status).toBe('cancelled');
    expect(record.iterations[0]!.rounds[0]!.status).toBe('cancelled');
    expect(record.iterations[0]!.rounds[0]!.captions.length).toBe(40);
  });
});

describe('runDiff: other proposers', () => {
  it('quick preset (concept bank) makes no captioner or LLM call and finds the truth', async () => {
    const { ports, world, counts } = setup();
    const phrases = expandBankPhrases(DEFAULT_BANK);
    const { record } = await collect(
      ports,
      { images: world.images, bankPhrases: phrases },
      presetConfig('quick'),
    );
    expect(counts.captions + counts.llm).toBe(0);
    expect(record.status).toBe('done');
    expect(record.ranking[0]?.origins[0]?.proposer).toBe('concept-bank');
    expect(record.ranking[0]?.finding.toLowerCase()).toMatch(/effusion/);
  });

  it('report-guided sends reports instead of captions', async () => {
    const world = createWorld({ nA: 30, nB: 30, truth: TRUTH, seed: 6, reports: true });
    const { ports, counts, llm } = setup({ world });
    const { record } = await collect(ports, { images: world.images }, presetConfig('report-guided'));
    expect(counts.captions).toBe(0);
    expect(String(messagesText(llm.requests[0]!))).toContain('GROUP A REPORTS:');
    expect(record.promptVersions['proposeReports']).toBe('propose-reports/1');
    expect(record.ranking[0]?.finding.toLowerCase()).toContain(TRUTH);
  });

  it('report mining proposes LLM-free from report phrase frequencies', async () => {
    const world = createWorld({ nA: 30, nB: 30, truth: TRUTH, seed: 6, reports: true });
    const { ports, counts } = setup({ world });
    const { record } = await collect(
      ports,
      { images: world.images },
      {
        ...presetConfig('custom'),
        proposer: 'report-mining',
      },
    );
    expect(counts.llm).toBe(0);
    expect(record.status).toBe('done');
    expect(record.ranking.some((f) => f.finding.includes('pleural effusion'))).toBe(true);
  });

  it('user findings are ranked in the pool alongside proposals', async () => {
    const { ports, world } = setup();
    const { record } = await collect(
      ports,
      { images: world.images },
      raddiff({ iterations: 1, rounds: 1, userFindings: ['pneumothorax', '  '] }),
    );
    const user = record.ranking.find((f) => f.origins.some((o) => o.proposer === 'user'));
    expect(user?.finding).toBe('pneumothorax');
  });

  it('says what is missing instead of starting when a needed port or input is absent', async () => {
    const { ports, world } = setup();
    delete ports.llm;
    const { record } = await collect(ports, { images: world.images }, raddiff());
    expect(record.status).toBe('failed');
    expect(record.failures[0]!.message).toMatch(/needs a language model/);
    const noReports = await collect(setup().ports, { images: world.images }, presetConfig('report-guided'));
    expect(noReports.record.failures[0]!.message).toMatch(/needs reports/);
  });

  it('a text-only model gets no images and a warning', async () => {
    const { ports, world, llm } = setup({ vision: false });
    const { record } = await collect(ports, { images: world.images }, raddiff({ iterations: 1, rounds: 1 }));
    expect(record.warnings.join(' ')).toMatch(/cannot see images/);
    expect(messagesText(llm.requests[0]!)).not.toContain('"type":"image"');
  });
});

function messagesText(request: { messages: { content: unknown }[] }): string {
  return JSON.stringify(request.messages);
}
