// The phantom benchmark: the shipped pairs file is valid and answerable by the default concept bank, the pairs
// parser names each problem, and a reduced run through the real code path (phantoms → Node CLIP → concept bank →
// ranker → concept judge → records) ranks the known finding first on easy pairs, prints the documented lines and
// resumes from its record directory (also through the CLI with --json).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BANK, expandBank } from '../../src/lib/core/concept-bank.ts';
import { judgeConcept } from '../../src/lib/core/judges/concept-judge.ts';
import { pairCohorts, parsePhantomPairs } from '../../src/lib/core/phantom-pairs.ts';
import {
  DEFAULT_PAIRS_FILE,
  runPhantomBenchmark,
  type PairLine,
  type SummaryLine,
} from '../../scripts/bench-phantom.ts';
import { grayToPixelValues, MODELS_DIR } from '../../scripts/lib/node-clip.ts';
import { rgbaToChw } from '../../workers/image/preprocess.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const pairsText = readFileSync(DEFAULT_PAIRS_FILE, 'utf8');

describe('benchmarks/phantom-pairs.json', () => {
  const { pairs } = parsePhantomPairs(pairsText);

  it('has at least 24 pairs in every difficulty tier', () => {
    expect(pairs.length).toBeGreaterThanOrEqual(24);
    for (const tier of ['easy', 'medium', 'hard']) {
      expect(pairs.filter((p) => p.difficulty === tier).length, tier).toBeGreaterThanOrEqual(8);
    }
  });

  it('states ground truths the judge reads, and the default bank can say each one', () => {
    const phrases = expandBank(DEFAULT_BANK);
    for (const p of pairs) {
      expect(judgeConcept(p.truthA, p.truthA, p.truthB).score, p.id).toBe(2);
      expect(
        phrases.some((x) => judgeConcept(x, p.truthA, p.truthB).score === 2),
        p.id,
      ).toBe(true);
    }
  });

  it('derives distinct cohort seeds for A and B from the run seed and the pair offset', () => {
    const [first, second] = pairs;
    const a = pairCohorts(first!, 3, { size: 64 });
    expect(a.a.seed).toBe(2 * (3 + first!.seedOffset));
    expect(a.b.seed).toBe(a.a.seed + 1);
    expect(a.a.size).toBe(64);
    expect(pairCohorts(second!, 3).a.seed).not.toBe(a.a.seed);
    expect(pairCohorts(first!, 3, { n: 5 }).b.n).toBe(5);
  });
});

