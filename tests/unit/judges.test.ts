// Checks the two judges: the deterministic concept judge (a table of findings against phantom-style ground truth,
// mention extraction, and every RadDiffBench description judged against its own pair) and the LLM judge (scripted
// replies: good, fenced, wrapped in prose, malformed, out of range, empty, thrown, hung; fuzzed replies).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createConceptJudge,
  extractMentions,
  judgeConcept,
} from '../../src/lib/core/judges/concept-judge.ts';
import {
  JUDGE_REPLY_SCHEMA,
  LLM_JUDGE_PROMPT_VERSION,
  buildJudgeMessages,
  createLlmJudge,
  parseJudgeReply,
} from '../../src/lib/core/judges/llm-judge.ts';
import type { AbortSignalLike, LlmPort, LlmRequest } from '../../src/lib/core/llm.ts';
import type { JudgeInput } from '../../src/lib/core/evaluator.ts';

// ---------------------------------------------------------------------------------------------------------------
// Concept judge
// ---------------------------------------------------------------------------------------------------------------

type Row = [finding: string, expected: 0 | 1 | 2];

/** Ground truth → findings with their expected score. Comments mark the judgement calls. */
const TABLE: { truthA: string; truthB: string; rows: Row[] }[] = [
  {
    truthA: 'large left pleural effusion',
    truthB: 'no pleural effusion',
    rows: [
      ['left pleural effusion', 2], // size left out is fine
      ['large left pleural effusion', 2],
      ['Left pleural effusions', 2],
      ['blunting of the left costophrenic angle', 2],
      ['left costophrenic angle blunting', 2],
      ['moderate-to-large left effusion', 2], // sizes overlap
      ['left basal pleural effusion', 2], // effusions are basal by default
      ['no change in the left pleural effusion', 2], // pseudo-negation
      ['left pleural effusion without pneumothorax', 2],
      ['pleural effusion', 1], // side missing
      ['left basilar opacity', 1], // an opacity at the base stands in for an effusion
      ['increased density at the left base', 1],
      ['left > right pleural effusions', 1], // decision: bilateral, dominant on the right side → broader (1)
      ['L>R effusions', 1],
      ['bilateral pleural effusions', 1],
      ['small left pleural effusion', 1], // size conflicts
      ['left apical pleural effusion', 1], // zone conflicts with the basal default
      ['no pleural effusion', 0],
      ['no left pleural effusion', 0], // negated
      ['left pleural effusion has resolved', 0],
      ['right pleural effusion', 0], // wrong side
      ['right > left pleural effusions', 0], // decision: dominant on the wrong side → 0
      ['pericardial effusion', 0],
      ['cardiomegaly', 0],
      ['left upper lobe opacity', 0], // an opacity away from the base is not an effusion
      ['', 0],
    ],
  },
  {
    truthA: 'cardiomegaly',
    truthB: 'normal heart size',
    rows: [
      ['enlarged cardiac silhouette', 2],
      ['increased cardiothoracic ratio', 2],
      ['enlargement of the cardiac silhouette', 2],
      ['heart size is enlarged', 2],
      ['mild cardiomegaly', 2],
      ['enlarged cardiomediastinal silhouette', 1], // broader
      ['heart size is not enlarged', 0],
      ['normal cardiac silhouette', 0],
      ['widened mediastinum', 0],
    ],
  },
  {
    truthA: 'large right pneumothorax',
    truthB: 'no pneumothorax',
    rows: [
      ['right pneumothorax', 2],
      ['right apical pneumothorax', 2], // pneumothorax is not zoned
      ['pneumothorax', 1],
      ['small right pneumothorax', 1],
      ['right hydropneumothorax', 1],
      ['left pneumothorax', 0],
      ['no pneumothorax', 0],
    ],
  },
  {
    truthA: 'right upper zone consolidation',
    truthB: 'no consolidation',
    rows: [
      ['right upper lobe airspace opacity', 2],
      ['consolidation in the right upper lobe', 2],
      ['right upper lobe pneumonia', 1], // pneumonia-ish → partial
      ['right apical opacity', 1], // generic opacity, apical = upper
      ['right lower lobe consolidation', 1], // decision: wrong zone on the right side is partial, wrong side is 0
      ['consolidation', 1],
      ['left upper lobe consolidation', 0],
    ],
  },
  {
    truthA: 'focal consolidation',
    truthB: 'no consolidation',
    rows: [
      ['consolidation', 2],
      ['right upper lobe consolidation', 1], // narrower location than the truth
    ],
  },
  {
    truthA: 'left upper zone pulmonary nodule',
    truthB: 'no pulmonary nodule',
    rows: [
      ['nodule in the left upper lobe', 2],
      ['left apical nodule', 2],
      ['small round opacity in the left upper zone', 2],
      ['left upper lobe mass', 1], // mass → partial
      ['pulmonary nodule', 1],
      ['right upper lobe nodule', 0],
    ],
  },
  {
    truthA: 'right central venous catheter',
    truthB: 'no central venous catheter',
    rows: [
      ['right internal jugular central venous catheter', 2],
      ['right subclavian line', 2],
      ['right CVC', 2],
      ['right-sided catheter', 1], // decision: a bare catheter is broader than a CVC
      ['right PICC', 1],
      ['central line', 1], // side missing
      ['left internal jugular catheter', 0],
      ['no central venous catheter', 0],
    ],
  },
  {
    truthA: 'right subclavian central venous catheter',
    truthB: 'no central venous catheter',
    rows: [['right internal jugular catheter', 1]], // access site conflicts
  },
  {
    truthA: 'endotracheal tube',
    truthB: 'no endotracheal tube',
    rows: [
      ['ETT', 2],
      ['intubated', 2],
      ['endotracheal tube in place', 2],
      ['tube', 1],
      ['support devices', 1],
      ['tracheostomy tube', 0],
      ['nasogastric tube', 0],
    ],
  },
  {
    truthA: 'nasogastric tube',
    truthB: 'no nasogastric tube',
    rows: [
      ['NG tube', 2],
      ['enteric tube', 2],
      ['orogastric tube', 2],
      ['feeding tube', 1],
      ['nasogastric tube removed', 0],
      ['chest tube', 0],
    ],
  },
  {
    truthA: 'left chest wall pacemaker',
    truthB: 'no pacemaker',
    rows: [
      ['pacemaker', 2], // pacemakers sit on the left unless stated
      ['pacer leads', 2],
      ['ICD', 2],
      ['cardiac device', 2],
      ['dual-chamber pacemaker', 2],
      ['right chest wall pacemaker', 0],
      ['sternotomy wires', 0],
    ],
  },
  {
    truthA: 'right chest wall pacemaker',
    truthB: 'no pacemaker',
    rows: [['pacemaker', 1]], // the assumed left side disagrees, but it was only assumed
  },
  {
    truthA: 'low lung volumes',
    truthB: 'normal lung volumes',
    rows: [
      ['low lung volumes', 2],
      ['hypoinflation', 2],
      ['elevated hemidiaphragms', 2],
      ['poor inspiration', 2],
      ['decreased lung volumes', 2],
      ['poor inspiratory effort', 2],
      ['elevated left hemidiaphragm', 1], // one side of a bilateral finding
      ['crowding of bronchovascular markings', 1],
      ['hyperinflated lungs', 0],
      ['normal lung volumes', 0],
      ['well-inflated lungs', 0],
    ],
  },
  {
    truthA: 'mild cardiomegaly',
    truthB: 'significant cardiomegaly',
    rows: [
      ['mild cardiomegaly', 2],
      ['cardiomegaly', 1], // fits A and B alike: right concept, distinguishing qualifier missing
      ['severe cardiomegaly', 0], // closer to B
    ],
  },
  {
    truthA: 'no pleural effusion',
    truthB: 'large left pleural effusion',
    rows: [
      ['no pleural effusion', 2],
      ['left pleural effusion', 0],
    ],
  },
  {
    truthA: 'esophageal perforation ',
    truthB: 'no perforation ',
    rows: [
      ['Esophageal perforation', 2], // unknown concept: same words only
      ['perforation', 0],
    ],
  },
];

