// What this browser and GPU offer, for the diagnostics report: the WebGPU adapter (vendor, architecture, features,
// the limits that bound model sizes) and the browser (user agent, cores, memory, cross-origin isolation). Reads
// navigator through structural types, since the fields vary by browser and version and state tests run in Node.

/** Limits that decide whether a model fits: largest buffer, storage binding, workgroup memory and sizes. */
export const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The WebGPU adapter as the models would get it, or why there is none. */
export type GpuInfo =
  | { available: false; reason: string }
  | {
      available: true;
      vendor: string;
      architecture: string;
      device: string;
      description: string;
      /** A software or fallback adapter (e.g. SwiftShader): models run, slowly. Null when the browser does not say. */
      isFallbackAdapter: boolean | null;
      /** Optional features, sorted (shader-f16, timestamp-query, subgroups…). */
      features: string[];
      /** {@link KEY_LIMITS} the adapter reports. */
      limits: Partial<Record<(typeof KEY_LIMITS)[number], number>>;
    };

/** The browser and machine, as far as the page may know. No identifiers beyond what every site sees. */
export interface BrowserInfo {
  userAgent: string;
  /** User-Agent Client Hints brands ("Chromium 126"…), where the browser has them. */
  brands: string[] | null;
  platform: string | null;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number | null;
  /** Approximate device memory in GB (Chromium only; capped at 8 by the browser). */
  deviceMemory: number | null;
}

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface AdapterLike {
  info?: AdapterInfoLike;
  features: Iterable<string>;
  limits: object;
  /** Before Chrome 128 the fallback flag lived on the adapter; `info.isFallbackAdapter` replaced it. */
  isFallbackAdapter?: boolean;
  /** Before Chrome 127 adapter info came from this method instead of `info`. */
  requestAdapterInfo?: () => Promise<AdapterInfoLike>;
}

interface NavigatorLike {
  gpu?: { requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null> };
  userAgent?: string;
  userAgentData?: { brands?: { brand: string; version: string }[]; platform?: string };
  platform?: string;
  hardwareConcurrency?: number;
  deviceMemory?: number;
}

// The double cast reads navigator through the structural types above, whatever lib the compiler was given.
const env = () => globalThis as unknown as { navigator?: NavigatorLike; crossOriginIsolated?: boolean };

/**
 * Requests an adapter the way the model workers do (high-performance) and reads what it offers. Never throws:
 * no WebGPU, no adapter or a failing request become `available: false` with the reason.
 */
export async function probeGpu(): Promise<GpuInfo> {
  const gpu = env().navigator?.gpu;
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' };
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return {
      available: false,
      reason: `requestAdapter failed: ${error instanceof Error ? error.message : error}`,
    };
  }
  if (!adapter) return { available: false, reason: 'no WebGPU adapter (GPU blocklisted or disabled)' };
  let info: AdapterInfoLike = adapter.info ?? {};
  if (!adapter.info && adapter.requestAdapterInfo) {
    try {
      info = await adapter.requestAdapterInfo();
    } catch {
      // Old Chrome may refuse; the report then shows empty names, which is still useful.
    }
  }
  const limits: Partial<Record<(typeof KEY_LIMITS)[number], number>> = {};
  // GPUSupportedLimits exposes getters on its prototype, so read the names rather than enumerate keys.
  const source = adapter.limits as Partial<Record<string, unknown>>;
  for (const name of KEY_LIMITS) {
    const value = source[name];
    if (typeof value === 'number') limits[name] = value;
  }
  return {
    available: true,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null,
    features: [...adapter.features].sort(),
    limits,
  };
}

/** Reads the browser's self-description; fields the browser lacks are null. */
export function probeBrowser(): BrowserInfo {
  const { navigator: nav, crossOriginIsolated } = env();
  const brands = nav?.userAgentData?.brands;
  return {
    userAgent: nav?.userAgent ?? 'unknown',
    brands: brands ? brands.map((b) => `${b.brand} ${b.version}`) : null,
    platform: nav?.userAgentData?.platform || nav?.platform || null,
    crossOriginIsolated: crossOriginIsolated === true,
    hardwareConcurrency: nav?.hardwareConcurrency ?? null,
    deviceMemory: nav?.deviceMemory ?? null,
  };
}
