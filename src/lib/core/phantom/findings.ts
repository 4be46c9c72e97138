// The phantom findings catalogue: which findings the chest radiograph phantom can draw, their options, the
// command-line syntax `name:option=value,...` and the canonical phrase of each (the ground truth a benchmark
// expects a proposer to find). Pure data and string handling; the drawing lives in render.ts.

/**
 * A side of the PATIENT. Radiographic convention for a frontal (PA/AP) film: the patient faces the viewer, so the
 * patient's right is on the IMAGE LEFT and the patient's left (heart apex, stomach bubble) is on the IMAGE RIGHT.
 */
export type Side = 'left' | 'right';
/** Lung zone, by thirds of the lung height from the apex to the hemidiaphragm. */
export type Zone = 'upper' | 'middle' | 'lower';
export type FindingName =
  | 'effusion'
  | 'cardiomegaly'
  | 'pneumothorax'
  | 'consolidation'
  | 'nodule'
  | 'cvc'
  | 'ett'
  | 'ngt'
  | 'pacemaker'
  | 'low-lung-volumes';

/**
 * One finding to draw. Options left out are drawn per image from the phantom's seeded streams, and the labels of
 * a generated phantom carry the resolved spec (every applicable option filled in).
 */
export interface FindingSpec {
  name: FindingName;
  /** Patient side (patient right = image left). */
  side?: Side;
  size?: 'small' | 'large';
  zone?: Zone;
  /**
   * 0..1: how conspicuous the finding is (opacity of fluid and airspace disease, pneumothorax width, heart
   * enlargement, how low the lung volumes are). Small values make the "subtle" variants of a benchmark pair.
   * Left out: drawn in [0.7, 1].
   */
  severity?: number;
  /** Resolved detail of how it was drawn, e.g. a catheter's approach ('jugular' | 'subclavian'). Output only. */
  variant?: string;
}

/** What the catalogue knows about one finding. */
export interface FindingInfo {
  name: FindingName;
  /** Plain-language label, e.g. 'pleural effusion'. */
  label: string;
  /** The values each option accepts; an option not listed here is rejected by parseFindingArg. */
  options: { side?: Side[]; size?: ('small' | 'large')[]; zone?: Zone[] };
  description: string;
}

const SIDES: Side[] = ['left', 'right'];
const SIZES: ('small' | 'large')[] = ['small', 'large'];
const ZONES: Zone[] = ['upper', 'middle', 'lower'];

/** Every finding the phantom draws, in catalogue order. */
export const FINDINGS: readonly FindingInfo[] = Object.freeze([
  {
    name: 'effusion',
    label: 'pleural effusion',
    options: { side: SIDES, size: SIZES },
    description:
      'Meniscus-shaped homogeneous opacity at the lung base blunting the costophrenic angle; a large one ' +
      'reaches mid-lung and hides the hemidiaphragm.',
  },
  {
    name: 'cardiomegaly',
    label: 'cardiomegaly',
    options: {},
    description: 'Enlarged cardiac silhouette: cardiothoracic ratio 0.52–0.67 (normal phantoms: 0.39–0.47).',
  },
  {
    name: 'pneumothorax',
    label: 'pneumothorax',
    options: { side: SIDES, size: SIZES },
    description:
      'Lucent rim without lung markings at the apex and lateral chest wall, bounded by a thin visible pleural line.',
  },
  {
    name: 'consolidation',
    label: 'focal consolidation',
    options: { side: SIDES, zone: ZONES },
    description: 'Patchy airspace opacity in one lung zone, with faint air bronchograms.',
  },
  {
    name: 'nodule',
    label: 'pulmonary nodule',
    options: { side: SIDES, zone: ZONES },
    description: 'Small round soft-tissue opacity (7–14 mm) in one lung zone.',
  },
  {
    name: 'cvc',
    label: 'central venous catheter',
    options: { side: SIDES },
    description:
      'Thin radiopaque line from the internal jugular or subclavian vein of that side to its tip in the SVC.',
  },
  {
    name: 'ett',
    label: 'endotracheal tube',
    options: {},
    description: 'Tube with a radiopaque stripe in the trachea, tip 3–6 cm above the carina.',
  },
  {
    name: 'ngt',
    label: 'nasogastric tube',
    options: {},
    description:
      'Thin radiopaque tube down the oesophagus, crossing the left hemidiaphragm, tip in the stomach.',
  },
  {
    name: 'pacemaker',
    label: 'pacemaker',
    options: { side: SIDES },
    description:
      'Bright generator in the upper chest wall (left unless side=right) with leads to the right atrium and ventricle.',
  },
  {
    name: 'low-lung-volumes',
    label: 'low lung volumes',
    options: {},
    description: 'Elevated hemidiaphragms, crowded ribs and bronchovascular markings, smaller lungs.',
  },
] satisfies FindingInfo[]);

