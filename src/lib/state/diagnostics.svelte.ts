// The diagnostics a bug report needs: browser, WebGPU adapter (features, limits), storage, and the models in use,
// as one plain-text report to copy. It holds no image names, findings or reports: only facts about the machine and
// the software. Probes arrive injected (defaults read the browser), so the report is unit-tested in Node.
import { probeBrowser, probeGpu, type BrowserInfo, type GpuInfo } from '../engines/gpu-info.ts';
import type { StorageUsage } from '../storage/storage-types.ts';

export type { BrowserInfo, GpuInfo } from '../engines/gpu-info.ts';

/** A model the app has selected or loaded, as App describes it. */
export interface ModelInUse {
  role: 'ranker' | 'captioner' | 'llm';
  id: string;
  /** Where it runs: webgpu, wasm, endpoint… */
  device?: string;
  dtype?: string;
  version?: string;
}

/** Everything the report is made of. */
export interface DiagnosticsSnapshot {
  appVersion: string;
  collectedAt: string | null;
  browser: BrowserInfo | null;
  gpu: GpuInfo | null;
  storage: StorageUsage | null;
  persisted: boolean | null;
  models: ModelInUse[];
}

/** Where the diagnostics come from; every probe but `models` has a browser default. */
export interface DiagnosticsOptions {
  /** Read inside `text`'s derivation: a getter over reactive state keeps the report current. */
  models: () => ModelInUse[];
  appVersion?: string;
  probeGpu?: () => Promise<GpuInfo>;
  probeBrowser?: () => BrowserInfo;
  storageEstimate?: () => Promise<StorageUsage | null>;
  isPersisted?: () => Promise<boolean>;
  /** Clipboard writer; defaults to navigator.clipboard.writeText. */
  writeText?: (text: string) => Promise<void>;
  now?: () => Date;
}

/** After `copy()`: copied, or the clipboard refused and the panel should offer the text selected for Ctrl+C. */
export type CopyStatus = 'idle' | 'copied' | 'manual';

/** Diagnostics of this browser session; `refresh()` probes, `text` is the report, `copy()` puts it on the clipboard. */
export class DiagnosticsState {
  readonly #options: DiagnosticsOptions;
  browser = $state.raw<BrowserInfo | null>(null);
  gpu = $state.raw<GpuInfo | null>(null);
  storage = $state.raw<StorageUsage | null>(null);
  persisted = $state<boolean | null>(null);
  collectedAt = $state<string | null>(null);
  probing = $state(false);
  copyStatus = $state<CopyStatus>('idle');
  #generation = 0;

  /** The plain-text report, for bug reports. */
  readonly text = $derived(
    diagnosticsText({
      appVersion: this.#appVersion(),
      collectedAt: this.collectedAt,
      browser: this.browser,
      gpu: this.gpu,
      storage: this.storage,
      persisted: this.persisted,
      models: this.#models(),
    }),
  );

  constructor(options: DiagnosticsOptions) {
    this.#options = options;
  }

  /** Probes browser, GPU and storage again (the latest call wins); never throws. */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const o = this.#options;
    this.probing = true;
    this.copyStatus = 'idle';
    const [gpu, storage, persisted] = await Promise.all([
      (o.probeGpu ?? probeGpu)().catch((error: unknown): GpuInfo => ({
        available: false,
        reason: `probe failed: ${String(error)}`,
      })),
      (o.storageEstimate ?? (async () => null))().catch(() => null),
      (o.isPersisted ?? (async () => null))().catch(() => null),
    ]);
    if (generation !== this.#generation) return;
    this.browser = (o.probeBrowser ?? probeBrowser)();
    this.gpu = gpu;
    this.storage = storage;
    this.persisted = persisted;
    this.collectedAt = (o.now?.() ?? new Date()).toISOString();
    this.probing = false;
  }

  /**
   * Copies the report. Resolves false (and `copyStatus` 'manual') when the clipboard is unavailable or refused, so
   * the panel shows the text selected for the user to copy by hand.
   */
  async copy(): Promise<boolean> {
    const write = this.#options.writeText ?? defaultWriteText();
    try {
      if (!write) throw new Error('no clipboard');
      await write(this.text);
      this.copyStatus = 'copied';
      return true;
    } catch {
      this.copyStatus = 'manual';
      return false;
    }
  }

