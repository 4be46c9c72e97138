// Checks the chest radiograph phantom generator (src/lib/core/phantom) and its CLI (scripts/phantom.ts):
// determinism, that each finding changes the image where it should (patient left = image right), exact prevalence
// counts, the findings catalogue and argument parsing, the reports, and the command line end to end.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { encode } from 'fast-png';
import {
  FINDINGS,
  cohortAssignment,
  describeFinding,
  generateCohort,
  generatePhantom,
  parseFindingArg,
  phantomFileName,
  type FindingSpec,
  type Phantom,
} from '../../src/lib/core/phantom/index.ts';
import { csvField, main } from '../../scripts/phantom.ts';

const SIZE = 256;

function make(findings: FindingSpec[], index = 0, seed = 11, size = SIZE): Phantom {
  return generatePhantom({ seed, index, size, findings });
}

/** Mean gray level in a box given as fractions of the image side. */
function mean(p: Phantom, x0: number, x1: number, y0: number, y1: number): number {
  const s = p.size;
  let sum = 0;
  let count = 0;
  for (let y = Math.floor(y0 * s); y < Math.ceil(y1 * s); y++) {
    for (let x = Math.floor(x0 * s); x < Math.ceil(x1 * s); x++) {
      sum += p.pixels[y * s + x]!;
      count++;
    }
  }
  return sum / count;
}

/** Fraction of pixels in a box at least `by` gray levels brighter in `a` than in `b`. */
function brighterFraction(a: Phantom, b: Phantom, box: [number, number, number, number], by = 30): number {
  const s = a.size;
  const [x0, x1, y0, y1] = box;
  let hits = 0;
  let count = 0;
  for (let y = Math.floor(y0 * s); y < Math.ceil(y1 * s); y++) {
    for (let x = Math.floor(x0 * s); x < Math.ceil(x1 * s); x++) {
      const p = y * s + x;
      if (a.pixels[p]! - b.pixels[p]! >= by) hits++;
      count++;
    }
  }
  return hits / count;
}

function png(p: Phantom): Uint8Array {
  return encode({ width: p.size, height: p.size, data: p.pixels, channels: 1, depth: 8 });
}

describe('generatePhantom', () => {
  it('is deterministic: same options give byte-identical PNGs and reports', () => {
    const findings: FindingSpec[] = [{ name: 'effusion' }, { name: 'cvc' }, { name: 'nodule' }];
    const a = make(findings, 3);
    const b = make(findings, 3);
    expect(Buffer.from(png(a)).equals(Buffer.from(png(b)))).toBe(true);
    expect(a.report).toBe(b.report);
    expect(a.labels).toEqual(b.labels);
  });

  it('differs between indices and seeds', () => {
    const a = make([], 0);
    const b = make([], 1);
    const c = make([], 0, 12);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(false);
    expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels))).toBe(false);
  });

  it('has the requested size, a 512 px default, and a plausible gray range', () => {
    const p = generatePhantom({ seed: 1, index: 0, findings: [] });
    expect(p.size).toBe(512);
    expect(p.pixels.length).toBe(512 * 512);
    const small = make([], 0, 1, 96);
    expect(small.pixels.length).toBe(96 * 96);
    // Air outside the body (bottom corners) is dark, the mediastinum bright, the lungs in between.
    const air = Math.min(mean(p, 0, 0.04, 0.85, 1), mean(p, 0.96, 1, 0.85, 1));
    const mediastinum = mean(p, 0.47, 0.53, 0.5, 0.6);
    const lung = mean(p, 0.25, 0.32, 0.35, 0.45);
    expect(air).toBeLessThan(40);
    expect(mediastinum).toBeGreaterThan(lung + 60);
    expect(lung).toBeGreaterThan(air + 20);
  });

  it('rejects bad sizes and indices', () => {
    expect(() => generatePhantom({ seed: 1, index: 0, size: 8, findings: [] })).toThrow(RangeError);
    expect(() => generatePhantom({ seed: 1, index: -1, findings: [] })).toThrow(RangeError);
  });

  it('keeps anatomy and nuisance of (seed, index) independent of the findings (matched pairs)', () => {
    const a = make([], 5);
    const b = make([{ name: 'ett' }], 5);
    expect(b.labels.nuisance).toEqual(a.labels.nuisance);
    // Far from the tube nothing changes.
    expect(mean(b, 0.05, 0.3, 0.5, 0.9)).toBe(mean(a, 0.05, 0.3, 0.5, 0.9));
  });

  it('resolves unspecified options into the labels', () => {
    const p = make([{ name: 'effusion' }, { name: 'consolidation', side: 'left' }, { name: 'cvc' }]);
    const [effusion, consolidation, cvc] = p.labels.findings;
    expect(['left', 'right']).toContain(effusion!.side);
    expect(['small', 'large']).toContain(effusion!.size);
    expect(consolidation!.side).toBe('left');
    expect(['upper', 'middle', 'lower']).toContain(consolidation!.zone);
    expect(['jugular', 'subclavian']).toContain(cvc!.variant);
    for (const f of p.labels.findings) expect(f.severity).toBeGreaterThanOrEqual(0.7);
  });
});

