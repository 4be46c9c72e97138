// The findings workbench components mounted in a real browser, fed by a WorkbenchState over a small synthetic
// source: the table's sorting, selection by keyboard, inline edit (Enter commits, Escape cancels), review toggles
// and add; the evidence panel's Plot charts (lazily loaded), thumbnails and missing-image placeholders; the standalone
// chart SVGs; the embedding map's click selection; the image viewer's window/level, zoom and Escape; run comparison.
import { afterEach, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import FindingsWorkbench from '../../src/lib/components/FindingsWorkbench.svelte';
import EvidencePanel from '../../src/lib/components/EvidencePanel.svelte';
import EmbeddingMap from '../../src/lib/components/EmbeddingMap.svelte';
import ImageViewer from '../../src/lib/components/ImageViewer.svelte';
import RunCompare from '../../src/lib/components/RunCompare.svelte';
import { chartSvgs } from '../../src/lib/components/charts.ts';
import { RADDIFF_DEFAULTS } from '../../src/lib/core/diff-config.ts';
import { rankFindings } from '../../src/lib/core/ranker.ts';
import { compareRuns } from '../../src/lib/core/run-compare.ts';
import type { PoolFinding, RunRecord } from '../../src/lib/core/run-record.ts';
import {
  WorkbenchState,
  type EvidenceSource,
  type ImageRef,
  type ReviewVerdict,
  type WorkbenchFlag,
  type WorkbenchSortKey,
} from '../../src/lib/state/workbench.svelte.ts';

let mounted: Record<string, unknown>[] = [];
afterEach(() => {
  for (const component of mounted) void unmount(component);
  mounted = [];
  document.body.innerHTML = '';
});

function target(): HTMLElement {
  const el = document.createElement('div');
  el.style.width = '1000px';
  document.body.append(el);
  return el;
}

const $ = (root: ParentNode, testId: string) => root.querySelector<HTMLElement>(`[data-testid="${testId}"]`);
const $$ = (root: ParentNode, testId: string) => [
  ...root.querySelectorAll<HTMLElement>(`[data-testid="${testId}"]`),
];

function key(el: HTMLElement, key: string) {
  el.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
  flushSync();
}

async function until<T>(probe: () => T | null | undefined | false, ms = 5000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A small deterministic world: 2-D-ish embeddings in 8 dimensions, A shifted along axis 0.
const DIM = 8;
function vectorOf(text: string): Float32Array {
  const v = new Float32Array(DIM);
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  for (let t = 1; t < DIM; t++) v[t] = ((h >>> t) & 7) / 7 - 0.5;
  v[0] = text.includes('planted') ? 3 : 0;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
function world(nA: number, nB: number) {
  const n = nA + nB;
  const matrix = new Float32Array(n * DIM);
  const labels = new Uint8Array(n);
  const ids: string[] = [];
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < n; i++) {
    labels[i] = i < nA ? 1 : 0;
    ids.push(`${i < nA ? 'a' : 'b'}${i}`);
    const row = matrix.subarray(i * DIM, (i + 1) * DIM);
    for (let t = 0; t < DIM; t++) row[t] = rand();
    if (i < nA) row[0] = (row[0] as number) + 1.2;
    const norm = Math.hypot(...row);
    for (let t = 0; t < DIM; t++) row[t] = (row[t] as number) / norm;
  }
  return { ids, labels, matrix, dim: DIM };
}

const FINDINGS = ['planted opacity', 'noise one', 'noise two'];

function makeRecord(images: ReturnType<typeof world>, findings: string[]): RunRecord {
  const texts = new Float32Array(findings.length * DIM);
  findings.forEach((f, i) => texts.set(vectorOf(f), i * DIM));
  const ranking: PoolFinding[] = rankFindings({
    imageEmbeddings: images.matrix,
    dim: DIM,
    labels: images.labels,
    textEmbeddings: texts,
    findings,
  }).map((r) => ({
    ...r,
    origins: [{ proposer: 'raddiff', iteration: 1, round: 1 }],
    merged: [],
    ...(r.index === 0
      ? {
          localized: {
            box: { x1: 0.1, y1: 0.2, x2: 0.5, y2: 0.6 },
            boxSource: 'model' as const,
            auroc: 0.8,
            nA: 1,
            nB: 1,
          },
        }
      : {}),
  }));
  return {
    schemaVersion: 1,
    app: { name: 'raddiff-web', version: 'test' },
    runId: 'r1',
    status: 'done',
    config: RADDIFF_DEFAULTS,
    inputs: {
      images: images.ids.map((id, i) => ({
        id,
        name: `${id}.png`,
        set: images.labels[i] ? 'A' : 'B',
        hasReport: true,
      })),
      counts: { A: 0, B: 0, reports: 0 },
    },
    models: { embedder: 'fake' },
    promptVersions: {},
    iterations: [],
    calls: [],
    ranking,
    unranked: [],
    execution: { startedAt: '', totalMs: 0, portMs: 0, stages: {}, modelCalls: 0, cacheHits: 0 },
    failures: [],
    warnings: [],
  };
}

/** A grey gradient PNG as a data URL (the viewer reads its pixels). */
function gradientUrl(): string {
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 64;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  for (let x = 0; x < 64; x++) {
    ctx.fillStyle = `rgb(${x * 4},${x * 4},${x * 4})`;
    ctx.fillRect(x, 0, 1, 64);
  }
  return canvas.toDataURL('image/png');
}

async function openedState(withUrls = true) {
  const images = world(40, 40);
  const url = gradientUrl();
  const source: EvidenceSource = {
    images,
    embedTexts: async (texts) => {
      const out = new Float32Array(texts.length * DIM);
      texts.forEach((t, i) => out.set(vectorOf(t), i * DIM));
      return out;
    },
    // Only A images are "loaded" when withUrls is false, so both thumbnail kinds show.
    imageUrl: (id) => (withUrls || id.startsWith('a') ? url : undefined),
    imageName: (id) => `${id}.png`,
    texts: [{ imageId: 'a0', kind: 'report', text: 'A planted opacity at the right base.' }],
  };
  const state = new WorkbenchState();
  const record = makeRecord(images, FINDINGS);
  await state.open(record, source);
  return { state, record, images };
}

describe('FindingsWorkbench', () => {
  it('renders rows, sorts, selects by keyboard, edits inline, reviews and adds', async () => {
    const { state } = await openedState();
    const calls: string[] = [];
    const el = target();
    mounted.push(
      mount(FindingsWorkbench, {
        target: el,
        props: {
          rows: state.rows,
          selected: state.selected,
          sortKey: state.sortKey,
          descending: state.descending,
          filter: '',
          flagFilters: new Set<WorkbenchFlag>(),
          showHidden: false,
          hiddenCount: 0,
          verdicts: new Map([['planted opacity', 2]]),
          onSelect: (f: string) => calls.push(`select ${f}`),
          onSort: (k: WorkbenchSortKey) => calls.push(`sort ${k}`),
          onFilter: (t: string) => calls.push(`filter ${t}`),
          onToggleFlag: (f: WorkbenchFlag) => calls.push(`flag ${f}`),
          onShowHidden: (s: boolean) => calls.push(`show ${s}`),
          onPin: (f: string) => calls.push(`pin ${f}`),
          onHide: (f: string) => calls.push(`hide ${f}`),
          onReview: (f: string, v: ReviewVerdict | null) => calls.push(`review ${f} ${v}`),
          onEdit: (f: string, t: string) => calls.push(`edit ${f} → ${t}`),
          onAdd: (t: string) => calls.push(`add ${t}`),
        },
      }),
    );
    flushSync();
    const rows = $$(el, 'workbench-row');
    expect(rows.map((r) => r.dataset['finding'])).toEqual(state.rows.map((r) => r.finding.finding));
    expect(rows[0]?.dataset['rank']).toBe('1');
    expect(Number(rows[0]?.dataset['auroc'])).toBeGreaterThan(0.8);
    expect(rows[0]?.getAttribute('aria-current')).toBe('true');
    expect(el.querySelector('th[aria-sort="ascending"]')?.textContent).toContain('#');
    expect(el.textContent).toContain('match');

    (el.querySelector('thead button') as HTMLButtonElement).click();
    key(rows[1] as HTMLElement, 'Enter');
    ($$(el, 'finding-accept')[0] as HTMLElement).click();
    ($$(el, 'finding-pin')[1] as HTMLElement).click();
    ($$(el, 'finding-hide')[2] as HTMLElement).click();

    ($$(el, 'finding-edit')[1] as HTMLElement).click();
    flushSync();
    let input = $(el, 'finding-edit-input') as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    input.value = 'planted noise';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    key(input, 'Enter');
    expect($(el, 'finding-edit-input')).toBeNull();

    ($$(el, 'finding-edit')[2] as HTMLElement).click();
    flushSync();
    input = $(el, 'finding-edit-input') as HTMLInputElement;
    input.value = 'discarded';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    key(input, 'Escape');
    expect($(el, 'finding-edit-input')).toBeNull();

    const add = $(el, 'finding-add-input') as HTMLInputElement;
    add.value = 'planted shadow';
    add.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    (add.form as HTMLFormElement).requestSubmit();
    flushSync();

    const second = rows[1]?.dataset['finding'];
    expect(calls.filter((c) => !c.startsWith('select'))).toEqual([
      'sort rank',
      'review planted opacity accepted',
      `pin ${second}`,
      `hide ${rows[2]?.dataset['finding']}`,
      `edit ${second} → planted noise`,
      'add planted shadow',
    ]);
    expect(calls).toContain(`select ${second}`);
  });
});

describe('EvidencePanel', () => {
  it('draws the histogram and ROC with Plot, lists images (missing ones labelled), the box and mentions', async () => {
    const { state } = await openedState(false);
    const opened: string[] = [];
    const el = target();
    mounted.push(
      mount(EvidencePanel, {
        target: el,
        props: {
          finding: state.selectedFinding,
          evidence: state.evidence,
          thumbnails: state.thumbnails,
          mentions: state.mentions,
          imagesMissing: false,
          onOpenImage: (id: string) => opened.push(id),
        },
      }),
    );
    flushSync();
    const panel = $(el, 'evidence-panel') as HTMLElement;
    expect(panel.textContent).toContain('planted opacity');
    expect(panel.querySelector('.placeholder')?.textContent).toMatch(/Loading chart/);
    const svgs = await until(() =>
      panel.querySelectorAll('svg').length >= 2 ? panel.querySelectorAll('svg') : null,
    );
    expect(svgs[0]?.querySelectorAll('rect').length).toBeGreaterThan(10);
    expect(svgs[1]?.textContent).toMatch(/AUROC \d\.\d{3}/);
    expect($$(panel, 'evidence-thumb').length).toBeGreaterThan(0);
    expect($$(panel, 'evidence-thumb-missing')[0]?.textContent).toContain('image not loaded');
    const box = panel.querySelector<HTMLElement>('.box-outline');
    expect(box?.style.left).toBe('10%');
    expect(($(panel, 'evidence-mentions') as HTMLElement).textContent).toContain(
      'A planted opacity at the right base.',
    );
    ($$(panel, 'evidence-thumb')[0] as HTMLElement).click();
    expect(opened).toHaveLength(1);
  });

  it('says so when the images are not loaded', () => {
    const el = target();
    const images = world(5, 5);
    const record = makeRecord(images, FINDINGS);
    mounted.push(
      mount(EvidencePanel, {
        target: el,
        props: {
          finding: record.ranking[0] as PoolFinding,
          evidence: null,
          thumbnails: null,
          mentions: [],
          imagesMissing: true,
          onOpenImage: () => {},
        },
      }),
    );
    flushSync();
    expect($(el, 'evidence-missing')?.textContent).toMatch(/not loaded/);
  });
});

describe('chartSvgs', () => {
  it('returns standalone SVG markup for the histogram and the ROC', async () => {
    const { state } = await openedState();
    const svgs = await chartSvgs(state.evidence!, 'planted opacity');
    for (const svg of [svgs.histogram, svgs.roc]) {
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
      const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
      expect(doc.querySelector('parsererror')).toBeNull();
    }
    expect(svgs.roc).toMatch(/AUROC \d\.\d{3}/);
    expect(svgs.histogram).toContain('planted opacity');
  });
});

describe('EmbeddingMap', () => {
  it('draws the points on a canvas and selects the nearest image on click', async () => {
    const { state } = await openedState();
    const selected: string[][] = [];
    const el = target();
    mounted.push(
      mount(EmbeddingMap, {
        target: el,
        props: {
          map: state.map,
          scores: state.mapScores,
          findingLabel: 'planted opacity',
          selectedImages: [] as ImageRef[],
          onSelect: (ids: string[]) => selected.push(ids),
          onOpenImage: () => {},
        },
      }),
    );
    flushSync();
    const map = $(el, 'embedding-map') as HTMLElement;
    expect(map.textContent).toMatch(/PC1|Loading map/);
    await until(() => map.querySelector('.axes svg'));
    expect(map.querySelector('.axes svg')?.textContent).toMatch(/PC1 \(\d+\.\d% of variance\)/);
    const canvas = map.querySelector('canvas') as HTMLCanvasElement;
    await until(() => canvas.width > 0);
    const rect = canvas.getBoundingClientRect();
    const at = {
      clientX: rect.left + rect.width / 2,
      clientY: rect.top + rect.height / 2,
      pointerId: 1,
      bubbles: true,
    };
    canvas.dispatchEvent(new PointerEvent('pointerdown', at));
    canvas.dispatchEvent(new PointerEvent('pointerup', at));
    expect(selected).toHaveLength(1);
    expect(selected[0]).toHaveLength(1);
    canvas.focus();
    key(canvas, 'ArrowLeft');
    key(canvas, 'Enter');
    expect(selected).toHaveLength(2);
    expect($(el, 'map-selection')?.textContent).toContain('No images selected');
  });
});

describe('ImageViewer', () => {
  it('opens modally, applies window/level on the canvas, zooms, and closes on Escape', async () => {
    let closed = 0;
    const el = target();
    const image: ImageRef = { id: 'a1', name: 'a1.png', set: 'A', url: gradientUrl(), score: 0.31 };
    mounted.push(mount(ImageViewer, { target: el, props: { image, onClose: () => closed++ } }));
    flushSync();
    const dialog = $(el, 'image-viewer') as HTMLDialogElement;
    expect(dialog.open).toBe(true);
    const canvas = await until(() => {
      const c = dialog.querySelector('canvas');
      return c && c.width === 64 ? c : null;
    });
    const pixel = (x: number) =>
      (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(x, 10, 1, 1).data[0] as number;
    expect(Math.abs(pixel(32) - 128)).toBeLessThanOrEqual(2);
    // A narrow window around level 128 pushes grey 128 ± a little to black/white.
    const [width, level] = [...dialog.querySelectorAll<HTMLInputElement>('input[type="range"]')];
    (width as HTMLInputElement).value = '16';
    width?.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(pixel(20)).toBe(0);
    expect(pixel(50)).toBe(255);
    (level as HTMLInputElement).value = '40';
    level?.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(pixel(20)).toBe(255);

    key(dialog, '+');
    expect(canvas.style.transform).toContain('scale(1.25)');
    key(dialog, '-');
    expect(canvas.style.transform).toContain('scale(1)');
    dialog.dispatchEvent(new Event('cancel', { cancelable: true }));
    expect(closed).toBe(1);
  });
});

describe('RunCompare', () => {
  it('lists findings of both runs with their moves', () => {
    const images = world(10, 10);
    const a = makeRecord(images, FINDINGS);
    const b = makeRecord(images, ['noise one', 'planted opacity', 'new one']);
    const el = target();
    mounted.push(
      mount(RunCompare, { target: el, props: { rows: compareRuns(a, b), labelA: 'Run A', labelB: 'Run B' } }),
    );
    flushSync();
    const rows = $$(el, 'compare-row');
    expect(rows.map((r) => r.dataset['status']).sort()).toEqual(['both', 'both', 'only-a', 'only-b']);
    (el.querySelector('input[value="only-b"]') as HTMLInputElement).click();
    flushSync();
    expect($$(el, 'compare-row').map((r) => r.dataset['finding'])).toEqual(['new one']);
  });
});