describe('parsePhantomPairs', () => {
  const base = () => JSON.parse(pairsText) as { pairs: Record<string, unknown>[] } & Record<string, unknown>;

  it('names unknown findings with the known ones, duplicates and options a finding does not take', () => {
    const doc = base();
    (doc.pairs[0]!['a'] as Record<string, unknown>[])[0]!['name'] = 'efusion';
    doc.pairs[1]!['id'] = doc.pairs[0]!['id'];
    doc.pairs[2]!['seedOffset'] = doc.pairs[3]!['seedOffset'];
    (doc.pairs[4]!['a'] as Record<string, unknown>[])[0]!['size'] = 'large';
    doc.pairs[5]!['b'] = doc.pairs[5]!['a'];
    const message = (() => {
      try {
        parsePhantomPairs(JSON.stringify(doc));
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(
      /pairs\[0\] \(id "effusion-left-large"\)\.a\[0\]\.name: unknown finding "efusion"/,
    );
    expect(message).toMatch(/known: effusion, cardiomegaly, pneumothorax, consolidation, nodule, cvc, ett/);
    expect(message).toMatch(/pairs\[1\].*duplicate id \(also pairs\[0\]\)/);
    expect(message).toMatch(/pairs\[3\].*seedOffset: 4000 is already used/);
    expect(message).toMatch(/pairs\[4\].*\.a\[0\]\.size: consolidation takes no size/);
    expect(message).toMatch(/pairs\[5\].*no finding is more prevalent in A than in B/);
  });

  it('rejects bad prevalence, difficulty, n, unknown fields and bad JSON', () => {
    const doc = base();
    (doc.pairs[0]!['a'] as Record<string, unknown>[])[0]!['prevalence'] = 1.2;
    doc.pairs[1]!['difficulty'] = 'trivial';
    doc.pairs[2]!['n'] = 2;
    doc.pairs[3]!['extra'] = true;
    expect(() => parsePhantomPairs(JSON.stringify(doc))).toThrow(
      /a\[0\]\.prevalence: prevalence must be in \[0, 1\][\s\S]*pairs\[1\] \(id "effusion-right-large"\)\.difficulty[\s\S]*pairs\[2\].*\.n[\s\S]*extra/,
    );
    expect(() => parsePhantomPairs('{"pairs": [')).toThrow(/not valid JSON/);
    expect(() => parsePhantomPairs('{"schemaVersion": 1, "pairs": []}')).toThrow(/at least one pair/);
  });
});

describe('grayToPixelValues', () => {
  it('is the image worker math on R = G = B, and refuses to resample', () => {
    const size = 8;
    const data = Uint8Array.from({ length: size * size }, (_, i) => (i * 37) % 256);
    const p = {
      version: 't',
      size,
      resize: 'pad-to-square' as const,
      rescale: 1 / 255,
      mean: [0.4, 0.5, 0.6] as [number, number, number],
      std: [0.2, 0.3, 0.4] as [number, number, number],
    };
    const rgba = new Uint8Array(size * size * 4);
    data.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
    expect(grayToPixelValues({ width: size, height: size, data }, p)).toEqual(rgbaToChw(rgba, size, p));
    expect(() => grayToPixelValues({ width: 16, height: 16, data: new Uint8Array(256) }, p)).toThrow(
      /render it at the input size/,
    );
  });
});

/** The committed phantom model (`npm run make:phantom-model` rebuilds it). */
const RANKER = 'phantom-clip';

describe('a reduced phantom benchmark run (phantom-clip, 3 pairs, n = 20 per set)', () => {
  let dir: string;
  let pairsFile: string;
  let outDir: string;
  let first: { lines: unknown[]; summary: SummaryLine };

  beforeAll(async () => {
    if (!existsSync(join(MODELS_DIR, RANKER, 'onnx', 'vision_model.onnx'))) {
      throw new Error(`public/models/${RANKER} is missing: run npm run make:phantom-model`);
    }
    dir = mkdtempSync(join(tmpdir(), 'bench-phantom-'));
    outDir = join(dir, 'out');
    pairsFile = join(dir, 'pairs.json');
    const doc = JSON.parse(pairsText) as { pairs: { id: string; n: number }[] };
    // Two easy pairs whose top finding is stable across seeds at this small n, and one medium pair.
    const keep = ['cardiomegaly', 'low-lung-volumes', 'effusion-left-small'];
    doc.pairs = doc.pairs.filter((p) => keep.includes(p.id)).map((p) => ({ ...p, n: 20 }));
    writeFileSync(pairsFile, JSON.stringify(doc));
    const lines: unknown[] = [];
    const summary = await runPhantomBenchmark({
      pairsFile,
      ranker: RANKER,
      seed: 5,
      outDir,
      writeLine: (line) => lines.push(JSON.parse(line)),
      log: () => undefined,
    });
    first = { lines, summary };
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one line per pair, then the summary line', () => {
    const { lines, summary } = first;
    expect(lines).toHaveLength(4);
    const pairLines = lines.slice(0, 3) as PairLine[];
    expect(pairLines.map((l) => l.pairId)).toEqual([
      'cardiomegaly',
      'low-lung-volumes',
      'effusion-left-small',
    ]);
    for (const line of pairLines) {
      expect(line).toMatchObject({ status: 'done', resumed: false });
      expect(['easy', 'medium', 'hard']).toContain(line.difficulty);
      expect(line.top5).toHaveLength(5);
      for (const f of line.top5) {
        expect(typeof f.finding).toBe('string');
        expect(f.auroc).toBeGreaterThanOrEqual(0);
        expect(f.auroc).toBeLessThanOrEqual(1);
      }
      const aurocs = line.top5.map((f) => f.auroc);
      expect([...aurocs].sort((x, y) => y - x)).toEqual(aurocs);
      expect(line.verdicts).toHaveLength(5);
      expect([0, 0.5, 1]).toContain(line.acc1);
      expect([0, 0.5, 1]).toContain(line.acc5);
      expect(line.seconds).toBeGreaterThan(0);
    }
    expect(lines[3]).toEqual(summary);
    expect(summary).toMatchObject({ name: 'phantom-benchmark', n: 3, failed: 0, ranker: RANKER, seed: 5 });
    expect(Object.keys(summary.by_difficulty)).toEqual(['easy', 'medium', 'hard']);
    expect(summary.by_difficulty['easy']!.n).toBe(2);
    expect(summary.seconds).toBeGreaterThan(0);
    expect(summary.bankPhrases).toBe(expandBank(DEFAULT_BANK).length);
  });

  it('ranks the known finding first on the easy pairs', () => {
    const easy = (first.lines as PairLine[]).filter((l) => l.difficulty === 'easy');
    expect(easy).toHaveLength(2);
    for (const line of easy) {
      expect(line.verdicts[0]!.score, `${line.pairId}: ${line.top5[0]!.finding}`).toBe(2);
      expect(line.acc1).toBe(1);
      expect(line.top5[0]!.auroc).toBeGreaterThan(0.9);
    }
  });

  it('resumes: a second run reuses every record; other settings are refused', async () => {
    const lines: PairLine[] = [];
    const again = await runPhantomBenchmark({
      pairsFile,
      ranker: RANKER,
      seed: 5,
      outDir,
      writeLine: (line) => lines.push(JSON.parse(line) as PairLine),
      log: () => undefined,
    });
    expect(lines.slice(0, 3).every((l) => l.resumed)).toBe(true);
    const strip = (l: PairLine) => ({ ...l, resumed: false });
    expect(lines.slice(0, 3).map(strip)).toEqual(first.lines.slice(0, 3));
    expect({ ...again, seconds: 0 }).toEqual({ ...first.summary, seconds: 0 });
    await expect(
      runPhantomBenchmark({ pairsFile, ranker: RANKER, seed: 6, outDir, writeLine: () => {}, log: () => {} }),
    ).rejects.toThrow(/other settings/);
  }, 60_000);

  it('--json prints only JSON lines through the CLI, resuming from --out', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        join(ROOT, 'scripts/bench-phantom.ts'),
        '--pairs',
        pairsFile,
        '--ranker',
        RANKER,
        '--seed',
        '5',
        '--out',
        outDir,
        '--json',
      ],
      { cwd: ROOT },
    );
    expect(stderr).toBe('');
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.slice(0, 3).every((l) => l['resumed'] === true)).toBe(true);
    expect(lines[3]).toMatchObject({ name: 'phantom-benchmark', acc1: first.summary.acc1, n: 3 });
  }, 60_000);
});