describe('findings change the image where they should (patient left = image right)', () => {
  // Several patients per check, so that one unlucky anatomy cannot make a test pass or fail.
  const indices = [0, 1, 2, 3];

  it('effusion brightens the lower lung of its side, not the other', () => {
    for (const index of indices) {
      const base = make([], index);
      const left = make([{ name: 'effusion', side: 'left', size: 'large' }], index);
      const right = make([{ name: 'effusion', side: 'right', size: 'small' }], index);
      // Patient left = image right.
      expect(mean(left, 0.62, 0.9, 0.6, 0.8)).toBeGreaterThan(mean(base, 0.62, 0.9, 0.6, 0.8) + 15);
      expect(mean(left, 0.1, 0.38, 0.6, 0.8)).toBeCloseTo(mean(base, 0.1, 0.38, 0.6, 0.8), 5);
      // A small right effusion blunts the image-left costophrenic angle.
      const cpBox: [number, number, number, number] = [0.1, 0.3, 0.65, 0.82];
      expect(mean(right, ...cpBox)).toBeGreaterThan(mean(base, ...cpBox) + 4);
      expect(mean(right, 0.7, 0.9, 0.65, 0.82)).toBeCloseTo(mean(base, 0.7, 0.9, 0.65, 0.82), 5);
    }
  });

  it('a subtle (low-severity) effusion is fainter than a full one', () => {
    const base = make([], 0);
    const faint = make([{ name: 'effusion', side: 'left', size: 'large', severity: 0.1 }], 0);
    const full = make([{ name: 'effusion', side: 'left', size: 'large', severity: 1 }], 0);
    const box: [number, number, number, number] = [0.62, 0.9, 0.6, 0.8];
    const dFaint = mean(faint, ...box) - mean(base, ...box);
    const dFull = mean(full, ...box) - mean(base, ...box);
    expect(dFaint).toBeGreaterThan(0);
    expect(dFull).toBeGreaterThan(2 * dFaint);
  });

  it('cardiomegaly raises the cardiothoracic ratio above 0.5 and widens the heart shadow', () => {
    for (const index of indices) {
      const base = make([], index);
      const big = make([{ name: 'cardiomegaly' }], index);
      expect(base.labels.measurements.ctr).toBeLessThan(0.5);
      expect(big.labels.measurements.ctr).toBeGreaterThan(0.5);
      expect(mean(big, 0.25, 0.75, 0.5, 0.62)).toBeGreaterThan(mean(base, 0.25, 0.75, 0.5, 0.62) + 8);
    }
  });

  it('pneumothorax darkens the apex and lateral lung of its side', () => {
    for (const index of indices) {
      const base = make([], index);
      const left = make([{ name: 'pneumothorax', side: 'left', size: 'large' }], index);
      const box: [number, number, number, number] = [0.6, 0.88, 0.1, 0.35];
      expect(mean(left, ...box)).toBeLessThan(mean(base, ...box) - 3);
      expect(mean(left, 0.12, 0.4, 0.1, 0.35)).toBeCloseTo(mean(base, 0.12, 0.4, 0.1, 0.35), 5);
    }
  });

  it('consolidation brightens its side; a nodule adds a small bright spot on its side', () => {
    for (const index of indices) {
      const base = make([], index);
      const cons = make([{ name: 'consolidation', side: 'right', zone: 'lower' }], index);
      expect(mean(cons, 0.1, 0.45, 0.35, 0.7)).toBeGreaterThan(mean(base, 0.1, 0.45, 0.35, 0.7) + 3);
      const nod = make([{ name: 'nodule', side: 'left', zone: 'upper' }], index);
      const inBox = brighterFraction(nod, base, [0.5, 0.95, 0.05, 0.45], 12);
      const elsewhere = brighterFraction(nod, base, [0.05, 0.5, 0, 1], 12);
      expect(inBox).toBeGreaterThan(0.001);
      expect(inBox).toBeLessThan(0.05);
      expect(elsewhere).toBe(0);
    }
  });

  it('devices add bright thin pixels in their region', () => {
    for (const index of indices) {
      const base = make([], index);
      // Right CVC: image-left upper chest and neck.
      const cvc = make([{ name: 'cvc', side: 'right' }], index);
      const cvcHits = brighterFraction(cvc, base, [0.3, 0.5, 0, 0.45]);
      expect(cvcHits).toBeGreaterThan(0.003);
      expect(cvcHits).toBeLessThan(0.1);
      expect(brighterFraction(cvc, base, [0.6, 1, 0, 1])).toBe(0);
      // ETT: midline above the carina.
      const ett = make([{ name: 'ett' }], index);
      expect(brighterFraction(ett, base, [0.44, 0.56, 0, 0.3], 15)).toBeGreaterThan(0.02);
      expect(brighterFraction(ett, base, [0, 0.4, 0, 1], 15)).toBe(0);
      // NGT: crosses below the left hemidiaphragm into the stomach (image right of midline).
      const ngt = make([{ name: 'ngt' }], index);
      expect(brighterFraction(ngt, base, [0.5, 0.8, 0.68, 0.9], 15)).toBeGreaterThan(0.002);
      // Pacemaker (left by default → image right, upper chest): a large bright generator.
      const pm = make([{ name: 'pacemaker', side: 'left' }], index);
      expect(brighterFraction(pm, base, [0.6, 0.95, 0.1, 0.4], 40)).toBeGreaterThan(0.03);
      expect(brighterFraction(pm, base, [0, 0.3, 0, 0.4], 40)).toBe(0);
    }
  });

  it('low lung volumes raise the diaphragm and shrink the lungs', () => {
    for (const index of indices) {
      const base = make([], index);
      const low = make([{ name: 'low-lung-volumes' }], index);
      expect(low.labels.nuisance.inspiration).toBeLessThan(0.75);
      expect(low.labels.measurements.diaphragmRight).toBeLessThan(
        base.labels.measurements.diaphragmRight - 0.05,
      );
      // The lower lungs become diaphragm and abdomen: brighter.
      expect(mean(low, 0.15, 0.85, 0.5, 0.65)).toBeGreaterThan(mean(base, 0.15, 0.85, 0.5, 0.65) + 10);
    }
  });
});

