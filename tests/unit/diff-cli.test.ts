// The headless runner end to end, in-process (runDiffCli with captured stdout/stderr): phantom folders with a large
// right effusion in A only; the offline quick preset finds it with phantom-clip; the RadDiff preset against the
// mock OpenAI server captions, proposes, boxes and refines, and a rerun on the same reply cache makes no request
// and reproduces the record; usage errors exit 2 with a readable message; broken files are left out; a cancel
// writes the partial record and exits 130.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort, type FindingSpec } from '../../src/lib/core/phantom/index.ts';
import { RUN_RECORD_SCHEMA_VERSION, type RunRecord } from '../../src/lib/core/run-record.ts';
import { EXIT, runDiffCli, type DiffSummary } from '../../scripts/lib/diff-cli.ts';
import { toModelGray } from '../../scripts/lib/node-embedder.ts';
import { startMockOpenAi, type MockOpenAi, type RecordedRequest } from '../fakes/mock-openai-server.ts';

const SIZE = 256; // phantom-clip's input size: no resampling, so the test is about the runner, not the resampler
const N = 24;
const EFFUSION: FindingSpec = { name: 'effusion', side: 'right', size: 'large' };

let dir: string;
let mock: MockOpenAi;

function writeCohort(folder: string, n: number, seed: number, findings: FindingSpec[]): void {
  mkdirSync(folder, { recursive: true });
  const cohort = generateCohort({
    n,
    seed,
    size: SIZE,
    findings: findings.map((spec) => ({ spec, prevalence: 1 })),
  });
  for (const { name, phantom } of cohort) {
    const png = encode({
      width: phantom.size,
      height: phantom.size,
      data: phantom.pixels,
      channels: 1,
      depth: 8,
    });
    writeFileSync(join(folder, name), png);
  }
}

interface CliResult {
  code: number;
  stdout: string[];
  stderr: string[];
  /** The last stdout line parsed, when it is JSON. */
  summary: DiffSummary | undefined;
}

async function cli(
  argv: string[],
  signal?: AbortSignal,
  onStderr?: (line: string) => void,
): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runDiffCli(argv, {
    stdout: (line) => stdout.push(line),
    stderr: (line) => {
      stderr.push(line);
      onStderr?.(line);
    },
    cwd: dir,
    ...(signal ? { signal } : {}),
  });
  let summary: DiffSummary | undefined;
  try {
    summary = JSON.parse(stdout.at(-1) ?? '') as DiffSummary;
  } catch {
    summary = undefined;
  }
  return { code, stdout, stderr, summary };
}

function readRecord(path: string): RunRecord {
  return JSON.parse(readFileSync(path, 'utf8')) as RunRecord;
}

function withoutExecution(record: RunRecord): Omit<RunRecord, 'execution'> {
  const { execution: _execution, ...rest } = record;
  return rest;
}

/** What a chat request to the mock was for, from its body. */
function purposeOf(request: RecordedRequest): 'caption' | 'propose' | 'refine' | 'boxes' | 'other' {
  const body = request.bodyText;
  const json = request.json as { response_format?: unknown } | undefined;
  if (json?.response_format === undefined && body.includes('image_url') && /describe/i.test(body))
    return 'caption';
  if (body.includes('"boxes"')) return 'boxes';
  if (body.includes('"differences"')) return body.includes('Refine the list') ? 'refine' : 'propose';
  return 'other';
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'diff-cli-'));
  writeCohort(join(dir, 'A'), N, 11, [EFFUSION]);
  writeCohort(join(dir, 'B'), N, 12, []);
  mock = await startMockOpenAi();
}, 60_000);

