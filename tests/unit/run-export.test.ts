// Checks src/lib/core/run-export.ts: serialize → parse round-trips any record (property test over generated
// records, NaN statistics included), hashed names leave no file name behind, schema-0 records migrate, newer,
// corrupted and foreign files get readable problems with JSON paths, the CSV is RFC 4180 and formula-safe, the
// reports escape every text and the HTML is self-contained, and the helper records are valid.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PRESETS, PROPOSERS, presetConfig, type DiffConfig } from '../../src/lib/core/diff-config.ts';
import {
  RUN_RECORD_ZOD,
  applyReview,
  findingsCsv,
  hashedImageName,
  htmlReport,
  markdownReport,
  parseRunRecordJson,
  parseRunRecordValue,
  recordFromRanking,
  serializeRunRecord,
} from '../../src/lib/core/run-export.ts';
import type { PoolFinding, RunRecord } from '../../src/lib/core/run-record.ts';
import type { RankedFinding } from '../../src/lib/core/types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

function ranked(
  index: number,
  finding: string,
  auroc: number,
  extra: Partial<RankedFinding> = {},
): RankedFinding {
  return {
    index,
    finding,
    auroc,
    aurocCI: { lo: auroc - 0.05, hi: auroc + 0.05 },
    meanA: 0.25,
    meanB: 0.2,
    pWelch: 0.001,
    pMannWhitney: 0.002,
    q: 0.004,
    cliffsDelta: 2 * auroc - 1,
    classificationDelta: 0.1,
    threshold: 0.3,
    nA: 40,
    nB: 38,
    ciContainsHalf: false,
    ...extra,
  };
}

const IMG_JANE = {
  id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  name: 'ward/jane_doe.png',
  set: 'A' as const,
};
const IMG_JOHN = {
  id: 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100',
  name: 'john_smith.jpg',
  set: 'B' as const,
};
const IMG_DOE = {
  id: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  name: 'doe.png',
  set: 'B' as const,
};
const IMAGES = [IMG_JANE, IMG_JOHN, IMG_DOE];

