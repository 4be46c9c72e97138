// Public API of the chest radiograph phantom generator: the findings catalogue, single phantoms, lazy cohorts
// and reports. Pure TypeScript (no DOM, no Node APIs): runs in Node, browsers and workers.
export {
  FINDINGS,
  describeFinding,
  findingInfo,
  optionHelp,
  parseFindingArg,
  type FindingInfo,
  type FindingName,
  type FindingSpec,
  type Side,
  type Zone,
} from './findings.ts';
export {
  DEFAULT_NUISANCE,
  DEFAULT_SIZE,
  MM_PER_UNIT,
  cohortAssignment,
  generateCohort,
  generatePhantom,
  phantomFileName,
  resolveFindings,
  type CohortSpec,
  type NuisanceRanges,
  type Phantom,
  type PhantomLabels,
  type PhantomOptions,
} from './generate.ts';
export type { PhantomMeasurements } from './render.ts';
export { writeReport } from './report.ts';
