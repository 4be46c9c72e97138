import { describe, expect, it } from 'vitest';
import { MAX_FINDING_CHARACTERS, parseFindingsText } from '../../src/lib/core/findings-input.ts';

describe('parseFindingsText', () => {
  it('splits lines, trims and collapses inner whitespace', () => {
    expect(parseFindingsText('  right  pleural effusion \n\ncardiomegaly\r\n').findings).toEqual([
      'right pleural effusion',
      'cardiomegaly',
    ]);
  });

  it('reports whitespace-only lines and drops them', () => {
    const parsed = parseFindingsText('a\n   \n\t\nb');
    expect(parsed.findings).toEqual(['a', 'b']);
    expect(parsed.notes).toContainEqual({ kind: 'empty-lines', count: 2 });
  });

  it('drops case-insensitive duplicates and names their line', () => {
    const parsed = parseFindingsText('Nodule\nnodule');
    expect(parsed.findings).toEqual(['Nodule']);
    expect(parsed.notes).toEqual([{ kind: 'duplicate', finding: 'nodule', line: 2 }]);
  });

  it('keeps over-long findings but flags them', () => {
    const long = 'opacity '.repeat(60).trim();
    const parsed = parseFindingsText(long);
    expect(parsed.findings).toEqual([long]);
    expect(parsed.notes[0]).toMatchObject({ kind: 'too-long', line: 1 });
    expect(long.length).toBeGreaterThan(MAX_FINDING_CHARACTERS);
  });

  it('keeps non-ASCII text, NFC-normalized', () => {
    const decomposed = 'e\u0301panchement pleural droit';
    expect(parseFindingsText(decomposed).findings).toEqual(['épanchement pleural droit']);
  });

  it('returns nothing for empty text', () => {
    expect(parseFindingsText('')).toEqual({ findings: [], notes: [] });
  });
});
