// The phantom model's meaning: the concept axes of its embedding space (finding × patient side × zone, plus size
// axes), and the hand-written lexicon that maps radiology words onto the factors the text tower composes (which
// finding, which side, which zone, how large, negated or not). The image tower is fitted to these axes; the text
// tower is not fitted at all: it is this table.
import type { FindingName, Side, Zone } from '../../src/lib/core/phantom/index.ts';

/** How a finding is resolved in the concept space: per patient side, per zone, with a size axis. */
export interface FindingLayout {
  side: boolean;
  zone: boolean;
  size: boolean;
}

/** Finding factors of the text tower, in this order. */
export const FINDING_ORDER: readonly FindingName[] = [
  'effusion',
  'cardiomegaly',
  'pneumothorax',
  'consolidation',
  'nodule',
  'cvc',
  'ett',
  'ngt',
  'pacemaker',
  'low-lung-volumes',
];

export const LAYOUT: Record<FindingName, FindingLayout> = {
  effusion: { side: true, zone: false, size: true },
  cardiomegaly: { side: false, zone: false, size: false },
  pneumothorax: { side: true, zone: false, size: true },
  consolidation: { side: true, zone: true, size: false },
  nodule: { side: true, zone: true, size: false },
  cvc: { side: true, zone: false, size: false },
  ett: { side: false, zone: false, size: false },
  ngt: { side: false, zone: false, size: false },
  pacemaker: { side: true, zone: false, size: false },
  'low-lung-volumes': { side: false, zone: false, size: false },
};

/** Side factor order (patient sides). */
export const SIDES: readonly Side[] = ['right', 'left'];
/** Zone factor order. */
export const ZONES: readonly Zone[] = ['upper', 'middle', 'lower'];

/** One presence axis of the embedding: a finding, resolved to a side and a zone where its layout says so. */
export interface Concept {
  key: string;
  finding: FindingName;
  side?: Side;
  zone?: Zone;
}

/** Presence concepts, in axis order. */
export function presenceConcepts(): Concept[] {
  const out: Concept[] = [];
  for (const finding of FINDING_ORDER) {
    const l = LAYOUT[finding];
    for (const side of l.side ? SIDES : [undefined]) {
      for (const zone of l.zone ? ZONES : [undefined]) {
        const key = [finding, side, zone].filter(Boolean).join(':');
        out.push({ key, finding, ...(side ? { side } : {}), ...(zone ? { zone } : {}) });
      }
    }
  }
  return out;
}

/** Size concepts (target +1 large, −1 small, 0 absent), in axis order: one per finding-with-size × side. */
export function sizeConcepts(): Concept[] {
  const out: Concept[] = [];
  for (const finding of FINDING_ORDER) {
    const l = LAYOUT[finding];
    if (!l.size) continue;
    for (const side of l.side ? SIDES : [undefined]) {
      out.push({
        key: `${[finding, side].filter(Boolean).join(':')}:size`,
        finding,
        ...(side ? { side } : {}),
      });
    }
  }
  return out;
}

/**
 * Embedding layout: axis 0 = constant image bias (no text has it), then presence axes, then size axes, then the
 * neutral axis (text only), zero-padded to DIM.
 */
export const PRESENCE = presenceConcepts();
export const SIZE_AXES = sizeConcepts();
export const BIAS_AXIS = 0;
export const PRESENCE_OFFSET = 1;
export const SIZE_OFFSET = PRESENCE_OFFSET + PRESENCE.length;
export const NEUTRAL_AXIS = SIZE_OFFSET + SIZE_AXES.length;
export const DIM = Math.ceil((NEUTRAL_AXIS + 1) / 8) * 8;

/** Constant on the image bias axis: keeps image norms away from 0 so cosine is nearly linear in the concepts. */
export const IMAGE_BIAS = 2;
/** Weight of a size word relative to the presence axis in a text embedding. */
export const SIZE_WEIGHT = 0.5;
/** Weight of the virtual neutral word of every text: a text with no finding word scores 0 on every image. */
export const NEUTRAL_WEIGHT = 0.05;
/** Smoothing of the side and zone distributions: a text without side words spreads evenly over both sides. */
export const SPREAD_EPSILON = 1e-3;

