import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { availableRankers, parseLocalIndex, parseManifest } from '../../src/lib/core/manifest.ts';
import { embeddingKey } from '../../src/lib/core/cache-keys.ts';

const shipped = JSON.parse(readFileSync('public/models/manifest.json', 'utf8')) as unknown;

describe('model manifest', () => {
  it('the shipped manifest is valid and defaults to CLIP ViT-B/16 from the Hub', () => {
    const manifest = parseManifest(shipped);
    expect(manifest.defaultRanker).toBe('Xenova/clip-vit-base-patch16');
    const def = manifest.rankers.find((r) => r.id === manifest.defaultRanker)!;
    expect(def.source).toBe('hub');
    // q8/q4 on WebGPU has given silently wrong embeddings (STACK.md): never on WebGPU.
    for (const r of manifest.rankers) {
      expect(['fp16', 'fp32']).toContain(r.dtype.webgpu);
      expect(r.dtype.webgpuNoF16).toBe('fp32');
    }
  });

  it('names the invalid field', () => {
    const broken = structuredClone(shipped) as { rankers: { preprocessing: { size: unknown } }[] };
    broken.rankers[0]!.preprocessing.size = -3;
    expect(() => parseManifest(broken)).toThrow(/rankers\.0\.preprocessing\.size/);
  });

  it('rejects a default ranker that is not listed', () => {
    expect(() => parseManifest({ ...(shipped as object), defaultRanker: 'nope' })).toThrow(
      /defaultRanker "nope"/,
    );
  });

  it('marks manifest models found under public/models as local and adds unknown local folders', () => {
    const manifest = parseManifest(shipped);
    const rankers = availableRankers(manifest, [
      { id: 'Xenova/clip-vit-base-patch16', files: ['config.json'] },
      { id: 'my-org/chexzero-onnx', files: ['config.json'] },
    ]);
    expect(rankers.find((r) => r.id === 'Xenova/clip-vit-base-patch16')!.source).toBe('local');
    const extra = rankers.find((r) => r.id === 'my-org/chexzero-onnx')!;
    expect(extra.source).toBe('local');
    expect(extra.family).toBe('clip');
    expect(rankers.find((r) => r.id === 'onnx-community/siglip2-base-patch16-256-ONNX')!.source).toBe('hub');
  });

  it('treats a malformed local index as no local models', () => {
    expect(parseLocalIndex('<!doctype html>')).toEqual([]);
    expect(parseLocalIndex({ models: [{ id: 'x', files: ['config.json'] }] })).toHaveLength(1);
  });
});

describe('embeddingKey', () => {
  it('changes with each part of the provenance', () => {
    const base = embeddingKey('m', 'p1', 'abc');
    expect(embeddingKey('m2', 'p1', 'abc')).not.toBe(base);
    expect(embeddingKey('m', 'p2', 'abc')).not.toBe(base);
    expect(embeddingKey('m', 'p1', 'abd')).not.toBe(base);
    expect(embeddingKey('m', 'p1', 'abc', { x1: 0, y1: 0, x2: 0.5, y2: 0.5 })).not.toBe(base);
    expect(embeddingKey('m', 'p1', 'abc', 'full')).toBe(base);
  });
});
