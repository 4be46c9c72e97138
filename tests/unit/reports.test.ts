// Checks src/lib/core/reports.ts: byte decoding against Node's TextDecoder (UTF-8, UTF-16, Windows-1252 fallback),
// report tables in CSV/TSV/JSONL/JSON with their problems named by line or column, and matching reports to images
// by path, path suffix, file name and stem, ambiguity included; `.txt` reports beside images.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCsv } from '../../src/lib/core/benchmarks.ts';
import {
  decodeReportBytes,
  matchReports,
  pairTxtReports,
  parseReports,
  type ReportTable,
  type ReportTableError,
} from '../../src/lib/core/reports.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function utf16(text: string, littleEndian: boolean, bom = true): Uint8Array {
  const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
  let o = 0;
  if (bom) {
    out.set(littleEndian ? [0xff, 0xfe] : [0xfe, 0xff]);
    o = 2;
  }
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    out[o + 2 * i] = littleEndian ? u & 0xff : u >> 8;
    out[o + 2 * i + 1] = littleEndian ? u >> 8 : u & 0xff;
  }
  return out;
}

function ok(result: ReportTable | ReportTableError): ReportTable {
  if (!result.ok) throw new Error(`expected reports, got problems:\n${result.problems.join('\n')}`);
  return result;
}

function problems(result: ReportTable | ReportTableError): string[] {
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

describe('decodeReportBytes', () => {
  it('reads UTF-8, with or without a byte-order mark', () => {
    const text = 'Épanchement pleural — 2.5 cm 🫁\nline 2';
    expect(decodeReportBytes(utf8(text))).toEqual({ text, encoding: 'utf-8', warnings: [] });
    expect(decodeReportBytes(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(text)]))).toEqual({
      text,
      encoding: 'utf-8',
      warnings: [],
    });
    expect(decodeReportBytes(new Uint8Array())).toEqual({ text: '', encoding: 'utf-8', warnings: [] });
  });

  it('reads UTF-16 LE and BE by their byte-order mark', () => {
    const text = 'Befund: Pleuraerguss rechts 🫁';
    expect(decodeReportBytes(utf16(text, true))).toEqual({ text, encoding: 'utf-16le', warnings: [] });
    expect(decodeReportBytes(utf16(text, false))).toEqual({ text, encoding: 'utf-16be', warnings: [] });
    const odd = decodeReportBytes(new Uint8Array([...utf16('ab', true), 0x41]));
    expect(odd.text).toBe('ab\ufffd');
    expect(odd.warnings).toEqual(['odd number of bytes for UTF-16: the last byte was replaced by �']);
    const lone = decodeReportBytes(utf16('a\ud800b', true));
    expect(lone.text).toBe('a\ufffdb');
    expect(lone.warnings[0]).toMatch(/1 unpaired UTF-16 surrogate/);
  });

  it('falls back to Windows-1252 for invalid UTF-8, with a warning naming the byte', () => {
    // "Zwerchfell höher, “Erguss” – 5 €" in Windows-1252.
    const bytes = new Uint8Array([
      0x5a, 0x77, 0x65, 0x72, 0x63, 0x68, 0x66, 0x65, 0x6c, 0x6c, 0x20, 0x68, 0xf6, 0x68, 0x65, 0x72, 0x2c,
      0x20, 0x93, 0x45, 0x72, 0x67, 0x75, 0x73, 0x73, 0x94, 0x20, 0x96, 0x20, 0x35, 0x20, 0x80,
    ]);
    const decoded = decodeReportBytes(bytes);
    expect(decoded.text).toBe('Zwerchfell höher, “Erguss” – 5 €');
    expect(decoded.encoding).toBe('windows-1252');
    expect(decoded.warnings).toEqual([
      'not valid UTF-8 (first invalid byte at offset 12); read as Windows-1252, so check accented characters',
    ]);
  });

  it('rejects overlong forms, surrogates and truncated sequences as UTF-8', () => {
    for (const bad of [
      [0xc0, 0xaf], // overlong '/'
      [0xe0, 0x80, 0xaf], // overlong
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0x61, 0xe2, 0x82], // truncated
      [0x80], // lone continuation
    ]) {
      expect(decodeReportBytes(new Uint8Array(bad)).encoding).toBe('windows-1252');
    }
  });

  it('warns about NUL characters (UTF-16 without a byte-order mark)', () => {
    const decoded = decodeReportBytes(utf16('report', true, false));
    expect(decoded.warnings).toEqual([
      'contains NUL characters: is it UTF-16 without a byte-order mark? Save it as UTF-8 and retry',
    ]);
  });

  it('property: equals TextDecoder on valid UTF-8, else Windows-1252 byte by byte', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    // Node 20's TextDecoder('windows-1252') is really Latin-1 (0x80–0x9F as C1 controls), so the oracle for those
    // 32 bytes is spelled out here from the WHATWG index instead.
    const high = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';
    const cp1252 = (b: Uint8Array) =>
      Array.from(b, (x) =>
        x >= 0x80 && x <= 0x9f ? (high[x - 0x80] as string) : String.fromCharCode(x),
      ).join('');
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 8 }).map((tail) => new Uint8Array([0xef, 0xbb, 0xbf, ...tail])),
      fc.string({ unit: 'binary', maxLength: 40 }).map((s) => utf8(s)),
      fc
        .tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.uint8Array({ maxLength: 3 }))
        .map(([s, tail]) => new Uint8Array([...utf8(s), ...tail])),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        if (b[0] === 0xff || b[0] === 0xfe) return; // BOM-led inputs are UTF-16, covered above
        let expected: string;
        try {
          expected = fatal.decode(b);
        } catch {
          expected = cp1252(b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b);
        }
        expect(decodeReportBytes(b).text).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes large files without overflowing the stack', () => {
    const text = 'Kein Erguss. '.repeat(200_000);
    expect(decodeReportBytes(utf8(text)).text).toBe(text);
  });
});