describe('generateCohort', () => {
  it('gives each finding to exactly round(p·n) images, lazily, named phantom-00001.png…', () => {
    const spec = {
      n: 20,
      seed: 4,
      size: 48,
      findings: [
        { spec: { name: 'effusion' as const }, prevalence: 0.3 },
        { spec: { name: 'ett' as const }, prevalence: 0.55 },
        { spec: { name: 'nodule' as const }, prevalence: 0 },
      ],
    };
    const members = cohortAssignment(spec);
    expect(members.map((m) => m.reduce((s, v) => s + v, 0))).toEqual([6, 11, 0]);
    const iterator = generateCohort(spec)[Symbol.iterator]();
    const first = iterator.next();
    expect(first.done).toBe(false);
    const names = [first.value.name];
    const counts = { effusion: 0, ett: 0, nodule: 0 } as Record<string, number>;
    const tally = (p: Phantom) => p.labels.findings.forEach((f) => counts[f.name]!++);
    tally(first.value.phantom);
    for (let r = iterator.next(); !r.done; r = iterator.next()) {
      names.push(r.value.name);
      tally(r.value.phantom);
    }
    expect(names[0]).toBe('phantom-00001.png');
    expect(names[19]).toBe('phantom-00020.png');
    expect(counts).toEqual({ effusion: 6, ett: 11, nodule: 0 });
    expect(phantomFileName(99_998)).toBe('phantom-99999.png');
  });

  it('is reproducible and rejects bad prevalences', () => {
    const spec = { n: 10, seed: 9, findings: [{ spec: { name: 'cvc' as const }, prevalence: 0.5 }] };
    expect(cohortAssignment(spec)).toEqual(cohortAssignment(spec));
    expect(() =>
      cohortAssignment({ ...spec, findings: [{ spec: { name: 'cvc' }, prevalence: 1.5 }] }),
    ).toThrow();
  });
});

