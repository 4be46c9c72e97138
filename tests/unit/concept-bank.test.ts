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

  describe('collapsing rules (small bank)', () => {
    const small = expandBankPhrases(
      bank(
        [
          '{size:small|large?} {side} pleural effusion',
          'pleural effusion',
          'enlarged cardiac silhouette',
          'cardiomegaly',
          'endotracheal tube',
        ].join('\n'),
      ),
    );
    const names = small.map((p) => p.text);
    const propose = (
      target: Record<string, number>,
      extra: Partial<Parameters<typeof proposeFromBank>[0]> = {},
    ) =>
      proposeFromBank({ phrases: small, ...synthetic(names, target, 60, 3), topK: 20, ...extra }).proposals;
    const found = (proposals: { finding: string }[]) => proposals.map((p) => p.finding);

    it('drops a bilateral variant unless both sides separate the sets on their own', () => {
      const alone = propose({ 'bilateral pleural effusion': 1.5 });
      expect(found(alone)).not.toContain('bilateral pleural effusion');
      const both = propose({
        'bilateral pleural effusion': 1.5,
        'left pleural effusion': 1.2,
        'right pleural effusion': 1.2,
      });
      expect(found(both)[0]).toBe('bilateral pleural effusion');
      const unchecked = propose({ 'bilateral pleural effusion': 1.5 }, { composites: [] });
      expect(found(unchecked)[0]).toBe('bilateral pleural effusion');
    });

    it('merges near-duplicate text embeddings, but never across sides', () => {
      const data = synthetic(names, { cardiomegaly: 1.5, 'left pleural effusion': 1.4 }, 60, 3);
      const text = data.textEmbeddings.slice();
      const row = (t: string) => names.indexOf(t) * data.dim;
      // "enlarged cardiac silhouette" ≈ "cardiomegaly"; "right pleural effusion" = "left pleural effusion".
      text.fill(0, row('enlarged cardiac silhouette'), row('enlarged cardiac silhouette') + data.dim);
      text[row('enlarged cardiac silhouette') + names.indexOf('cardiomegaly')] = 1;
      text[row('enlarged cardiac silhouette') + data.dim - 2] = 0.2;
      text.fill(0, row('right pleural effusion'), row('right pleural effusion') + data.dim);
      text[row('right pleural effusion') + names.indexOf('left pleural effusion')] = 1;
      const { proposals } = proposeFromBank({ phrases: small, ...data, textEmbeddings: text, topK: 20 });
      const heart = proposals.filter((p) => /cardi/.test(p.finding));
      expect(heart).toHaveLength(1);
      expect([heart[0]!.finding, ...heart[0]!.collapsed]).toEqual(
        expect.arrayContaining(['cardiomegaly', 'enlarged cardiac silhouette']),
      );
      expect(found(proposals)).toEqual(
        expect.arrayContaining(['left pleural effusion', 'right pleural effusion']),
      );
      const unmerged = proposeFromBank({
        phrases: small,
        ...data,
        textEmbeddings: text,
        topK: 20,
        mergeCosine: 2,
      });
      expect(unmerged.proposals.filter((p) => /cardi/.test(p.finding))).toHaveLength(2);
    });

    it('lets a general phrase give way to a near-tied more specific one', () => {
      const target = { 'pleural effusion': 1.3, 'right pleural effusion': 1.2 };
      const specific = propose(target);
      expect(found(specific)[0]).toBe('right pleural effusion');
      expect(specific[0]!.collapsed).toContain('pleural effusion');
      expect(found(specific)).not.toContain('pleural effusion');
      const off = propose(target, { specificityTolerance: -1 });
      expect(found(off)[0]).toBe('pleural effusion');
      const farApart = propose({ 'pleural effusion': 1.5, 'right pleural effusion': 0.15 });
      expect(found(farApart)[0]).toBe('pleural effusion');
    });

    it('represents a template by the near-tied variant with the largest score gap', () => {
      // Presence drives AUROC (all right-sided variants separate perfectly); "large" adds to the gap.
      const proposals = propose({
        'right pleural effusion': 1.5,
        'small right pleural effusion': 1.5,
        'large right pleural effusion': 2.5,
      });
      expect(found(proposals)[0]).toBe('large right pleural effusion');
      expect(proposals[0]!.collapsed).toEqual(
        expect.arrayContaining(['right pleural effusion', 'small right pleural effusion']),
      );
    });
  });

  it('rejects a bad topK and an empty bank', () => {
    const data = synthetic(texts.slice(0, 3), {});
    expect(() => proposeFromBank({ phrases: phrases.slice(0, 3), ...data, topK: 0 })).toThrow(/topK/);
    expect(() => proposeFromBank({ phrases: [], ...data, textEmbeddings: new Float32Array(0) })).toThrow(
      /no phrases/,
    );
  });
});