  #appVersion(): string {
    return this.#options.appVersion ?? 'unknown';
  }

  #models(): ModelInUse[] {
    return this.#options.models();
  }
}

function defaultWriteText(): ((text: string) => Promise<void>) | undefined {
  // Structural read: navigator's type is absent from the Node realm the unit tests compile in.
  const clipboard = (
    globalThis as unknown as { navigator?: { clipboard?: { writeText(text: string): Promise<void> } } }
  ).navigator?.clipboard;
  return clipboard ? (text) => clipboard.writeText(text) : undefined;
}

/** Bytes as MB (or GB from 10 GB on), for people. */
export function formatBytes(bytes: number): string {
  const mb = bytes / 1024 ** 2;
  if (mb >= 10 * 1024) return `${(mb / 1024).toFixed(1)} GB`;
  return mb >= 100 ? `${Math.round(mb)} MB` : `${mb.toFixed(1)} MB`;
}

const yesNo = (value: boolean | null): string => (value === null ? 'unknown' : value ? 'yes' : 'no');

/** The report as plain text. Pure; lists only machine, browser and model facts (never images or findings). */
export function diagnosticsText(s: DiagnosticsSnapshot): string {
  const lines: string[] = ['RadDiff web diagnostics', `App version: ${s.appVersion}`];
  lines.push(`Collected: ${s.collectedAt ?? 'not yet (press Refresh)'}`, '');

  lines.push('Browser');
  if (!s.browser) lines.push('  not probed');
  else {
    const b = s.browser;
    lines.push(`  User agent: ${b.userAgent}`);
    if (b.brands) lines.push(`  Brands: ${b.brands.join(', ') || 'none'}`);
    lines.push(`  Platform: ${b.platform ?? 'unknown'}`);
    lines.push(`  Cross-origin isolated: ${yesNo(b.crossOriginIsolated)}`);
    lines.push(`  Logical cores: ${b.hardwareConcurrency ?? 'unknown'}`);
    lines.push(`  Device memory: ${b.deviceMemory === null ? 'unknown' : `${b.deviceMemory} GB`}`);
  }
  lines.push('');

  lines.push('WebGPU');
  if (!s.gpu) lines.push('  not probed');
  else if (!s.gpu.available) lines.push(`  unavailable: ${s.gpu.reason}`);
  else {
    const g = s.gpu;
    const name = [g.vendor, g.architecture, g.device].filter(Boolean).join(' / ');
    lines.push(`  Adapter: ${name || 'not disclosed by the browser'}`);
    if (g.description) lines.push(`  Description: ${g.description}`);
    lines.push(`  Fallback adapter: ${yesNo(g.isFallbackAdapter)}`);
    lines.push(`  shader-f16: ${g.features.includes('shader-f16') ? 'yes' : 'no'}`);
    lines.push(`  Features: ${g.features.join(', ') || 'none'}`);
    lines.push('  Limits:');
    for (const [name, value] of Object.entries(g.limits)) {
      // Byte-sized limits also in MB: the number people compare with a model's size.
      const bytes = /Size$/.test(name) && value >= 1024 ** 2 ? ` (${formatBytes(value)})` : '';
      lines.push(`    ${name}: ${value}${bytes}`);
    }
  }
  lines.push('');

  lines.push('Storage');
  lines.push(
    s.storage
      ? `  Used: ${formatBytes(s.storage.usage)} of ${formatBytes(s.storage.quota)}`
      : '  Used: unknown',
  );
  lines.push(`  Persistent: ${yesNo(s.persisted)}`, '');

  lines.push('Models');
  if (s.models.length === 0) lines.push('  none selected');
  for (const m of s.models) {
    const details = [
      m.device && `device ${m.device}`,
      m.dtype && `dtype ${m.dtype}`,
      m.version && `version ${m.version}`,
    ].filter(Boolean);
    lines.push(`  ${m.role}: ${m.id}${details.length ? ` (${details.join(', ')})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
