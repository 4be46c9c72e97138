// Vocabulary of the deterministic concept judge, as data: the chest-radiograph concepts it recognises (with the
// phrasings that name each one), which concepts are broader/narrower relatives of which, and the words that carry
// laterality, lung zone, size/severity, catheter site and negation. The matcher lives in concept-judge.ts.
// Pure data: imports nothing.

/** A concept the matcher recognises. The ten of the phantom catalogue come first; the rest are relatives/decoys. */
export type ConceptId =
  | 'pleural-effusion'
  | 'cardiomegaly'
  | 'pneumothorax'
  | 'consolidation'
  | 'nodule'
  | 'central-venous-catheter'
  | 'endotracheal-tube'
  | 'nasogastric-tube'
  | 'pacemaker'
  | 'low-lung-volumes'
  // Broader or neighbouring concepts: related ones score at most 1, unrelated ones 0. Listing them also stops
  // their words from being read as something else ('pericardial effusion' is not a pleural effusion).
  | 'opacity'
  | 'pneumonia'
  | 'mass'
  | 'picc'
  | 'catheter'
  | 'tube'
  | 'support-device'
  | 'feeding-tube'
  | 'chest-tube'
  | 'tracheostomy'
  | 'sternotomy'
  | 'hydropneumothorax'
  | 'pneumothorax-sign'
  | 'cardiomediastinal-enlargement'
  | 'pericardial-effusion'
  | 'vascular-crowding'
  | 'hyperinflation'
  | 'atelectasis'
  | 'pulmonary-edema'
  | 'interstitial-opacity'
  | 'rib-fracture'
  | 'mediastinal-widening';

export type Side = 'left' | 'right';
export type Zone = 'upper' | 'middle' | 'lower';
export type Site = 'jugular' | 'subclavian' | 'femoral';

/**
 * How a concept's laterality is compared. `lateral`: side matters (wrong side scores 0). `ignored`: midline or
 * side-less (tubes, heart). `bilateral`: inherently both sides (low lung volumes); a one-sided finding is narrower.
 */
export type LateralityKind = 'lateral' | 'ignored' | 'bilateral';

/** One concept and the phrasings that name it. */
export interface ConceptSpec {
  id: ConceptId;
  laterality: LateralityKind;
  /** Lung zone is meaningful (consolidation in the upper vs lower zone). */
  zoned: boolean;
  /** Size/severity words are compared (small vs large effusion). */
  graded: boolean;
  /** Assumed when a mention leaves the qualifier out (effusions are basal; pacemakers sit in the left chest wall). */
  defaults?: { side?: Side; zone?: Zone };
  /**
   * Phrasings, one string each. A pattern is space-separated slots; a slot lists alternatives with `|`; `*` marks
   * a prefix. Slots match distinct tokens of one clause, in any order, within a span of (slots + 4) tokens, so
   * 'enlarg* cardiac' also finds 'cardiac silhouette is enlarged' and 'enlargement of the cardiac silhouette'.
   * Tokens are lower-cased and singularised first ('effusions' → 'effusion', 'opacities' → 'opacity').
   */
  patterns: string[];
  /** Phrasings that state the concept is absent or normal ('normal heart size'): they yield a negated mention. */
  negativePatterns?: string[];
}

