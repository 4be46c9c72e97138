// Synthetic radiology report of a phantom, written from its labels alone: FINDINGS then IMPRESSION, positive
// statements with varied wording for present findings, devices with their course and tip, and a seeded sample of
// negations for absent ones. Deterministic by (seed, index) through the stream `phantom/<index>/report`.
import { createRng, type Rng } from '../random.ts';
import type { FindingSpec, Zone } from './findings.ts';
import type { PhantomLabels } from './generate.ts';
import { streamName } from './render.ts';

function pick<T>(rng: Rng, options: readonly T[]): T {
  return options[rng.int(options.length)]!;
}

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sentence(text: string): string {
  const t = cap(text.trim());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

const LOBES: Record<'left' | 'right', Record<Zone, string[]>> = {
  right: {
    upper: ['right upper lobe', 'right upper zone', 'right apical region'],
    middle: ['right middle lobe', 'right mid zone', 'right perihilar region'],
    lower: ['right lower lobe', 'right lung base', 'right lower zone'],
  },
  left: {
    upper: ['left upper lobe', 'left upper zone', 'left apical region'],
    middle: ['lingula', 'left mid zone', 'left perihilar region'],
    lower: ['left lower lobe', 'left lung base', 'left lower zone'],
  },
};

const MID_LUNG: Record<Zone, string> = { upper: 'upper', middle: 'mid', lower: 'lower' };

interface Statement {
  /** Body sentence for FINDINGS. */
  findings: string;
  /** Short phrase for IMPRESSION, or null to leave it out of the impression. */
  impression: string | null;
  device: boolean;
}

function subtle(spec: FindingSpec): boolean {
  return (spec.severity ?? 1) < 0.45;
}

function positive(rng: Rng, spec: FindingSpec): Statement {
  const side = spec.side ?? 'right';
  const light = subtle(spec);
  switch (spec.name) {
    case 'effusion': {
      if (spec.size === 'large') {
        const f = pick(rng, [
          `large ${side} pleural effusion obscuring the ${side} hemidiaphragm`,
          `large ${side} pleural effusion with adjacent compressive atelectasis`,
          `moderate to large ${side} pleural effusion layering to the mid ${side} hemithorax`,
          `opacification of the ${side} lower hemithorax with a meniscus, consistent with a large pleural effusion`,
        ]);
        return {
          findings: f,
          impression: pick(rng, [`large ${side} pleural effusion`, `large ${side} effusion`]),
          device: false,
        };
      }
      const f = light
        ? pick(rng, [
            `minimal blunting of the ${side} costophrenic angle, possibly a trace ${side} effusion`,
            `trace ${side} pleural effusion is questioned`,
          ])
        : pick(rng, [
            `blunting of the ${side} costophrenic angle, consistent with a small ${side} pleural effusion`,
            `small ${side} pleural effusion`,
            `small ${side} effusion blunting the lateral costophrenic angle`,
          ]);
      return {
        findings: f,
        impression: light ? `possible trace ${side} pleural effusion` : `small ${side} pleural effusion`,
        device: false,
      };
    }
    case 'cardiomegaly': {
      const f = light
        ? pick(rng, ['the cardiac silhouette is mildly enlarged', 'borderline enlarged cardiac silhouette'])
        : pick(rng, [
            'the cardiac silhouette is enlarged',
            'enlarged cardiac silhouette',
            'cardiomegaly',
            'the heart is enlarged',
            'moderate cardiomegaly',
          ]);
      return {
        findings: f,
        impression: light ? 'mild cardiomegaly' : pick(rng, ['cardiomegaly', 'enlarged heart']),
        device: false,
      };
    }
    case 'pneumothorax': {
      const size = spec.size === 'large' ? 'large' : 'small';
      const f =
        size === 'large'
          ? pick(rng, [
              `large ${side} pneumothorax with a visible visceral pleural line and absent lung markings laterally`,
              `large ${side} pneumothorax`,
              `${side} pneumothorax with the pleural line well away from the chest wall`,
            ])
          : pick(rng, [
              `small ${side} apical pneumothorax`,
              `thin ${side} apical pleural line with no lung markings beyond it, consistent with a small pneumothorax`,
              `small ${side} pneumothorax`,
            ]);
      return { findings: f, impression: `${size} ${side} pneumothorax`, device: false };
    }
    case 'consolidation': {
      const zone = spec.zone ?? 'lower';
      const where = pick(rng, LOBES[side][zone]);
      const f = light
        ? pick(rng, [`subtle patchy opacity in the ${where}`, `faint airspace opacity in the ${where}`])
        : pick(rng, [
            `focal consolidation in the ${where}`,
            `patchy airspace opacity in the ${where}`,
            `airspace consolidation in the ${where} with air bronchograms`,
            `${where} consolidation`,
          ]);
      const imp = light
        ? `subtle ${where} opacity, possibly early pneumonia`
        : pick(rng, [
            `${where} consolidation`,
            `${where} consolidation, likely pneumonia`,
            `${where} airspace disease`,
          ]);
      return { findings: f, impression: imp, device: false };
    }
    case 'nodule': {
      const zone = spec.zone ?? 'upper';
      const mm = spec.variant ?? '10 mm';
      const mmWord = mm.replace(' ', '-');
      const f = pick(rng, [
        `${mm} nodule in the ${side} ${MID_LUNG[zone]} lung`,
        `${mmWord} rounded nodular opacity projecting over the ${side} ${MID_LUNG[zone]} lung zone`,
        `a ${mmWord} pulmonary nodule in the ${pick(rng, LOBES[side][zone])}`,
      ]);
      return {
        findings: f,
        impression: pick(rng, [
          `${mm} ${side} ${MID_LUNG[zone]} lung nodule; CT recommended`,
          `${side} pulmonary nodule, further evaluation with CT suggested`,
        ]),
        device: false,
      };
    }
    case 'cvc': {
      const vein = spec.variant === 'subclavian' ? 'subclavian' : 'internal jugular';
      const f = pick(rng, [
        `${side} ${vein} central venous catheter terminates in the SVC`,
        `${side} ${vein} central line with tip in the lower SVC`,
        `${side}-sided ${vein} venous catheter, tip projecting over the SVC`,
      ]);
      return {
        findings: f,
        impression: `${side} ${vein} central venous catheter in satisfactory position`,
        device: true,
      };
    }
    case 'ett': {
      const cm = (spec.variant ?? '4.5 cm').replace(/\.0 cm$/, ' cm');
      const f = pick(rng, [
        `endotracheal tube terminates ${cm} above the carina`,
        `ET tube tip is ${cm} above the carina`,
        `endotracheal tube in satisfactory position, ${cm} above the carina`,
      ]);
      return { findings: f, impression: 'endotracheal tube in satisfactory position', device: true };
    }
    case 'ngt': {
      const f = pick(rng, [
        'nasogastric tube courses below the diaphragm with tip in the stomach',
        'enteric tube passes below the left hemidiaphragm, tip in the gastric fundus',
        'NG tube tip and side port are below the diaphragm in the stomach',
      ]);
      return { findings: f, impression: 'nasogastric tube in the stomach', device: true };
    }
    case 'pacemaker': {
      const f = pick(rng, [
        `${side} chest wall pacemaker with leads terminating in the right atrium and right ventricle`,
        `dual-chamber pacemaker, ${side}-sided, with leads in the right atrium and right ventricular apex`,
        `${side}-sided cardiac pacing device with two leads in expected position`,
      ]);
      return { findings: f, impression: `${side}-sided dual-chamber pacemaker`, device: true };
    }
    case 'low-lung-volumes': {
      const f = pick(rng, [
        'low lung volumes with bronchovascular crowding',
        'lung volumes are low',
        'hypoinflated lungs with elevated hemidiaphragms',
        'low lung volumes',
      ]);
      return { findings: f, impression: pick(rng, ['low lung volumes', 'hypoinflation']), device: false };
    }
  }
}

/**
 * Writes the report of a phantom from its labels: 'FINDINGS: … IMPRESSION: …' on one line. Present findings are
 * stated (devices first), absent ones are negated by a seeded sample of the usual normal statements.
 */
export function writeReport(labels: PhantomLabels, seed: number, index: number): string {
  const rng = createRng(seed, streamName(index, 'report'));
  const present = labels.findings;
  const has = (name: FindingSpec['name']) => present.some((f) => f.name === name);
  const sides = (name: FindingSpec['name']) =>
    new Set(present.filter((f) => f.name === name).map((f) => f.side));

  const statements = present.map((f) => positive(rng, f));
  const devices = statements.filter((s) => s.device).map((s) => sentence(s.findings));
  const other = statements.filter((s) => !s.device).map((s) => sentence(s.findings));

  const negations: string[] = [];
  const lungFinding = has('consolidation') || has('nodule') || has('effusion') || has('pneumothorax');
  if (!has('consolidation')) {
    negations.push(
      lungFinding
        ? pick(rng, ['No focal consolidation.', 'No consolidation elsewhere.', 'No other airspace opacity.'])
        : pick(rng, [
            'No focal consolidation.',
            'The lungs are clear.',
            'Lungs are clear without focal consolidation.',
          ]),
    );
  }
  const effusionSides = sides('effusion');
  const ptxSides = sides('pneumothorax');
  if (effusionSides.size === 0 && ptxSides.size === 0) {
    negations.push(
      pick(rng, [
        'No pleural effusion or pneumothorax.',
        'No pneumothorax or pleural effusion.',
        'The costophrenic angles are sharp. No pneumothorax.',
        'No pleural effusion. No pneumothorax.',
      ]),
    );
  } else {
    if (effusionSides.size === 0) {
      negations.push(pick(rng, ['No pleural effusion.', 'The costophrenic angles are sharp.']));
    } else if (effusionSides.size === 1) {
      const other = effusionSides.has('left') ? 'right' : 'left';
      if (rng.next() < 0.7)
        negations.push(
          pick(rng, [`No ${other} pleural effusion.`, `The ${other} costophrenic angle is sharp.`]),
        );
    }
    if (ptxSides.size === 0) negations.push('No pneumothorax.');
    else if (ptxSides.size === 1 && rng.next() < 0.5)
      negations.push(`No ${ptxSides.has('left') ? 'right' : 'left'} pneumothorax.`);
  }
  if (!has('cardiomegaly')) {
    negations.push(
      pick(rng, [
        'Heart size is normal.',
        'The cardiomediastinal silhouette is within normal limits.',
        'Normal heart size.',
        'Cardiac silhouette is normal in size.',
      ]),
    );
  }
  if (!has('nodule') && rng.next() < 0.4)
    negations.push(pick(rng, ['No suspicious pulmonary nodule.', 'No pulmonary nodules.']));
  if (!has('low-lung-volumes') && rng.next() < 0.35) {
    negations.push(pick(rng, ['Lung volumes are normal.', 'The lungs are well expanded.']));
  }
  if (devices.length === 0 && rng.next() < 0.3) negations.push('No lines or tubes.');
  if (rng.next() < 0.5)
    negations.push(pick(rng, ['No acute osseous abnormality.', 'The visualized bones are unremarkable.']));

  // Devices lead, then abnormal findings, then normal statements (shuffled a little: reports vary in order).
  const tail = negations.slice();
  if (tail.length > 1 && rng.next() < 0.5) rng.shuffle(tail);
  const body = [...devices, ...other, ...tail].join(' ');

  const impressions = statements.filter((s) => !s.device && s.impression).map((s) => s.impression!);
  const deviceImpressions = statements.filter((s) => s.device && s.impression).map((s) => s.impression!);
  let impression: string;
  if (impressions.length === 0) {
    const normal = pick(rng, [
      'No acute cardiopulmonary process.',
      'No acute cardiopulmonary abnormality.',
      'Normal chest radiograph.',
    ]);
    impression =
      deviceImpressions.length > 0
        ? `${deviceImpressions.map(sentence).join(' ')} ${pick(rng, ['No acute cardiopulmonary process.', 'Otherwise no acute abnormality.'])}`
        : normal;
  } else {
    const items = [
      ...impressions,
      ...(deviceImpressions.length && rng.next() < 0.5 ? ['support devices as above'] : []),
    ];
    impression =
      items.length === 1 || rng.next() < 0.5
        ? items.map(sentence).join(' ')
        : items.map((s, k) => `${k + 1}. ${sentence(s)}`).join(' ');
  }
  return `FINDINGS: ${body} IMPRESSION: ${impression}`;
}
