// The built-in demo comparisons: pairs of phantom cohorts with one known difference each, from obvious to subtle
// and confounded. Pure data + lookup; the app generates the images on the fly with the phantom generator.
import type { FindingSpec } from './phantom/index.ts';

export interface CohortRecipe {
  /** What the cohort is, for the set panel title. */
  label: string;
  findings: { spec: FindingSpec; prevalence: number }[];
}

export interface DemoComparison {
  id: string;
  title: string;
  /** One sentence on what the demo shows. */
  blurb: string;
  /** The ground truth, phrased like a finding. */
  truth: string;
  /** What B is instead (the judge scores 0 for findings truer of B). */
  truthB: string;
  difficulty: 'easy' | 'medium' | 'hard';
  a: CohortRecipe;
  b: CohortRecipe;
  /** Images per set. */
  n: number;
  seed: number;
}

const normalBackground = (prevalence: number): CohortRecipe['findings'] => [
  { spec: { name: 'cvc', side: 'right' }, prevalence },
  { spec: { name: 'cardiomegaly' }, prevalence: prevalence / 2 },
];

export const DEMOS: readonly DemoComparison[] = [
  {
    id: 'left-effusion',
    title: 'Left pleural effusion vs none',
    blurb: 'Most of A has a large left effusion; B has none. The classic obvious difference.',
    truth: 'large left pleural effusion',
    truthB: 'no pleural effusion',
    difficulty: 'easy',
    a: {
      label: 'left effusion cohort',
      findings: [
        { spec: { name: 'effusion', side: 'left', size: 'large' }, prevalence: 0.85 },
        ...normalBackground(0.2),
      ],
    },
    b: { label: 'no effusion', findings: normalBackground(0.2) },
    n: 40,
    seed: 101,
  },
  {
    id: 'cardiomegaly',
    title: 'Cardiomegaly vs normal heart size',
    blurb: 'A has enlarged cardiac silhouettes; B has normal hearts.',
    truth: 'cardiomegaly',
    truthB: 'normal heart size',
    difficulty: 'easy',
    a: { label: 'cardiomegaly cohort', findings: [{ spec: { name: 'cardiomegaly' }, prevalence: 0.85 }] },
    b: { label: 'normal heart size', findings: [] },
    n: 40,
    seed: 202,
  },
  {
    id: 'right-cvc',
    title: 'Right central line vs none',
    blurb: 'A devices difference: a right-sided central venous catheter in most of A.',
    truth: 'right central venous catheter',
    truthB: 'no central venous catheter',
    difficulty: 'medium',
    a: {
      label: 'right CVC cohort',
      findings: [
        { spec: { name: 'cvc', side: 'right' }, prevalence: 0.8 },
        { spec: { name: 'effusion', side: 'right', size: 'small' }, prevalence: 0.15 },
      ],
    },
    b: {
      label: 'no central line',
      findings: [{ spec: { name: 'effusion', side: 'right', size: 'small' }, prevalence: 0.15 }],
    },
    n: 40,
    seed: 303,
  },
  {
    id: 'subtle-pneumothorax',
    title: 'Subtle: small right pneumothorax',
    blurb: 'Only about half of A has a small right pneumothorax, against 10% of B: a hard, realistic gap.',
    truth: 'right pneumothorax',
    truthB: 'no pneumothorax',
    difficulty: 'hard',
    a: {
      label: 'some right pneumothoraces',
      findings: [{ spec: { name: 'pneumothorax', side: 'right', severity: 0.6 }, prevalence: 0.5 }],
    },
    b: {
      label: 'few pneumothoraces',
      findings: [{ spec: { name: 'pneumothorax', side: 'right', severity: 0.6 }, prevalence: 0.1 }],
    },
    n: 48,
    seed: 404,
  },
  {
    id: 'confounded-effusion',
    title: 'Confounded: effusions in line-carrying patients',
    blurb:
      'Both sets are full of central lines and pacemakers; only right effusions differ. The ranker must look past the devices.',
    truth: 'right pleural effusion',
    truthB: 'no pleural effusion',
    difficulty: 'medium',
    a: {
      label: 'ICU cohort with effusions',
      findings: [
        { spec: { name: 'effusion', side: 'right', size: 'large' }, prevalence: 0.75 },
        { spec: { name: 'cvc', side: 'right' }, prevalence: 0.7 },
        { spec: { name: 'pacemaker' }, prevalence: 0.4 },
      ],
    },
    b: {
      label: 'ICU cohort without effusions',
      findings: [
        { spec: { name: 'effusion', side: 'right', size: 'large' }, prevalence: 0.1 },
        { spec: { name: 'cvc', side: 'right' }, prevalence: 0.7 },
        { spec: { name: 'pacemaker' }, prevalence: 0.4 },
      ],
    },
    n: 40,
    seed: 505,
  },
];

/** The demo with this id, or undefined. */
export function findDemo(id: string): DemoComparison | undefined {
  return DEMOS.find((d) => d.id === id);
}
