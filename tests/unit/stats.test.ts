// Checks src/lib/core/stats.ts against scipy golden values (scripts/golden/stats_golden.py), hand-derived cases,
// closed forms of the special functions, and fast-check properties of the rank statistics.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  auroc,
  aurocCI,
  benjaminiHochberg,
  cliffsDelta,
  erfc,
  mannWhitneyP,
  normalCdf,
  normalQuantile,
  rankSummary,
  regularizedIncompleteBeta,
  studentTSf,
  welchTTest,
} from '../../src/lib/core/stats.ts';

type Encoded = number | 'NaN' | 'Infinity' | '-Infinity';
interface GoldenCase {
  name: string;
  a: Encoded[];
  b: Encoded[];
  auroc: Encoded;
  mannWhitneyP: Encoded;
  welch: { t: Encoded; df: Encoded; p: Encoded };
  /** Exact rational t and df (NaN where scipy's are degenerate). */
  welchExact: { t: Encoded; df: Encoded };
  ci: { level: number; lo: Encoded; hi: Encoded };
}
interface Golden {
  cases: GoldenCase[];
  bh: { name: string; p: Encoded[]; q: Encoded[] }[];
  special: {
    normalCdf: { x: number; value: Encoded }[];
    normalQuantile: { p: number; value: Encoded }[];
    studentTSf: { t: number; df: number; value: Encoded }[];
  };
}

const golden = JSON.parse(
  readFileSync(new URL('../fixtures/stats-golden.json', import.meta.url), 'utf8'),
) as Golden;

function dec(v: Encoded): number {
  return typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : -Infinity;
}

/** |actual − expected| ≤ rel·|expected|, with NaN, ±Infinity and 0 required to match exactly. */
function expectRel(actual: number, expected: number, rel: number, label: string): void {
  if (Number.isNaN(expected) || !Number.isFinite(expected) || expected === 0) {
    expect(actual, label).toBe(expected);
    return;
  }
  const err = Math.abs(actual - expected) / Math.abs(expected);
  expect(err, `${label}: got ${actual}, expected ${expected}`).toBeLessThanOrEqual(rel);
}

function expectAbs(actual: number, expected: number, tol: number, label: string): void {
  if (Number.isNaN(expected)) {
    expect(actual, label).toBeNaN();
    return;
  }
  expect(Math.abs(actual - expected), `${label}: got ${actual}, expected ${expected}`).toBeLessThanOrEqual(
    tol,
  );
}

/** O(n²) definition of the AUROC, independent of the rank implementation. */
function naiveAuroc(a: number[], b: number[]): number {
  let s = 0;
  for (const x of a) for (const y of b) s += x > y ? 1 : x === y ? 0.5 : 0;
  return s / (a.length * b.length);
}

describe('stats vs scipy golden values', () => {
  it('has a varied fixture', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(25);
    expect(golden.cases.some((c) => c.a.length >= 5000)).toBe(true);
  });

  for (const g of golden.cases) {
    const a = g.a.map(dec);
    const b = g.b.map(dec);
    it(`${g.name} (${a.length} vs ${b.length})`, () => {
      expectAbs(auroc(a, b), dec(g.auroc), 1e-9, 'auroc');
      expectAbs(cliffsDelta(a, b), 2 * dec(g.auroc) - 1, 1e-9, 'cliffsDelta');
      expectRel(mannWhitneyP(a, b), dec(g.mannWhitneyP), 1e-6, 'mannWhitneyP');
      const w = welchTTest(a, b);
      // scipy's t is itself off by ~2e−7 on the large-offset case, so t and df are held tightly to the exact
      // rational values and loosely (like p) to scipy.
      expectRel(w.t, dec(g.welch.t), 1e-6, 'welch t vs scipy');
      expectRel(w.df, dec(g.welch.df), 1e-6, 'welch df vs scipy');
      if (!Number.isNaN(dec(g.welchExact.t))) {
        expectRel(w.t, dec(g.welchExact.t), 1e-12, 'welch t vs exact');
        expectRel(w.df, dec(g.welchExact.df), 1e-12, 'welch df vs exact');
      }
      expectRel(w.p, dec(g.welch.p), 1e-6, 'welch p');
      const ci = aurocCI(a, b, g.ci.level);
      expectAbs(ci.lo, dec(g.ci.lo), 1e-9, 'ci lo');
      expectAbs(ci.hi, dec(g.ci.hi), 1e-9, 'ci hi');
    });
  }

  for (const g of golden.bh) {
    it(`Benjamini–Hochberg: ${g.name}`, () => {
      const q = benjaminiHochberg(g.p.map(dec));
      const expected = g.q.map(dec);
      expect(q).toHaveLength(expected.length);
      q.forEach((value, i) => expectRel(value, expected[i] as number, 1e-12, `q[${i}]`));
    });
  }
});