const CASES = TABLE.flatMap(({ truthA, truthB, rows }) =>
  rows.map(([finding, expected]) => ({ finding, truthA, truthB, expected })),
);

describe('judgeConcept', () => {
  it('has a large table', () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  it.each(CASES)(
    '"$finding" vs "$truthA" / "$truthB" → $expected',
    ({ finding, truthA, truthB, expected }) => {
      const result = judgeConcept(finding, truthA, truthB);
      expect(result.score, result.rationale).toBe(expected);
      expect(result.rationale.length).toBeGreaterThan(0);
    },
  );

  it('never scores A below 1 nor B above 1 on RadDiffBench ground truth', () => {
    const lines = readFileSync(new URL('../../../shared/data/RadDiffBench.jsonl', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { set1: string; set2: string });
    for (const { set1, set2 } of lines) {
      expect(judgeConcept(set1, set1, set2).score, set1).toBeGreaterThanOrEqual(1);
      expect(judgeConcept(set2, set1, set2).score, set2).toBeLessThanOrEqual(1);
    }
  });

  it('never throws and always scores 0, 1 or 2', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (f, a, b) => {
        expect([0, 1, 2]).toContain(judgeConcept(f, a, b).score);
      }),
      { numRuns: 300 },
    );
  });
});

describe('extractMentions', () => {
  it('attaches each side to the nearest concept', () => {
    expect(extractMentions('left pleural effusion and right pneumothorax')).toMatchObject([
      { concept: 'pleural-effusion', side: 'left', negated: false },
      { concept: 'pneumothorax', side: 'right', negated: false },
    ]);
  });

  it('carries a negation through a comma-separated list', () => {
    const mentions = extractMentions('clear lung without consolidation , effusion , or pneumothorax ');
    expect(mentions.map((m) => [m.concept, m.negated])).toEqual([
      ['consolidation', true],
      ['pleural-effusion', true],
      ['pneumothorax', true],
    ]);
  });

  it('reads size ranges, several zones and implied sides', () => {
    expect(extractMentions('small to moderate left pneumothorax')[0]).toMatchObject({
      size: [2, 3],
      side: 'left',
    });
    expect(extractMentions('New opacity in left mid and low lung')[0]).toMatchObject({
      concept: 'opacity',
      side: 'left',
      zones: ['lower', 'middle'],
    });
    expect(extractMentions('retrocardiac opacity')[0]).toMatchObject({ side: 'left', zones: ['lower'] });
    expect(extractMentions('left > right effusions')[0]).toMatchObject({
      side: 'bilateral',
      predominant: 'left',
    });
  });

  it('does not read "low" in "low lung volumes" as a zone, nor "large" in "large heart" as a size', () => {
    expect(extractMentions('low lung volumes')[0]).toMatchObject({ concept: 'low-lung-volumes', zones: [] });
    expect(extractMentions('large heart')[0]?.size).toBeUndefined();
  });

  it('reads a negated normal as present', () => {
    expect(extractMentions('heart size is not normal')[0]).toMatchObject({
      concept: 'cardiomegaly',
      negated: false,
    });
  });
});