describe('findings catalogue', () => {
  it('lists every finding once with a label and description', () => {
    const names = FINDINGS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'effusion',
        'cardiomegaly',
        'pneumothorax',
        'consolidation',
        'nodule',
        'cvc',
        'ett',
        'ngt',
        'pacemaker',
        'low-lung-volumes',
      ]),
    );
    for (const f of FINDINGS) expect(f.label && f.description).toBeTruthy();
  });

  it('parses name:option=value,... arguments', () => {
    expect(parseFindingArg('effusion:side=left,size=large')).toEqual({
      name: 'effusion',
      side: 'left',
      size: 'large',
    });
    expect(parseFindingArg('nodule:zone=upper,severity=0.3')).toEqual({
      name: 'nodule',
      zone: 'upper',
      severity: 0.3,
    });
    expect(parseFindingArg('cardiomegaly')).toEqual({ name: 'cardiomegaly' });
    expect(parseFindingArg(' CVC:Side=Right ')).toEqual({ name: 'cvc', side: 'right' });
  });

  it('rejects unknown names (listing the known ones) and bad options', () => {
    expect(() => parseFindingArg('atelectasis')).toThrow(
      /unknown finding "atelectasis".*effusion.*low-lung-volumes/,
    );
    expect(() => parseFindingArg('effusion:side=middle')).toThrow(/side must be one of left, right/);
    expect(() => parseFindingArg('effusion:zone=upper')).toThrow(/has no option "zone"/);
    expect(() => parseFindingArg('effusion:colour=red')).toThrow(/unknown option "colour"/);
    expect(() => parseFindingArg('effusion:side')).toThrow(/option=value/);
    expect(() => parseFindingArg('nodule:severity=2')).toThrow(/severity/);
  });

  it('describes findings with canonical phrases', () => {
    expect(describeFinding({ name: 'effusion', side: 'left', size: 'large' })).toBe(
      'large left pleural effusion',
    );
    expect(describeFinding({ name: 'cvc', side: 'right' })).toBe('right central venous catheter');
    expect(describeFinding({ name: 'consolidation', side: 'right', zone: 'upper' })).toBe(
      'right upper zone consolidation',
    );
    expect(describeFinding({ name: 'effusion' })).toBe('pleural effusion');
    expect(describeFinding({ name: 'low-lung-volumes' })).toBe('low lung volumes');
    for (const f of FINDINGS) expect(describeFinding({ name: f.name }).length).toBeGreaterThan(3);
  });
});

describe('reports', () => {
  const mentions: Record<FindingSpec['name'], RegExp> = {
    effusion: /effusion/i,
    cardiomegaly: /cardiomegaly|enlarged/i,
    pneumothorax: /pneumothorax/i,
    consolidation: /consolidation|opacity|airspace/i,
    nodule: /nodul/i,
    cvc: /catheter|central line/i,
    ett: /endotracheal|ET tube/i,
    ngt: /nasogastric|enteric|NG tube/i,
    pacemaker: /pacemaker|pacing/i,
    'low-lung-volumes': /low lung volumes|hypoinflat|lung volumes are low/i,
  };

  it('mentions every present finding and never negates it', () => {
    for (const f of FINDINGS) {
      for (const index of [0, 1, 2]) {
        const p = make([{ name: f.name, side: 'left' }], index, 5, 48);
        expect(p.report, `${f.name} #${index}`).toMatch(mentions[f.name]);
        expect(p.report).toMatch(/^FINDINGS: .+ IMPRESSION: .+$/);
        if (f.name === 'pneumothorax') expect(p.report).not.toMatch(/No pneumothorax|or pneumothorax/);
        if (f.name === 'effusion')
          expect(p.report).not.toMatch(/No pleural effusion|costophrenic angles are sharp/);
        if (f.name === 'cardiomegaly')
          expect(p.report).not.toMatch(/normal heart size|heart size is normal/i);
      }
    }
  });

  it('names the side of lateralized findings', () => {
    const p = make(
      [
        { name: 'effusion', side: 'right', size: 'large' },
        { name: 'cvc', side: 'left' },
      ],
      0,
      5,
      48,
    );
    expect(p.report).toMatch(/large right (pleural )?effusion/i);
    expect(p.report).toMatch(/left(-sided)? (subclavian|internal jugular)/i);
  });

  it('negates some absent findings and varies its wording', () => {
    const reports = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => make([], i, 5, 48).report);
    for (const r of reports) {
      expect(r).toMatch(/\bNo\b|normal|clear|sharp/);
      expect(r).toMatch(
        /IMPRESSION: (No acute cardiopulmonary (process|abnormality)|Normal chest radiograph)\.$/,
      );
    }
    expect(new Set(reports).size).toBeGreaterThan(4);
  });
});