describe('special functions', () => {
  it('normalCdf matches scipy to 1e-12 relative, down to 1e-308', () => {
    for (const { x, value } of golden.special.normalCdf)
      expectRel(normalCdf(x), dec(value), 1e-12, `Φ(${x})`);
  });

  it('normalQuantile matches scipy to 1e-12 relative', () => {
    for (const { p, value } of golden.special.normalQuantile) {
      expectRel(normalQuantile(p), dec(value), 1e-12, `Φ⁻¹(${p})`);
    }
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });

  it('studentTSf matches scipy to 1e-10 relative', () => {
    for (const { t, df, value } of golden.special.studentTSf) {
      expectRel(studentTSf(t, df), dec(value), 1e-10, `sf(${t}; ${df})`);
    }
  });

  it('studentTSf equals the closed forms for df = 1 (Cauchy) and df = 2', () => {
    // Upper tails written without cancellation: atan(1/t)/π and 1/(r(r + t)) with r = √(2 + t²).
    const cauchy = (t: number) => (t > 0 ? Math.atan(1 / t) / Math.PI : 0.5 - Math.atan(t) / Math.PI);
    const df2 = (t: number) => {
      const r = Math.sqrt(2 + t * t);
      return t > 0 ? 1 / (r * (r + t)) : 0.5 - t / (2 * r);
    };
    for (const t of [-7, -1, 0.25, 1, 3, 50, 1e5]) {
      expectRel(studentTSf(t, 1), cauchy(t), 1e-13, `df=1 t=${t}`);
      expectRel(studentTSf(t, 2), df2(t), 1e-13, `df=2 t=${t}`);
    }
    expect(studentTSf(Infinity, 5)).toBe(0);
    expect(studentTSf(-Infinity, 5)).toBe(1);
    expect(studentTSf(1, 0)).toBeNaN();
  });

  it('erfc keeps relative accuracy far in the tail', () => {
    // erfc(x) ~ exp(−x²)/(x√π)·(1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶)); at x = 20 the series error is < 1e−9 relative.
    const x = 20;
    const series =
      (Math.exp(-x * x) / (x * Math.sqrt(Math.PI))) *
      (1 - 1 / (2 * x * x) + 3 / (4 * x ** 4) - 15 / (8 * x ** 6));
    expectRel(erfc(x), series, 1e-9, 'erfc(20)');
    expect(erfc(0)).toBe(1);
    expectRel(erfc(-1) + erfc(1), 2, 1e-15, 'erfc symmetry');
  });

  it('regularizedIncompleteBeta has the textbook values', () => {
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_½(a, a) = ½.
    expectRel(regularizedIncompleteBeta(0.3, 1, 1), 0.3, 1e-14, 'uniform');
    expectRel(regularizedIncompleteBeta(0.7, 3.5, 1), 0.7 ** 3.5, 1e-13, 'x^a');
    expectRel(regularizedIncompleteBeta(0.5, 40, 40), 0.5, 1e-13, 'symmetric');
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });
});

