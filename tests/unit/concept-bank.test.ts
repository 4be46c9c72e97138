// The concept bank: slot expansion, the text format (line-numbered errors, round trip), deduplication,
// determinism, and the proposer on synthetic embeddings (right phrase first, variants collapsed except by side).
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BANK,
  expandBank,
  expandBankPhrases,
  formatBank,
  parseBank,
  phraseFingerprint,
  proposeFromBank,
  type ConceptBank,
} from '../../src/lib/core/concept-bank.ts';
import { createRng } from '../../src/lib/core/random.ts';

const bank = (text: string): ConceptBank => {
  const parsed = parseBank(text);
  expect(parsed.errors).toEqual([]);
  return parsed;
};

describe('expandBank', () => {
  it('expands slots in order, first slot outermost, optional slots empty first', () => {
    expect(expandBank(bank('@side = left | right\n{size:small|large?} {side} pleural effusion'))).toEqual([
      'left pleural effusion',
      'right pleural effusion',
      'small left pleural effusion',
      'small right pleural effusion',
      'large left pleural effusion',
      'large right pleural effusion',
    ]);
  });

  it('uses the default slot values when the text does not define them', () => {
    expect(expandBank(bank('{side} pneumothorax'))).toEqual([
      'left pneumothorax',
      'right pneumothorax',
      'bilateral pneumothorax',
    ]);
  });

  it('deduplicates case-insensitively across templates, first occurrence wins, whitespace tidied', () => {
    const phrases = expandBank(
      bank('{side:left?}  pleural   effusion\nPleural effusion\nleft pleural effusion'),
    );
    expect(phrases).toEqual(['pleural effusion', 'left pleural effusion']);
  });

  it('records the template and slot values of each phrase', () => {
    const [, second] = expandBankPhrases(bank('[devices]\n{side:left|right} chest tube'));
    expect(second).toEqual({
      text: 'right chest tube',
      template: 0,
      category: 'devices',
      values: { side: 'right' },
    });
  });

  it('gives the default bank a few hundred unique phrases, deterministically', () => {
    const phrases = expandBank(DEFAULT_BANK);
    expect(phrases.length).toBeGreaterThanOrEqual(150);
    expect(phrases.length).toBeLessThanOrEqual(500);
    expect(new Set(phrases.map((p) => p.toLowerCase())).size).toBe(phrases.length);
    expect(expandBank(DEFAULT_BANK)).toEqual(phrases);
    expect(phrases).toContain('large left pleural effusion');
    expect(phrases).toContain('right lower zone consolidation');
    expect(phrases).toContain('enlarged cardiac silhouette');
    expect(phrases).toContain('endotracheal tube');
    expect(phrases).toContain('AP supine projection');
    expect(phrases.every((p) => p === p.trim() && !p.includes('  ') && !/[{}]/.test(p))).toBe(true);
    expect(phraseFingerprint(phrases)).toBe(phraseFingerprint(expandBank(DEFAULT_BANK)));
    expect(phraseFingerprint(phrases)).not.toBe(phraseFingerprint(phrases.slice(1)));
  });
});

describe('parseBank / formatBank', () => {
  it('names every bad line and keeps the good ones', () => {
    const text = [
      '# a comment',
      'pleural effusion  # trailing comment',
      '{sise} opacity',
      '{side pneumothorax',
      'chest tube}',
      '@zone',
      '@Bad = x',
      '@empty = a | ',
      'pleural effusion',
      '[]',
      '{side:a||b} thing',
      '{a:x|y}{b:x|y}{c:x|y}{d:x|y}{e:x|y}{f:x|y}{g:x|y}',
      '@side = left | right',
      '@side = left',
      'x'.repeat(201),
      '{side} hilar enlargement',
    ].join('\n');
    const parsed = parseBank(text);
    expect(parsed.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15]);
    const byLine = Object.fromEntries(parsed.errors.map((e) => [e.line, e.message]));
    expect(byLine[3]).toMatch(/unknown slot \{sise\}.*side/);
    expect(byLine[4]).toMatch(/unclosed/);
    expect(byLine[5]).toMatch(/unexpected "}"/);
    expect(byLine[9]).toMatch(/duplicate template \(first on line 2\)/);
    expect(byLine[12]).toMatch(/128 phrases/);
    expect(byLine[14]).toMatch(/already defined on line 13/);
    expect(expandBank(parsed)).toEqual([
      'pleural effusion',
      'left hilar enlargement',
      'right hilar enlargement',
    ]);
  });

  it('assigns sections as categories and reads CRLF text', () => {
    const parsed = parseBank('opacity\r\n[devices]\r\nendotracheal tube\r\n[technical]\r\nrotated patient');
    expect(parsed.templates).toEqual([
      { text: 'opacity', category: 'findings' },
      { text: 'endotracheal tube', category: 'devices' },
      { text: 'rotated patient', category: 'technical' },
    ]);
  });

  it('round-trips the default bank through the text format', () => {
    const text = formatBank(DEFAULT_BANK);
    const back = parseBank(text);
    expect(back.errors).toEqual([]);
    expect(back.templates).toEqual(DEFAULT_BANK.templates);
    expect(expandBankPhrases(back)).toEqual(expandBankPhrases(DEFAULT_BANK));
    expect(formatBank(back)).toBe(text);
  });
});

