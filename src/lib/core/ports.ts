// The ports through which the RadDiff pipeline (pipeline.ts) reaches everything that is not pure computation:
// the captioner (VLM), the proposer LLM, the CLIP-style embedder, the compositor that draws grids and crops, and
// the key-value cache for model replies. Engines implement them over workers (browser) or onnxruntime-node and
// HTTP (headless runner); tests implement them with scripts. Pure types: imports only core types.

import type { Crop } from './cache-keys.ts';
import type { AbortSignalLike, EncodedImage, LlmPort } from './llm.ts';

export type { Crop } from './cache-keys.ts';
export type { AbortSignalLike, EncodedImage, LlmContentPart, LlmMessage, LlmPort } from './llm.ts';

/** A box in normalized [0,1] coordinates of one radiograph (x right, y down). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Which set an image belongs to. */
export type SetLabel = 'A' | 'B';

/** One input image as the pipeline sees it: identity and metadata only, never pixels. */
export interface DiffImage {
  /** Content hash (SHA-256 hex): the identity used in every cache key and in the run record. */
  id: string;
  /** File name or relative path as the user supplied it (may be replaced by the hash on export). */
  name: string;
  set: SetLabel;
  /** Free-text report matched to this image, when reports were supplied. */
  report?: string;
  /** Natural width and height in pixels, when known (used to letterbox thumbnails exactly). */
  width?: number;
  height?: number;
}

/** Progress of a long port call (embedding many images). */
export interface PortProgress {
  done: number;
  total: number;
}

/** A vision-language model that describes one image (or a crop of it) in words. */
export interface CaptionerPort {
  /** Model id (and dtype/device when they change outputs); part of the caption cache key. */
  readonly id: string;
  /**
   * Describes the image `imageId` cropped to `crop`. Resolves to the raw generated text (possibly empty: the
   * pipeline records an empty caption as a failure of that image, not of the run). Rejects with AbortError on abort.
   */
  caption(
    request: { imageId: string; crop: Crop; prompt: string; maxTokens: number },
    signal?: AbortSignalLike,
  ): Promise<string>;
}

/** The proposer's language model: an {@link LlmPort} that also says who it is and whether it can see images. */
export interface ProposerLlmPort extends LlmPort {
  /** Model id; part of the reply cache key. */
  readonly id: string;
  /** True when image parts in messages are understood; otherwise the pipeline sends text only. */
  readonly vision: boolean;
}

/** The ranker's CLIP-style model. Embeddings are L2-normalized rows. */
export interface EmbedderPort {
  /** Model id + preprocessing version; part of the run record. */
  readonly id: string;
  /**
   * Embeds the given images (whole, or all cropped to the same box). Images that cannot be embedded (undecodable,
   * missing) are listed in `failed` and have no row: `embeddings` holds one row per id in `ok`, in order.
   */
  embedImages(
    imageIds: readonly string[],
    crop: Crop,
    signal?: AbortSignalLike,
    onProgress?: (progress: PortProgress) => void,
  ): Promise<{
    ok: string[];
    failed: { id: string; reason: string }[];
    embeddings: Float32Array;
    dim: number;
  }>;
  /** Embeds texts as given (the engine applies the model's text template). One row per text. */
  embedTexts(texts: readonly string[], signal?: AbortSignalLike): Promise<Float32Array>;
}

/** One image drawn into a composition: the source crop is letterboxed into the destination rectangle. */
export interface Tile {
  imageId: string;
  crop: Crop;
  /** Destination rectangle in canvas pixels (integers); the letterboxed picture fills it exactly. */
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A composition (grid of thumbnails or of crops), fully laid out by core (geometry.ts). */
export interface Composition {
  /** Deterministic content key: layout version, tiles and their ids/crops. */
  key: string;
  width: number;
  height: number;
  /** Background colour as CSS-like hex (reference: black). */
  background: string;
  tiles: Tile[];
  /** Text labels drawn on top (e.g. the finding a crop grid belongs to), top-left anchored, white. */
  labels: { text: string; x: number; y: number; size: number }[];
}

/** Draws compositions. The only pixel-producing port; everything about placement is decided in core. */
export interface CompositorPort {
  render(composition: Composition, signal?: AbortSignalLike): Promise<EncodedImage>;
}

/** A string key-value store for captions and model replies (IndexedDB in the browser, a folder or memory in Node). */
export interface ReplyCachePort {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/** Everything the pipeline needs from outside. Optional ports disable the proposers that need them. */
export interface DiffPorts {
  embedder: EmbedderPort;
  captioner?: CaptionerPort;
  llm?: ProposerLlmPort;
  compositor?: CompositorPort;
  cache: ReplyCachePort;
  /** Wall clock in ms (injected so records are reproducible in tests). */
  now?: () => number;
  /** Waits between retries; injected in tests to make backoff instant. */
  sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
}
