// WebGPU detection for model workers: is there an adapter, what is it (vendor/architecture/description for the
// UI and bug reports), does it have shader-f16 (which picks the fp16 or fp32 weights), and watching the device
// ONNX Runtime created so a lost device becomes a DeviceLost error instead of a hang. Uses only navigator.gpu,
// which lib DOM and lib WebWorker both declare.

/** What the UI shows about the GPU a model runs on. */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise degraded adapter (e.g. SwiftShader): correct but slow. */
  isFallbackAdapter: boolean;
  /** The adapter can run fp16 shaders, so fp16 weights are usable. */
  shaderF16: boolean;
}

/** Result of looking for a WebGPU adapter. */
export type WebGpuProbe = { ok: true; adapter: GpuAdapterSummary } | { ok: false; reason: string };

/**
 * Looks for a WebGPU adapter with the same options ONNX Runtime will use (transformers.js asks for
 * `high-performance`), so the shader-f16 answer describes the adapter that will actually run the model.
 * Never throws: a missing API, a blocklisted GPU or a failing request all come back as `{ ok: false, reason }`.
 */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    return { ok: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { ok: false, reason: `requesting a WebGPU adapter failed: ${(error as Error).message}` };
  }
  if (!adapter) {
    return {
      ok: false,
      reason: 'no WebGPU adapter is available (WebGPU disabled, or the GPU is blocklisted)',
    };
  }
  const info = adapter.info;
  return {
    ok: true,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      // Older Chromium exposed this on the adapter, newer on its info; absent means "not a fallback".
      isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      shaderF16: adapter.features.has('shader-f16'),
    },
  };
}

/**
 * Remembers when a GPUDevice is lost. ONNX Runtime creates its device lazily with the first WebGPU session;
 * `watch` takes that device (from `env.backends.onnx.webgpu.device`) once it exists.
 */
export class DeviceLossWatch {
  #lost: string | undefined;
  #watched = new WeakSet<GPUDevice>();

  /** Starts watching `device`; watching the same device twice is harmless. */
  watch(device: GPUDevice): void {
    if (this.#watched.has(device)) return;
    this.#watched.add(device);
    void device.lost.then((info) => {
      // reason 'destroyed' means we (or ORT) destroyed it on purpose, e.g. while unloading: not a loss.
      if (info.reason === 'destroyed') return;
      this.#lost = info.message || `the GPU device was lost (${String(info.reason)})`;
    });
  }

  /** Why the device was lost, or undefined while it is healthy. */
  get lostReason(): string | undefined {
    return this.#lost;
  }
}