afterAll(async () => {
  await mock?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run diff', () => {
  it('quick preset, offline: ranks the effusion first and writes a valid record', async () => {
    const out = join(dir, 'quick.json');
    const result = await cli([
      '--a',
      'A',
      '--b',
      'B',
      '--preset',
      'quick',
      '--ranker',
      'phantom-clip',
      '--no-cache',
      '--out',
      out,
    ]);
    expect(result.code, result.stderr.join('\n')).toBe(EXIT.done);
    const summary = result.summary!;
    expect(summary.status).toBe('done');
    expect(summary.out).toBe(out);
    expect(summary.counts).toEqual({ A: N, B: N });
    expect(summary.top.length).toBeGreaterThan(0);
    expect(summary.top.length).toBeLessThanOrEqual(10);
    expect(summary.top[0]!.finding).toMatch(/effusion/);
    expect(summary.top[0]!.auroc).toBeGreaterThan(0.9);
    expect(summary.top[0]!.origins).toEqual([{ proposer: 'concept-bank', iteration: 1 }]);
    expect(summary.modelCalls).toBe(0);

    const record = readRecord(out);
    expect(record.status).toBe('done');
    expect(record.schemaVersion).toBe(RUN_RECORD_SCHEMA_VERSION);
    expect(record.runId).toBe(summary.runId);
    expect(record.inputs.counts).toEqual({ A: N, B: N, reports: 0 });
    expect(record.config.preset).toBe('quick');
    expect(record.models.embedder).toBe('phantom-clip|phantom-256-squash-v1');
    expect(record.inputs.images.map((i) => i.name)).toContain('phantom-00001.png');
    expect(record.inputs.images[0]!.id).toMatch(/^[0-9a-f]{64}$/);
    expect(record.ranking[0]!.finding).toBe(summary.top[0]!.finding);
    // Pretty-printed with two spaces.
    expect(readFileSync(out, 'utf8')).toMatch(/^\{\n {2}"schemaVersion": 1,/);
    expect(result.stderr.some((l) => /ranked \d+ findings; top ".*effusion/.test(l))).toBe(true);
  }, 60_000);

  it('raddiff preset against an OpenAI-compatible server; a rerun on the same cache calls nothing', async () => {
    const config = join(dir, 'small.json');
    writeFileSync(config, JSON.stringify({ rounds: 1, samplesPerSet: 6, topK: 3, retryBackoffMs: 0 }));
    const args = (out: string) => [
      '--a',
      'A',
      '--b',
      'B',
      '--preset',
      'raddiff',
      '--config',
      config,
      '--ranker',
      'phantom-clip',
      '--llm-endpoint',
      mock.url,
      '--llm-model',
      'mock-radiologist',
      '--llm-vision',
      '--vlm-endpoint',
      mock.url,
      '--vlm-model',
      'mock-radiologist',
      '--cache',
      join(dir, 'cache'),
      '--out',
      out,
    ];
    mock.requests.length = 0;
    const first = await cli(args(join(dir, 'raddiff-1.json')));
    expect(first.code, first.stderr.join('\n')).toBe(EXIT.done);
    const chats = mock.requests.filter((r) => r.chatIndex !== undefined);
    const purposes = chats.map(purposeOf);
    for (const purpose of ['caption', 'propose', 'boxes', 'refine'] as const) {
      expect(purposes, purpose).toContain(purpose);
    }
    expect(purposes).not.toContain('other');
    // --llm-vision: the proposer sees the image grids.
    expect(
      chats.filter((r) => purposeOf(r) === 'propose').every((r) => r.bodyText.includes('image_url')),
    ).toBe(true);

    const record = readRecord(join(dir, 'raddiff-1.json'));
    expect(record.status).toBe('done');
    expect(record.iterations).toHaveLength(2);
    expect(record.models.llm).toBe(`endpoint:mock-radiologist@${mock.url}`);
    expect(record.models.llmVision).toBe(true);
    const [round1] = record.iterations[0]!.rounds;
    expect(round1!.compositions.map((c) => c.purpose)).toEqual(['grid-a', 'grid-b']);
    expect(round1!.captions).toHaveLength(12);
    const [round2] = record.iterations[1]!.rounds;
    expect(round2!.boxes).toHaveLength(3);
    expect(round2!.compositions.map((c) => c.purpose)).toEqual(expect.arrayContaining(['combined', 'crops']));
    expect(record.calls.map((c) => c.purpose)).toEqual(['propose', 'boxes', 'refine']);
    expect(first.summary!.modelCalls).toBe(chats.length);

    mock.requests.length = 0;
    const second = await cli(args(join(dir, 'raddiff-2.json')));
    expect(second.code, second.stderr.join('\n')).toBe(EXIT.done);
    expect(mock.requests.filter((r) => r.chatIndex !== undefined)).toHaveLength(0);
    expect(second.summary!.modelCalls).toBe(0);
    expect(second.summary!.cacheHits).toBeGreaterThan(0);
    expect(withoutExecution(readRecord(join(dir, 'raddiff-2.json')))).toEqual(withoutExecution(record));
  }, 120_000);

  it('exits 2 with a readable message on usage errors, before reading any image', async () => {
    const missing = await cli(['--b', 'B', '--out', 'x.json']);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stdout).toEqual([]);
    expect(missing.stderr[0]).toMatch(/missing --a/);

    const noEndpoint = await cli(['--a', 'A', '--b', 'B', '--preset', 'raddiff', '--out', 'x.json']);
    expect(noEndpoint.code).toBe(EXIT.usage);
    expect(noEndpoint.stderr[0]).toMatch(/raddiff proposer .* needs --llm-endpoint URL --llm-model NAME/);
    expect(noEndpoint.stderr[0]).toMatch(/--vlm-endpoint URL --vlm-model NAME/);
    expect(noEndpoint.stderr[0]).toMatch(/--preset quick/);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ iterations: 0, itterations: 2 }));
    const badConfig = await cli([
      '--a',
      'A',
      '--b',
      'B',
      '--preset',
      'quick',
      '--config',
      bad,
      '--out',
      'x.json',
    ]);
    expect(badConfig.code).toBe(EXIT.usage);
    const message = badConfig.stderr.join('\n');
    expect(message).toMatch(/is not a valid config/);
    expect(message).toMatch(/iterations/);
    expect(message).toMatch(/itterations/);

    writeFileSync(bad, '{"rounds": 2,');
    const notJson = await cli(['--a', 'A', '--b', 'B', '--config', bad, '--out', 'x.json']);
    expect(notJson.code).toBe(EXIT.usage);
    expect(notJson.stderr[0]).toMatch(/is not valid JSON/);

    const ranker = await cli([
      '--a',
      'A',
      '--b',
      'B',
      '--preset',
      'quick',
      '--ranker',
      'no-such-model',
      '--out',
      'x.json',
    ]);
    expect(ranker.code).toBe(EXIT.usage);
    expect(ranker.stderr[0]).toMatch(/neither a model id \(.*phantom-clip.*\) nor a folder/);

    const help = await cli(['--help']);
    expect(help.code).toBe(EXIT.done);
    expect(help.stdout[0]).toMatch(/^usage: npm run diff/);
  }, 30_000);

  it('leaves undecodable files out; reads reports from a table and .txt files; --hash-names', async () => {
    const small = join(dir, 'small-A');
    writeCohort(small, 4, 21, [EFFUSION]);
    writeFileSync(join(small, 'broken.png'), 'not a png at all');
    const png = readFileSync(join(small, 'phantom-00001.png'));
    writeFileSync(join(small, 'truncated.png'), png.subarray(0, 120));
    writeFileSync(join(small, 'notes.md'), '# not an image');
    writeFileSync(join(small, 'phantom-00002.txt'), 'Large right pleural effusion.');
    const smallB = join(dir, 'small-B');
    writeCohort(smallB, 4, 22, []);
    // Relative to the table's folder: small-A/phantom-00001.png is A's. A bare phantom-00003.png fits A's and B's
    // file equally: given to neither. ghost.png fits nothing.
    const table = join(dir, 'reports.csv');
    writeFileSync(
      table,
      'file,report\nsmall-A/phantom-00001.png,Right effusion.\nphantom-00003.png,Which one?\nghost.png,Nobody.\n',
    );
    const out = join(dir, 'small.json');
    const result = await cli([
      '--a',
      'small-A',
      '--b',
      'small-B',
      '--reports',
      'reports.csv',
      '--preset',
      'quick',
      '--no-cache',
      '--hash-names',
      '--out',
      out,
    ]);
    expect(result.code, result.stderr.join('\n')).toBe(EXIT.done);
    const log = result.stderr.join('\n');
    expect(log).toMatch(/set A: 4 images from .*, 2 left out/);
    expect(log).toMatch(/left out broken\.png: could not be decoded/);
    expect(log).toMatch(/left out truncated\.png: could not be decoded/);
    expect(log).toMatch(/skipped 1 other file\(s\): 1 not a PNG or JPEG image \(notes\.md\)/);
    expect(log).toMatch(/reports: set A 2\/4 images \(1 from --reports, 1 from \.txt\)/);
    expect(log).toMatch(/reports: set B 0\/4 images/);
    expect(log).toMatch(/1 report\(s\) fit no image: reports\.csv: ghost\.png/);
    expect(log).toMatch(/1 report\(s\) fit an image in A and one in B .*: reports\.csv: phantom-00003\.png/);
    const record = readRecord(out);
    expect(record.inputs.counts).toEqual({ A: 4, B: 4, reports: 2 });
    expect(record.inputs.images.every((i) => i.name === i.id)).toBe(true);
    expect(record.warnings[0]).toMatch(
      /^2 file\(s\) of set A could not be read or decoded and were left out$/,
    );
    expect(result.summary!.warnings).toBe(record.warnings.length);
  }, 60_000);

  it('a cancel writes the partial record with status cancelled and exits 130', async () => {
    const controller = new AbortController();
    const out = join(dir, 'cancelled.json');
    const result = await cli(
      ['--a', 'A', '--b', 'B', '--preset', 'quick', '--no-cache', '--out', out],
      controller.signal,
      (line) => {
        if (/\] run [0-9a-f]+:/.test(line)) controller.abort();
      },
    );
    expect(result.code).toBe(EXIT.cancelled);
    expect(result.summary!.status).toBe('cancelled');
    expect(readRecord(out).status).toBe('cancelled');
  }, 60_000);
});

