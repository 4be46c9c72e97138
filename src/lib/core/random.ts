// Seeded, named random streams for everything that must be reproducible (subsampling, proposer image samples,
// permutations): the same (seed, stream name) always yields the same sequence, in Node, browsers and workers.
// State is derived by hashing the stream name (cyrb128) mixed with the 64-bit seed; numbers come from sfc32.

import { cyrb128 } from './hash.ts';

/** A deterministic random stream. Not cryptographic. */
export interface Rng {
  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
  /** Uniform integer in [0, n), unbiased (rejection sampling); n is an integer in [1, 2^53]. */
  int(n: number): number;
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T extends MutableArrayLike>(array: T): T;
  /**
   * k distinct indices of 0..n−1 drawn uniformly without replacement, sorted ascending. Floyd's algorithm:
   * exactly k draws and O(k) memory when k ≪ n.
   */
  sample(n: number, k: number): Uint32Array;
}

/** Anything indexable and writable: arrays and typed arrays. */
export interface MutableArrayLike {
  length: number;
  [index: number]: unknown;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** MurmurHash3's 32-bit finalizer: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Creates the random stream named `stream` for `seed`. Any safe integer seed is accepted (negative ones as their
 * 64-bit two's complement). Different stream names give unrelated sequences, so adding a new consumer never
 * shifts the numbers an existing one sees.
 */
export function createRng(seed: number, stream: string): Rng {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const seedLo = seed >>> 0; // ToUint32 is exact modulo 2^32 for any safe integer
  const seedHi = Math.floor(seed / TWO_POW_32) >>> 0;
  const h = cyrb128(stream);
  // Each state word mixes one hash word with a different avalanche of the seed, so (seed, name) pairs that
  // differ in either part share no state word.
  const mixed = fmix32(seedLo ^ fmix32(seedHi ^ 0x9e3779b9));
  let a = fmix32(h[0] ^ mixed);
  let b = fmix32(h[1] ^ fmix32(mixed + 0x6a09e667));
  let c = fmix32(h[2] ^ fmix32(mixed + 0xbb67ae85));
  let d = fmix32(h[3] ^ fmix32(mixed + 0x3c6ef372));

  /** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-clean); the counter d forbids cycles < 2^32. */
  function uint32(): number {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }
  // Discard the first outputs: they still correlate with the raw state words.
  for (let i = 0; i < 15; i++) uint32();

  function next(): number {
    const hi = uint32() >>> 5; // 27 bits
    const lo = uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  function int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53) {
      throw new RangeError(`int(n) needs an integer 1 ≤ n ≤ 2^53, got ${n}`);
    }
    if (n <= TWO_POW_32) {
      // Reject the top partial block of [0, 2^32) so every residue is equally likely.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      let u = uint32();
      while (u >= limit) u = uint32();
      return u % n;
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    let u = next() * TWO_POW_53;
    while (u >= limit) u = next() * TWO_POW_53;
    return u % n;
  }

  function shuffle<T extends MutableArrayLike>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  function sample(n: number, k: number): Uint32Array {
    if (!Number.isInteger(n) || n < 0 || n > TWO_POW_32) {
      throw new RangeError(`sample(n, k) needs an integer 0 ≤ n ≤ 2^32, got n = ${n}`);
    }
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`sample(n, k) needs an integer 0 ≤ k ≤ n, got k = ${k} (n = ${n})`);
    }
    const out = new Uint32Array(k);
    // Floyd: for j = n−k … n−1 draw t ∈ [0, j]; take t unless already taken, else j. Every k-subset is equally
    // likely and exactly k draws are made. A dense bitmap is used when it is cheaper than a Set; the draws, and
    // therefore the result, are the same either way.
    if (k * 32 >= n) {
      const taken = new Uint8Array(n);
      for (let j = n - k; j < n; j++) {
        const t = int(j + 1);
        taken[taken[t] ? j : t] = 1;
      }
      let w = 0;
      for (let i = 0; i < n && w < k; i++) if (taken[i]) out[w++] = i;
      return out;
    }
    const taken = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = int(j + 1);
      taken.add(taken.has(t) ? j : t);
    }
    let w = 0;
    for (const v of taken) out[w++] = v;
    return out.sort();
  }

  return { next, uint32, int, shuffle, sample };
}
