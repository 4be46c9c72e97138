// UI state of the ranker model: the models on offer (manifest + self-hosted folders), the chosen one and device,
// load progress, the backend in use, and errors with Retry. Loading goes through the ranker session (engines).
import {
  availableCaptioners,
  availableLlms,
  parseLocalIndex,
  parseManifest,
  availableRankers,
  type CaptionerModelSpec,
  type LlmModelSpec,
  type ModelManifest,
} from '../core/manifest.ts';
import { isAbort, type EngineProgress, type RankerModelSpec } from '../core/types.ts';
import { RankerSession } from '../engines/ranker-session.ts';
import type { ClipLoadResult } from '../engines/clip-engine.ts';

/** What the model panel shows. */
export interface ModelPanelView {
  models: {
    id: string;
    label: string;
    source: 'hub' | 'local';
    size: string;
    licence: string;
    notes: string;
  }[];
  selectedId: string;
  devicePreference: 'auto' | 'webgpu' | 'wasm';
  status: 'idle' | 'loading' | 'ready' | 'error';
  progress: { label: string; value?: number; max?: number; detail?: string } | null;
  backend: { device: string; dtype: string; adapter: string; fellBack: string | null } | null;
  error: string | null;
  storageWarning: string | null;
}

export type DevicePreference = 'auto' | 'webgpu' | 'wasm';

function describeSize(spec: RankerModelSpec, device: DevicePreference): string {
  const dtype = device === 'wasm' ? spec.dtype.wasm : spec.dtype.webgpu;
  const mb = spec.approxDownloadMB[dtype] ?? spec.approxDownloadMB.fp32;
  if (mb === undefined) return 'size unknown';
  return mb < 1 ? `< 1 MB (${dtype})` : `≈ ${Math.round(mb)} MB download (${dtype})`;
}

const PHASE_LABEL: Record<EngineProgress['phase'], string> = {
  download: 'Downloading weights',
  compile: 'Compiling the model',
  warmup: 'Warming up',
  ready: 'Ready',
  embed: 'Embedding',
};

export class ModelsState {
  readonly session = new RankerSession();
  rankers = $state.raw<RankerModelSpec[]>([]);
  /** Captioners (VLMs) and proposer LLMs the manifest offers (all of them; the launcher picks per browser). */
  captioners = $state.raw<CaptionerModelSpec[]>([]);
  llms = $state.raw<LlmModelSpec[]>([]);
  manifest = $state.raw<ModelManifest | null>(null);
  selectedId = $state('');
  devicePreference = $state<DevicePreference>('auto');
  status = $state<'idle' | 'loading' | 'ready' | 'error'>('idle');
  progress = $state.raw<{ label: string; value?: number; max?: number; detail?: string } | null>(null);
  loaded = $state.raw<ClipLoadResult | null>(null);
  error = $state<string | null>(null);
  storageWarning = $state<string | null>(null);
  #loading: Promise<ClipLoadResult> | null = null;

  readonly selected = $derived(this.rankers.find((r) => r.id === this.selectedId));

