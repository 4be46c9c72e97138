// Scripted implementations of the pipeline's ports (ports.ts) over a tiny synthetic "world": every image has a
// set of concepts; the embedder maps concepts to axes, the captioner names them, the LLM counts them in the
// caption block like a diligent radiologist would, the compositor returns placeholder bytes. Deterministic, fast,
// and with injectable faults, for pipeline tests and the overhead benchmark. Test code only.

import { createRng } from '../../src/lib/core/random.ts';
import type {
  AbortSignalLike,
  CaptionerPort,
  Composition,
  CompositorPort,
  DiffImage,
  EmbedderPort,
  EncodedImage,
  LlmMessage,
  ProposerLlmPort,
  ReplyCachePort,
} from '../../src/lib/core/ports.ts';
import type { LlmReply, LlmRequest } from '../../src/lib/core/llm.ts';

/** Concepts the world knows; each gets one embedding axis. */
export const WORLD_CONCEPTS = [
  'right pleural effusion',
  'enlarged cardiac silhouette',
  'left lower lobe consolidation',
  'pulmonary nodule',
  'central venous catheter',
  'pneumothorax',
] as const;

export interface WorldOptions {
  nA: number;
  nB: number;
  /** Concept more frequent in A. */
  truth: string;
  /** Prevalence of the truth in A and in B. */
  prevalenceA?: number;
  prevalenceB?: number;
  /** Prevalence of every other concept in both sets. */
  background?: number;
  seed?: number;
  /** Attach a report to every image. */
  reports?: boolean;
}

export interface World {
  images: DiffImage[];
  concepts: Map<string, Set<string>>;
}

/** Builds the images of a scripted comparison. */
export function createWorld(options: WorldOptions): World {
  const rng = createRng(options.seed ?? 1, 'scripted-world');
  const concepts = new Map<string, Set<string>>();
  const images: DiffImage[] = [];
  const make = (set: 'A' | 'B', n: number, truthRate: number) => {
    for (let i = 0; i < n; i++) {
      const id = `${set.toLowerCase()}${String(i).padStart(4, '0')}`.padEnd(64, '0');
      const has = new Set<string>();
      for (const c of WORLD_CONCEPTS) {
        const rate = c === options.truth ? truthRate : (options.background ?? 0.15);
        if (rng.next() < rate) has.add(c);
      }
      concepts.set(id, has);
      const image: DiffImage = { id, name: `${set}/img-${i}.png`, set, width: 512, height: 512 };
      if (options.reports) image.report = reportOf(has);
      images.push(image);
    }
  };
  make('A', options.nA, options.prevalenceA ?? 0.8);
  make('B', options.nB, options.prevalenceB ?? 0.1);
  return { images, concepts };
}

function reportOf(has: Set<string>): string {
  const positives = [...has].map((c) => `There is ${c}.`);
  const negatives = WORLD_CONCEPTS.filter((c) => !has.has(c))
    .slice(0, 2)
    .map((c) => `No ${c}.`);
  return [...positives, ...negatives].join(' ') || 'No acute cardiopulmonary abnormality.';
}

/** Counts of every port call, for "zero model calls on rerun" assertions. */
export interface CallCounts {
  captions: number;
  llm: number;
  embedImages: number;
  embedTexts: number;
  renders: number;
}

const DIM = WORLD_CONCEPTS.length + 10;

function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / n;
  return v;
}

function hashIndex(text: string, n: number): number {
  return createRng(0, `text/${text}`).int(n);
}

/** The embedder: concept axes + a shared "chest" axis + noise; unknown texts land on a hashed noise axis. */
export function scriptedEmbedder(
  world: World,
  counts: CallCounts,
  options: { failIds?: Set<string>; fail?: Error } = {},
): EmbedderPort {
  const imageVector = (id: string, crop: unknown): Float32Array => {
    const v = new Float32Array(DIM);
    const rng = createRng(7, `img/${id}/${JSON.stringify(crop)}`);
    const has = world.concepts.get(id) ?? new Set();
    WORLD_CONCEPTS.forEach((c, i) => (v[i] = has.has(c) ? 1 : 0.05 * rng.next()));
    v[WORLD_CONCEPTS.length] = 1;
    for (let i = WORLD_CONCEPTS.length + 1; i < DIM; i++) v[i] = 0.3 * (rng.next() - 0.5);
    return normalize(v);
  };
  return {
    id: 'scripted-clip@pp1',
    async embedImages(ids, crop, signal, onProgress) {
      counts.embedImages++;
      if (options.fail) throw options.fail;
      const ok: string[] = [];
      const failed: { id: string; reason: string }[] = [];
      const rows: Float32Array[] = [];
      let done = 0;
      for (const id of ids) {
        if (signal?.aborted) throw abort();
        if (options.failIds?.has(id)) failed.push({ id, reason: 'undecodable' });
        else {
          ok.push(id);
          rows.push(imageVector(id, crop));
        }
        done++;
        if (done % 16 === 0 || done === ids.length) onProgress?.({ done, total: ids.length });
      }
      const embeddings = new Float32Array(rows.length * DIM);
      rows.forEach((r, i) => embeddings.set(r, i * DIM));
      return { ok, failed, embeddings, dim: DIM };
    },
    async embedTexts(texts) {
      counts.embedTexts++;
      const out = new Float32Array(texts.length * DIM);
      texts.forEach((text, t) => {
        const v = new Float32Array(DIM);
        const lower = text.toLowerCase();
        let matched = false;
        WORLD_CONCEPTS.forEach((c, i) => {
          if (lower.includes(c)) {
            v[i] = 1;
            matched = true;
          }
        });
        v[WORLD_CONCEPTS.length] = 0.5;
        if (!matched) v[WORLD_CONCEPTS.length + 1 + hashIndex(lower, DIM - WORLD_CONCEPTS.length - 1)] = 1;
        out.set(normalize(v), t * DIM);
      });
      return out;
    },
  };
}

