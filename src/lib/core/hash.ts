// Stable, non-cryptographic string hashing for deterministic keys (composition keys, stream names of random.ts).
// The same text gives the same hash in Node, browsers and workers, forever: changing the algorithm changes every
// key derived from it, so the tests pin its output. Pure: imports nothing.

/**
 * cyrb128 (bryc): a 128-bit non-cryptographic hash of a string's UTF-16 code units, as four uint32 words.
 * Good avalanche and fast; not collision-resistant against an adversary, which no caller needs.
 */
export function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** The cyrb128 hash of `text` as 32 lowercase hex characters (the four words big-endian, in order). */
export function hashString(text: string): string {
  return cyrb128(text)
    .map((word) => word.toString(16).padStart(8, '0'))
    .join('');
}