function sampleRecord(): RunRecord {
  const record = recordFromRanking({
    ranking: [
      ranked(0, 'left pleural effusion', 0.81),
      ranked(1, 'cardiomegaly, mild', 0.74, {
        pWelch: NaN,
        pMannWhitney: NaN,
        q: NaN,
        aurocCI: { lo: NaN, hi: NaN },
      }),
      ranked(2, '=HYPERLINK("x")', 0.6),
      ranked(3, '<img src=x onerror=alert(1)> | pipe', 0.45, { cliffsDelta: -0.1, ciContainsHalf: true }),
    ],
    images: IMAGES,
    embedder: 'chexzero-vit-b32',
    proposer: 'user',
    appVersion: '0.1.0',
    now: Date.UTC(2026, 4, 1, 14, 3, 9),
  });
  return {
    ...record,
    warnings: ['could not decode ward/jane_doe.png; skipped', 'doe.png and john_smith.jpg are tiny'],
    failures: [{ stage: 'embed', iteration: 1, message: 'john_smith.jpg: out of memory' }],
    unranked: [{ id: IMG_JOHN.id, reason: 'john_smith.jpg failed to decode' }],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Arbitrary run records (small sizes)
// ---------------------------------------------------------------------------------------------------------------

const text = fc.string({ unit: 'binary', maxLength: 8 });
// z.record builds a plain object, where a "__proto__" key would set the prototype instead of a property.
const key = text.filter((k) => k !== '__proto__');
// JSON has one zero: −0 reads back as 0, which deep equality tells apart.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
const stat = fc.oneof(finite, fc.constant(NaN));
const nat = fc.nat({ max: 50 });
const small = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { maxLength: 2 });
const box = fc.record({ x1: finite, y1: finite, x2: finite, y2: finite });
const unit = (max = 1) => fc.double({ min: 0, max, noNaN: true }).map((v) => (v === 0 ? 0 : v));

const configArb: fc.Arbitrary<DiffConfig> = fc
  .record({
    preset: fc.constantFrom(...PRESETS),
    proposer: fc.constantFrom(...PROPOSERS),
    iterations: fc.integer({ min: 1, max: 10 }),
    rounds: fc.integer({ min: 1, max: 20 }),
    samplesPerSet: fc.integer({ min: 1, max: 100 }),
    findingsMin: fc.integer({ min: 1, max: 50 }),
    findingsMax: fc.integer({ min: 1, max: 50 }),
    topK: fc.integer({ min: 1, max: 20 }),
    rankerCap: fc.integer({ min: 2, max: 1_000_000 }),
    seed: fc.maxSafeNat(),
    temperature: unit(2),
    dedupThreshold: unit(),
    visualSearch: fc.boolean(),
    heldOut: fc.boolean(),
    localizedRanking: fc.boolean(),
    threshold: finite,
    maxAttempts: fc.integer({ min: 1, max: 10 }),
    retryBackoffMs: fc.integer({ min: 0, max: 60_000 }),
    callTimeoutMs: fc.integer({ min: 0, max: 3_600_000 }),
    captionMaxTokens: fc.integer({ min: 8, max: 2048 }),
    proposalMaxTokens: fc.integer({ min: 64, max: 8192 }),
    summarizeReportsOver: fc.integer({ min: 0, max: 100_000 }),
    keepFullGridsInRefinement: fc.boolean(),
    userFindings: small(text),
  })
  .map((c) => ({
    ...c,
    findingsMin: Math.min(c.findingsMin, c.findingsMax),
    findingsMax: Math.max(c.findingsMin, c.findingsMax),
  }));

const originArb = fc.record(
  { proposer: fc.constantFrom(...PROPOSERS), iteration: nat, round: nat },
  { requiredKeys: ['proposer', 'iteration'] },
);

const poolFindingArb: fc.Arbitrary<PoolFinding> = fc.record(
  {
    index: nat,
    finding: text,
    auroc: stat,
    aurocCI: fc.record({ lo: stat, hi: stat }),
    meanA: stat,
    meanB: stat,
    pWelch: stat,
    pMannWhitney: stat,
    q: stat,
    cliffsDelta: stat,
    classificationDelta: stat,
    threshold: finite,
    nA: nat,
    nB: nat,
    ciContainsHalf: fc.boolean(),
    origins: small(originArb),
    merged: small(text),
    heldOut: fc.record({ auroc: stat, nA: nat, nB: nat }),
    localized: fc.record({
      box,
      boxSource: fc.constantFrom('model' as const, 'preset' as const),
      auroc: stat,
      nA: nat,
      nB: nat,
    }),
  },
  {
    requiredKeys: [
      'index',
      'finding',
      'auroc',
      'aurocCI',
      'meanA',
      'meanB',
      'pWelch',
      'pMannWhitney',
      'q',
      'cliffsDelta',
      'classificationDelta',
      'threshold',
      'nA',
      'nB',
      'ciContainsHalf',
      'origins',
      'merged',
    ],
  },
);

const roundArb = fc.record({
  iteration: nat,
  round: nat,
  status: fc.constantFrom('ok' as const, 'failed' as const, 'cancelled' as const),
  sampleA: small(text),
  sampleB: small(text),
  captions: small(
    fc.record(
      { imageId: text, crop: fc.oneof(fc.constant('full' as const), box), text, error: text },
      { requiredKeys: ['imageId', 'crop', 'text'] },
    ),
  ),
  compositions: small(
    fc.record(
      {
        key: text,
        purpose: fc.constantFrom('grid-a' as const, 'grid-b' as const, 'combined' as const, 'crops' as const),
        width: nat,
        height: nat,
        finding: text,
        box,
      },
      { requiredKeys: ['key', 'purpose', 'width', 'height'] },
    ),
  ),
  boxes: small(
    fc.record(
      { finding: text, box, source: fc.constantFrom('model' as const, 'preset' as const), problem: text },
      { requiredKeys: ['finding', 'box', 'source'] },
    ),
  ),
  findings: small(text),
  problems: small(text),
});

const callArb = fc.record({
  purpose: fc.constantFrom(
    'caption' as const,
    'propose' as const,
    'refine' as const,
    'boxes' as const,
    'summarize' as const,
  ),
  iteration: nat,
  round: nat,
  model: text,
  promptVersion: text,
  cacheKey: text,
  messages: small(fc.record({ role: text, content: text })),
  attempts: small(
    fc.record(
      {
        attempt: nat,
        outcome: fc.constantFrom('ok' as const, 'malformed' as const, 'error' as const, 'timeout' as const),
        reply: text,
        problem: text,
      },
      { requiredKeys: ['attempt', 'outcome'] },
    ),
  ),
});

const recordArb: fc.Arbitrary<RunRecord> = fc.record(
  {
    schemaVersion: fc.constant(1 as const),
    app: fc.record({ name: fc.constant('raddiff-web' as const), version: text }),
    runId: text,
    status: fc.constantFrom('running' as const, 'done' as const, 'cancelled' as const, 'failed' as const),
    config: configArb,
    inputs: fc.record({
      images: small(
        fc.record({
          id: text,
          name: text,
          set: fc.constantFrom('A' as const, 'B' as const),
          hasReport: fc.boolean(),
        }),
      ),
      counts: fc.record({ A: nat, B: nat, reports: nat }),
    }),
    models: fc.record(
      { embedder: text, captioner: text, llm: text, llmVision: fc.boolean() },
      { requiredKeys: ['embedder'] },
    ),
    promptVersions: fc.dictionary(key, text, { maxKeys: 2 }),
    iterations: small(
      fc.record({
        iteration: nat,
        rounds: small(roundArb),
        dedup: fc.record({
          kept: nat,
          merged: small(fc.record({ from: text, into: text, cosine: fc.option(finite, { nil: null }) })),
        }),
        pool: small(poolFindingArb),
      }),
    ),
    calls: small(callArb),
    ranking: small(poolFindingArb),
    unranked: small(fc.record({ id: text, reason: text })),
    execution: fc.record(
      {
        startedAt: text,
        finishedAt: text,
        totalMs: finite,
        portMs: finite,
        stages: fc.dictionary(key, finite, { maxKeys: 2 }),
        modelCalls: nat,
        cacheHits: nat,
      },
      { requiredKeys: ['startedAt', 'totalMs', 'portMs', 'stages', 'modelCalls', 'cacheHits'] },
    ),
    failures: small(
      fc.record(
        { stage: text, iteration: nat, round: nat, message: text },
        { requiredKeys: ['stage', 'message'] },
      ),
    ),
    warnings: small(text),
    title: text,
    review: fc.dictionary(key, fc.constantFrom('accepted' as const, 'rejected' as const), { maxKeys: 2 }),
    pinned: small(text),
    hidden: small(text),
    edits: small(
      fc.record(
        { at: text, action: fc.constantFrom('add' as const, 'edit' as const), from: text, to: text },
        { requiredKeys: ['at', 'action', 'to'] },
      ),
    ),
  },
  {
    requiredKeys: [
      'schemaVersion',
      'app',
      'runId',
      'status',
      'config',
      'inputs',
      'models',
      'promptVersions',
      'iterations',
      'calls',
      'ranking',
      'unranked',
      'execution',
      'failures',
      'warnings',
    ],
  },
);

/** The record as a schema-0 file: `execution` split into top-level start/finish and `timings`. */
function toV0(record: RunRecord): Record<string, unknown> {
  const { execution, ...rest } = record;
  const v0: Record<string, unknown> = { ...rest, schemaVersion: 0, startedAt: execution.startedAt };
  if (execution.finishedAt !== undefined) v0['finishedAt'] = execution.finishedAt;
  v0['timings'] = { totalMs: execution.totalMs, modelMs: execution.portMs, stages: execution.stages };
  return JSON.parse(JSON.stringify(v0)) as Record<string, unknown>;
}

/** RFC 4180 reader (quoted fields, doubled quotes, CRLF records). */
function parseCsv(csv: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv[i];
    if (quoted) {
      if (c === '"' && csv[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && csv[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

function problemOf(text: string): string {
  const result = parseRunRecordJson(text);
  if (result.ok) throw new Error('expected a problem');
  return result.problem;
}

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

describe('serializeRunRecord / parseRunRecordJson', () => {
  it('round-trips any record (property)', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const json = serializeRunRecord(record);
        const parsed = parseRunRecordJson(json);
        if (!parsed.ok) throw new Error(parsed.problem);
        expect(parsed.record).toEqual(record);
        expect(parsed.notes).toEqual([]);
        expect(parsed.migratedFrom).toBeUndefined();
        expect(serializeRunRecord(parsed.record)).toBe(json);
      }),
      { numRuns: 150 },
    );
  });

  it('writes pretty JSON in the record key order, NaN as null', () => {
    const record = sampleRecord();
    const json = serializeRunRecord(record);
    expect(json.startsWith('{\n  "schemaVersion": 1,\n  "app": {\n    "name": "raddiff-web"')).toBe(true);
    expect(json).toContain('"pWelch": null');
    const parsed = parseRunRecordJson(json);
    expect(parsed.ok && parsed.record.ranking[1]!.q).toBeNaN();
    expect(parsed.ok && parsed.record).toEqual(record);
  });

  it('hashes names in inputs and in warning/failure texts', () => {
    const record = sampleRecord();
    const json = serializeRunRecord(record, { hashNames: true });
    for (const image of IMAGES) {
      expect(json).not.toContain(image.name);
      expect(json).toContain(hashedImageName(image.id));
    }
    expect(hashedImageName(IMG_JANE.id)).toBe('sha256:a1b2c3d4e5f60718');
    const parsed = parseRunRecordJson(json);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.record.warnings).toEqual([
      'could not decode sha256:a1b2c3d4e5f60718; skipped',
      'sha256:0123456789abcdef and sha256:ffeeddccbbaa9988 are tiny',
    ]);
    expect(parsed.record.failures[0]!.message).toBe('sha256:ffeeddccbbaa9988: out of memory');
    expect(parsed.record.unranked[0]!.reason).toBe('sha256:ffeeddccbbaa9988 failed to decode');
    // A name containing another ("doe.png" in "ward/jane_doe.png") is replaced whole, once.
    expect(parsed.record.warnings[0]).not.toContain('jane_');
    // Everything else is unchanged; the input record is not modified.
    expect({
      ...parsed.record,
      inputs: record.inputs,
      warnings: record.warnings,
      failures: record.failures,
      unranked: record.unranked,
    }).toEqual(record);
    expect(record.inputs.images[0]!.name).toBe('ward/jane_doe.png');
  });

  it('hashes names for any record and still parses (property)', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const parsed = parseRunRecordJson(serializeRunRecord(record, { hashNames: true }));
        if (!parsed.ok) throw new Error(parsed.problem);
        parsed.record.inputs.images.forEach((image, i) => {
          expect(image.name).toBe(hashedImageName(record.inputs.images[i]!.id));
        });
        expect(parsed.record.ranking).toEqual(record.ranking);
      }),
      { numRuns: 50 },
    );
  });
});

