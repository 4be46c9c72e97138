// The charts of the findings workbench (score histogram, ROC curve, embedding-map frame and score colours) drawn
// with Observable Plot. The only module that touches Plot, and only through a lazy import, so Plot stays out of the
// first-load bundle. Browser only (Plot builds DOM nodes); imports only types from state.

import type * as PlotApi from '@observablehq/plot';
import type { Evidence } from '../state/workbench.svelte.ts';

type PlotModule = typeof PlotApi;

/** Colours of the charts; the app passes its CSS variables' current values, exports the light theme's. */
export interface ChartColors {
  a: string;
  b: string;
  /** Lines and text that are not data (diagonal, rules). */
  muted: string;
}

/** Light-theme colours of app.css, for standalone SVG files (which cannot read the page's CSS variables). */
export const EXPORT_COLORS: ChartColors = { a: '#c2410c', b: '#1d4ed8', muted: '#4b5563' };

/** Options shared by the charts. */
export interface ChartOptions {
  colors: ChartColors;
  width?: number;
  height?: number;
  /** Title drawn inside the SVG (so an exported file carries it). */
  title?: string;
  /** Inline style of the SVG element (exports set a white background and black text). */
  style?: string;
}

let plotModule: Promise<PlotModule> | null = null;

/** Loads Plot once; a failed load is forgotten so the next chart retries it. */
export function loadPlot(): Promise<PlotModule> {
  if (!plotModule) {
    plotModule = import('@observablehq/plot').catch((error: unknown) => {
      plotModule = null;
      throw error;
    });
  }
  return plotModule;
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Bin counts as shares of their set, so sets of different sizes share one y axis. */
function shares(values: readonly number[]): number[] {
  const total = sum(values);
  return total > 0 ? values.map((v) => v / total) : values.map(() => 0);
}

/** Shortens a finding for a chart title. */
function clip(text: string, max = 70): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function asSvg(node: Element): SVGSVGElement {
  // Plot returns a <figure> only when given a title/legend option; these charts never pass one.
  if (!(node instanceof SVGSVGElement)) throw new Error('Plot returned a figure where an SVG was expected');
  // Screen readers get one image with its label and description; Plot also labels its mark groups (<g
  // aria-label="rect">, a labelled frame <rect>), which ARIA does not permit on role-less elements: groups get
  // role=group, other labels are dropped.
  node.setAttribute('role', 'img');
  for (const labelled of node.querySelectorAll('[aria-label]')) {
    if (labelled.tagName.toLowerCase() === 'g') labelled.setAttribute('role', 'group');
    else labelled.removeAttribute('aria-label');
  }
  return node;
}

function titleMark(Plot: PlotModule, title: string | undefined) {
  return title
    ? Plot.text([title], { frameAnchor: 'top-left', dy: -18, fontSize: 12, fontWeight: 600 })
    : null;
}

/**
 * Score histogram of the selected finding: A and B on the same axes (each bin's share of its set), translucent so
 * the overlap shows, with each set's mean as a dashed rule.
 */
export async function histogramChart(evidence: Evidence, options: ChartOptions): Promise<SVGSVGElement> {
  const Plot = await loadPlot();
  const { edges, a, b } = evidence.histogram;
  const shareA = shares(a);
  const shareB = shares(b);
  const rows: { x1: number; x2: number; share: number; set: 'A' | 'B' }[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const x1 = edges[i] as number;
    const x2 = edges[i + 1] as number;
    rows.push({ x1, x2, share: shareB[i] ?? 0, set: 'B' }, { x1, x2, share: shareA[i] ?? 0, set: 'A' });
  }
  const { colors } = options;
  return asSvg(
    Plot.plot({
      width: options.width ?? 420,
      height: options.height ?? 220,
      marginTop: options.title ? 28 : 12,
      marginLeft: 52,
      ...(options.style ? { style: options.style } : {}),
      ariaLabel: options.title ?? 'Score histogram of set A and set B',
      ariaDescription: `Mean score A ${evidence.meanA.toFixed(3)}, B ${evidence.meanB.toFixed(3)}`,
      x: { label: 'Score (cosine) →', domain: [edges[0] ?? 0, edges.at(-1) ?? 1] },
      // The y label runs along the axis, leaving the top margin to the title.
      y: { label: 'Share of set (%)', labelAnchor: 'center', grid: true, percent: true },
      color: { domain: ['A', 'B'], range: [colors.a, colors.b] },
      marks: [
        Plot.rectY(rows, { x1: 'x1', x2: 'x2', y: 'share', fill: 'set', fillOpacity: 0.45, inset: 0.5 }),
        Plot.ruleX([evidence.meanA], { stroke: colors.a, strokeWidth: 1.5, strokeDasharray: '4,3' }),
        Plot.ruleX([evidence.meanB], { stroke: colors.b, strokeWidth: 1.5, strokeDasharray: '4,3' }),
        Plot.ruleY([0]),
        titleMark(Plot, options.title),
      ],
    }),
  );
}

/** ROC curve of A (positive) against B, with the chance diagonal and the AUROC in the title. */
export async function rocChart(evidence: Evidence, options: ChartOptions): Promise<SVGSVGElement> {
  const Plot = await loadPlot();
  const { fpr, tpr, auroc } = evidence.roc;
  const points = fpr.map((x, i) => ({ fpr: x, tpr: tpr[i] ?? 0 }));
  const { colors } = options;
  const title = options.title ?? `ROC · AUROC ${auroc.toFixed(3)}`;
  return asSvg(
    Plot.plot({
      width: options.width ?? 260,
      height: options.height ?? 240,
      marginTop: 28,
      marginLeft: 52,
      ...(options.style ? { style: options.style } : {}),
      ariaLabel: title,
      ariaDescription: `ROC curve of set A against set B; area under the curve ${auroc.toFixed(3)}`,
      x: { domain: [0, 1], label: 'False positive rate (B) →' },
      y: { domain: [0, 1], label: 'True positive rate (A)', labelAnchor: 'center', grid: true },
      marks: [
        Plot.line(
          [
            [0, 0],
            [1, 1],
          ],
          { stroke: colors.muted, strokeDasharray: '4,3' },
        ),
        Plot.line(points, { x: 'fpr', y: 'tpr', stroke: colors.a, strokeWidth: 2, curve: 'step-after' }),
        Plot.frame({ stroke: colors.muted, strokeOpacity: 0.4 }),
        titleMark(Plot, title),
      ],
    }),
  );
}

/** The axes of the embedding map and the functions placing data on them (pixels of the returned SVG). */
export interface MapFrame {
  svg: SVGSVGElement;
  x: (value: number) => number;
  y: (value: number) => number;
}

/** Options of {@link mapFrame}. */
export interface MapFrameOptions {
  width: number;
  height: number;
  xDomain: [number, number];
  yDomain: [number, number];
  xLabel: string;
  yLabel: string;
  frameColor: string;
}

/**
 * Axes, grid and frame of the embedding map, without the points: the points are drawn on a canvas over it with the
 * returned scales (thousands of SVG circles would make the page sluggish).
 */
export async function mapFrame(options: MapFrameOptions): Promise<MapFrame> {
  const Plot = await loadPlot();
  const plot = Plot.plot({
    width: options.width,
    height: options.height,
    marginLeft: 44,
    marginBottom: 36,
    ariaLabel: 'Embedding map axes',
    x: { domain: options.xDomain, label: options.xLabel, grid: true, nice: false },
    y: { domain: options.yDomain, label: options.yLabel, grid: true, nice: false },
    marks: [Plot.frame({ stroke: options.frameColor })],
  });
  const sx = plot.scale('x');
  const sy = plot.scale('y');
  if (!sx || !sy) throw new Error('the map frame has no x/y scale');
  return {
    svg: asSvg(plot),
    x: (v) => sx.apply(v) as number,
    y: (v) => sy.apply(v) as number,
  };
}

/** A sequential colour scale for scores (viridis) and its legend. */
export async function scoreColors(
  domain: [number, number],
  label: string,
): Promise<{ color: (value: number) => string; legend: Element }> {
  const Plot = await loadPlot();
  const options = { type: 'linear' as const, scheme: 'viridis' as const, domain };
  const scale = Plot.scale({ color: options });
  const legend = Plot.legend({ color: { ...options, label }, width: 240 });
  return { color: (v) => String(scale.apply(v)), legend };
}

function standalone(svg: SVGSVGElement): string {
  // outerHTML serializes the HTML way, which leaves out the namespace a standalone .svg file needs.
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return svg.outerHTML;
}

/**
 * The histogram and ROC of one finding as standalone SVG markup (light colours, white background, titled with the
 * finding), for exports. Browser only.
 */
export async function chartSvgs(
  evidence: Evidence,
  finding: string | { finding: string },
): Promise<{ histogram: string; roc: string }> {
  const text = typeof finding === 'string' ? finding : finding.finding;
  const style = 'background: white; color: black;';
  const [histogram, roc] = await Promise.all([
    histogramChart(evidence, {
      colors: EXPORT_COLORS,
      width: 560,
      height: 280,
      title: `Scores of “${clip(text)}” (A orange, B blue)`,
      style,
    }),
    rocChart(evidence, {
      colors: EXPORT_COLORS,
      width: 320,
      height: 300,
      title: `ROC · AUROC ${evidence.roc.auroc.toFixed(3)}`,
      style,
    }),
  ]);
  return { histogram: standalone(histogram), roc: standalone(roc) };
}
