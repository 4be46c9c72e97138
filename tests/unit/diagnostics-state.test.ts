// DiagnosticsState and its report with injected probes: what the report says (browser, adapter, features, limits,
// storage, models), that it names no image or finding, the no-WebGPU case, and copying with the manual fallback.
import { describe, expect, it } from 'vitest';
import {
  DiagnosticsState,
  diagnosticsText,
  type BrowserInfo,
  type GpuInfo,
  type ModelInUse,
} from '../../src/lib/state/diagnostics.svelte.ts';

const browser: BrowserInfo = {
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0',
  brands: ['Chromium 126', 'Google Chrome 126'],
  platform: 'Linux',
  crossOriginIsolated: false,
  hardwareConcurrency: 8,
  deviceMemory: 8,
};

const gpu: GpuInfo = {
  available: true,
  vendor: 'nvidia',
  architecture: 'ampere',
  device: '',
  description: 'NVIDIA GeForce RTX 3060',
  isFallbackAdapter: false,
  features: ['shader-f16', 'timestamp-query'],
  limits: { maxBufferSize: 4 * 1024 ** 3, maxComputeWorkgroupStorageSize: 32768 },
};

const models: ModelInUse[] = [
  { role: 'ranker', id: 'Xenova/clip-vit-base-patch32', device: 'webgpu', dtype: 'fp16' },
  { role: 'llm', id: 'Qwen2.5-1.5B-Instruct', device: 'webgpu', version: 'q4f16_1' },
];

function diagnostics(overrides: Partial<ConstructorParameters<typeof DiagnosticsState>[0]> = {}) {
  return new DiagnosticsState({
    models: () => models,
    appVersion: '1.2.3',
    probeGpu: async () => gpu,
    probeBrowser: () => browser,
    storageEstimate: async () => ({ usage: 300 * 1024 ** 2, quota: 20 * 1024 ** 3 }),
    isPersisted: async () => true,
    now: () => new Date('2025-03-01T12:00:00Z'),
    ...overrides,
  });
}

describe('DiagnosticsState', () => {
  it('reports browser, adapter, limits, storage and models', async () => {
    const state = diagnostics();
    expect(state.text).toMatch(/not probed/);
    await state.refresh();
    const text = state.text;
    expect(text).toContain('App version: 1.2.3');
    expect(text).toContain('Collected: 2025-03-01T12:00:00.000Z');
    expect(text).toContain('User agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0');
    expect(text).toContain('Brands: Chromium 126, Google Chrome 126');
    expect(text).toContain('Cross-origin isolated: no');
    expect(text).toContain('Logical cores: 8');
    expect(text).toContain('Adapter: nvidia / ampere');
    expect(text).toContain('Description: NVIDIA GeForce RTX 3060');
    expect(text).toContain('Fallback adapter: no');
    expect(text).toContain('shader-f16: yes');
    expect(text).toContain('Features: shader-f16, timestamp-query');
    expect(text).toContain('maxBufferSize: 4294967296 (4096 MB)');
    expect(text).toContain('maxComputeWorkgroupStorageSize: 32768');
    expect(text).toContain('Used: 300 MB of 20.0 GB');
    expect(text).toContain('Persistent: yes');
    expect(text).toContain('ranker: Xenova/clip-vit-base-patch32 (device webgpu, dtype fp16)');
    expect(text).toContain('llm: Qwen2.5-1.5B-Instruct (device webgpu, version q4f16_1)');
  });

  it('says why WebGPU is unavailable and survives failing probes', async () => {
    const state = diagnostics({
      probeGpu: async () => ({
        available: false,
        reason: 'this browser has no WebGPU (navigator.gpu is missing)',
      }),
      storageEstimate: async () => {
        throw new Error('denied');
      },
    });
    await state.refresh();
    expect(state.text).toContain('unavailable: this browser has no WebGPU');
    expect(state.text).toContain('Used: unknown');
    expect(state.probing).toBe(false);
  });

  it('never contains anything but what it was given about the machine and models', () => {
    const text = diagnosticsText({
      appVersion: 'x',
      collectedAt: null,
      browser,
      gpu,
      storage: null,
      persisted: null,
      models: [],
    });
    expect(text).not.toMatch(/\.png|\.jpg|\.dcm|patient|finding/i);
    expect(text).toContain('none selected');
  });

  it('copies the report, or falls back to manual copying when the clipboard refuses', async () => {
    const written: string[] = [];
    const ok = diagnostics({ writeText: async (t) => void written.push(t) });
    await ok.refresh();
    expect(await ok.copy()).toBe(true);
    expect(ok.copyStatus).toBe('copied');
    expect(written).toEqual([ok.text]);

    const refused = diagnostics({
      writeText: async () => {
        throw new DOMException('Document is not focused.', 'NotAllowedError');
      },
    });
    expect(await refused.copy()).toBe(false);
    expect(refused.copyStatus).toBe('manual');
  });
});
