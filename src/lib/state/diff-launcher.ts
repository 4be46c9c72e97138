// Builds the pipeline's ports in the browser and starts runDiff: the ranker through the app's RankerSession, the
// captioner and LLM locally (VLM worker, web-llm on WebGPU, transformers.js on WASM) or on the user's
// OpenAI-compatible endpoint, the canvas compositor, and the IndexedDB reply cache. Loads the local generating
// models first, reporting their download as the `load` stage, and keeps them loaded across runs.

import type { BankPhrase } from '../core/concept-bank.ts';
import { requiredPorts, type DiffConfig } from '../core/diff-config.ts';
import type { DiffEvent } from '../core/diff-events.ts';
import { defaultLlmFor, type CaptionerModelSpec, type LlmModelSpec } from '../core/manifest.ts';
import { runDiff } from '../core/pipeline.ts';
import type { CaptionerPort, DiffImage, DiffPorts, ProposerLlmPort } from '../core/ports.ts';
import type { EngineProgress } from '../core/types.ts';
import { probeGpu } from '../engines/gpu-info.ts';
import { createEndpointCaptioner, createEndpointLlm } from '../engines/openai-endpoint.ts';
import { sessionEmbedder } from '../engines/session-embedder.ts';
import { TransformersLlmEngine } from '../engines/transformers-llm-engine.ts';
import { VlmEngine } from '../engines/vlm-engine.ts';
import { WebLlmEngine } from '../engines/webllm-engine.ts';
import { createCanvasCompositor, loadEncodedImage } from '../imaging/compositor.ts';
import { ReplyCache } from '../storage/reply-cache.ts';
import type { DiffRunSetup, StartDiff } from './diff-run.svelte.ts';
import type { ModelsState } from './models.svelte.ts';

/** Longest side of the single image sent to an endpoint captioner (px). */
const ENDPOINT_CAPTION_SIDE = 768;

/** What the launcher reads at start time (getters: the sets and bank may change between runs). */
export interface LaunchSources {
  models: ModelsState;
  /** Images of both sets with their files; ids are SHA-256. */
  images: () => { image: DiffImage; file: Blob }[];
  bankPhrases: () => readonly BankPhrase[];
  /** Captioner and LLM chosen in the UI (ids from the manifest); undefined = the defaults. */
  choice: () => { captioner?: string; llm?: string };
  appVersion: string;
}

/** Loaded local engines, kept across runs (reloading a VLM costs hundreds of MB of downloads or cache reads). */
interface EngineCache {
  captioner?: { id: string; engine: VlmEngine };
  llm?: { id: string; engine: WebLlmEngine | TransformersLlmEngine };
}

/** Picks the captioner spec: the chosen one, else the manifest default, else the first. */
function captionerSpec(models: ModelsState, id: string | undefined): CaptionerModelSpec | undefined {
  const all = models.captioners;
  return (
    all.find((c) => c.id === id) ?? all.find((c) => c.id === models.manifest?.defaultCaptioner) ?? all[0]
  );
}

/**
 * Picks the LLM spec this browser can run: the chosen one if it fits, else the manifest default for it. `webgpu`
 * means an adapter was granted, not just that `navigator.gpu` exists (a blocklisted GPU has the API, no adapter).
 */
function llmSpec(models: ModelsState, id: string | undefined, webgpu: boolean): LlmModelSpec | undefined {
  const chosen = models.llms.find((l) => l.id === id);
  if (chosen && (webgpu || chosen.runtime === 'transformers')) return chosen;
  return models.manifest ? defaultLlmFor(models.manifest, { webgpu }) : undefined;
}

/** Progress of one model load as a `load` stage event (bytes when known). */
function loadEvent(progress: EngineProgress): DiffEvent | null {
  if (progress.phase === 'download' && progress.total > 0) {
    return { type: 'stage', stage: 'load', done: progress.loaded, total: progress.total };
  }
  if (progress.phase === 'ready') return { type: 'stage', stage: 'load', done: 1, total: 1 };
  return null;
}

