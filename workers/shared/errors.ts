// Error mapping for model workers: turns what ONNX Runtime, WebGPU, fetch and transformers.js throw into the named
// errors of core's ERROR_NAMES, the only thing that survives the comlink boundary (name + message). Pure: no
// worker-global APIs, so it also runs on the main thread and in Node tests.
import { ERROR_NAMES, namedError, type EngineErrorName } from '../../src/lib/core/types.ts';

/** True when `error` already carries one of our names (it was mapped before, possibly in another realm). */
export function hasEngineName(error: unknown): error is Error & { name: EngineErrorName } {
  return error instanceof Error && (ERROR_NAMES as readonly string[]).includes(error.name);
}

// WebGPU reports loss via GPUDevice.lost; ORT and Dawn surface it in messages like "Device was lost",
// "GPUDevice is lost", "device lost" or DXGI's DEVICE_REMOVED.
const DEVICE_LOST =
  /device (?:was |is |has been )?(?:lost|destroyed)|gpudevice.{0,20}lost|device_removed|device removed/i;

// Allocation failures: wasm heap growth ("Cannot enlarge memory", "Array buffer allocation failed"), ORT's
// allocator ("Failed to allocate", bad_alloc), WebGPU's GPUOutOfMemoryError ("out of memory", "Not enough memory").
const OUT_OF_MEMORY =
  /out of memory|outofmemory|\boom\b|bad_alloc|failed to allocate|allocation failed|could not allocate|cannot enlarge memory|not enough memory|memory limit/i;

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  // ORT's wasm build can throw a bare number (an Emscripten exception pointer).
  return `unexpected ${typeof error} thrown: ${String(error)}`;
}

/** Classifies a GPU/ORT failure as DeviceLost or OutOfMemory, or returns undefined when it is neither. */
export function classifyRuntimeError(error: unknown): EngineErrorName | undefined {
  if (hasEngineName(error)) return error.name;
  if (error instanceof Error && error.name === 'AbortError') return 'AbortError';
  if (error instanceof Error && error.name === 'GPUOutOfMemoryError') return 'OutOfMemory';
  const message = messageOf(error);
  if (DEVICE_LOST.test(message)) return 'DeviceLost';
  if (OUT_OF_MEMORY.test(message)) return 'OutOfMemory';
  if (error instanceof RangeError && /alloc|memory/i.test(message)) return 'OutOfMemory';
  return undefined;
}

/**
 * Maps a failure during model loading (download, session creation, warm-up) to a named error: DeviceLost,
 * OutOfMemory and AbortError keep their meaning, everything else becomes ModelLoadFailed prefixed with the model id.
 */
export function toLoadError(error: unknown, modelId: string): Error & { name: EngineErrorName } {
  if (hasEngineName(error)) {
    // Named deeper down (e.g. by the fetch guard) without knowing which model was loading: say it.
    const bare = error.name === 'ModelLoadFailed' && !error.message.startsWith(`${modelId}:`);
    return bare ? named(error.name, `${modelId}: ${error.message}`, error) : error;
  }
  const name = classifyRuntimeError(error);
  const message = messageOf(error);
  if (name === 'AbortError') return named('AbortError', `loading ${modelId} was cancelled`, error);
  return named(name ?? 'ModelLoadFailed', `${modelId}: ${message}`, error);
}

/**
 * Maps a failure while running a loaded model. DeviceLost and OutOfMemory are named; anything else is re-thrown
 * as a plain Error with its message (a bug or a bad input, not a condition the UI offers recovery for).
 */
export function toRunError(error: unknown): Error {
  if (hasEngineName(error)) return error;
  const name = classifyRuntimeError(error);
  if (name) return namedError(name, messageOf(error), error);
  return error instanceof Error ? error : new Error(messageOf(error));
}

function named(name: EngineErrorName, message: string, cause: unknown): Error & { name: EngineErrorName } {
  return namedError(name, message, cause) as Error & { name: EngineErrorName };
}

/** True for the TypeError fetch throws when the host cannot be reached (offline, DNS, CORS, refused). */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && /fetch|network|load failed/i.test(error.message);
}
