// The history, export and diagnostics panels mounted in a real browser: inline rename (Enter saves, Escape
// cancels, focus returns to the Rename button), delete and cache clearing behind an inline confirm, the storage
// bar, export options travelling with the export callback, the import input, and the manual-copy fallback.
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import HistoryPanel from '../../src/lib/components/HistoryPanel.svelte';
import ExportBar from '../../src/lib/components/ExportBar.svelte';
import DiagnosticsPanel from '../../src/lib/components/DiagnosticsPanel.svelte';
import type { RunSummary } from '../../src/lib/state/history.svelte.ts';
import type { ExportFormat, ExportOptions } from '../../src/lib/state/export.svelte.ts';

let mounted: Record<string, unknown>[] = [];
afterEach(() => {
  for (const component of mounted) void unmount(component);
  mounted = [];
  document.body.innerHTML = '';
});

function target(): HTMLElement {
  const el = document.createElement('div');
  document.body.append(el);
  return el;
}

const summary = (runId: string, patch: Partial<RunSummary> = {}): RunSummary => ({
  runId,
  title: null,
  savedAt: Date.UTC(2025, 2, 1, 12),
  status: 'done',
  counts: { A: 20, B: 20, reports: 0 },
  preset: 'raddiff',
  proposer: 'raddiff',
  top: { finding: 'pleural effusion', auroc: 0.91 },
  findings: 12,
  persisted: true,
  ...patch,
});

const $ = (root: ParentNode, testId: string) => root.querySelector<HTMLElement>(`[data-testid="${testId}"]`);
const $$ = (root: ParentNode, testId: string) => [
  ...root.querySelectorAll<HTMLElement>(`[data-testid="${testId}"]`),
];

function key(el: HTMLElement, key: string) {
  el.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
  flushSync();
}

describe('HistoryPanel', () => {
  function mountPanel() {
    const calls: string[] = [];
    const el = target();
    mounted.push(
      mount(HistoryPanel, {
        target: el,
        props: {
          runs: [summary('r1', { title: 'Effusion study' }), summary('r2', { persisted: false, top: null })],
          storage: {
            usage: 50 * 1024 ** 2,
            quota: 1000 * 1024 ** 2,
            persisted: false,
            persistenceSupported: true,
          },
          cachedModels: [{ modelId: 'clip', embeddings: 40, captions: 0, replies: 1 }],
          warning: null,
          message: null,
          currentRunId: 'r1',
          onOpen: (id) => calls.push(`open ${id}`),
          onRename: (id, title) => calls.push(`rename ${id} ${title}`),
          onDelete: (id) => calls.push(`delete ${id}`),
          onPersist: () => calls.push('persist'),
          onClearModel: (id) => calls.push(`clear ${id}`),
        },
      }),
    );
    flushSync();
    return { el, calls };
  }

  it('lists runs with their top finding and storage use', () => {
    const { el } = mountPanel();
    const rows = $$(el, 'history-row');
    expect(rows.map((r) => r.dataset.runId)).toEqual(['r1', 'r2']);
    expect(rows[0]!.textContent).toContain('Effusion study');
    expect(rows[0]!.textContent).toContain('“pleural effusion” (AUROC 0.910)');
    expect(rows[0]!.getAttribute('aria-current')).toBe('true');
    expect(rows[1]!.textContent).toContain('Untitled run r2');
    expect(rows[1]!.textContent).toContain('in memory only');
    expect($(el, 'history-storage')!.textContent).toContain('50.0 MB of 1000 MB used');
  });

  it('renames inline: Enter saves, Escape cancels, focus goes back to Rename', () => {
    const { el, calls } = mountPanel();
    const row = () => $$(el, 'history-row')[0]!;
    $(row(), 'history-rename')!.click();
    flushSync();
    const input = $(row(), 'history-rename-input') as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe('Effusion study');
    key(input, 'Escape');
    expect($(row(), 'history-rename-input')).toBeNull();
    expect(document.activeElement).toBe($(row(), 'history-rename'));
    expect(calls).toEqual([]);

    $(row(), 'history-rename')!.click();
    flushSync();
    const again = $(row(), 'history-rename-input') as HTMLInputElement;
    again.value = 'Renamed';
    again.dispatchEvent(new Event('input', { bubbles: true }));
    again.form!.requestSubmit();
    flushSync();
    expect(calls).toEqual(['rename r1 Renamed']);
    expect(document.activeElement).toBe($(row(), 'history-rename'));
  });

  it('deletes and clears caches only after an inline confirm', () => {
    const { el, calls } = mountPanel();
    const row = () => $$(el, 'history-row')[1]!;
    $(row(), 'history-delete')!.click();
    flushSync();
    // The safe choice has focus.
    expect(document.activeElement?.textContent).toBe('Keep it');
    (document.activeElement as HTMLElement).click();
    flushSync();
    expect(calls).toEqual([]);
    $(row(), 'history-delete')!.click();
    flushSync();
    $(row(), 'history-delete-confirm')!.click();
    flushSync();
    $(el, 'history-clear')!.click();
    flushSync();
    $(el, 'history-clear-confirm')!.click();
    $(el, 'history-persist')!.click();
    $(row(), 'history-open')!.click();
    expect(calls).toEqual(['delete r2', 'clear clip', 'persist', 'open r2']);
  });
});