/** Creates the `start` function DiffRunState calls. */
export function createDiffStarter(sources: LaunchSources): StartDiff {
  const engines: EngineCache = {};
  let cache: Promise<ReplyCache> | null = null;

  async function* start(
    config: DiffConfig,
    signal: AbortSignal,
    setup: DiffRunSetup,
  ): AsyncGenerator<DiffEvent, void, undefined> {
    const needs = requiredPorts(config);
    const entries = sources.images();
    const files = new Map(entries.map((e) => [e.image.id, e.file]));
    const resolve = (id: string) => files.get(id);
    const mustResolve = (id: string): Blob => {
      const file = files.get(id);
      if (!file) throw new Error(`image ${id.slice(0, 12)}… is no longer in the sets`);
      return file;
    };

    // The ranker: loaded (or kept) by the models state, so the model panel shows the same load.
    const load = await sources.models.load(signal);
    const ranker = sources.models.selected!;
    cache ??= ReplyCache.open();
    const replyCache = await cache;
    if (replyCache.warning) yield { type: 'warning', message: replyCache.warning };

    const ports: DiffPorts = {
      embedder: sessionEmbedder(
        sources.models.session,
        `${ranker.id}@${ranker.preprocessing.version}/${load.dtype}`,
        resolve,
      ),
      compositor: createCanvasCompositor(resolve),
      cache: replyCache,
    };

    // Generating models: endpoint or local; local ones load here with progress, before the first round.
    const progress: DiffEvent[] = [];
    const pending: Promise<unknown>[] = [];
    if (needs.captioner) {
      let captioner: CaptionerPort;
      if (setup.providers.captioner === 'endpoint' && setup.endpoint) {
        captioner = createEndpointCaptioner(setup.endpoint, (id, crop) =>
          loadEncodedImage(mustResolve(id), crop, ENDPOINT_CAPTION_SIDE, id),
        );
      } else {
        const spec = captionerSpec(sources.models, sources.choice().captioner);
        if (!spec) throw new Error('the model manifest offers no captioner');
        if (engines.captioner?.id !== spec.id) {
          engines.captioner?.engine.dispose();
          engines.captioner = { id: spec.id, engine: new VlmEngine({ spec, resolveImage: mustResolve }) };
        }
        const engine = engines.captioner.engine;
        pending.push(
          engine.load({
            signal,
            onProgress: (p) => {
              const event = loadEvent(p);
              if (event) progress.push(event);
            },
          }),
        );
        captioner = engine;
      }
      ports.captioner = captioner;
    }
    if (needs.llm) {
      let llm: ProposerLlmPort;
      if (setup.providers.llm === 'endpoint' && setup.endpoint) {
        llm = createEndpointLlm(setup.endpoint);
      } else {
        // One adapter probe decides web-llm vs the WASM fallback and, for web-llm, the f16 or f32 build.
        const gpu = await probeGpu();
        const spec = llmSpec(sources.models, sources.choice().llm, gpu.available);
        if (!spec) throw new Error('the model manifest offers no language model this browser can run');
        if (engines.llm?.id !== spec.id) {
          engines.llm?.engine.dispose();
          const engine =
            spec.runtime === 'web-llm'
              ? await WebLlmEngine.create(spec, {
                  gpu: { shaderF16: gpu.available && gpu.features.includes('shader-f16') },
                })
              : new TransformersLlmEngine(spec);
          engines.llm = { id: spec.id, engine };
        }
        const engine = engines.llm.engine;
        pending.push(
          engine.load({
            signal,
            onProgress: (p: EngineProgress) => {
              const event = loadEvent(p);
              if (event) progress.push(event);
            },
          }),
        );
        llm = engine;
      }
      ports.llm = llm;
    }
    // Stream load progress while the local models download (one event per ~0.25 s at most).
    if (pending.length > 0) {
      let settled = false;
      const all = Promise.all(pending).finally(() => (settled = true));
      all.catch(() => {});
      while (!settled) {
        await Promise.race([all.catch(() => {}), new Promise((r) => setTimeout(r, 250))]);
        const last = progress.pop();
        progress.length = 0;
        if (last) yield last;
      }
      await all; // a failed load surfaces here, with its named error, before any round starts
    }
    const images = entries.map((e) => e.image);
    yield* runDiff(
      ports,
      { images, bankPhrases: sources.bankPhrases(), appVersion: sources.appVersion },
      config,
      signal,
    );
  }

  return start;
}