describe("toModelGray (the runner's preprocessing)", () => {
  /** An RGBA image filled by `at(x, y)`. */
  const image = (width: number, height: number, at: (x: number, y: number) => number[]) => {
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(at(x, y), (y * width + x) * 4);
    return { width, height, data };
  };
  const rows = (gray: { width: number; data: Uint8Array }) =>
    Array.from({ length: gray.data.length / gray.width }, (_, y) =>
      Array.from(gray.data.subarray(y * gray.width, (y + 1) * gray.width)),
    );

  it('passes an S×S gray image through unchanged', () => {
    const src = image(8, 8, (x, y) => [x * 30 + y, x * 30 + y, x * 30 + y, 255]);
    for (const resize of ['squash', 'pad-to-square', 'shortest-edge-center-crop'] as const) {
      const out = toModelGray(src, 'full', { size: 8, resize });
      expect(Array.from(out.data), resize).toEqual(
        Array.from({ length: 64 }, (_, i) => (i % 8) * 30 + (i >> 3)),
      );
    }
  });

  it('letterboxes with black (pad-to-square), center-crops and squashes a 2:1 image', () => {
    const src = image(16, 8, (x) => (x < 8 ? [40, 40, 40, 255] : [200, 200, 200, 255]));
    const pad = rows(toModelGray(src, 'full', { size: 8, resize: 'pad-to-square' }));
    expect(
      pad
        .slice(0, 2)
        .flat()
        .every((v) => v === 0),
    ).toBe(true);
    expect(
      pad
        .slice(6)
        .flat()
        .every((v) => v === 0),
    ).toBe(true);
    expect(pad[3]).toEqual([40, 40, 40, 40, 200, 200, 200, 200]);
    // Center crop: the middle 8 of 16 columns at full resolution.
    expect(rows(toModelGray(src, 'full', { size: 8, resize: 'shortest-edge-center-crop' }))[0]).toEqual([
      40, 40, 40, 40, 200, 200, 200, 200,
    ]);
    // Squash: every output pixel averages two source columns (area resampling, no aliasing).
    expect(rows(toModelGray(src, 'full', { size: 8, resize: 'squash' }))[7]).toEqual([
      40, 40, 40, 40, 200, 200, 200, 200,
    ]);
  });

  it('cuts the crop first, takes Rec. 601 luma and composites alpha onto black', () => {
    const src = image(16, 16, (x, y) =>
      x >= 8 ? [255, 0, 0, 255] : y >= 8 ? [0, 0, 255, 0] : [9, 9, 9, 255],
    );
    const right = toModelGray(src, { x1: 0.5, y1: 0, x2: 1, y2: 1 }, { size: 4, resize: 'squash' });
    expect(new Set(right.data)).toEqual(new Set([76])); // round(0.299 · 255)
    const lowerLeft = toModelGray(src, { x1: 0, y1: 0.5, x2: 0.5, y2: 1 }, { size: 4, resize: 'squash' });
    expect(new Set(lowerLeft.data)).toEqual(new Set([0])); // transparent blue → black
  });
});