export const CONCEPTS: readonly ConceptSpec[] = [
  {
    id: 'pleural-effusion',
    laterality: 'lateral',
    zoned: true,
    graded: true,
    defaults: { zone: 'lower' },
    patterns: [
      'pleural effusion',
      'effusion',
      'pleural fluid',
      'hydrothorax',
      'blunt* costophrenic',
      'costophrenic blunt*',
      'meniscus',
      'layering fluid',
    ],
  },
  {
    id: 'cardiomegaly',
    laterality: 'ignored',
    zoned: false,
    graded: true,
    patterns: [
      'cardiomegaly',
      'enlarg* heart|cardiac',
      'large|big heart',
      'heart|cardiac size increas*',
      'increas*|high|elevat* cardiothoracic',
    ],
    negativePatterns: ['normal heart|cardiac size|silhouette|contour'],
  },
  {
    id: 'pneumothorax',
    laterality: 'lateral',
    zoned: false,
    graded: true,
    patterns: ['pneumothorax', 'ptx', 'pleural air'],
  },
  {
    id: 'consolidation',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: [
      'consolidat*',
      'airspace opacity|opacification|disease|density|process|consolidation',
      'alveolar opacity|opacification|disease|infiltrate',
      'air bronchogram',
    ],
  },
  {
    id: 'nodule',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: [
      'nodule',
      'nodular opacity|density|lesion',
      'round|rounded opacity|density|lesion',
      'spn',
      'coin lesion',
      'micronodule',
    ],
  },
  {
    id: 'central-venous-catheter',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: [
      'central venous catheter|line|access',
      'central catheter|line',
      'cvc',
      'cvl',
      'jugular|ij catheter|line|cvc',
      'subclavian catheter|line|cvc',
      'femoral catheter|line',
      'tunneled catheter|line',
    ],
  },
  {
    id: 'endotracheal-tube',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['endotracheal tube', 'endotracheal', 'ett', 'et tube', 'tracheal tube', 'intubat*'],
  },
  {
    id: 'nasogastric-tube',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: [
      'nasogastric tube|catheter',
      'nasogastric',
      'ng|ngt|og|ogt tube',
      'ngt',
      'ogt',
      'orogastric',
      'gastric tube',
      'enteric tube',
      'nasoenteric',
    ],
  },
  {
    id: 'pacemaker',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    defaults: { side: 'left' },
    patterns: [
      'pacemaker',
      'pacer',
      'pacing lead|wire|device|generator',
      'icd',
      'aicd',
      'defibrillator',
      'cardiac device',
      'cardiac implant* device',
      'cied',
      'transvenous lead|pacing',
    ],
  },
  {
    id: 'low-lung-volumes',
    laterality: 'bilateral',
    zoned: false,
    graded: true,
    patterns: [
      'low|lo|decreas*|reduc*|diminish*|small|poor lung volume',
      'low|lo|decreas*|reduc*|diminish* volume',
      'hypoinflat*',
      'underinflat*',
      'hypoexpan*',
      'poor|shallow|suboptimal|limited|low inspirat*|inspiratory',
      'elevat*|high hemidiaphragm',
    ],
    negativePatterns: ['normal lung volume|inflation', 'well inflat*|expand*|aerat*', 'normal inflation'],
  },
  {
    id: 'opacity',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: ['opacit*', 'opacification', 'opacified', 'densit*', 'haziness', 'hazy', 'infiltrate'],
  },
  {
    id: 'pneumonia',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: ['pneumonia', 'bronchopneumonia', 'pneumonic', 'infectious process'],
  },
  {
    id: 'mass',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: ['mass', 'lesion', 'tumor', 'tumour', 'neoplasm'],
  },
  {
    id: 'picc',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: ['picc line|catheter', 'picc', 'peripherally inserted'],
  },
  {
    id: 'catheter',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: ['catheter', 'line', 'port', 'portacath', 'swanganz', 'pulmonary artery catheter'],
  },
  {
    id: 'tube',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['tube'],
  },
  {
    id: 'support-device',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['support device|apparatus', 'line tube', 'device', 'hardware', 'medical device'],
  },
  {
    id: 'feeding-tube',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['feeding tube|catheter', 'dobhoff', 'dobbhoff', 'nasoduodenal', 'nasojejunal', 'post pyloric'],
  },
  {
    id: 'chest-tube',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: [
      'chest tube|drain',
      'pleural tube|drain|catheter',
      'thoracostomy',
      'pigtail catheter|drain',
      'pleural pigtail',
    ],
  },
  {
    id: 'tracheostomy',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['tracheostomy|tracheotomy|trach tube|cannula', 'tracheostomy', 'tracheotomy'],
  },
  {
    id: 'sternotomy',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['sternotomy', 'sternal wire|suture|cerclage'],
  },
  {
    id: 'hydropneumothorax',
    laterality: 'lateral',
    zoned: false,
    graded: true,
    patterns: ['hydropneumothorax', 'air fluid level pleural'],
  },
  {
    id: 'pneumothorax-sign',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: ['visceral pleural line|edge', 'deep sulcus', 'pleural line'],
  },
  {
    id: 'cardiomediastinal-enlargement',
    laterality: 'ignored',
    zoned: false,
    graded: true,
    patterns: ['enlarg*|widen* cardiomediastinal', 'prominent heart|cardiac|cardiomediastinal'],
    negativePatterns: ['normal cardiomediastinal'],
  },
  {
    id: 'pericardial-effusion',
    laterality: 'ignored',
    zoned: false,
    graded: true,
    patterns: ['pericardial effusion|fluid'],
  },
  {
    id: 'vascular-crowding',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['crowd* bronchovascular|vascular|vasculature|marking|rib'],
  },
  {
    id: 'hyperinflation',
    laterality: 'bilateral',
    zoned: false,
    graded: true,
    patterns: [
      'hyperinflat*',
      'hyperexpan*',
      'hyperaerat*',
      'flatten* hemidiaphragm|diaphragm',
      'high|increas*|large lung volume',
    ],
  },
  {
    id: 'atelectasis',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: ['atelecta*', 'collaps*', 'volume loss'],
  },
  {
    id: 'pulmonary-edema',
    laterality: 'ignored',
    zoned: false,
    graded: true,
    patterns: [
      'edema',
      'oedema',
      'vascular|venous congestion',
      'pulmonary venous pressure|hypertension',
      'kerley',
      'cephalization',
      'fluid overload',
      'heart failure',
      'chf',
    ],
    negativePatterns: ['normal pulmonary venous pressure', 'normal pulmonary vascularity|vasculature'],
  },
  {
    id: 'interstitial-opacity',
    laterality: 'lateral',
    zoned: true,
    graded: false,
    patterns: [
      'interstitial opacity|marking|pattern|abnormality|disease|thickening|prominence',
      'reticular opacity|pattern|marking',
      'reticulonodular',
      'reticulation',
    ],
  },
  {
    id: 'rib-fracture',
    laterality: 'lateral',
    zoned: false,
    graded: false,
    patterns: ['rib fracture', 'fracture'],
  },
  {
    id: 'mediastinal-widening',
    laterality: 'ignored',
    zoned: false,
    graded: false,
    patterns: ['widen*|wide mediastinum|mediastinal'],
  },
];

