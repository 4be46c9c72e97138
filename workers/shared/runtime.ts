// transformers.js / ONNX Runtime setup shared by the model workers: ORT's wasm is self-hosted (Vite `?url` assets,
// never the CDN transformers.js defaults to), thread count follows cross-origin isolation, where model files come
// from (self-hosted folder or the Hub), and one fetch wrapper that refuses every other host, makes an unreachable
// host a ModelLoadFailed that says so, and aborts downloads of a cancelled load.
import { env } from '@huggingface/transformers';
// transformers.js 4.3.2 imports `onnxruntime-web/webgpu`, whose runtime is the asyncify build (WebGPU + wasm EPs in
// one module); ORT asks for exactly these two files.
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import ortMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import { namedError } from '../../src/lib/core/types.ts';
import { isNetworkError } from './errors.ts';

/** The Hugging Face Hub, where non-local weights come from. */
export const DEFAULT_REMOTE_HOST = 'https://huggingface.co/';
/** Where self-hosted model folders are served (Vite serves public/models/ there). */
export const DEFAULT_LOCAL_MODEL_PATH = '/models/';

/** Where a model's files come from. */
export interface ModelSource {
  /** True: `<localModelPath><id>/` on this origin only. False: the Hub (or `remoteHost`) only. */
  local: boolean;
  localModelPath: string;
  remoteHost: string;
}

let runtimeReady = false;
let source: ModelSource = {
  local: false,
  localModelPath: DEFAULT_LOCAL_MODEL_PATH,
  remoteHost: DEFAULT_REMOTE_HOST,
};
let fetchSignal: AbortSignal | undefined;

function absolute(url: string): string {
  return new URL(url, location.href).href;
}

/**
 * Points ONNX Runtime at the self-hosted wasm, picks the thread count and installs the guarded fetch. Idempotent;
 * must run before the first inference session is created (ORT reads these settings once).
 */
export function configureRuntime(): void {
  if (runtimeReady) return;
  const wasm = env.backends.onnx.wasm;
  if (!wasm) throw new Error('ONNX Runtime has no wasm backend in this build of transformers.js');
  wasm.wasmPaths = { wasm: absolute(ortWasmUrl), mjs: absolute(ortMjsUrl) };
  // Threads need SharedArrayBuffer, i.e. a cross-origin isolated page (COOP/COEP). Without it ORT would warn and
  // fall back anyway; saying 1 keeps it quiet. Four threads is where CLIP-sized matmuls stop scaling.
  wasm.numThreads = globalThis.crossOriginIsolated
    ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1))
    : 1;
  // We already are in a worker: ORT's own proxy worker would only add a copy of every tensor.
  wasm.proxy = false;
  env.fetch = guardedFetch;
  runtimeReady = true;
}

/**
 * Selects where model files come from. Local: only this origin's model folder (no Hub request, not even a HEAD).
 * Remote: only the Hub. Local files also skip Cache Storage: they are on our origin already, and a cached copy
 * would go stale when `npm run gen:models` rewrites them.
 */
export function useModelSource(next: ModelSource): void {
  source = next;
  env.allowLocalModels = next.local;
  env.allowRemoteModels = !next.local;
  env.localModelPath = next.localModelPath;
  env.remoteHost = next.remoteHost;
  env.useBrowserCache = !next.local;
}

/** Runs `work` with `signal` attached to every fetch the library makes, so cancelling a load stops its downloads. */
export async function withFetchSignal<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const previous = fetchSignal;
  fetchSignal = signal;
  try {
    return await work();
  } finally {
    fetchSignal = previous;
  }
}

/** Hosts the worker may talk to: its own origin, and the model host while loading from it. */
function allowed(url: URL): boolean {
  if (url.protocol === 'blob:' || url.protocol === 'data:') return true;
  if (url.origin === location.origin) return true;
  return !source.local && url.origin === new URL(source.remoteHost).origin;
}

/** The fetch transformers.js uses (models, tokenizers, ORT's wasm): see the module header. */
export async function guardedFetch(input: string | URL, init?: RequestInit): Promise<Response> {
  const url = new URL(String(input), location.href);
  if (!allowed(url)) {
    // Offline by construction: a request to any other host is a bug (e.g. ORT falling back to its CDN).
    throw namedError(
      'ModelLoadFailed',
      `refusing to fetch ${url.href}: only this site and the model host are allowed`,
    );
  }
  const signals = [init?.signal, fetchSignal].filter((s): s is AbortSignal => s != null);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  try {
    return await fetch(url, { ...init, signal });
  } catch (error) {
    if (signal?.aborted) throw namedError('AbortError', 'the download was cancelled', error);
    if (isNetworkError(error)) {
      throw namedError(
        'ModelLoadFailed',
        url.origin === location.origin
          ? `the server hosting this app (${url.origin}) could not be reached`
          : `${url.host} could not be reached (are you offline?). Model weights are fetched from the Hugging Face ` +
              'Hub by your browser; connect to the internet once (they are cached afterwards) or self-host the ' +
              'model under public/models/.',
        error,
      );
    }
    throw error;
  }
}
