// The model manifest (public/models/manifest.json) and the local-models index: schema, validation and the merge
// that decides, per model id, whether it is fetched from the Hub or served from public/models/. Pure: no fetch here.
import { z } from 'zod';
import type { RankerModelSpec } from './types.ts';

const dtype = z.enum(['fp32', 'fp16', 'q8', 'q4', 'q4f16']);

const preprocessingSchema = z.object({
  version: z.string().min(1),
  size: z.number().int().positive(),
  resize: z.enum(['shortest-edge-center-crop', 'pad-to-square', 'squash']),
  rescale: z.number().positive(),
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

const rankerSchema = z.object({
  id: z.string().min(1),
  label: z.string().min(1),
  family: z.enum(['clip', 'siglip']),
  source: z.enum(['hub', 'local']),
  dtype: z.object({ webgpu: dtype, webgpuNoF16: dtype, wasm: dtype }),
  preprocessing: preprocessingSchema,
  textTemplate: z.string().includes('{}'),
  maxTextTokens: z.number().int().positive(),
  approxDownloadMB: z.partialRecord(dtype, z.number().nonnegative()),
  licence: z.string().min(1),
  notes: z.string().optional(),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  defaultRanker: z.string().min(1),
  rankers: z.array(rankerSchema).min(1),
});

export type ModelManifest = z.infer<typeof manifestSchema>;

/** A model folder found under public/models/ by the build (scripts/vite-local-models.ts). */
export interface LocalModelFolder {
  id: string;
  files: string[];
}

/** Parses and validates the manifest; throws an Error naming the first invalid field. */
export function parseManifest(json: unknown): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`models manifest is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const manifest = result.data;
  if (!manifest.rankers.some((r) => r.id === manifest.defaultRanker)) {
    throw new Error(`models manifest: defaultRanker "${manifest.defaultRanker}" is not among its rankers`);
  }
  return manifest;
}

/** Parses /models/local-index.json; anything malformed counts as "no local models" rather than an error. */
export function parseLocalIndex(json: unknown): LocalModelFolder[] {
  const schema = z.object({ models: z.array(z.object({ id: z.string(), files: z.array(z.string()) })) });
  const result = schema.safeParse(json);
  return result.success ? result.data.models : [];
}

/** Stock CLIP preprocessing; used for local folders that the manifest does not describe. */
const CLIP_PREPROCESSING = preprocessingSchema.parse({
  version: 'clip-224-center-v1',
  size: 224,
  resize: 'shortest-edge-center-crop',
  rescale: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
});

/**
 * The ranker models the app offers: every manifest entry (marked `local` when its folder is self-hosted under
 * public/models/), then every local folder the manifest does not know, described with stock CLIP defaults so that
 * "drop a model folder into public/models/" works without editing the manifest.
 */
export function availableRankers(manifest: ModelManifest, local: LocalModelFolder[]): RankerModelSpec[] {
  const localIds = new Set(local.map((m) => m.id));
  const known: RankerModelSpec[] = manifest.rankers.map((spec) => ({
    ...spec,
    source: localIds.has(spec.id) ? 'local' : spec.source,
  }));
  const knownIds = new Set(known.map((m) => m.id));
  const extra: RankerModelSpec[] = local
    .filter((m) => !knownIds.has(m.id))
    .map((m) => ({
      id: m.id,
      label: `${m.id} (local folder)`,
      family: /siglip/i.test(m.id) ? 'siglip' : 'clip',
      source: 'local',
      dtype: { webgpu: 'fp32', webgpuNoF16: 'fp32', wasm: 'fp32' },
      preprocessing: CLIP_PREPROCESSING,
      textTemplate: '{}',
      maxTextTokens: /siglip/i.test(m.id) ? 64 : 77,
      approxDownloadMB: {},
      licence: 'see the model folder',
      notes: 'Self-hosted folder not described in manifest.json: stock CLIP preprocessing and fp32 assumed.',
    }));
  return [...known, ...extra];
}
