// Self-hosted model folders (transformers.js layout under public/models/<id>/): which files a tower needs for a
// dtype, and checking they are really there before the library tries to load them. A dev server answers a missing
// file with index.html (200), which the library reports as "not valid JSON"; we say which file is missing instead.
import { namedError, type DType } from '../../src/lib/core/types.ts';
import { isNetworkError } from './errors.ts';

/** File-name suffix transformers.js appends per dtype (`onnx/vision_model_fp16.onnx`, …). */
export const DTYPE_SUFFIX: Record<DType, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
};

/** `onnx/<name><suffix>.onnx` for a dtype. */
export function onnxFile(name: string, dtype: DType): string {
  return `onnx/${name}${DTYPE_SUFFIX[dtype]}.onnx`;
}

/**
 * External-data chunks the library will fetch for `onnx/<name><suffix>.onnx`, read from config.json's
 * `transformers.js_config.use_external_data_format` (a boolean/count, or a map keyed by file name).
 */
export function externalDataFiles(config: unknown, name: string, dtype: DType): string[] {
  const jsConfig = (config as { 'transformers.js_config'?: { use_external_data_format?: unknown } } | null)?.[
    'transformers.js_config'
  ];
  const format = jsConfig?.use_external_data_format;
  const base = `${name}${DTYPE_SUFFIX[dtype]}.onnx`;
  let chunks = 0;
  if (format && typeof format === 'object') {
    const byFile = format as Record<string, unknown>;
    chunks = Number(byFile[base] ?? byFile[name] ?? 0);
  } else if (format !== undefined) {
    chunks = Number(format);
  }
  const files: string[] = [];
  for (let i = 0; i < (Number.isFinite(chunks) ? chunks : 0); i++) {
    files.push(`onnx/${base}_data${i === 0 ? '' : `_${i}`}`);
  }
  return files;
}

/** Why a file is not usable, or undefined when it is. */
function problemWith(response: Response): string | undefined {
  if (!response.ok) return `HTTP ${response.status}`;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/html')) return 'the server answered with an HTML page, not the file';
  return undefined;
}

async function probe(url: string, signal: AbortSignal | undefined): Promise<Response> {
  // HEAD avoids downloading hundreds of MB twice; a host that refuses HEAD gets a GET whose body we drop.
  const head = await fetch(url, { method: 'HEAD', signal, cache: 'no-store' });
  if (head.status !== 405 && head.status !== 501) return head;
  const get = await fetch(url, { signal, cache: 'no-store' });
  await get.body?.cancel().catch(() => {});
  return get;
}

/** Where a self-hosted model lives: `<origin><localModelPath><modelId>/`. */
export function localModelBase(localModelPath: string, modelId: string): string {
  const path = localModelPath.endsWith('/') ? localModelPath : `${localModelPath}/`;
  return new URL(`${path}${modelId}/`, location.href).href;
}

/**
 * Checks that `config.json` parses and that every file in `files` (paths inside the model folder) exists and is
 * not an HTML fallback page. Throws ModelLoadFailed naming every missing file, e.g.
 * `test-clip: onnx/vision_model.onnx is missing (HTTP 404)`. Returns the parsed config.json.
 */
export async function verifyLocalModel(
  base: string,
  modelId: string,
  files: (config: unknown) => string[],
  signal?: AbortSignal,
): Promise<unknown> {
  try {
    return await verify(base, modelId, files, signal);
  } catch (error) {
    if (isNetworkError(error)) {
      throw namedError(
        'ModelLoadFailed',
        `${modelId}: the server hosting this app (${new URL(base).origin}) could not be reached to read the self-hosted model`,
        error,
      );
    }
    throw error;
  }
}

async function verify(
  base: string,
  modelId: string,
  files: (config: unknown) => string[],
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const configResponse = await fetch(`${base}config.json`, { signal, cache: 'no-store' });
  const configProblem = problemWith(configResponse);
  if (configProblem) {
    await configResponse.body?.cancel().catch(() => {});
    throw namedError('ModelLoadFailed', `${modelId}: config.json is missing (${configProblem}) at ${base}`);
  }
  let config: unknown;
  try {
    config = await configResponse.json();
  } catch {
    throw namedError('ModelLoadFailed', `${modelId}: config.json at ${base} is not valid JSON`);
  }
  const needed = files(config);
  const problems = await Promise.all(
    needed.map(async (file) => {
      const problem = problemWith(await probe(`${base}${file}`, signal));
      return problem ? `${file} is missing (${problem})` : undefined;
    }),
  );
  const missing = problems.filter((p): p is string => p !== undefined);
  if (missing.length > 0) {
    throw namedError('ModelLoadFailed', `${modelId}: ${missing.join('; ')} (folder ${base})`);
  }
  return config;
}
