// The default concept bank as data: chest-radiograph observations, devices and technical factors written as
// templates with slots ({side}, {zone}, {size?}, {severity}), plus the slot values. concept-bank.ts parses, expands
// and formats it; nothing here has behaviour. Pure data: imports nothing.

/** Values of the named slots a template may use; `{slot?}` in a template also allows "no word here". */
export const DEFAULT_SLOTS: Readonly<Record<string, readonly string[]>> = {
  side: ['left', 'right', 'bilateral'],
  zone: ['upper', 'middle', 'lower'],
  size: ['small', 'moderate', 'large'],
  severity: ['mild', 'moderate', 'severe'],
};

/** One line of the default bank: a category (a `[section]` of the text format) and its templates. */
export interface DefaultBankSection {
  category: string;
  templates: readonly string[];
}

/**
 * The default bank (184 phrases once expanded). Slot syntax: `{side}` takes every value of the slot,
 * `{size?}` also the empty value, `{side:left|right}` only the listed values. Variants of one template are collapsed
 * by the proposer unless they differ in side, so a template should name one concept.
 */
export const DEFAULT_BANK_SECTIONS: readonly DefaultBankSection[] = [
  {
    category: 'observations',
    templates: [
      // Pleura
      '{size?} {side} pleural effusion',
      'pleural effusion',
      '{side:left|right} costophrenic angle blunting',
      '{side:left|right} pleural thickening',
      '{size?} {side} pneumothorax',
      'pneumothorax',
      'tension pneumothorax',
      '{side:left|right} hydropneumothorax',
      // Airspace and lung parenchyma
      '{severity?} {side} {zone} zone consolidation',
      '{side} lung consolidation',
      'focal consolidation',
      'consolidation',
      '{side} {zone} zone opacity',
      '{side:left|right} lung opacification',
      '{side} basilar atelectasis',
      'atelectasis',
      '{side:left|right} lobar collapse',
      '{severity?} pulmonary edema',
      'pulmonary vascular congestion',
      'interstitial opacities',
      'diffuse reticular opacities',
      'ground glass opacities',
      '{side:left|right} {zone} zone pulmonary nodule',
      '{side:left|right?} pulmonary nodule',
      'multiple pulmonary nodules',
      '{side:left|right} lung mass',
      'calcified granuloma',
      'cavitary lesion',
      'low lung volumes',
      'hyperinflated lungs',
      'emphysema',
      'clear lungs',
      'no acute cardiopulmonary abnormality',
      // Heart and mediastinum
      'enlarged cardiac silhouette',
      '{severity?} cardiomegaly',
      'no cardiomegaly',
      '{side} hilar enlargement',
      'widened mediastinum',
      'tortuous aorta',
      'aortic knob calcification',
      'pericardial effusion',
      // Bones, diaphragm, soft tissues
      '{side:left|right} rib fracture',
      'multiple rib fractures',
      '{side:left|right} clavicle fracture',
      'vertebral compression fracture',
      'scoliosis',
      '{side:left|right} hemidiaphragm elevation',
      'free air under the diaphragm',
      'hiatal hernia',
      'subcutaneous emphysema',
      '{side:left|right} mastectomy',
    ],
  },
  {
    category: 'devices',
    templates: [
      'endotracheal tube',
      'endotracheal tube in the right main bronchus',
      'tracheostomy tube',
      'nasogastric tube',
      'enteric feeding tube',
      '{side:left|right?} central venous catheter',
      '{side:left|right} internal jugular central venous catheter',
      '{side:left|right} subclavian central venous catheter',
      'peripherally inserted central catheter',
      'central venous catheter tip in the right atrium',
      'cardiac pacemaker',
      '{side:left|right} chest wall pacemaker',
      'implantable cardioverter defibrillator',
      '{side:left|right} chest tube',
      'sternotomy wires',
      'prosthetic heart valve',
      'external ECG electrodes',
      'surgical clips',
      'orthopedic hardware',
      'no support devices',
    ],
  },
  {
    category: 'technical',
    templates: [
      'AP supine projection',
      'PA erect projection',
      'portable AP radiograph',
      'rotated patient',
      'poor inspiration',
      'underexposed film',
      'overexposed film',
      'poor image contrast',
      'noisy image',
      'motion artifact',
      'lung bases cut off',
      'lung apices not included',
      'external objects over the chest',
    ],
  },
];