const BY_NAME = new Map<string, FindingInfo>(FINDINGS.map((info) => [info.name, info]));

/** The catalogue entry of `name`, or undefined for an unknown name. */
export function findingInfo(name: string): FindingInfo | undefined {
  return BY_NAME.get(name);
}

function knownNames(): string {
  return FINDINGS.map((f) => f.name).join(', ');
}

/**
 * Parses the command-line form of a finding: `name` or `name:option=value,...`, e.g.
 * `effusion:side=left,size=large` or `nodule:zone=upper,severity=0.3`. Throws an Error that lists the known
 * findings for an unknown name, and the accepted values for a bad option.
 */
export function parseFindingArg(arg: string): FindingSpec {
  const text = arg.trim();
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
  const info = BY_NAME.get(name);
  if (!info) throw new Error(`unknown finding "${name}"; known findings: ${knownNames()}`);
  const spec: FindingSpec = { name: info.name };
  if (colon < 0) return spec;
  const rest = text.slice(colon + 1).trim();
  if (!rest) return spec;
  for (const part of rest.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`finding "${name}": expected option=value, got "${part.trim()}"`);
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part
      .slice(eq + 1)
      .trim()
      .toLowerCase();
    if (key === 'severity') {
      const severity = Number(value);
      if (value === '' || !Number.isFinite(severity) || severity < 0 || severity > 1) {
        throw new Error(`finding "${name}": severity must be a number in [0, 1], got "${value}"`);
      }
      spec.severity = severity;
      continue;
    }
    if (key !== 'side' && key !== 'size' && key !== 'zone') {
      throw new Error(`finding "${name}": unknown option "${key}"; ${optionHelp(info)}`);
    }
    const allowed = info.options[key] as string[] | undefined;
    if (!allowed) throw new Error(`finding "${name}" has no option "${key}"; ${optionHelp(info)}`);
    if (!allowed.includes(value)) {
      throw new Error(`finding "${name}": ${key} must be one of ${allowed.join(', ')}, got "${value}"`);
    }
    if (key === 'side') spec.side = value as Side;
    else if (key === 'size') spec.size = value as 'small' | 'large';
    else spec.zone = value as Zone;
  }
  return spec;
}

/** Human-readable list of a finding's options, as `--list` prints them. */
export function optionHelp(info: FindingInfo): string {
  const parts = Object.entries(info.options).map(
    ([key, values]) => `${key}=${(values as string[]).join('|')}`,
  );
  parts.push('severity=0..1');
  return `options: ${parts.join(', ')}`;
}

/** The canonical phrase of a finding: 'large left pleural effusion', 'right central venous catheter', … */
export function describeFinding(spec: FindingSpec): string {
  const words = (...parts: (string | undefined)[]) => parts.filter((p) => p).join(' ');
  switch (spec.name) {
    case 'effusion':
      return words(spec.size, spec.side, 'pleural effusion');
    case 'cardiomegaly':
      return 'cardiomegaly';
    case 'pneumothorax':
      return words(spec.size, spec.side, 'pneumothorax');
    case 'consolidation':
      if (spec.zone) return words(spec.side, spec.zone, 'zone consolidation');
      return spec.side ? `${spec.side} lung consolidation` : 'focal consolidation';
    case 'nodule':
      if (spec.zone) return words(spec.side, spec.zone, 'zone pulmonary nodule');
      return words(spec.side, 'pulmonary nodule');
    case 'cvc':
      return words(spec.side, 'central venous catheter');
    case 'ett':
      return 'endotracheal tube';
    case 'ngt':
      return 'nasogastric tube';
    case 'pacemaker':
      return spec.side ? `${spec.side} chest wall pacemaker` : 'cardiac pacemaker';
    case 'low-lung-volumes':
      return 'low lung volumes';
  }
}
