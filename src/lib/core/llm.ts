// The port through which core talks to a text-generating language model (web-llm in a worker, a scripted fake in
// tests): one chat-completion call with optional JSON-schema constraint, seed and temperature. Engines implement it;
// core only consumes it. Pure types: imports nothing.

/**
 * The part of a DOM `AbortSignal` core relies on. Core compiles against ES2023 only (no DOM, no Node types), so
 * ports name this structural subset; every real `AbortSignal` satisfies it.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An encoded raster (PNG or JPEG bytes) that a vision-capable model can look at: an image grid, a crop grid or
 * one radiograph. `key` names its content deterministically (what was drawn and how), so prompts that carry
 * images can be hashed for the reply cache without hashing megabytes of pixels.
 */
export interface EncodedImage {
  key: string;
  mime: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
  width: number;
  height: number;
}

/** One part of a multimodal message. */
export type LlmContentPart = { type: 'text'; text: string } | { type: 'image'; image: EncodedImage };

/** One chat message: plain text, or text and images in order. */
export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | LlmContentPart[];
}

/** One completion request. Engines that cannot honour `jsonSchema` or `seed` ignore them (and say so in `model`). */
export interface LlmRequest {
  messages: LlmMessage[];
  /** JSON Schema the reply must follow (constrained decoding where the engine supports it). */
  jsonSchema?: object;
  temperature?: number;
  seed?: number;
  maxTokens?: number;
}

/** The raw reply: text exactly as generated, and the id of the model that produced it. */
export interface LlmReply {
  text: string;
  model: string;
}

/** A language model. Rejects with an `AbortError` when `signal` aborts; other rejections are call failures. */
export interface LlmPort {
  complete(request: LlmRequest, signal?: AbortSignalLike): Promise<LlmReply>;
}