describe('parseRunRecordJson: migration and problems', () => {
  it('migrates schema 0 (timings, top-level times) to schema 1', () => {
    const record = sampleRecord();
    const v0 = toV0(record);
    expect(v0['execution']).toBeUndefined();
    const parsed = parseRunRecordJson(JSON.stringify(v0));
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.migratedFrom).toBe(0);
    expect(parsed.notes.join(' ')).toMatch(/schema 0/);
    expect(parsed.record.schemaVersion).toBe(1);
    expect(parsed.record.execution).toEqual({ ...record.execution, modelCalls: 0, cacheHits: 0 });
    expect({ ...parsed.record, execution: record.execution }).toEqual(record);
    expect(Object.keys(parsed.record)).not.toContain('timings');
  });

  it('migrates any schema-0 record (property)', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const parsed = parseRunRecordValue(toV0(record));
        if (!parsed.ok) throw new Error(parsed.problem);
        expect(parsed.migratedFrom).toBe(0);
        expect(parsed.record.execution.portMs).toBe(record.execution.portMs);
        expect(parsed.record.execution.finishedAt).toBe(record.execution.finishedAt);
      }),
      { numRuns: 30 },
    );
  });

  it('names what a broken schema-0 record lacks', () => {
    const v0 = toV0(sampleRecord());
    delete v0['timings'];
    expect(problemOf(JSON.stringify(v0))).toMatch(/schema 0 run record has 1 problem:\n- timings: /);
  });

  it('refuses a newer schema with an update hint', () => {
    const newer = { ...JSON.parse(serializeRunRecord(sampleRecord())), schemaVersion: 2 };
    expect(problemOf(JSON.stringify(newer))).toContain(
      'made by a newer raddiff-web (schema 2); this version reads up to 1 — update the app',
    );
  });

  it('explains text that is not JSON, with a position', () => {
    const json = serializeRunRecord(sampleRecord());
    const truncated = problemOf(json.slice(0, 200));
    expect(truncated).toMatch(/^This is not JSON: /);
    const bad = problemOf('{\n  "schemaVersion": 1,\n  oops\n}');
    expect(bad).toMatch(/line 3/);
    expect(problemOf('')).toMatch(/empty/);
    expect(problemOf('   \n')).toMatch(/empty/);
    // A byte-order mark is not an error.
    expect(parseRunRecordJson(`\ufeff${json}`).ok).toBe(true);
  });

  it('recognises foreign JSON', () => {
    expect(problemOf('[1, 2]')).toMatch(/expected a JSON object, found an array/);
    expect(problemOf('"text"')).toMatch(/found a string/);
    expect(problemOf('null')).toMatch(/found null/);
    expect(problemOf('{"name": "package", "version": "1.0.0"}')).toMatch(
      /not a raddiff-web run record: it has no `schemaVersion` and `app.name`/,
    );
    expect(problemOf('{"schemaVersion": 1, "app": {"name": "other-tool"}}')).toMatch(/made by "other-tool"/);
    expect(problemOf('{"app": {"name": "raddiff-web"}}')).toMatch(/no `schemaVersion`/);
    expect(problemOf('{"schemaVersion": "1", "app": {"name": "raddiff-web"}}')).toMatch(/whole number/);
  });

  it('lists the first five field problems with their JSON paths', () => {
    const raw = JSON.parse(serializeRunRecord(sampleRecord()));
    raw.ranking[0].auroc = 'high';
    raw.config.seed = -1;
    raw.inputs.images[1].set = 'C';
    const one = problemOf(JSON.stringify(raw));
    expect(one).toMatch(/has 3 problems:/);
    expect(one).toContain('- ranking[0].auroc: ');
    expect(one).toContain('- config.seed: ');
    expect(one).toContain('- inputs.images[1].set: ');
    raw.status = 'paused';
    raw.execution.modelCalls = 1.5;
    raw.warnings = [1];
    raw.review = { x: 'maybe' };
    const many = problemOf(JSON.stringify(raw));
    expect(many).toMatch(/has 7 problems:/);
    expect(many.split('\n').filter((l) => l.startsWith('- ') && !l.startsWith('- …'))).toHaveLength(5);
    expect(many).toMatch(/… and 2 more\.$/);
  });

  it('drops unknown fields (noting top-level ones) but rejects unknown config keys', () => {
    const raw = JSON.parse(serializeRunRecord(sampleRecord()));
    raw.futureField = { x: 1 };
    raw.ranking[0].extra = 'ignored';
    const parsed = parseRunRecordValue(raw);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.notes).toEqual(['Ignored unknown field: futureField.']);
    expect(parsed.record).toEqual(sampleRecord());
    expect('extra' in parsed.record.ranking[0]!).toBe(false);
    raw.config.temprature = 0.5;
    expect(parseRunRecordValue(raw)).toMatchObject({ ok: false, problem: expect.stringContaining('config') });
  });
});