function abort(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

/** The captioner: names the image's concepts; `empty` ids get no text. */
export function scriptedCaptioner(
  world: World,
  counts: CallCounts,
  options: { emptyIds?: Set<string> } = {},
): CaptionerPort {
  return {
    id: 'scripted-vlm',
    async caption({ imageId }, signal) {
      counts.captions++;
      if (signal?.aborted) throw abort();
      if (options.emptyIds?.has(imageId)) return '   ';
      const has = [...(world.concepts.get(imageId) ?? [])];
      return has.length === 0
        ? 'Frontal chest radiograph.\nNo acute cardiopulmonary abnormality.'
        : `Frontal chest radiograph.\nFindings: ${has.join(', ')}.`;
    },
  };
}

/** What a scripted LLM does with one call: reply text, throw, or hang until aborted. */
export type LlmFault =
  { kind: 'reply'; text: string } | { kind: 'throw'; name?: string; message?: string } | { kind: 'hang' };

function textOf(messages: readonly LlmMessage[]): string {
  return messages
    .map((m) =>
      typeof m.content === 'string'
        ? m.content
        : m.content.map((p) => (p.type === 'text' ? p.text : `[image ${p.image.key}]`)).join('\n'),
    )
    .join('\n');
}

/** The diligent radiologist: counts concepts in the Group A/B lines (or reports) and proposes A's excess. */
export function answer(request: LlmRequest): string {
  const schema = JSON.stringify(request.jsonSchema ?? {});
  const text = textOf(request.messages.slice(0, 2));
  if (schema.includes('"boxes"')) {
    const findings = [...text.matchAll(/^\d+\. (.+) \(AUROC/gm)].map((m) => m[1] as string);
    return JSON.stringify({
      boxes: findings.map((finding, i) => ({ finding, x1: 0.1 + 0.05 * i, y1: 0.2, x2: 0.6, y2: 0.8 })),
    });
  }
  if (schema.includes('"summary"')) return JSON.stringify({ summary: text.slice(-200) });
  const countIn = (lines: string[]) =>
    new Map(WORLD_CONCEPTS.map((c) => [c, lines.filter((l) => l.toLowerCase().includes(c)).length]));
  let linesA = text.split('\n').filter((l) => l.startsWith('Group A:'));
  let linesB = text.split('\n').filter((l) => l.startsWith('Group B:'));
  if (linesA.length === 0 && text.includes('GROUP A REPORTS:')) {
    const [, a = '', b = ''] = /GROUP A REPORTS:([\s\S]*?)GROUP B REPORTS:([\s\S]*)/.exec(text) ?? [];
    const positive = (block: string) => block.split('\n').map((l) => l.replace(/No [^.]*\./g, ''));
    linesA = positive(a);
    linesB = positive(b);
  }
  const a = countIn(linesA);
  const b = countIn(linesB);
  const ordered = [...WORLD_CONCEPTS].sort((x, y) => b.get(x)! - a.get(x)! - (b.get(y)! - a.get(y)!));
  const differences = [
    ...ordered.slice(0, 4),
    'subtle increased interstitial markings',
    'Right pleural effusion.',
  ];
  return JSON.stringify({ differences });
}

/** Decides the fate of one LLM call (undefined = the diligent default). */
export type LlmScript = (request: LlmRequest, call: number) => LlmFault | undefined;

/** The LLM port; `faults[i]` overrides call i (0-based, counting every attempt). */
export function scriptedLlm(
  counts: CallCounts,
  options: {
    faults?: (LlmFault | undefined)[];
    vision?: boolean;
    script?: (request: LlmRequest, call: number) => LlmFault | undefined;
  } = {},
): ProposerLlmPort & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return {
    id: 'scripted-llm',
    vision: options.vision ?? true,
    requests,
    async complete(request: LlmRequest, signal?: AbortSignalLike): Promise<LlmReply> {
      const call = counts.llm++;
      requests.push(request);
      const fault = options.script?.(request, call) ?? options.faults?.[call];
      if (signal?.aborted) throw abort();
      if (fault?.kind === 'throw') {
        const e = new Error(fault.message ?? 'scripted failure');
        e.name = fault.name ?? 'Error';
        throw e;
      }
      if (fault?.kind === 'hang') {
        return new Promise((_, reject) =>
          signal?.addEventListener('abort', () => reject(abort()), { once: true }),
        );
      }
      if (fault?.kind === 'reply') return { text: fault.text, model: 'scripted-llm' };
      return { text: answer(request), model: 'scripted-llm' };
    },
  };
}

/** The compositor: placeholder bytes with the composition's key and size. */
export function scriptedCompositor(counts: CallCounts): CompositorPort {
  return {
    async render(composition: Composition): Promise<EncodedImage> {
      counts.renders++;
      return {
        key: composition.key,
        mime: 'image/png',
        bytes: new Uint8Array([137, 80, 78, 71]),
        width: composition.width,
        height: composition.height,
      };
    },
  };
}

/** A Map-backed reply cache; `failing` makes every access throw (storage broken). */
export function memoryCache(
  options: { failing?: boolean } = {},
): ReplyCachePort & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    async get(key) {
      if (options.failing) throw new Error('storage unavailable');
      return map.get(key);
    },
    async set(key, value) {
      if (options.failing) throw new Error('storage unavailable');
      map.set(key, value);
    },
  };
}

export function newCounts(): CallCounts {
  return { captions: 0, llm: 0, embedImages: 0, embedTexts: 0, renders: 0 };
}