describe('CLI (scripts/phantom.ts)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('writes PNGs, labels.json and reports.csv', () => {
    const dir = mkdtempSync(join(tmpdir(), 'phantom-cli-'));
    dirs.push(dir);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const code = main([
      '--out',
      dir,
      '--n',
      '6',
      '--seed',
      '3',
      '--size',
      '64',
      '--finding',
      'effusion:side=left',
      '--prevalence',
      '0.5',
      '--finding',
      'ett',
    ]);
    log.mockRestore();
    expect(code).toBe(0);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(
      [...[1, 2, 3, 4, 5, 6].map((i) => phantomFileName(i - 1)), 'labels.json', 'reports.csv'].sort(),
    );
    const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'));
    expect(labels.parameters).toMatchObject({ n: 6, seed: 3, size: 64 });
    const withEffusion = Object.keys(labels).filter(
      (k) => k !== 'parameters' && labels[k].findings.some((f: FindingSpec) => f.name === 'effusion'),
    );
    expect(withEffusion).toHaveLength(3);
    expect(labels['phantom-00001.png'].findings.some((f: FindingSpec) => f.name === 'ett')).toBe(true);
    const csv = readFileSync(join(dir, 'reports.csv'), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('file,report');
    expect(csv).toHaveLength(7);
    expect(csv[1]).toMatch(/^phantom-00001\.png,"?FINDINGS: /);
    // The PNGs decode to what generatePhantom makes.
    const again = generatePhantom({
      seed: 3,
      index: 0,
      size: 64,
      findings: labels['phantom-00001.png'].findings,
    });
    expect(Buffer.from(readFileSync(join(dir, 'phantom-00001.png'))).equals(Buffer.from(png(again)))).toBe(
      true,
    );
  });

  it('quotes CSV fields properly', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a, b')).toBe('"a, b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
  });

  it('exits 2 with the usage on bad arguments, and lists known findings for an unknown one', () => {
    const errors: string[] = [];
    const err = vi.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    expect(main(['--n', '3'])).toBe(2);
    expect(errors.pop()).toMatch(/--out is required[\s\S]*usage:/);
    expect(main(['--out', '/tmp/x', '--n', 'three', '--seed', '1'])).toBe(2);
    expect(errors.pop()).toMatch(/--n needs an integer/);
    expect(main(['--out', '/tmp/x', '--n', '2', '--seed', '1', '--finding', 'foo'])).toBe(2);
    expect(errors.pop()).toMatch(/unknown finding "foo".*effusion, cardiomegaly/);
    expect(main(['--out', '/tmp/x', '--n', '2', '--seed', '1', '--prevalence', '0.5'])).toBe(2);
    expect(main(['--out', '/tmp/x', '--n', '2', '--seed', '1', '--bogus'])).toBe(2);
    err.mockRestore();
  });

  it('--list prints the findings and their options', () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((m: string) => void lines.push(m));
    expect(main(['--list'])).toBe(0);
    log.mockRestore();
    for (const f of FINDINGS) expect(lines.join('\n')).toContain(f.name);
    expect(lines.join('\n')).toMatch(/side=left\|right/);
  });
});