/** What one word contributes to the text factors. */
export interface WordMeaning {
  finding?: Partial<Record<FindingName, number>>;
  /** Patient side(s) the word names. */
  side?: Side | 'both';
  zone?: Zone;
  /** +1 large, −1 small (averaged over the size words of a text). */
  size?: number;
  /** Flips the sign of every finding in the text. */
  negation?: boolean;
}

const f = (finding: Partial<Record<FindingName, number>>): WordMeaning => ({ finding });
const words = (list: string[], meaning: WordMeaning): [string, WordMeaning][] =>
  list.map((w) => [w, meaning]);

/** The vocabulary, grouped as documented in README.md. Plurals ending in -s also work through the `##s` piece. */
export const LEXICON: [string, WordMeaning][] = [
  // Findings.
  ...words(['effusion', 'effusions', 'fluid', 'blunting', 'hydrothorax', 'costophrenic'], f({ effusion: 1 })),
  ...words(
    ['cardiomegaly', 'heart', 'cardiomediastinal', 'cardiothoracic', 'silhouette'],
    f({ cardiomegaly: 1 }),
  ),
  ...words(['pneumothorax', 'pneumothoraces', 'ptx', 'pneumothoraxes'], f({ pneumothorax: 1 })),
  ...words(
    [
      'consolidation',
      'consolidations',
      'consolidative',
      'opacity',
      'opacities',
      'opacification',
      'airspace',
      'infiltrate',
      'infiltrates',
      'pneumonia',
    ],
    f({ consolidation: 1 }),
  ),
  ...words(
    ['nodule', 'nodules', 'nodular', 'mass', 'masses', 'lesion', 'lesions', 'granuloma'],
    f({ nodule: 1 }),
  ),
  ...words(['cvc', 'picc', 'catheter', 'catheters', 'venous', 'line', 'lines', 'port'], f({ cvc: 1 })),
  ...words(['ett', 'endotracheal', 'intubated', 'intubation', 'et'], f({ ett: 1 })),
  ...words(
    ['ngt', 'nasogastric', 'ng', 'orogastric', 'og', 'enteric', 'feeding', 'dobhoff', 'gastric'],
    f({ ngt: 1 }),
  ),
  ...words(
    ['pacemaker', 'pacemakers', 'pacer', 'icd', 'defibrillator', 'generator', 'lead', 'leads'],
    f({ pacemaker: 1 }),
  ),
  ...words(['device', 'devices', 'hardware'], f({ cvc: 0.25, ett: 0.25, ngt: 0.25, pacemaker: 0.25 })),
  ...words(
    [
      'low',
      'volumes',
      'volume',
      'hypoinflation',
      'hypoinflated',
      'hypoventilation',
      'inspiration',
      'shallow',
    ],
    f({ 'low-lung-volumes': 1 }),
  ),
  // Sides (the patient's): right = IMAGE-LEFT.
  ...words(['right', 'rt', 'dextro'], { side: 'right' }),
  ...words(['left', 'lt', 'levo'], { side: 'left' }),
  ...words(['bilateral', 'bilaterally', 'both', 'bibasal'], { side: 'both' }),
  ['bibasilar', { side: 'both', zone: 'lower' }],
  // Zones.
  ...words(['upper', 'apical', 'apex', 'apices', 'top', 'superior'], { zone: 'upper' }),
  ...words(['middle', 'mid', 'lingula', 'lingular', 'perihilar', 'hilar'], { zone: 'middle' }),
  ...words(['lower', 'basal', 'base', 'bases', 'basilar', 'bottom', 'inferior'], { zone: 'lower' }),
  // Size.
  ...words(['large', 'big', 'massive', 'huge', 'extensive', 'severe', 'sizable', 'sizeable'], { size: 1 }),
  ...words(['small', 'tiny', 'trace', 'minimal', 'mild', 'subtle', 'little', 'minor'], { size: -1 }),
  // Negation.
  ...words(
    ['no', 'not', 'without', 'absent', 'negative', 'resolved', 'free', 'normal', 'unremarkable', 'clear'],
    { negation: true },
  ),
  // Neutral: known words that change nothing (unknown words are neutral too, as [UNK]).
  ...words(
    [
      'a',
      'an',
      'the',
      'of',
      'in',
      'on',
      'at',
      'to',
      'with',
      'and',
      'or',
      'is',
      'are',
      'there',
      'this',
      'moderate',
      'pleural',
      'pulmonary',
      'cardiac',
      'wall',
      'focal',
      'lung',
      'lungs',
      'lobe',
      'lobar',
      'zone',
      'field',
      'fields',
      'chest',
      'central',
      'tip',
      'sided',
      'side',
      'hemithorax',
      'enlarged',
      'enlargement',
      'increased',
      'new',
      'present',
      'seen',
      'evidence',
      'finding',
      'findings',
      'radiograph',
      'x',
      'ray',
      'phantom',
      'support',
      'subclavian',
      'jugular',
      'internal',
      'placement',
      'positioned',
      'tube',
      'tubes',
    ],
    {},
  ),
];

