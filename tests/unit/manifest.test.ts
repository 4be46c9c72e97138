import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  availableCaptioners,
  availableLlms,
  availableRankers,
  defaultLlmFor,
  parseLocalIndex,
  parseManifest,
  pickLlmVariant,
  type LlmModelSpec,
} from '../../src/lib/core/manifest.ts';
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

describe('captioners and LLMs in the manifest', () => {
  const manifest = parseManifest(shipped);
  const llm = (id: string): LlmModelSpec => manifest.llms.find((m) => m.id === id)!;

  it('defaults to SmolVLM-256M with a dtype per sub-model and q4f16 only where shader-f16 exists', () => {
    expect(manifest.defaultCaptioner).toBe('HuggingFaceTB/SmolVLM-256M-Instruct');
    const smol = manifest.captioners.find((c) => c.id === manifest.defaultCaptioner)!;
    expect(smol.dtype.webgpu).toEqual({
      vision_encoder: 'fp16',
      embed_tokens: 'fp16',
      decoder_model_merged: 'q4f16',
    });
    expect(smol.licence).toBe('Apache-2.0');
    for (const c of manifest.captioners) {
      // The no-f16 and WASM variants must not ask for fp16 weights or fp16 compute.
      for (const map of [c.dtype.webgpuNoF16, c.dtype.wasm ?? {}]) {
        for (const d of Object.values(map)) expect(['fp32', 'q8', 'q4']).toContain(d);
      }
      // Same sub-models on every device.
      const names = Object.keys(c.dtype.webgpu).sort();
      expect(Object.keys(c.dtype.webgpuNoF16).sort()).toEqual(names);
      if (c.dtype.wasm) expect(Object.keys(c.dtype.wasm).sort()).toEqual(names);
    }
    const medgemma = manifest.captioners.find((c) => c.id === 'geeek/medgemma-4b-it-ONNX')!;
    expect(medgemma.dtype.wasm).toBeUndefined();
    expect(medgemma.licence).toMatch(/HAI-DEF/);
  });

  it('offers web-llm Qwen3 with a q4f32 build, Phi-3.5-vision and a WASM fallback without JSON mode', () => {
    expect(manifest.defaultLlm).toBe('Qwen3-1.7B-q4f16_1-MLC');
    expect(llm('Qwen3-1.7B-q4f16_1-MLC').noF16Variant).toBe('Qwen3-1.7B-q4f32_1-MLC');
    expect(llm('Phi-3.5-vision-instruct-q4f16_1-MLC').vision).toBe(true);
    const fallback = llm('onnx-community/Qwen3-0.6B-ONNX');
    expect(fallback).toMatchObject({ runtime: 'transformers', jsonMode: 'lenient', vision: false });
    for (const m of manifest.llms) {
      if (m.runtime === 'web-llm') expect(m.jsonMode).toBe('schema');
    }
  });

  it('filters LLMs by WebGPU and picks the default accordingly', () => {
    expect(availableLlms(manifest).map((m) => m.id)).toEqual(manifest.llms.map((m) => m.id));
    expect(availableLlms(manifest, { webgpu: false }).map((m) => m.id)).toEqual([
      'onnx-community/Qwen3-0.6B-ONNX',
    ]);
    expect(defaultLlmFor(manifest, { webgpu: true })?.id).toBe('Qwen3-1.7B-q4f16_1-MLC');
    expect(defaultLlmFor(manifest, { webgpu: false })?.id).toBe('onnx-community/Qwen3-0.6B-ONNX');
  });

  it('picks the q4f32 build without shader-f16 and the q4f16 build with it', () => {
    const qwen = llm('Qwen3-1.7B-q4f16_1-MLC');
    expect(pickLlmVariant(qwen, { shaderF16: true })).toMatchObject({
      modelId: 'Qwen3-1.7B-q4f16_1-MLC',
      f16: true,
      device: 'webgpu',
    });
    const noF16 = pickLlmVariant(qwen, { shaderF16: false });
    expect(noF16).toMatchObject({ modelId: 'Qwen3-1.7B-q4f32_1-MLC', f16: false, device: 'webgpu' });
    expect(noF16.approxGpuMB).toBeGreaterThan(qwen.approxGpuMB);
    expect(noF16.unsupported).toBeUndefined();
    // An f16-only build cannot run there, and says why.
    const { noF16Variant: _, ...f16Only } = qwen;
    expect(pickLlmVariant(f16Only, { shaderF16: false }).unsupported).toMatch(/shader-f16/);
    // transformers.js runs on WASM: shader-f16 is irrelevant.
    expect(pickLlmVariant(llm('onnx-community/Qwen3-0.6B-ONNX'), { shaderF16: false })).toMatchObject({
      modelId: 'onnx-community/Qwen3-0.6B-ONNX',
      device: 'wasm',
    });
  });

  it('marks self-hosted captioners as local', () => {
    const captioners = availableCaptioners(manifest, [
      { id: 'HuggingFaceTB/SmolVLM-256M-Instruct', files: ['config.json'] },
    ]);
    expect(captioners.find((c) => c.id === 'HuggingFaceTB/SmolVLM-256M-Instruct')!.source).toBe('local');
    expect(captioners.find((c) => c.id === 'geeek/medgemma-4b-it-ONNX')!.source).toBe('hub');
  });

  it('still reads a manifest without captioners or LLMs', () => {
    const {
      captioners: _c,
      llms: _l,
      defaultCaptioner: _dc,
      defaultLlm: _dl,
      ...old
    } = shipped as Record<string, unknown>;
    const parsed = parseManifest(old);
    expect(parsed.captioners).toEqual([]);
    expect(availableLlms(parsed)).toEqual([]);
    expect(defaultLlmFor(parsed, { webgpu: true })).toBeUndefined();
  });

  it('rejects unknown defaults, a transformers LLM with JSON mode, and an empty sub-model map', () => {
    expect(() => parseManifest({ ...(shipped as object), defaultLlm: 'nope' })).toThrow(/defaultLlm "nope"/);
    expect(() => parseManifest({ ...(shipped as object), defaultCaptioner: 'nope' })).toThrow(
      /defaultCaptioner "nope"/,
    );
    const jsonFallback = structuredClone(shipped) as { llms: { runtime: string; jsonMode: string }[] };
    const fallback = jsonFallback.llms.find((m) => m.runtime === 'transformers')!;
    fallback.jsonMode = 'schema';
    expect(() => parseManifest(jsonFallback)).toThrow(/llms\.3\.jsonMode/);
    const emptyMap = structuredClone(shipped) as { captioners: { dtype: { webgpu: object } }[] };
    emptyMap.captioners[0]!.dtype.webgpu = {};
    expect(() => parseManifest(emptyMap)).toThrow(/captioners\.0\.dtype\.webgpu/);
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