describe('parseCsv with a tab delimiter', () => {
  it('reads TSV with the same quoting rules, and commas are plain text', () => {
    const table = parseCsv(
      'file\treport\nx.png\tNo effusion, no pneumothorax.\n"y.png"\t"tab\tinside"\n',
      'T',
      '\t',
    );
    expect(table.header).toEqual(['file', 'report']);
    expect(table.rows.map((r) => r.fields)).toEqual([
      ['x.png', 'No effusion, no pneumothorax.'],
      ['y.png', 'tab\tinside'],
    ]);
  });
});

describe('parseReports', () => {
  it('reads CSV with case-insensitive column names and keeps the first of repeated images', () => {
    const csv =
      '\uFEFFImage Path,Other,Report\r\n' +
      'p10/a.jpg,1,"Small right pleural effusion.\r\nNo pneumothorax."\r\n' +
      'p10\\b.jpg,2,Normal chest.\r\n' +
      './p10/a.jpg,3,Second report for a.\r\n' +
      ',4,orphan\r\n' +
      'c.jpg,5,   \r\n';
    const r = ok(parseReports(csv, 'reports.csv'));
    expect(r.format).toBe('csv');
    expect([...r.reports]).toEqual([
      ['p10/a.jpg', 'Small right pleural effusion.\nNo pneumothorax.'],
      ['p10/b.jpg', 'Normal chest.'],
    ]);
    expect(r.imageFields).toEqual(['Image Path']);
    expect(r.reportFields).toEqual(['Report']);
    expect(r.duplicates).toEqual([{ key: 'p10/a.jpg', line: 5, firstLine: 2 }]);
    expect(r.warnings).toEqual([
      'reports.csv line 6: no image name; skipped',
      'reports.csv line 7: empty report for "c.jpg"; skipped',
    ]);
  });

  it('joins labelled findings and impression sections when there is no whole-report column', () => {
    const csv = 'dicom_id,findings,impression\nd1,Heart enlarged.,Cardiomegaly.\nd2,,No acute process.\n';
    const r = ok(parseReports(csv, 'mimic.csv'));
    expect(r.reports.get('d1')).toBe('FINDINGS: Heart enlarged.\nIMPRESSION: Cardiomegaly.');
    expect(r.reports.get('d2')).toBe('IMPRESSION: No acute process.');
    expect(r.reportFields).toEqual(['findings', 'impression']);
  });

  it('says which columns were expected when they are missing', () => {
    const [first, second] = problems(parseReports('study,notes\n1,x\n', 'r.csv'));
    expect(first).toBe(
      'r.csv: no image column (expected one of path, relative_path, image_path, file_path, filepath, file, filename, file_name, image, image_file, image_name, image_id, dicom_id, name, id); the header has: "study", "notes"',
    );
    expect(second).toBe(
      'r.csv: no report column (expected one of report, report_text, text, reports, findings, impression); the header has: "study", "notes"',
    );
  });

  it('passes on CSV syntax problems with their lines, and reports an empty table', () => {
    expect(problems(parseReports('file,report\nx.png,"open\n', 'r.csv'))).toEqual([
      'r.csv line 2: unterminated quoted field',
    ]);
    expect(problems(parseReports('file,report\n', 'r.csv'))).toEqual(['r.csv: no reports found']);
    expect(problems(parseReports('', 'r.csv'))).toEqual(['r.csv: no header row']);
  });

  it('reads TSV by extension, by content, and a .csv that is really tab-separated', () => {
    const tsv = 'filename\ttext\nx.png\tLeft lower lobe opacity, likely atelectasis.\n';
    for (const name of ['r.tsv', 'r.tab', 'r.txt', 'r']) {
      const r = ok(parseReports(tsv, name));
      expect(r.format).toBe('tsv');
      expect(r.reports.get('x.png')).toBe('Left lower lobe opacity, likely atelectasis.');
    }
    const misnamed = ok(parseReports(tsv, 'r.csv'));
    expect(misnamed.format).toBe('tsv');
    expect(misnamed.warnings).toEqual(['r.csv: the header has tabs but no commas, so it was read as TSV']);
    expect(ok(parseReports('file,report\nx.png,a\tb\n', 'noext')).format).toBe('csv');
  });

  it('reads JSONL, naming malformed lines without failing', () => {
    const jsonl = [
      '{"path": "a.png", "report": "Cardiomegaly."}',
      '',
      '{"path": "b.png", "report": ',
      '[1, 2]',
      '{"path": "c.png"}',
      '{"Report": "No image name"}',
      '{"Image": 17, "TEXT": "numeric ids are fine"}',
      '{"file": "d.png", "report": null, "findings": "Mild edema.", "extra": [1]}',
      '{"path": "a.png", "report": "again"}',
    ].join('\n');
    const r = ok(parseReports(jsonl, 'reports.jsonl'));
    expect(r.format).toBe('jsonl');
    expect([...r.reports]).toEqual([
      ['a.png', 'Cardiomegaly.'],
      ['17', 'numeric ids are fine'],
      ['d.png', 'FINDINGS: Mild edema.'],
    ]);
    expect(r.warnings).toHaveLength(4);
    expect(r.warnings[0]).toMatch(/^line 3: not valid JSON \(.+\); skipped$/);
    expect(r.warnings.slice(1)).toEqual([
      'line 4: not a JSON object; skipped',
      'line 5: no report text (expected one of report, report_text, text, reports, findings, impression); skipped',
      'line 6: no image name (expected one of path, relative_path, image_path, file_path, filepath, file, filename, file_name, image, image_file, image_name, image_id, dicom_id, name, id); skipped',
    ]);
    expect(r.duplicates).toEqual([{ key: 'a.png', line: 9, firstLine: 1 }]);
    expect(r.imageFields).toEqual(['path', 'Image', 'file']);
    // Detected by content too.
    expect(ok(parseReports(jsonl, 'reports.txt')).format).toBe('jsonl');
  });

  it('fails when no JSONL line yields a report, listing why', () => {
    expect(problems(parseReports('not json\n{"x": 1}\n', 'r.jsonl'))).toEqual([
      'r.jsonl: no reports found',
      expect.stringMatching(/^line 1: not valid JSON/),
      expect.stringMatching(/^line 2: no image name/),
    ]);
  });

  it('reads a JSON array', () => {
    const r = ok(parseReports('[{"file": "a.png", "text": "Edema."}, 3]', 'r.json'));
    expect(r.format).toBe('json');
    expect([...r.reports]).toEqual([['a.png', 'Edema.']]);
    expect(r.warnings).toEqual(['item 2: not a JSON object; skipped']);
    expect(problems(parseReports('[{"file": ', 'r.json'))[0]).toMatch(/^r\.json: not valid JSON/);
    expect(ok(parseReports('{"file": "a.png", "text": "x"}', 'r.json')).format).toBe('jsonl');
  });

  it('property: never throws on arbitrary text', () => {
    const text = fc.oneof(
      fc.string({
        unit: fc.constantFrom('a', ',', '\t', '"', '\n', '{', '}', '[', ']', ':', 'file', 'report', ' '),
      }),
      fc.string(),
    );
    fc.assert(
      fc.property(text, fc.constantFrom('r.csv', 'r.tsv', 'r.jsonl', 'r.json', 'r.txt'), (t, name) => {
        const r = parseReports(t, name);
        if (r.ok) expect(r.reports.size).toBeGreaterThan(0);
        else expect(r.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('matchReports', () => {
  const img = (name: string, id = `id:${name}`) => ({ id, name });

  it('matches by exact path, then path suffix, then file name, then stem', () => {
    const images = [
      img('cohortA/p10/s1/a.jpg'),
      img('cohortA/p11/s2/b.jpg'),
      img('cohortA/p12/C.PNG'),
      img('cohortA/p13/d4e5.png'),
      img('cohortA/p14/lonely.png'),
    ];
    const reports = new Map([
      ['cohortA/p10/s1/a.jpg', 'report a'],
      ['p11/s2/b.jpg', 'report b'],
      ['c.png', 'report c'],
      ['d4e5', 'report d'],
      ['unused.png', 'nobody'],
    ]);
    const r = matchReports(images, reports);
    expect([...r.byImageId].map(([id, m]) => [id, m.key, m.via, m.text])).toEqual([
      ['id:cohortA/p10/s1/a.jpg', 'cohortA/p10/s1/a.jpg', 'path', 'report a'],
      ['id:cohortA/p11/s2/b.jpg', 'p11/s2/b.jpg', 'path-suffix', 'report b'],
      ['id:cohortA/p12/C.PNG', 'c.png', 'basename', 'report c'],
      ['id:cohortA/p13/d4e5.png', 'd4e5', 'stem', 'report d'],
    ]);
    expect(r.unmatchedImages).toEqual(['cohortA/p14/lonely.png']);
    expect(r.unmatchedReports).toEqual(['unused.png']);
    expect(r.ambiguous).toEqual([]);
  });

  it('matches nothing through a file name shared by several images or reports', () => {
    const images = [img('a/x.jpg'), img('b/x.jpg'), img('c/y.jpg')];
    const reports = new Map([
      ['x.jpg', 'which x?'],
      ['y.png', 'y as png'],
      ['y.dcm', 'y as dicom'],
    ]);
    const r = matchReports(images, reports);
    expect(r.byImageId.size).toBe(0);
    expect(r.ambiguous).toEqual([
      { via: 'basename', value: 'x.jpg', imageNames: ['a/x.jpg', 'b/x.jpg'], reportKeys: ['x.jpg'] },
      { via: 'stem', value: 'y', imageNames: ['c/y.jpg'], reportKeys: ['y.png', 'y.dcm'] },
    ]);
    expect(r.unmatchedImages).toEqual(['a/x.jpg', 'b/x.jpg', 'c/y.jpg']);
    expect(r.unmatchedReports).toEqual(['x.jpg', 'y.png', 'y.dcm']);
  });

  it('prefers the more specific stage: exact paths first, leftovers by name', () => {
    const images = [img('a/x.jpg'), img('b/x.jpg')];
    const reports = new Map([
      ['a/x.jpg', 'exact a'],
      ['x.jpg', 'the other x'],
    ]);
    const r = matchReports(images, reports);
    expect(r.byImageId.get('id:a/x.jpg')).toEqual({ key: 'a/x.jpg', text: 'exact a', via: 'path' });
    expect(r.byImageId.get('id:b/x.jpg')).toEqual({ key: 'x.jpg', text: 'the other x', via: 'basename' });
  });

  it('handles backslashes and ./ prefixes on either side; exact paths are case-sensitive', () => {
    const r = matchReports([img('.\\Set\\x.png')], new Map([['set/x.png', 'r']]));
    expect(r.byImageId.get('id:.\\Set\\x.png')?.via).toBe('basename');
  });

  it('property: every image and report is matched at most once, and accounted for', () => {
    const name = fc
      .tuple(
        fc.constantFrom('', 'a/', 'b/', 'a/b/'),
        fc.constantFrom('x', 'y', 'X', 'z'),
        fc.constantFrom('.png', '.jpg', ''),
      )
      .map(([d, s, e]) => d + s + e);
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { maxLength: 8 }),
        fc.uniqueArray(name, { maxLength: 8 }),
        (names, keys) => {
          const r = matchReports(
            names.map((n) => img(n)),
            new Map(keys.map((k) => [k, `report ${k}`])),
          );
          const usedKeys = [...r.byImageId.values()].map((m) => m.key);
          expect(new Set(usedKeys).size).toBe(usedKeys.length);
          expect(r.byImageId.size + r.unmatchedImages.length).toBe(names.length);
          expect(usedKeys.length + r.unmatchedReports.length).toBe(keys.length);
          for (const m of r.byImageId.values()) expect(m.text).toBe(`report ${m.key}`);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('pairTxtReports', () => {
  it('pairs .txt files beside their images, then by file name elsewhere', () => {
    const r = pairTxtReports(
      [
        { path: 'a/x.txt', text: 'report a/x\r\n' },
        { path: 'b/x.png.TXT', text: 'report b/x' },
        { path: 'reports/Y.txt', text: 'report y' },
        { path: 'reports/empty.txt', text: '  \n' },
        { path: 'reports/stray.txt', text: 'nobody' },
      ],
      ['a/x.png', 'b/x.png', 'images/y.jpg', 'images/empty.jpg', 'images/none.jpg'],
    );
    expect([...r.byImageName]).toEqual([
      ['a/x.png', 'report a/x'],
      ['b/x.png', 'report b/x'],
      ['images/y.jpg', 'report y'],
    ]);
    expect(r.emptyTxt).toEqual(['reports/empty.txt']);
    expect(r.unmatchedTxt).toEqual(['reports/stray.txt']);
    expect(r.unmatchedImages).toEqual(['images/empty.jpg', 'images/none.jpg']);
    expect(r.ambiguous).toEqual([]);
  });

  it('does not guess between images of the same stem in different folders', () => {
    const r = pairTxtReports([{ path: 'reports/x.txt', text: 'which?' }], ['a/x.png', 'b/x.png']);
    expect(r.byImageName.size).toBe(0);
    expect(r.ambiguous).toEqual([
      { via: 'stem', value: 'x', imageNames: ['a/x.png', 'b/x.png'], reportKeys: ['reports/x.txt'] },
    ]);
  });
});
