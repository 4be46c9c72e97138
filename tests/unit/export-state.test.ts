// ExportState with a fake download sink: file names, MIME types and contents per format, names replaced by hashes
// in every format, the HTML report's charts and opt-in thumbnails, export failures, and importing a record back
// (round trip) or refusing corrupt, foreign and oversized files with a clear problem.
import { describe, expect, it } from 'vitest';
import { parseRunRecordJson } from '../../src/lib/core/run-export.ts';
import {
  ExportState,
  exportFileName,
  MAX_IMPORT_BYTES,
  type ExportFormat,
} from '../../src/lib/state/export.svelte.ts';
import { savedRun } from '../fixtures/saved-run.ts';

const DAY = new Date(2025, 2, 1, 12); // 1 March 2025, local time

function withSink() {
  const downloads: { blob: Blob; fileName: string }[] = [];
  const state = new ExportState({
    download: (blob, fileName) => downloads.push({ blob, fileName }),
    now: () => DAY,
  });
  return { state, downloads };
}

const file = (name: string, text: string) => new File([text], name, { type: 'application/json' });

describe('ExportState.exportRun', () => {
  it('downloads each format under raddiff-<title>-<date>.<ext> with its MIME type', async () => {
    const { state, downloads } = withSink();
    const record = savedRun('0123456789abcdef0123456789abcdef', { title: 'Effusion study' });
    const formats: ExportFormat[] = ['json', 'csv', 'md', 'html'];
    for (const format of formats) {
      expect(await state.exportRun(record, format, { hashNames: false, thumbnails: false })).toBe(
        `raddiff-effusion-study-2025-03-01.${format}`,
      );
    }
    expect(downloads.map((d) => d.blob.type)).toEqual([
      'application/json',
      'text/csv;charset=utf-8',
      'text/markdown;charset=utf-8',
      'text/html;charset=utf-8',
    ]);
    for (const d of downloads) expect(d.blob.size).toBeGreaterThan(0);
    expect(await downloads[1]!.blob.text()).toContain('pleural effusion');
    expect(await downloads[2]!.blob.text()).toContain('pleural effusion');
    expect(state.lastExport).toEqual({
      fileName: 'raddiff-effusion-study-2025-03-01.html',
      bytes: downloads[3]!.blob.size,
    });
    expect(state.busy).toBeNull();
    expect(state.exportError).toBeNull();
  });

  it('names untitled runs by their id and reduces titles to safe characters', () => {
    const untitled = savedRun('0123456789abcdef0123456789abcdef');
    expect(exportFileName(untitled, 'json', DAY)).toBe('raddiff-0123456789abcdef-2025-03-01.json');
    const odd = savedRun('x', { title: '  Épanchement / pleural: “left”?  ' });
    expect(exportFileName(odd, 'md', DAY)).toBe('raddiff-epanchement-pleural-left-2025-03-01.md');
    expect(exportFileName(savedRun('x', { title: '***' }), 'csv', DAY)).toBe('raddiff-x-2025-03-01.csv');
  });

  it('exports a JSON record that imports back unchanged', async () => {
    const { state, downloads } = withSink();
    const record = savedRun('rt', { title: 'Round trip', review: { 'pleural effusion': 'accepted' } });
    await state.exportRun(record, 'json', { hashNames: false, thumbnails: false });
    const imported = await state.importFile(file('run.json', await downloads[0]!.blob.text()));
    expect(imported).toEqual(record);
    expect(state.problem).toBeNull();
  });

  it('replaces file names by hashes in every format when asked', async () => {
    const { state, downloads } = withSink();
    const record = savedRun('hashed');
    for (const format of ['json', 'csv', 'md', 'html'] as const) {
      await state.exportRun(record, format, { hashNames: true, thumbnails: false });
    }
    for (const d of downloads) expect(await d.blob.text()).not.toContain('patient-001.png');
    const parsed = parseRunRecordJson(await downloads[0]!.blob.text());
    expect(parsed.ok && parsed.record.inputs.images.map((i) => i.name)).not.toContain('patient-001.png');
  });

  it('asks for charts for the HTML report, and for thumbnails only when they are wanted', async () => {
    const { state, downloads } = withSink();
    const asked: string[] = [];
    const extras = {
      charts: async () => {
        asked.push('charts');
        return new Map([['pleural effusion', '<svg xmlns="http://www.w3.org/2000/svg"></svg>']]);
      },
      thumbnails: async () => {
        asked.push('thumbnails');
        return new Map([['a1', 'data:image/png;base64,iVBORw0KGgo=']]);
      },
      evidence: async () => {
        asked.push('evidence');
        return new Map([
          [
            'pleural effusion',
            {
              topA: [{ id: 'a1', score: 0.9, set: 'A' as const }],
              topB: [{ id: 'b1', score: 0.1, set: 'B' as const }],
            },
          ],
        ]);
      },
    };
    await state.exportRun(savedRun('h'), 'html', { hashNames: false, thumbnails: false }, extras);
    expect(asked).toEqual(['charts']);
    expect(await downloads[0]!.blob.text()).not.toContain('data:image/png');
    await state.exportRun(savedRun('h'), 'html', { hashNames: false, thumbnails: true }, extras);
    expect(asked).toEqual(['charts', 'charts', 'thumbnails', 'evidence']);
    expect(await downloads[1]!.blob.text()).toContain('data:image/png;base64,iVBORw0KGgo=');
    // Other formats need none of them.
    await state.exportRun(savedRun('h'), 'md', { hashNames: false, thumbnails: true }, extras);
    expect(asked).toHaveLength(4);
  });

  it('says why an export failed and downloads nothing', async () => {
    const { state, downloads } = withSink();
    const result = await state.exportRun(
      savedRun('f'),
      'html',
      { hashNames: false, thumbnails: false },
      {
        charts: async () => {
          throw new Error('the chart renderer is gone');
        },
      },
    );
    expect(result).toBeNull();
    expect(downloads).toEqual([]);
    expect(state.exportError).toBe('Could not export the HTML file: the chart renderer is gone');
    expect(state.busy).toBeNull();
  });
});

describe('ExportState.importFile', () => {
  it('refuses corrupt JSON, foreign JSON and oversized files with a clear problem', async () => {
    const { state } = withSink();
    expect(await state.importFile(file('broken.json', '{"schemaVersion": 1, "runId": '))).toBeNull();
    expect(state.problem).toMatch(/^Could not import “broken\.json”: ./);
    expect(
      await state.importFile(file('package.json', '{"name": "left-pad", "version": "1.0.0"}')),
    ).toBeNull();
    expect(state.problem).toMatch(/^Could not import “package\.json”: ./);
    expect(state.notes).toEqual([]);

    const huge = { name: 'huge.json', size: MAX_IMPORT_BYTES + 1, text: async () => '{}' };
    expect(await state.importFile(huge)).toBeNull();
    expect(state.problem).toMatch(/larger than any run record/);
  });

  it('clears the problem when a later import succeeds, and on request', async () => {
    const { state } = withSink();
    await state.importFile(file('broken.json', 'not json'));
    expect(state.problem).not.toBeNull();
    const record = savedRun('ok');
    expect(await state.importFile(file('ok.json', JSON.stringify(record)))).toEqual(record);
    expect(state.problem).toBeNull();
    await state.importFile(file('broken.json', 'not json'));
    state.clearImport();
    expect(state.problem).toBeNull();
    expect(state.notes).toEqual([]);
  });
});