/** Synthetic embeddings: phrase h is axis h; A images lean towards `target` phrases' axes, B is noise. */
function synthetic(phrases: string[], target: Record<string, number>, n = 40, seed = 1) {
  const dim = phrases.length + 4;
  const rng = createRng(seed, 'concept-bank-test');
  const text = new Float32Array(phrases.length * dim);
  phrases.forEach((_, h) => (text[h * dim + h] = 1));
  const images = new Float32Array(2 * n * dim);
  const labels = new Uint8Array(2 * n);
  for (let i = 0; i < 2 * n; i++) {
    const inA = i < n;
    labels[i] = inA ? 1 : 0;
    const row = images.subarray(i * dim, (i + 1) * dim);
    for (let k = 0; k < dim; k++) row[k] = (rng.next() - 0.5) * 0.5;
    row[dim - 1] = 2; // shared bias keeps norms comparable
    if (inA) {
      for (const [phrase, weight] of Object.entries(target)) row[phrases.indexOf(phrase)]! += weight;
    }
    let norm = 0;
    for (const v of row) norm += v * v;
    for (let k = 0; k < dim; k++) row[k]! /= Math.sqrt(norm);
  }
  return { imageEmbeddings: images, labels, textEmbeddings: text, dim };
}

describe('proposeFromBank', () => {
  const phrases = expandBankPhrases(DEFAULT_BANK);
  const texts = phrases.map((p) => p.text);

  it('proposes the planted finding first, with its AUROC', () => {
    const data = synthetic(texts, { 'large left pleural effusion': 1.5 });
    const { proposals, ranked } = proposeFromBank({ phrases, ...data, topK: 5 });
    expect(proposals).toHaveLength(5);
    expect(proposals[0]!.finding).toBe('large left pleural effusion');
    expect(proposals[0]!.auroc).toBeGreaterThan(0.95);
    expect(proposals[0]!.auroc).toBe(ranked[0]!.auroc);
    expect(ranked).toHaveLength(phrases.length);
  });

  it('collapses variants of one template unless they differ in side', () => {
    const data = synthetic(texts, {
      'large left pleural effusion': 1.5,
      'small left pleural effusion': 1.2,
      'moderate left pleural effusion': 1.0,
      'large right pleural effusion': 0.9,
    });
    const { proposals } = proposeFromBank({ phrases, ...data, topK: 3 });
    expect(proposals[0]!.finding).toBe('large left pleural effusion');
    expect(proposals[0]!.collapsed.slice(0, 2)).toEqual([
      'small left pleural effusion',
      'moderate left pleural effusion',
    ]);
    expect(proposals[1]!.finding).toBe('large right pleural effusion');
    const withoutSides = proposeFromBank({ phrases, ...data, topK: 3, distinctSlots: [] });
    expect(withoutSides.proposals.map((p) => p.finding)).not.toContain('large right pleural effusion');
  });

  it('gives the same answer from a score matrix and is deterministic', () => {
    const data = synthetic(texts, { 'endotracheal tube': 1.2 }, 30, 7);
    const a = proposeFromBank({ phrases, ...data, topK: 8 });
    const b = proposeFromBank({ phrases, ...data, topK: 8 });
    expect(b.proposals.map((p) => p.finding)).toEqual(a.proposals.map((p) => p.finding));
    const m = data.labels.length;
    const scores = new Float32Array(phrases.length * m);
    for (let h = 0; h < phrases.length; h++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let k = 0; k < data.dim; k++) {
          s += data.textEmbeddings[h * data.dim + k]! * data.imageEmbeddings[j * data.dim + k]!;
        }
        scores[h * m + j] = s;
      }
    }
    const fromScores = proposeFromBank({ phrases, scores, nA: m / 2, nB: m / 2, topK: 8 });
    expect(fromScores.proposals[0]!.finding).toBe('endotracheal tube');
    expect(fromScores.proposals[0]!.auroc).toBeCloseTo(a.proposals[0]!.auroc, 6);
  });

  it('rejects a bad topK and an empty bank', () => {
    const data = synthetic(texts.slice(0, 3), {});
    expect(() => proposeFromBank({ phrases: phrases.slice(0, 3), ...data, topK: 0 })).toThrow(/topK/);
    expect(() => proposeFromBank({ phrases: [], ...data, textEmbeddings: new Float32Array(0) })).toThrow(
      /no phrases/,
    );
  });
});
