// `npx tsx scripts/phantom-sheet.ts [out.png]`: the contact sheet of the chest radiograph phantoms for the README
// (default docs/phantoms.png): a normal phantom and one example of every finding, rendered at 512 px, shown at
// 256 px with a caption (the finding's canonical phrase) drawn in a small built-in block font.
import { writeFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { describeFinding, generatePhantom, type FindingSpec } from '../src/lib/core/phantom/index.ts';

const TILE = 256;
const COLS = 4;
const GAP = 6;
const CAPTION = 22;
const SEED = 2026;

const EXAMPLES: { index: number; findings: FindingSpec[]; caption?: string }[] = [
  { index: 0, findings: [], caption: 'normal' },
  { index: 1, findings: [{ name: 'effusion', side: 'left', size: 'large', severity: 1 }] },
  { index: 2, findings: [{ name: 'effusion', side: 'right', size: 'small', severity: 1 }] },
  { index: 3, findings: [{ name: 'cardiomegaly', severity: 1 }] },
  { index: 4, findings: [{ name: 'pneumothorax', side: 'right', size: 'large', severity: 1 }] },
  { index: 5, findings: [{ name: 'consolidation', side: 'right', zone: 'upper', severity: 1 }] },
  { index: 6, findings: [{ name: 'nodule', side: 'left', zone: 'middle', severity: 1 }] },
  { index: 7, findings: [{ name: 'cvc', side: 'right', variant: 'jugular' }] },
  { index: 8, findings: [{ name: 'ett' }] },
  { index: 9, findings: [{ name: 'ngt' }] },
  { index: 10, findings: [{ name: 'pacemaker', side: 'left' }] },
  { index: 11, findings: [{ name: 'low-lung-volumes', severity: 1 }] },
];

// 5×7 block glyphs, one string of 35 bits (row-major) per character.
const FONT: Record<string, string> = {
  A: '01110100011000111111100011000110001',
  B: '11110100011000111110100011000111110',
  C: '01110100011000010000100001000101110',
  D: '11110100011000110001100011000111110',
  E: '11111100001000011110100001000011111',
  F: '11111100001000011110100001000010000',
  G: '01110100011000010111100011000101111',
  H: '10001100011000111111100011000110001',
  I: '01110001000010000100001000010001110',
  J: '00111000100001000010000101001001100',
  K: '10001100101010011000101001001010001',
  L: '10000100001000010000100001000011111',
  M: '10001110111010110101100011000110001',
  N: '10001100011100110101100111000110001',
  O: '01110100011000110001100011000101110',
  P: '11110100011000111110100001000010000',
  Q: '01110100011000110001101011001001101',
  R: '11110100011000111110101001001010001',
  S: '01111100001000001110000010000111110',
  T: '11111001000010000100001000010000100',
  U: '10001100011000110001100011000101110',
  V: '10001100011000110001100010101000100',
  W: '10001100011000110101101011010101010',
  X: '10001100010101000100010101000110001',
  Y: '10001100010101000100001000010000100',
  Z: '11111000010001000100010001000011111',
  '-': '00000000000000011111000000000000000',
  ' ': '00000000000000000000000000000000000',
};

function drawText(img: Uint8Array, width: number, text: string, x0: number, y0: number, scale: number): void {
  let x = x0;
  for (const ch of text.toUpperCase()) {
    const glyph = FONT[ch] ?? FONT[' ']!;
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (glyph[gy * 5 + gx] !== '1') continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) img[(y0 + gy * scale + dy) * width + x + gx * scale + dx] = 235;
        }
      }
    }
    x += 6 * scale;
  }
}

function textWidth(text: string, scale: number): number {
  return text.length * 6 * scale - scale;
}

export function contactSheet(): { width: number; height: number; data: Uint8Array } {
  const rows = Math.ceil(EXAMPLES.length / COLS);
  const width = COLS * TILE + (COLS + 1) * GAP;
  const height = rows * (TILE + CAPTION) + (rows + 1) * GAP;
  const img = new Uint8Array(width * height).fill(24);
  EXAMPLES.forEach((example, k) => {
    const p = generatePhantom({
      seed: SEED,
      index: example.index,
      size: 2 * TILE,
      findings: example.findings,
      nuisance: { noise: [2, 3] },
    });
    const ox = GAP + (k % COLS) * (TILE + GAP);
    const oy = GAP + Math.floor(k / COLS) * (TILE + CAPTION + GAP);
    // 2× box downsampling.
    const s = p.size;
    for (let y = 0; y < TILE; y++) {
      for (let x = 0; x < TILE; x++) {
        const q = 2 * y * s + 2 * x;
        const v = p.pixels[q]! + p.pixels[q + 1]! + p.pixels[q + s]! + p.pixels[q + s + 1]!;
        img[(oy + y) * width + ox + x] = Math.min(252, ((v + 8) >> 4) << 2); // 64 levels: half the bytes
      }
    }
    const caption = example.caption ?? example.findings.map(describeFinding).join(', ');
    const scale = textWidth(caption, 2) <= TILE - 8 ? 2 : 1;
    const tx = ox + Math.max(0, Math.floor((TILE - textWidth(caption, scale)) / 2));
    const ty = oy + TILE + Math.floor((CAPTION - 7 * scale) / 2);
    drawText(img, width, caption, tx, ty, scale);
  });
  return { width, height, data: img };
}

const out = process.argv[2] ?? 'docs/phantoms.png';
const sheet = contactSheet();
const png = encode({ ...sheet, channels: 1, depth: 8 }, { zlib: { level: 9 } });
writeFileSync(out, png);
console.log(`wrote ${out}: ${sheet.width}×${sheet.height}, ${(png.length / 1024).toFixed(0)} KB`);
