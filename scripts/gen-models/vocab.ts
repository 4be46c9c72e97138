// The shared meaning of the generated test models: the embedding layout, the pixel features the vision tower
// computes, and the words whose vectors point at those features (see README.md in this folder). Both the CLIP
// and the SigLIP test models use this table; only their tokenizers differ.

/** Side of the 4×4 grid of cells the 224×224 input is cut into (each cell is 56×56 pixels). */
export const GRID = 4;
export const CELLS = GRID * GRID;
/** Embedding layout: [bias, 16 cells (row-major, row 0 = top, col 0 = image-left), contrast, neutral, zeros…]. */
export const DIM = 32;
export const BIAS_AXIS = 0;
export const cellAxis = (row: number, col: number): number => 1 + row * GRID + col;
export const CONTRAST_AXIS = 1 + CELLS;
export const NEUTRAL_AXIS = CONTRAST_AXIS + 1;

/** Image embedding = IMAGE_SCALE · [IMAGE_BIAS, cell mean − 0.5 …, CONTRAST_GAIN · (std − CONTRAST_CENTER), 0…]. */
export const IMAGE_SCALE = 8;
export const IMAGE_BIAS = 1;
export const CONTRAST_GAIN = 4;
export const CONTRAST_CENTER = 0.15;
/** Text embedding = TEXT_SCALE · (Σ word vectors + neutral) / (number of words + 1); neither tower is normalised. */
export const TEXT_SCALE = 5;

export type ConceptName =
  | 'bright'
  | 'dark'
  | 'clear'
  | 'patient-right'
  | 'patient-left'
  | 'upper'
  | 'middle'
  | 'lower'
  | 'center'
  | 'effusion'
  | 'texture'
  | 'smooth'
  | 'hazy'
  | 'neutral';

interface Concept {
  /** What the direction means in pixels, for README.md and vocab-meaning.json. */
  pixels: string;
  /** Weight of cell (row, col) in this direction; row 0 = top, col 0 = image-left. */
  cell?: (row: number, col: number) => number;
  contrast?: number;
  neutral?: number;
  words: string[];
}

const half = (inside: boolean): number => (inside ? 1 : -2);

export const CONCEPTS: Record<ConceptName, Concept> = {
  bright: {
    pixels: 'mean brightness of the whole image (+1 on every cell)',
    cell: () => 1,
    words: [
      'opacity',
      'opacities',
      'opacification',
      'opaque',
      'bright',
      'brighter',
      'white',
      'dense',
      'density',
      'densities',
      'consolidation',
      'consolidations',
      'infiltrate',
      'infiltrates',
      'airspace',
    ],
  },
  dark: {
    pixels: 'darkness of the whole image (−1 on every cell)',
    cell: () => -1,
    words: [
      'dark',
      'darker',
      'black',
      'lucent',
      'lucency',
      'lucencies',
      'radiolucent',
      'hyperlucent',
      'hyperlucency',
      'pneumothorax',
      'pneumothoraces',
      'emphysema',
    ],
  },
  clear: {
    pixels: 'half-weight darkness of the whole image (−0.5 on every cell)',
    cell: () => -0.5,
    words: ['clear', 'normal', 'unremarkable'],
  },
  'patient-right': {
    pixels: "the patient's right = the IMAGE-LEFT half: +1 on columns 0–1, −2 on columns 2–3",
    cell: (_r, c) => half(c < GRID / 2),
    words: ['right'],
  },
  'patient-left': {
    pixels: "the patient's left = the IMAGE-RIGHT half: +1 on columns 2–3, −2 on columns 0–1",
    cell: (_r, c) => half(c >= GRID / 2),
    words: ['left'],
  },
  upper: {
    pixels: 'the top half: +1 on rows 0–1, −2 on rows 2–3',
    cell: (r) => half(r < GRID / 2),
    words: ['upper', 'apical', 'apex', 'apices', 'top'],
  },
  middle: {
    pixels: 'the middle band: +1 on rows 1–2, −2 on rows 0 and 3',
    cell: (r) => half(r === 1 || r === 2),
    words: ['middle', 'mid'],
  },
  lower: {
    pixels: 'the bottom half: +1 on rows 2–3, −2 on rows 0–1',
    cell: (r) => half(r >= GRID / 2),
    words: ['lower', 'basal', 'base', 'bases', 'basilar', 'bottom'],
  },
  center: {
    pixels: 'the central 2×2 cells brighter than the rest: +1 on the centre, −1/3 on the 12 outer cells',
    cell: (r, c) => (r >= 1 && r <= 2 && c >= 1 && c <= 2 ? 1 : -1 / 3),
    words: [
      'cardiomegaly',
      'heart',
      'cardiac',
      'mediastinal',
      'mediastinum',
      'central',
      'center',
      'centre',
      'hilar',
    ],
  },
  effusion: {
    pixels: 'the bottom half brighter than the top: +1.5 on rows 2–3, −0.5 on rows 0–1',
    cell: (r) => (r >= GRID / 2 ? 1.5 : -0.5),
    words: ['effusion', 'effusions', 'fluid', 'blunting'],
  },
  texture: {
    pixels: 'global contrast: the standard deviation of the gray values (+4 on the contrast axis)',
    contrast: 4,
    words: [
      'texture',
      'textured',
      'contrast',
      'nodule',
      'nodules',
      'nodular',
      'mass',
      'masses',
      'reticular',
      'mottled',
      'interstitial',
      'granular',
      'noisy',
      'sharp',
    ],
  },
  smooth: {
    pixels: 'low global contrast (−4 on the contrast axis)',
    contrast: -4,
    words: ['smooth', 'uniform', 'homogeneous', 'flat', 'blurry', 'blurred'],
  },
  hazy: {
    pixels: 'slightly brighter and lower contrast (+0.5 on every cell, −2 on the contrast axis)',
    cell: () => 0.5,
    contrast: -2,
    words: ['hazy', 'haziness', 'ground', 'glass'],
  },
  neutral: {
    pixels: 'nothing: a direction no image has (the neutral axis); unknown words land here too',
    neutral: 1,
    words: [
      'a',
      'an',
      'the',
      'of',
      'in',
      'on',
      'at',
      'to',
      'with',
      'without',
      'and',
      'or',
      'no',
      'not',
      'is',
      'are',
      'was',
      'there',
      'this',
      'that',
      'more',
      'less',
      'than',
      'small',
      'large',
      'mild',
      'moderate',
      'severe',
      'new',
      'increased',
      'decreased',
      'pleural',
      'lung',
      'lungs',
      'lobe',
      'lobar',
      'zone',
      'field',
      'fields',
      'chest',
      'image',
      'images',
      'patient',
      'bilateral',
      'both',
      'side',
      'region',
      'area',
      'focal',
      'diffuse',
      'prominent',
      'enlarged',
      'widened',
      'present',
      'seen',
      'evidence',
      'finding',
      'findings',
      'appearance',
      'markings',
      'x',
      'ray',
      'radiograph',
      'film',
      'view',
      'frontal',
      'lateral',
    ],
  },
};