describe('ExportBar', () => {
  it('sends the chosen options with the format, and the chosen file to import', () => {
    const exports: [ExportFormat, ExportOptions][] = [];
    const imports: string[] = [];
    const el = target();
    mounted.push(
      mount(ExportBar, {
        target: el,
        props: {
          canExport: true,
          onExport: (format, options) => exports.push([format, options]),
          onImport: (file) => imports.push(file.name),
        },
      }),
    );
    flushSync();
    const thumbnails = $(el, 'export-thumbnails') as HTMLInputElement;
    const hashNames = $(el, 'export-hash-names') as HTMLInputElement;
    expect(thumbnails.checked).toBe(false);
    expect(hashNames.checked).toBe(false);
    // Every control has an accessible name.
    expect(thumbnails.closest('label')!.textContent).toContain('Include thumbnails in the HTML report');
    expect(($(el, 'import-run') as HTMLInputElement).closest('label')!.textContent).toContain('Import');

    $(el, 'export-json')!.click();
    thumbnails.click();
    hashNames.click();
    flushSync();
    $(el, 'export-html')!.click();
    $(el, 'export-csv')!.click();
    $(el, 'export-md')!.click();
    expect(exports).toEqual([
      ['json', { thumbnails: false, hashNames: false }],
      ['html', { thumbnails: true, hashNames: true }],
      ['csv', { thumbnails: true, hashNames: true }],
      ['md', { thumbnails: true, hashNames: true }],
    ]);

    const input = $(el, 'import-run') as HTMLInputElement;
    const files = new DataTransfer();
    files.items.add(new File(['{}'], 'run.json', { type: 'application/json' }));
    input.files = files.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
    expect(imports).toEqual(['run.json']);
  });

  it('disables export without a run and shows import problems', () => {
    const el = target();
    mounted.push(
      mount(ExportBar, {
        target: el,
        props: {
          canExport: false,
          problem: 'Could not import “x.json”: not a RadDiff run record.',
          notes: [],
          onExport: () => undefined,
          onImport: () => undefined,
        },
      }),
    );
    flushSync();
    expect(($(el, 'export-json') as HTMLButtonElement).disabled).toBe(true);
    expect(($(el, 'import-run') as HTMLInputElement).disabled).toBe(false);
    expect($(el, 'import-problem')!.getAttribute('role')).toBe('alert');
  });
});

describe('DiagnosticsPanel', () => {
  it('offers the text selected when the clipboard refused', () => {
    const el = target();
    let copies = 0;
    mounted.push(
      mount(DiagnosticsPanel, {
        target: el,
        props: { text: 'RadDiff web diagnostics\n', copyStatus: 'manual', onCopy: () => copies++ },
      }),
    );
    flushSync();
    const area = $(el, 'diagnostics-manual') as HTMLTextAreaElement;
    expect(area.value).toBe('RadDiff web diagnostics\n');
    expect(document.activeElement).toBe(area);
    expect(area.selectionEnd - area.selectionStart).toBe(area.value.length);
    $(el, 'copy-diagnostics')!.click();
    expect(copies).toBe(1);
  });
});