/**
 * Broader/narrower relatives: a finding naming one side of a relation, judged against a truth naming the other,
 * scores at most 1 ("right direction, broader or narrower"). Symmetric. `whenZone`: the relation holds only when
 * the mention of the first concept lies in that zone (an opacity is a stand-in for an effusion only at the base).
 */
export interface ConceptRelation {
  concepts: [ConceptId, ConceptId];
  whenZone?: Zone;
}

const DEVICES: ConceptId[] = [
  'central-venous-catheter',
  'picc',
  'catheter',
  'endotracheal-tube',
  'nasogastric-tube',
  'feeding-tube',
  'chest-tube',
  'tracheostomy',
  'pacemaker',
  'tube',
];

export const RELATIONS: readonly ConceptRelation[] = [
  { concepts: ['opacity', 'consolidation'] },
  { concepts: ['opacity', 'pneumonia'] },
  { concepts: ['opacity', 'atelectasis'] },
  { concepts: ['opacity', 'nodule'] },
  { concepts: ['opacity', 'mass'] },
  { concepts: ['opacity', 'interstitial-opacity'] },
  { concepts: ['opacity', 'pleural-effusion'], whenZone: 'lower' },
  { concepts: ['pneumonia', 'consolidation'] },
  { concepts: ['mass', 'nodule'] },
  { concepts: ['picc', 'central-venous-catheter'] },
  { concepts: ['catheter', 'central-venous-catheter'] },
  { concepts: ['catheter', 'picc'] },
  { concepts: ['catheter', 'chest-tube'] },
  { concepts: ['tube', 'endotracheal-tube'] },
  { concepts: ['tube', 'nasogastric-tube'] },
  { concepts: ['tube', 'feeding-tube'] },
  { concepts: ['tube', 'chest-tube'] },
  { concepts: ['tube', 'tracheostomy'] },
  { concepts: ['feeding-tube', 'nasogastric-tube'] },
  { concepts: ['hydropneumothorax', 'pneumothorax'] },
  { concepts: ['hydropneumothorax', 'pleural-effusion'] },
  { concepts: ['pneumothorax-sign', 'pneumothorax'] },
  { concepts: ['cardiomediastinal-enlargement', 'cardiomegaly'] },
  { concepts: ['vascular-crowding', 'low-lung-volumes'] },
  { concepts: ['pulmonary-edema', 'interstitial-opacity'] },
  ...DEVICES.map((device): ConceptRelation => ({ concepts: ['support-device', device] })),
];

/** Words that name a side; `bilateral` words may also name a zone (see ZONE_WORDS). */
export const SIDE_WORDS: Readonly<Record<string, Side | 'bilateral'>> = {
  left: 'left',
  right: 'right',
  bilateral: 'bilateral',
  bilaterally: 'bilateral',
  both: 'bilateral',
  bilat: 'bilateral',
  bibasilar: 'bilateral',
  bibasal: 'bilateral',
  bibasally: 'bilateral',
  biapical: 'bilateral',
  retrocardiac: 'left',
};