  /** Reads the manifest and the local-models index; a broken manifest is shown as the model error. */
  async init(): Promise<void> {
    try {
      const [manifestJson, localJson] = await Promise.all([
        fetchJson('models/manifest.json'),
        fetchJson('models/local-index.json').catch(() => ({ models: [] })),
      ]);
      const manifest = parseManifest(manifestJson);
      const local = parseLocalIndex(localJson);
      this.rankers = availableRankers(manifest, local);
      this.captioners = availableCaptioners(manifest, local);
      this.llms = availableLlms(manifest);
      this.manifest = manifest;
      const requested = new URLSearchParams(location.search).get('ranker');
      this.selectedId = this.rankers.some((r) => r.id === requested) ? requested! : manifest.defaultRanker;
    } catch (error) {
      this.status = 'error';
      this.error = `The model list could not be read: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.storageWarning = (await this.session.storageWarning()) ?? null;
  }

  select(id: string): void {
    if (id === this.selectedId) return;
    this.selectedId = id;
    this.#reset();
  }

  setDevice(device: DevicePreference): void {
    if (device === this.devicePreference) return;
    this.devicePreference = device;
    this.#reset();
  }

  /** Loads the selected model once; concurrent callers share the load; after a failure the next call retries. */
  load(signal: AbortSignal = new AbortController().signal): Promise<ClipLoadResult> {
    const spec = this.selected;
    if (!spec) return Promise.reject(new Error('No ranker model is selected.'));
    if (this.#loading) return this.#loading;
    this.status = 'loading';
    this.error = null;
    this.progress = { label: 'Starting the model worker' };
    const loading = this.session
      .load({
        spec: $state.snapshot(spec) as RankerModelSpec,
        device: this.devicePreference,
        signal,
        onProgress: (event) => this.#onProgress(event),
      })
      .then(
        (result) => {
          this.loaded = result;
          this.status = 'ready';
          this.progress = null;
          return result;
        },
        (error: unknown) => {
          this.#loading = null;
          this.progress = null;
          if (isAbort(error)) this.status = 'idle';
          else {
            this.status = 'error';
            this.error = explainLoadError(error);
          }
          throw error;
        },
      );
    this.#loading = loading;
    return loading;
  }

  get view(): ModelPanelView {
    const loaded = this.loaded;
    return {
      models: this.rankers.map((r) => ({
        id: r.id,
        label: r.label,
        source: r.source,
        size: describeSize(r, this.devicePreference),
        licence: r.licence,
        notes: r.notes ?? '',
      })),
      selectedId: this.selectedId,
      devicePreference: this.devicePreference,
      status: this.status,
      progress: this.progress,
      backend: loaded
        ? {
            device: loaded.device,
            dtype: loaded.dtype,
            adapter: loaded.adapter
              ? [loaded.adapter.vendor, loaded.adapter.architecture, loaded.adapter.description]
                  .filter(Boolean)
                  .join(' ') || 'WebGPU adapter'
              : 'no WebGPU adapter',
            fellBack: loaded.fellBackFrom
              ? `WebGPU could not be used (${loaded.fellBackFrom.reason}); running on WASM (CPU) instead.`
              : null,
          }
        : null,
      error: this.error,
      storageWarning: this.storageWarning,
    };
  }

  #reset(): void {
    this.#loading = null;
    this.loaded = null;
    this.status = 'idle';
    this.error = null;
    this.progress = null;
  }

  #onProgress(event: EngineProgress): void {
    if (event.phase === 'download') {
      const mb = (n: number) => (n / 2 ** 20).toFixed(1);
      this.progress = {
        label: `${PHASE_LABEL.download}: ${event.file}`,
        value: event.total ? event.loaded : undefined,
        max: event.total || 1,
        detail: event.total ? `${mb(event.loaded)} / ${mb(event.total)} MB` : `${mb(event.loaded)} MB`,
      };
    } else if (event.phase === 'embed') {
      this.progress = { label: PHASE_LABEL.embed, value: event.done, max: event.total };
    } else {
      this.progress = { label: PHASE_LABEL[event.phase] };
    }
  }
}

async function fetchJson(path: string): Promise<unknown> {
  const response = await fetch(new URL(path, document.baseURI));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  if ((response.headers.get('content-type') ?? '').includes('text/html'))
    throw new Error(`${path} is missing`);
  return response.json();
}

/** A sentence for the user, by error name. */
function explainLoadError(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  switch (e.name) {
    case 'WebGpuUnavailable':
      return `WebGPU is not available in this browser (${e.message}). Choose “Auto” or “WASM” as the device.`;
    case 'DeviceLost':
      return `The GPU device was lost (${e.message}). Retry starts a fresh model worker.`;
    case 'OutOfMemory':
      return `Out of memory while loading the model (${e.message}). Close other tabs or choose a smaller model or WASM.`;
    default:
      return e.message;
  }
}