describe('createConceptJudge', () => {
  it('returns one verdict per finding, in order', async () => {
    const judge = createConceptJudge();
    const input: JudgeInput[] = ['left effusion', 'effusion', 'pneumothorax'].map((finding) => ({
      finding,
      truthA: 'left pleural effusion',
      truthB: 'no pleural effusion',
    }));
    expect((await judge.judge(input)).map((v) => v.score)).toEqual([2, 1, 0]);
  });

  it('rejects with AbortError when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      createConceptJudge().judge([{ finding: 'x', truthA: 'y', truthB: 'z' }], controller.signal),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// LLM judge
// ---------------------------------------------------------------------------------------------------------------

type Step = string | Error | 'hang';

/** An LlmPort that plays back `steps` in order (the last one repeats) and records requests and signals. */
function scripted(steps: Step[]) {
  const requests: LlmRequest[] = [];
  const signals: (AbortSignalLike | undefined)[] = [];
  const port: LlmPort = {
    complete(request, signal) {
      requests.push(JSON.parse(JSON.stringify(request)) as LlmRequest);
      signals.push(signal);
      const step = steps[Math.min(requests.length - 1, steps.length - 1)] as Step;
      if (step === 'hang') return new Promise(() => undefined);
      if (step instanceof Error) return Promise.reject(step);
      return Promise.resolve({ text: step, model: 'scripted' });
    },
  };
  return { port, requests, signals };
}

const INPUT: JudgeInput = {
  finding: 'left pleural effusion',
  truthA: 'moderate right pleural effusion ',
  truthB: 'no pleural effusion ',
};
const noWait = () => Promise.resolve();

describe('parseJudgeReply', () => {
  it.each([
    ['{"score": 2, "rationale": "same finding"}', 2],
    ['```json\n{"score": 1, "rationale": "side differs"}\n```', 1],
    ['```\n{"score": 0, "rationale": "x"}```', 0],
    ['Sure. My grade: {"score": 2, "rationale": "a {braced} note"} — hope that helps!', 2],
    ['<think>maybe {"score": 0}? no.</think>\n{"score": 1, "rationale": "broader"}', 1],
    ['{"score": 2}', 2],
    ['{"score": 2.0, "rationale": "ok", "confidence": "high"}', 2],
    ['noise {not json} then {"score": 1, "rationale": "r"}', 1],
    ['[{"score": 2, "rationale": "wrapped in an array"}]', 2],
  ])('reads %j', (reply, score) => {
    expect(parseJudgeReply(reply)).toMatchObject({ ok: true, score });
  });

  it.each([
    ['', /empty reply/],
    ['   \n ', /empty reply/],
    ['I think it is a 2.', /no JSON object/],
    ['{"score": "2", "rationale": "string score"}', /score must be 0, 1 or 2/],
    ['{"score": 3, "rationale": "too high"}', /score must be 0, 1 or 2/],
    ['{"score": 1.5, "rationale": "half"}', /score must be 0, 1 or 2/],
    ['{"score": 2, "rationale": 42}', /rationale/],
    ['{"rationale": "no score"}', /score/],
    ['<think>{"score": 2, "rationale": "only thinking"}', /empty reply|no JSON/],
  ])('refuses %j', (reply, error) => {
    const parsed = parseJudgeReply(reply);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.json(),
          fc.jsonValue().map((v) => `x ${JSON.stringify(v)} y`),
        ),
        (text) => {
          const parsed = parseJudgeReply(text);
          if (parsed.ok) expect([0, 1, 2]).toContain(parsed.score);
          else expect(typeof parsed.error).toBe('string');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('createLlmJudge', () => {
  it('asks with the rubric, the trimmed truths, a JSON schema, temperature 0 and a seed', async () => {
    const { port, requests } = scripted(['{"score": 1, "rationale": "wrong side"}']);
    const verdicts = await createLlmJudge({ llm: port }).judge([INPUT]);
    expect(verdicts).toEqual([{ score: 1, rationale: 'wrong side' }]);
    const [request] = requests;
    expect(request?.jsonSchema).toEqual(JUDGE_REPLY_SCHEMA);
    expect(request?.temperature).toBe(0);
    expect(request?.seed).toBe(0);
    expect(request?.messages[0]?.role).toBe('system');
    expect(request?.messages[0]?.content).toMatch(/2 - .*1 - .*0 - /s);
    expect(request?.messages[1]?.content).toContain('"moderate right pleural effusion"');
    expect(request?.messages[1]?.content).toContain('"left pleural effusion"');
    expect(LLM_JUDGE_PROMPT_VERSION).toMatch(/\S/);
    expect(buildJudgeMessages(INPUT)).toEqual(request?.messages);
  });

  it('retries a malformed reply with the reply and a correction appended', async () => {
    const { port, requests } = scripted([
      '{"score": "2", "rationale": "x"}',
      '```json\n{"score": 2, "rationale": "ok"}\n```',
    ]);
    const events: string[] = [];
    const judge = createLlmJudge({ llm: port, sleep: noWait, onAttempt: (e) => events.push(e.outcome) });
    expect(await judge.judge([INPUT])).toEqual([{ score: 2, rationale: 'ok' }]);
    expect(events).toEqual(['malformed', 'ok']);
    const retry = requests[1]?.messages ?? [];
    expect(retry).toHaveLength(4);
    expect(retry[2]).toEqual({ role: 'assistant', content: '{"score": "2", "rationale": "x"}' });
    expect(retry[3]?.role).toBe('user');
    expect(retry[3]?.content).toMatch(/could not be used.*score must be 0, 1 or 2/);
  });

  it('returns a failed verdict after maxAttempts out-of-range replies', async () => {
    const { port, requests } = scripted(['{"score": 3, "rationale": "x"}']);
    const [verdict] = await createLlmJudge({ llm: port, maxAttempts: 4, sleep: noWait }).judge([INPUT]);
    expect(requests).toHaveLength(4);
    expect(verdict).toMatchObject({ score: null });
    if (verdict?.score === null)
      expect(verdict.error).toMatch(/after 4 attempt\(s\).*score must be 0, 1 or 2/);
  });

  it('fails an empty reply after retrying', async () => {
    const { port } = scripted(['']);
    const [verdict] = await createLlmJudge({ llm: port, maxAttempts: 2, sleep: noWait }).judge([INPUT]);
    expect(verdict).toEqual({
      score: null,
      error: 'no valid judgement after 2 attempt(s): malformed reply (empty reply)',
    });
  });

  it('retries thrown errors with exponential, capped backoff', async () => {
    const waits: number[] = [];
    const { port } = scripted([
      new Error('engine busy'),
      new Error('engine busy'),
      new Error('engine busy'),
      '{"score":0,"rationale":"r"}',
    ]);
    const judge = createLlmJudge({
      llm: port,
      maxAttempts: 4,
      backoffMs: 100,
      maxBackoffMs: 300,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    expect(await judge.judge([INPUT])).toEqual([{ score: 0, rationale: 'r' }]);
    expect(waits).toEqual([100, 200, 300]);
  });

  it('fails after thrown errors', async () => {
    const { port } = scripted([new TypeError('network down')]);
    const [verdict] = await createLlmJudge({ llm: port, maxAttempts: 2, sleep: noWait }).judge([INPUT]);
    expect(verdict).toEqual({
      score: null,
      error: 'no valid judgement after 2 attempt(s): TypeError: network down',
    });
  });

  it('times out a hung call, aborts it, retries, then fails', async () => {
    const { port, signals } = scripted(['hang']);
    const [verdict] = await createLlmJudge({
      llm: port,
      maxAttempts: 2,
      attemptTimeoutMs: 20,
      sleep: noWait,
    }).judge([INPUT]);
    expect(verdict).toMatchObject({ score: null });
    if (verdict?.score === null) expect(verdict.error).toMatch(/TimeoutError: no reply within 20 ms/);
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s?.aborted)).toBe(true);
  });

  it('recovers when a timed-out call is followed by a good one', async () => {
    const { port } = scripted(['hang', '{"score": 2, "rationale": "ok"}']);
    const judge = createLlmJudge({ llm: port, attemptTimeoutMs: 20, sleep: noWait });
    expect(await judge.judge([INPUT])).toEqual([{ score: 2, rationale: 'ok' }]);
  });

  it('rejects with AbortError when the signal aborts, instead of failing the verdict', async () => {
    const controller = new AbortController();
    const port: LlmPort = {
      complete: (_request, signal) =>
        new Promise((_, reject) => {
          signal?.addEventListener('abort', () =>
            reject(Object.assign(new Error('stop'), { name: 'AbortError' })),
          );
        }),
    };
    const pending = createLlmJudge({ llm: port }).judge([INPUT, INPUT], controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('settles on abort even when the engine ignores its signal', async () => {
    const controller = new AbortController();
    const { port, signals } = scripted(['hang']);
    const pending = createLlmJudge({ llm: port }).judge([INPUT], controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(signals[0]?.aborted).toBe(true);
  });

  it('stops during a backoff wait when aborted', async () => {
    const controller = new AbortController();
    const { port } = scripted([new Error('busy')]);
    const pending = createLlmJudge({ llm: port, backoffMs: 10_000 }).judge([INPUT], controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('judges a batch in order', async () => {
    const { port } = scripted(['{"score": 2, "rationale": "a"}']);
    let call = 0;
    const counting: LlmPort = {
      complete: (request, signal) => {
        call += 1;
        return call === 2
          ? Promise.resolve({ text: '{"score": 0, "rationale": "b"}', model: 'm' })
          : port.complete(request, signal);
      },
    };
    const verdicts = await createLlmJudge({ llm: counting }).judge([INPUT, INPUT, INPUT]);
    expect(verdicts.map((v) => v.score)).toEqual([2, 0, 2]);
  });

  it('refuses a non-positive maxAttempts', () => {
    expect(() => createLlmJudge({ llm: scripted([]).port, maxAttempts: 0 })).toThrow(RangeError);
  });

  it('never throws, whatever the engine replies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string(), fc.json()), { minLength: 1, maxLength: 3 }),
        async (replies) => {
          const { port } = scripted(replies);
          const [verdict] = await createLlmJudge({ llm: port, maxAttempts: 3, sleep: noWait }).judge([INPUT]);
          if (verdict?.score === null) expect(verdict.error).toMatch(/after 3 attempt/);
          else expect([0, 1, 2]).toContain(verdict?.score);
        },
      ),
      { numRuns: 200 },
    );
  });
});