/** Words that name a lung zone. `low` only counts before lobe/zone/lung (see the matcher). */
export const ZONE_WORDS: Readonly<Record<string, Zone>> = {
  upper: 'upper',
  apical: 'upper',
  apex: 'upper',
  apically: 'upper',
  suprahilar: 'upper',
  mid: 'middle',
  middle: 'middle',
  midlung: 'middle',
  lingula: 'middle',
  lingular: 'middle',
  lower: 'lower',
  base: 'lower',
  basal: 'lower',
  basilar: 'lower',
  basally: 'lower',
  bibasilar: 'lower',
  bibasal: 'lower',
  bibasally: 'lower',
  retrocardiac: 'lower',
  infrahilar: 'lower',
  costophrenic: 'lower',
  biapical: 'upper',
};

/**
 * Size/severity words as an interval on a 1–4 scale (1 trace, 2 small/mild, 3 moderate, 4 large/severe). A
 * mention's grade is the hull of its words ('small to moderate' = [2, 3]); two grades agree when they overlap.
 */
export const SIZE_WORDS: Readonly<Record<string, [number, number]>> = {
  trace: [1, 1],
  tiny: [1, 1],
  minimal: [1, 1],
  minimally: [1, 1],
  slight: [1, 2],
  slightly: [1, 2],
  subtle: [1, 2],
  small: [2, 2],
  mild: [2, 2],
  mildly: [2, 2],
  moderate: [3, 3],
  moderately: [3, 3],
  significant: [3, 4],
  substantial: [3, 4],
  sizable: [3, 4],
  sizeable: [3, 4],
  large: [4, 4],
  big: [4, 4],
  severe: [4, 4],
  severely: [4, 4],
  marked: [4, 4],
  markedly: [4, 4],
  massive: [4, 4],
  huge: [4, 4],
  extensive: [4, 4],
};

/** Catheter access sites (a jugular line is not a subclavian one). */
export const SITE_WORDS: Readonly<Record<string, Site>> = {
  jugular: 'jugular',
  ij: 'jugular',
  subclavian: 'subclavian',
  femoral: 'femoral',
};

/**
 * Negation cues (NegEx-style). `pre` cues negate the concept mentions after them in the same clause
 * ('no pleural effusion', 'without pneumothorax'); `post` cues negate the mentions before them ('catheter not
 * seen', 'tube removed'). Multi-word cues are space-separated.
 */
export const NEGATION_CUES: Readonly<{ pre: readonly string[]; post: readonly string[] }> = {
  pre: [
    'no',
    'not',
    'without',
    'absent',
    'absence',
    'negative for',
    'free of',
    'resolution of',
    'resolved',
    'removal of',
    'removed',
    'lack of',
    'ruled out',
    'nor',
  ],
  post: [
    'absent',
    'resolved',
    'resolve',
    'removed',
    'remove',
    'not',
    'no longer',
    'gone',
    'excluded',
    'ruled out',
  ],
};

/** Cues that look like negation but are not ('no change in the effusion', 'not only'). Checked first. */
export const PSEUDO_NEGATIONS: readonly string[] = [
  'no change',
  'no significant change',
  'no interval change',
  'not change',
  'not changed',
  'not significantly changed',
  'without change',
  'not only',
  'no significant interval change',
];

/**
 * Words that end a clause: qualifiers and negation do not cross them. Punctuation , ; : . ( ) also ends clauses.
 * 'and' and 'or' do not ('no effusion or pneumothorax' negates both; 'left and right' is one side), nor does
 * 'with' ('right lung with patchy opacity'): qualifiers go to the nearest concept anyway.
 */
export const CLAUSE_BREAKS: readonly string[] = ['without', 'but', 'however', 'whereas', 'while', 'plus'];

/** Token rewrites applied before singularisation (irregular plurals, adverbs, lemmatised benchmark spellings). */
export const TOKEN_REWRITES: Readonly<Record<string, string>> = {
  apices: 'apex',
  pneumothoraces: 'pneumothorax',
  masses: 'mass',
  diaphragms: 'diaphragm',
  leads: 'lead',
};

/** Multi-word rewrites applied to the token stream (longest first), e.g. 'air space' → 'airspace'. */
export const PHRASE_REWRITES: Readonly<Record<string, string>> = {
  'air space': 'airspace',
  'left and right': 'bilateral',
  'right and left': 'bilateral',
  'both side': 'bilateral',
  'port a cath': 'portacath',
  'swan ganz': 'swanganz',
  'costo phrenic': 'costophrenic',
  'cardio thoracic': 'cardiothoracic',
  'internal jugular': 'jugular',
};
