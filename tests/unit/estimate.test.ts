// estimateRun: the call counts of METHOD.md §2 per proposer, memory with shared and swapped generators, endpoint
// models, missing models, and the time range's assumptions.
import { describe, expect, it } from 'vitest';
import { presetConfig, type DiffConfig } from '../../src/lib/core/diff-config.ts';
import { DEFAULT_TIMINGS, estimateRun, type ModelCost } from '../../src/lib/core/estimate.ts';

const ranker: ModelCost = { id: 'clip', downloadMB: 150, gpuMB: 300, secondsPerImage: 0.1 };
const captioner: ModelCost = { id: 'vlm', downloadMB: 1000, gpuMB: 2000, secondsPerImage: 2 };
const llm: ModelCost = { id: 'llm', downloadMB: 2000, gpuMB: 4000, secondsPerCall: 20 };

function config(patch: Partial<DiffConfig> = {}): DiffConfig {
  return { ...presetConfig('raddiff'), ...patch };
}

describe('estimateRun', () => {
  it('counts the RadDiff defaults (2 iterations × 3 rounds × 20 + 20 samples, boxes, localized ranking)', () => {
    const e = estimateRun(config(), { ranker, captioner, llm }, { A: 100, B: 80 });
    expect(e.calls.captions).toBe(2 * 3 * 40);
    // 6 proposal/refinement calls + 3 box calls in iteration 2.
    expect(e.calls.llm).toBe(9);
    // Every image once + every image per zoom box (topK 5) in iteration 2.
    expect(e.calls.embeddings).toBe(180 + 180 * 5);
    expect(e.downloadMB).toBe(3150);
    expect(e.peakGpuMB).toBe(6300);
    expect(e.missing).toEqual([]);
    expect(e.assumed).toEqual([]);
  });

  it('caps samples at the set size', () => {
    const e = estimateRun(config({ iterations: 1, rounds: 2 }), { ranker, captioner, llm }, { A: 7, B: 30 });
    expect(e.calls.captions).toBe(2 * (7 + 20));
    expect(e.calls.llm).toBe(2);
    expect(e.calls.embeddings).toBe(37);
  });

  it('leaves box calls and localized ranking out without visual search', () => {
    const e = estimateRun(config({ visualSearch: false }), { ranker, captioner, llm }, { A: 50, B: 50 });
    expect(e.calls.llm).toBe(6);
    expect(e.calls.embeddings).toBe(100);
    const noLocal = estimateRun(
      config({ localizedRanking: false }),
      { ranker, captioner, llm },
      { A: 50, B: 50 },
    );
    expect(noLocal.calls.llm).toBe(9);
    expect(noLocal.calls.embeddings).toBe(100);
  });

  it('counts one zoom-box batch per refinement iteration', () => {
    const e = estimateRun(config({ iterations: 3, topK: 2 }), { ranker, captioner, llm }, { A: 10, B: 10 });
    expect(e.calls.llm).toBe(9 + 6);
    expect(e.calls.embeddings).toBe(20 + 20 * 2 * 2);
  });

  it('needs no captioner for report-guided and neither model for the quick preset', () => {
    const reports = estimateRun(presetConfig('report-guided'), { ranker, captioner, llm }, { A: 40, B: 40 });
    expect(reports.calls.captions).toBe(0);
    expect(reports.calls.llm).toBe(9);
    expect(reports.downloadMB).toBe(2150);
    expect(reports.peakGpuMB).toBe(4300);

    const quick = estimateRun(presetConfig('quick'), { ranker, captioner, llm }, { A: 40, B: 40 });
    expect(quick.calls).toEqual({ captions: 0, llm: 0, embeddings: 80 });
    expect(quick.downloadMB).toBe(150);
    expect(quick.peakGpuMB).toBe(300);
    expect(quick.seconds.low).toBeCloseTo(0.5 * 80 * 0.1);
    expect(quick.seconds.high).toBeCloseTo(2 * 80 * 0.1);
  });

  it('runs the caption-only proposer with captions and an LLM', () => {
    const e = estimateRun(config({ proposer: 'caption-only' }), { ranker, captioner, llm }, { A: 40, B: 40 });
    expect(e.calls.captions).toBe(240);
    expect(e.calls.llm).toBe(9);
  });

  it('counts a model serving both roles once, and the larger generator when they are swapped', () => {
    const shared = estimateRun(config(), { ranker, captioner: llm, llm }, { A: 40, B: 40 });
    expect(shared.downloadMB).toBe(2150);
    expect(shared.peakGpuMB).toBe(4300);
    const swapped = estimateRun(
      config(),
      { ranker, captioner, llm },
      { A: 40, B: 40 },
      { swapGenerators: true },
    );
    expect(swapped.peakGpuMB).toBe(300 + 4000);
    expect(swapped.downloadMB).toBe(3150);
  });

  it('costs nothing to download or hold for endpoint models', () => {
    const endpoint: ModelCost = { id: 'qwen2.5vl:7b', downloadMB: 0, gpuMB: 0, secondsPerCall: 10 };
    const e = estimateRun(config(), { ranker, captioner: endpoint, llm: endpoint }, { A: 40, B: 40 });
    expect(e.downloadMB).toBe(150);
    expect(e.peakGpuMB).toBe(300);
  });

  it('reports missing models and assumed timings', () => {
    const e = estimateRun(config(), { ranker: { id: 'clip', downloadMB: 0, gpuMB: 0 } }, { A: 40, B: 40 });
    expect(e.missing).toEqual(['captioner', 'llm']);
    expect(e.assumed).toHaveLength(3);
    const embeddings = 80 + 80 * 5;
    const nominal =
      embeddings * DEFAULT_TIMINGS.rankerSecondsPerImage +
      9 * DEFAULT_TIMINGS.llmSecondsPerCall +
      240 * DEFAULT_TIMINGS.captionerSecondsPerImage;
    expect(e.seconds.high).toBeCloseTo(2 * nominal);
  });

  it('assumes in the low bound that images drawn again are captioned once', () => {
    // 6 rounds × 20 draws from 30 images: at most 30 distinct per set are captioned.
    const e = estimateRun(config(), { ranker, captioner, llm }, { A: 30, B: 30 });
    const fixed = (60 + 60 * 5) * 0.1 + 9 * 20;
    expect(e.seconds.low).toBeCloseTo(0.5 * (fixed + 60 * 2));
    expect(e.seconds.high).toBeCloseTo(2 * (fixed + 240 * 2));
    expect(e.seconds.low).toBeLessThan(e.seconds.high);
  });

  it('is zero-safe for empty sets', () => {
    const e = estimateRun(config(), { ranker, captioner, llm }, { A: 0, B: 0 });
    expect(e.calls.captions).toBe(0);
    expect(e.calls.embeddings).toBe(0);
    expect(e.seconds.low).toBeGreaterThanOrEqual(0);
  });
});
