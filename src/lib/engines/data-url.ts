// Base64 and `data:` URLs of encoded images, the one form every image-taking model interface here accepts
// (OpenAI-compatible servers, web-llm, self-contained HTML reports): never `blob:` or file URLs. Browser and Node.

import type { EncodedImage } from '../core/llm.ts';

/**
 * Base64 of `bytes`. btoa takes a "binary string", and building one from megabytes in a single
 * String.fromCharCode call overflows the argument limit, so encode in chunks whose length is a multiple of 3:
 * then every chunk but the last encodes without padding and the pieces concatenate into the whole.
 */
export function bytesToBase64(bytes: Uint8Array): string {
  const CHUNK = 3 * 8192;
  const pieces: string[] = [];
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const chunk = bytes.subarray(start, start + CHUNK);
    pieces.push(btoa(String.fromCharCode(...chunk)));
  }
  return pieces.join('');
}

/** `data:` URL of an encoded image. */
export function imageDataUrl(image: Pick<EncodedImage, 'mime' | 'bytes'>): string {
  return `data:${image.mime};base64,${bytesToBase64(image.bytes)}`;
}