describe('findingsCsv', () => {
  it('writes the header, full-precision numbers, empty NaN cells, origins, review and flags', () => {
    const record = applyReview(
      { ...sampleRecord(), pinned: ['left pleural effusion'], hidden: ['cardiomegaly, mild'] },
      'left pleural effusion',
      'accepted',
    );
    const csv = findingsCsv(record);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]!.join(',')).toBe(
      'rank,finding,auroc,auroc_ci_low,auroc_ci_high,held_out_auroc,localized_auroc,q,p_mann_whitney,mean_a,mean_b,cliffs_delta,n_a,n_b,origins,review,flags',
    );
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.length === 17)).toBe(true);
    const [, first, second, third, fourth] = rows as string[][];
    expect(first).toEqual([
      '1',
      'left pleural effusion',
      '0.81',
      String(0.81 - 0.05),
      String(0.81 + 0.05),
      '',
      '',
      '0.004',
      '0.002',
      '0.25',
      '0.2',
      String(2 * 0.81 - 1),
      '40',
      '38',
      'user i1',
      'accepted',
      'pinned;user',
    ]);
    expect(second!.slice(0, 9)).toEqual(['2', 'cardiomegaly, mild', '0.74', '', '', '', '', '', '']);
    expect(second![16]).toBe('hidden;user');
    expect(third![1]).toBe(`'=HYPERLINK("x")`);
    expect(fourth![11]).toBe('-0.1'); // numbers are never prefixed
    expect(fourth![16]).toBe('user;ci_contains_half');
    expect(csv).toContain('"cardiomegaly, mild"');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
  });

  it('round-trips any finding text through an RFC 4180 reader, formula cells prefixed (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({
            unit: fc.constantFrom('a', ',', '"', '\n', '\r\n', ' ', '=', '+', '-', '@', '\t', 'é'),
          }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        (texts) => {
          const record = recordFromRanking({
            ranking: texts.map((t, i) => ranked(i, t, 0.5)),
            images: IMAGES,
            embedder: 'e',
            proposer: 'concept-bank',
            appVersion: '0',
            now: 0,
          });
          const rows = parseCsv(findingsCsv(record));
          expect(rows).toHaveLength(texts.length + 1);
          texts.forEach((t, i) => {
            expect(rows[i + 1]![1]).toBe(/^[=+\-@\t\r]/.test(t) ? `'${t}` : t);
          });
        },
      ),
    );
  });
});