/** Punctuation the tokenizers split off; it carries the neutral meaning. */
export const PUNCTUATION = ['.', ',', ';', ':', '-', '(', ')', '/', "'", '"', '!', '?'];

/** Every word in the vocabulary with its concept, in a fixed order (concept order, then listed order). */
export function vocabularyWords(): { word: string; concept: ConceptName }[] {
  const out: { word: string; concept: ConceptName }[] = [];
  const seen = new Set<string>();
  for (const [concept, def] of Object.entries(CONCEPTS) as [ConceptName, Concept][]) {
    for (const word of def.words) {
      if (seen.has(word)) throw new Error(`word "${word}" listed twice`);
      seen.add(word);
      out.push({ word, concept });
    }
  }
  return out;
}

/** The (unscaled) direction of a concept in the embedding space. */
export function conceptVector(name: ConceptName): Float32Array {
  const def = CONCEPTS[name];
  const v = new Float32Array(DIM);
  if (def.cell) {
    for (let r = 0; r < GRID; r++) for (let c = 0; c < GRID; c++) v[cellAxis(r, c)] = def.cell(r, c);
  }
  if (def.contrast) v[CONTRAST_AXIS] = def.contrast;
  if (def.neutral) v[NEUTRAL_AXIS] = def.neutral;
  return v;
}

/** Contents of vocab-meaning.json: lets tests pick findings without reading this module. */
export function vocabMeaning(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    description:
      'Generated test model (no pretrained weights). Image features: mean gray of a 4x4 grid of 56x56 cells of the ' +
      '224x224 input (after undoing the processor normalisation) and the global gray standard deviation. A text ' +
      "embedding is the masked mean of its word vectors. Radiology convention: the patient's right is the IMAGE-LEFT.",
    layout: {
      dim: DIM,
      grid: GRID,
      biasAxis: BIAS_AXIS,
      cellAxes: 'axis 1 + 4*row + col; row 0 = top, col 0 = image-left',
      contrastAxis: CONTRAST_AXIS,
      neutralAxis: NEUTRAL_AXIS,
      imageScale: IMAGE_SCALE,
      textScale: TEXT_SCALE,
      normalized: false,
    },
    concepts: Object.fromEntries(
      Object.entries(CONCEPTS).map(([name, def]) => [name, { pixels: def.pixels, words: def.words }]),
    ),
    unknownWords: 'neutral',
    examples: {
      // tests/fixtures/make-images.ts: A = renderSet({ n: 12, seed: 101, brightRegion: 'image-left-lower' }),
      // B = renderSet({ n: 12, seed: 202 }); AUROC of cosine scores, A above B (README.md has more seeds).
      imageLeftLowerBrighter: {
        separates: {
          'right lower opacity': 1,
          'right lower lobe consolidation': 1,
          'right pleural effusion': 1,
          'right effusion': 1,
        },
        partially: { 'lower opacity': 0.97, 'right opacity': 0.96, effusion: 0.92 },
        doesNotSeparate: {
          opacity: 0.67,
          'left lower opacity': 0.63,
          'zorblax (unknown word)': 0.5,
          dark: 0.33,
          pneumothorax: 0.33,
          'left upper opacity': 0,
        },
      },
    },
    ...extra,
  };
}