describe('hand-derived cases', () => {
  it('AUROC of complete separation is 1 (and 0 reversed)', () => {
    expect(auroc([1, 2, 3], [0])).toBe(1);
    expect(auroc([0], [1, 2, 3])).toBe(0);
  });

  it('ties count one half', () => {
    expect(auroc([5, 5, 5], [5, 5])).toBe(0.5);
    // (1,1)=½ (1,2)=0 (2,1)=1 (2,2)=½ → 2/4
    expect(auroc([1, 2], [1, 2])).toBe(0.5);
    // a=3: ½ (vs 3); a=4: 1 (vs 3) + ½ (vs 4) → 2/16
    expect(auroc([1, 2, 3, 4], [3, 4, 5, 6])).toBe(0.125);
    expect(auroc([0, 1], [1])).toBe(0.25);
  });

  it('Mann–Whitney p by hand: U=3, n=(3,1) → z = 1/√1.25', () => {
    const z = 1 / Math.sqrt(1.25);
    expectRel(mannWhitneyP([1, 2, 3], [0]), 2 * normalCdf(-z), 1e-15, 'p');
    expect(mannWhitneyP([5, 5, 5], [5, 5])).toBe(1);
  });

  it('Welch by hand: a=[0,2], b=[4,6] → t = −2√2, df = 2, p = 1 − 2/√5', () => {
    const w = welchTTest([0, 2], [4, 6]);
    expectRel(w.t, -2 * Math.SQRT2, 1e-15, 't');
    expectRel(w.df, 2, 1e-15, 'df');
    expectRel(w.p, 1 - 2 / Math.sqrt(5), 1e-13, 'p');
  });

  it('Welch degenerate cases follow scipy', () => {
    expect(welchTTest([2, 2, 2], [1, 1])).toEqual({ t: Infinity, df: 1, p: 0 });
    const constant = welchTTest([1, 1, 1], [1, 1]);
    expect(constant.t).toBeNaN();
    expect(constant.p).toBeNaN();
    expect(welchTTest([1], [1, 2]).p).toBeNaN();
    expect(welchTTest([], [1, 2]).df).toBeNaN();
  });

  it('DeLong CI degenerate cases are explicit', () => {
    expect(aurocCI([1], [0, 1, 2])).toEqual({ lo: NaN, hi: NaN });
    expect(aurocCI([1, 2], [0])).toEqual({ lo: NaN, hi: NaN });
    expect(aurocCI([2, 3], [0, 1])).toEqual({ lo: 1, hi: 1 }); // zero variance: point interval
    expect(aurocCI([5, 5, 5], [5, 5])).toEqual({ lo: 0.5, hi: 0.5 });
    expect(() => aurocCI([1, 2], [0, 1], 1)).toThrow(RangeError);
    expect(() => aurocCI([1, 2], [0, 1], 0)).toThrow(RangeError);
  });

  it('CI widens with the level and contains the estimate', () => {
    const a = [0.3, 0.5, 0.2, 0.9, 0.4, 0.45];
    const b = [0.1, 0.35, 0.2, 0.05, 0.6];
    const auc = auroc(a, b);
    const narrow = aurocCI(a, b, 0.8);
    const wide = aurocCI(a, b, 0.99);
    expect(narrow.lo).toBeLessThan(auc);
    expect(narrow.hi).toBeGreaterThan(auc);
    expect(wide.lo).toBeLessThan(narrow.lo);
    expect(wide.hi).toBeGreaterThanOrEqual(narrow.hi);
    expect(wide.hi).toBeLessThanOrEqual(1);
  });

  it('empty sets and NaN give NaN instead of a number', () => {
    expect(auroc([], [1])).toBeNaN();
    expect(mannWhitneyP([1], [])).toBeNaN();
    expect(auroc([1, NaN], [0])).toBeNaN();
    expect(mannWhitneyP([1, 2], [0, NaN])).toBeNaN();
    expect(aurocCI([1, NaN, 3], [0, 1]).lo).toBeNaN();
  });

  it('rankSummary exposes U and the tie term', () => {
    // Pooled [1,2,2,3]: one tie group of 2 → Σ(t³−t) = 6; U(A=[2,3]) = (1 + ½) + 2 = 3.5.
    const s = rankSummary([2, 3], [1, 2]);
    expect(s.u).toBe(3.5);
    expect(s.tieTerm).toBe(6);
  });

  it('Benjamini–Hochberg by hand, with NaN left out of the family', () => {
    const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.5]);
    expect(q.map((v) => +v.toFixed(12))).toEqual([0.04, 0.053333333333, 0.053333333333, 0.5]);
    const withNaN = benjaminiHochberg([0.01, NaN, 0.03]);
    expect(withNaN[0]).toBeCloseTo(0.02, 15);
    expect(withNaN[1]).toBeNaN();
    expect(withNaN[2]).toBeCloseTo(0.03, 15);
    expect(benjaminiHochberg([])).toEqual([]);
    expect(() => benjaminiHochberg([0.2, 1.5])).toThrow(RangeError);
    expect(() => benjaminiHochberg([-0.1])).toThrow(RangeError);
  });
});