describe('reports', () => {
  const record = applyReview(
    {
      ...sampleRecord(),
      title: 'Effusion <study>',
      pinned: ['=HYPERLINK("x")'],
      hidden: ['cardiomegaly, mild'],
    },
    'left pleural effusion',
    'rejected',
  );

  it('writes Markdown with counts, models, config, escaped findings and scrubbed failures', () => {
    const md = markdownReport(record);
    expect(md).toMatch(/^# Effusion \\<study\\>\n/);
    expect(md).toContain('2026-05-01 14:03 UTC');
    expect(md).toContain('- Set A: 1 image');
    expect(md).toContain('- Set B: 2 images');
    expect(md).toContain('chexzero-vit-b32');
    expect(md).toContain('Preset: quick; proposer: user');
    for (const image of IMAGES) expect(md).not.toContain(image.name);
    expect(md).toContain('sha256:ffeeddccbbaa9988: out of memory');
    expect(md).toContain('\\<img src=x onerror=alert(1)\\> \\| pipe');
    expect(md).not.toContain('cardiomegaly');
    expect(md).toContain('1 hidden by the user');
    // Pinned first, then ranking order; the rank column keeps the ranking position.
    const rows = md.split('\n').filter((l) => /^\| \d/.test(l));
    expect(rows.map((l) => l.split(' | ')[0])).toEqual(['| 3', '| 1', '| 4']);
    expect(rows[0]).toContain('pinned');
    expect(rows[1]).toContain('rejected');
    expect(rows[1]).toContain('0.810 [0.760, 0.860]');
    expect(
      markdownReport(record, { top: 1 })
        .split('\n')
        .filter((l) => /^\| \d/.test(l)),
    ).toHaveLength(1);
    expect(markdownReport(record, { top: 1 })).toContain('2 more findings not shown');
    expect(() => markdownReport(record, { top: -1 })).toThrow(/top/);
  });

  it('writes one self-contained, escaped HTML document', () => {
    const chart =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><rect width="10" height="10"/></svg>';
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const page = htmlReport(record, {
      charts: new Map([['left pleural effusion', chart]]),
      thumbnails: new Map([
        [IMG_JANE.id, png],
        [IMG_JOHN.id, 'https://example.org/x.png'],
      ]),
      evidence: new Map([
        [
          'left pleural effusion',
          {
            topA: [{ id: IMG_JANE.id, score: 0.31, set: 'A' as const }],
            topB: [{ id: IMG_JOHN.id, score: 0.2, set: 'B' as const }],
          },
        ],
      ]),
    });
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<link|@import|url\(/i);
    expect(page).toContain('prefers-color-scheme: dark');
    expect(page).toContain("default-src 'none'");
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt; | pipe');
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('<title>Effusion &lt;study&gt;</title>');
    expect(page).toContain('<svg width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(page).toContain(`<img src="${png}"`);
    expect(page.match(/<img /g)).toHaveLength(1); // the non-data thumbnail is ignored
    for (const image of IMAGES) expect(page).not.toContain(image.name);
    expect(page.match(/<html/g)).toHaveLength(1);
  });

  it('shows images only when thumbnails are given', () => {
    const evidence = new Map([
      ['left pleural effusion', { topA: [{ id: IMG_JANE.id, score: 0.3, set: 'A' as const }], topB: [] }],
    ]);
    const page = htmlReport(record, { evidence });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('Highest-scoring');
    expect(htmlReport(record, {})).not.toMatch(/https?:\/\//);
  });
});

describe('recordFromRanking and applyReview', () => {
  const input = {
    ranking: [ranked(1, 'effusion', 0.7), ranked(0, 'cardiomegaly', 0.6)],
    images: IMAGES,
    embedder: 'clip',
    proposer: 'user' as const,
    appVersion: '1.2.3',
    now: Date.UTC(2026, 0, 2),
  };

  it('makes a valid schema-1 record with a stable run id', () => {
    const record = recordFromRanking(input);
    expect(RUN_RECORD_ZOD.safeParse(record).success).toBe(true);
    expect(record.config).toEqual({
      ...presetConfig('quick'),
      proposer: 'user',
      userFindings: ['cardiomegaly', 'effusion'],
    });
    expect(record.iterations).toHaveLength(1);
    expect(record.iterations[0]!.rounds).toEqual([]);
    expect(record.iterations[0]!.pool).toEqual(record.ranking);
    expect(record.ranking[0]!.origins).toEqual([{ proposer: 'user', iteration: 1 }]);
    expect(record.inputs.counts).toEqual({ A: 1, B: 2, reports: 0 });
    expect(record.execution.startedAt).toBe('2026-01-02T00:00:00.000Z');
    expect(record.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(recordFromRanking(input).runId).toBe(record.runId);
    expect(recordFromRanking({ ...input, now: 5 }).runId).toBe(record.runId);
    expect(recordFromRanking({ ...input, seed: 3 }).runId).not.toBe(record.runId);
    expect(recordFromRanking({ ...input, ranking: [input.ranking[0]!] }).runId).not.toBe(record.runId);
    const bank = recordFromRanking({ ...input, proposer: 'concept-bank' });
    expect(bank.config.proposer).toBe('concept-bank');
    expect(bank.config.userFindings).toEqual([]);
    const parsed = parseRunRecordJson(serializeRunRecord(record));
    expect(parsed.ok && parsed.record).toEqual(record);
  });

  it('updates the review immutably', () => {
    const record = recordFromRanking(input);
    const accepted = applyReview(record, 'effusion', 'accepted');
    expect(accepted.review).toEqual({ effusion: 'accepted' });
    expect(record.review).toBeUndefined();
    const both = applyReview(accepted, 'cardiomegaly', 'rejected');
    expect(both.review).toEqual({ effusion: 'accepted', cardiomegaly: 'rejected' });
    expect(accepted.review).toEqual({ effusion: 'accepted' });
    const changed = applyReview(both, 'effusion', 'rejected');
    expect(changed.review).toEqual({ effusion: 'rejected', cardiomegaly: 'rejected' });
    const cleared = applyReview(applyReview(changed, 'effusion', null), 'cardiomegaly', null);
    expect('review' in cleared).toBe(false);
    expect(cleared).toEqual(record);
    expect(changed.ranking).toBe(record.ranking); // untouched parts are shared, not copied
  });
});