/** Per-token factor row width: findings, sides (2), zones (3), size sum, size count, negation count. */
export const FACTOR_WIDTH = FINDING_ORDER.length + SIDES.length + ZONES.length + 3;

/** The factor row of a word (unscaled; special tokens get all zeros). */
export function factorRow(meaning: WordMeaning): Float32Array {
  const row = new Float32Array(FACTOR_WIDTH);
  FINDING_ORDER.forEach((name, i) => (row[i] = meaning.finding?.[name] ?? 0));
  const s = FINDING_ORDER.length;
  if (meaning.side === 'right' || meaning.side === 'both') row[s] = 1;
  if (meaning.side === 'left' || meaning.side === 'both') row[s + 1] = 1;
  const z = s + SIDES.length;
  if (meaning.zone) row[z + ZONES.indexOf(meaning.zone)] = 1;
  const q = z + ZONES.length;
  if (meaning.size !== undefined) {
    row[q] = meaning.size;
    row[q + 1] = 1;
  }
  if (meaning.negation) row[q + 2] = 1;
  return row;
}

/**
 * The fixed map from the text tower's outer product (finding × side × zone, flattened in that order) to presence
 * axes (`presence`) and to size axes (`size`, multiplied by the text's mean size word later): a sideless finding
 * sums over sides, a zoneless one over zones, so a finding's weight is preserved whatever the side/zone words.
 */
export function compositionMatrices(): { presence: Float32Array; size: Float32Array; rows: number } {
  const rows = FINDING_ORDER.length * SIDES.length * ZONES.length;
  const presence = new Float32Array(rows * DIM);
  const size = new Float32Array(rows * DIM);
  FINDING_ORDER.forEach((finding, fi) => {
    const l = LAYOUT[finding];
    SIDES.forEach((side, si) => {
      ZONES.forEach((zone, zi) => {
        const row = (fi * SIDES.length + si) * ZONES.length + zi;
        const p = PRESENCE.findIndex(
          (c) => c.finding === finding && (!l.side || c.side === side) && (!l.zone || c.zone === zone),
        );
        if (p < 0) throw new Error(`no presence axis for ${finding} ${side} ${zone}`);
        presence[row * DIM + PRESENCE_OFFSET + p] = 1;
        if (l.size) {
          const q = SIZE_AXES.findIndex((c) => c.finding === finding && (!l.side || c.side === side));
          size[row * DIM + SIZE_OFFSET + q] = SIZE_WEIGHT;
        }
      });
    });
  });
  return { presence, size, rows };
}

/** Checks the lexicon: every word lower-case, listed once. */
export function vocabularyWords(): { word: string; meaning: WordMeaning }[] {
  const seen = new Set<string>();
  return LEXICON.map(([word, meaning]) => {
    if (word !== word.toLowerCase()) throw new Error(`"${word}" is not lower-case`);
    if (seen.has(word)) throw new Error(`"${word}" listed twice`);
    seen.add(word);
    return { word, meaning };
  });
}