describe('properties', () => {
  // Small integers force ties; doubles exercise the generic path.
  const tiedSample = fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 40 });
  const realSample = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), {
    minLength: 1,
    maxLength: 40,
  });
  const sample = fc.oneof(tiedSample, realSample);

  it('AUROC equals the O(n²) pair-counting definition', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        expect(Math.abs(auroc(a, b) - naiveAuroc(a, b))).toBeLessThanOrEqual(1e-12);
      }),
    );
  });

  it('swapping the sets gives 1 − AUROC', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        expect(Math.abs(auroc(b, a) - (1 - auroc(a, b)))).toBeLessThanOrEqual(1e-12);
      }),
    );
  });

  it('strictly increasing transforms leave AUROC, its CI and the Mann–Whitney p unchanged', () => {
    // Integers keep 3x + 1 exact and exp(x/100) strictly increasing, so no ties are created or broken.
    fc.assert(
      fc.property(tiedSample, tiedSample, (a, b) => {
        for (const f of [(x: number) => 3 * x + 1, (x: number) => Math.exp(x / 100)]) {
          const fa = a.map(f);
          const fb = b.map(f);
          expect(auroc(fa, fb)).toBe(auroc(a, b));
          expect(mannWhitneyP(fa, fb)).toBe(mannWhitneyP(a, b));
          expect(aurocCI(fa, fb)).toEqual(aurocCI(a, b));
        }
      }),
    );
  });

  it("Cliff's delta is 2·AUROC − 1", () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const d = cliffsDelta(a, b);
        expect(d).toBe(2 * auroc(a, b) - 1);
        expect(Math.abs(d)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('BH q-values are ≥ p, ≤ 1 and ordered like the p-values', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (p) => {
        const q = benjaminiHochberg(p);
        for (let i = 0; i < p.length; i++) {
          expect(q[i]).toBeGreaterThanOrEqual(p[i] as number);
          expect(q[i]).toBeLessThanOrEqual(1);
          for (let j = 0; j < p.length; j++) {
            if ((p[i] as number) <= (p[j] as number)) expect(q[i]).toBeLessThanOrEqual(q[j] as number);
          }
        }
      }),
    );
  });

  it('the CI lies in [0, 1] around the estimate', () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        fc.pre(a.length >= 2 && b.length >= 2);
        const auc = auroc(a, b);
        const { lo, hi } = aurocCI(a, b);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        expect(lo).toBeLessThanOrEqual(auc);
        expect(hi).toBeGreaterThanOrEqual(auc);
      }),
    );
  });
});
