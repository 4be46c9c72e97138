// The configuration of one RadDiff run (every parameter of METHOD.md §2), its presets, and its validation. The
// config is stored verbatim in the run record, so a record names everything needed to replay the run. Pure.

import { z } from 'zod';

/** Which proposer produces findings in each round. */
export const PROPOSERS = [
  'raddiff',
  'caption-only',
  'report-guided',
  'concept-bank',
  'report-mining',
  'user',
] as const;
export type ProposerKind = (typeof PROPOSERS)[number];

export const PRESETS = ['quick', 'raddiff', 'report-guided', 'custom'] as const;
export type PresetName = (typeof PRESETS)[number];

const finiteInt = (min: number, max: number) => z.number().int().min(min).max(max);

/** Schema of {@link DiffConfig}; unknown keys are rejected so a typo in `--config` is an error, not a no-op. */
export const DIFF_CONFIG_SCHEMA = z
  .object({
    preset: z.enum(PRESETS),
    proposer: z.enum(PROPOSERS),
    /** Outer refinement loop (METHOD.md §2: 2). */
    iterations: finiteInt(1, 10),
    /** Proposal rounds per iteration, each on a fresh sample (3). */
    rounds: finiteInt(1, 20),
    /** Images drawn per set per round, without replacement (20). */
    samplesPerSet: finiteInt(1, 100),
    /** Findings the proposer is asked for per round. */
    findingsMin: finiteInt(1, 50),
    findingsMax: finiteInt(1, 50),
    /** Findings (with AUROC) fed back to the next iteration; also the number of zoom boxes (5). */
    topK: finiteInt(1, 20),
    /** Most images ranked per set (5000). */
    rankerCap: finiteInt(2, 1_000_000),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** LLM sampling temperature, recorded and part of the reply cache key. */
    temperature: z.number().min(0).max(2),
    /** Text-embedding cosine above which two findings are merged (0.9). */
    dedupThreshold: z.number().min(0).max(1),
    /** Iterations ≥ 2 choose boxes and zoom (targeted visual search). */
    visualSearch: z.boolean(),
    /** Report AUROC on the images the proposer never saw, too. */
    heldOut: z.boolean(),
    /** For findings with a box, also rank on every image cropped to that box. */
    localizedRanking: z.boolean(),
    /** Ranker classification threshold τ (0.3). */
    threshold: z.number(),
    /** Attempts per model call before a round is recorded as failed. */
    maxAttempts: finiteInt(1, 10),
    /** First retry wait; doubles per attempt. */
    retryBackoffMs: finiteInt(0, 60_000),
    /** Deadline of one LLM call (ms); 0 = none. */
    callTimeoutMs: finiteInt(0, 3_600_000),
    /** Tokens the captioner may generate per image. */
    captionMaxTokens: finiteInt(8, 2048),
    /** Tokens the proposer may generate per reply. */
    proposalMaxTokens: finiteInt(64, 8192),
    /** Report-guided: summarize reports longer than this many characters first (0 = never). */
    summarizeReportsOver: finiteInt(0, 100_000),
    /** Show the full-image grids together with the crop grids in refinement (the reference sends crops only). */
    keepFullGridsInRefinement: z.boolean(),
    /** Findings typed by the user; ranked in every iteration's pool (proposer `user` uses only these). */
    userFindings: z.array(z.string()),
  })
  .strict()
  .refine((c) => c.findingsMin <= c.findingsMax, { message: 'findingsMin must not exceed findingsMax' });

export type DiffConfig = z.infer<typeof DIFF_CONFIG_SCHEMA>;

/** The RadDiff defaults of METHOD.md §2 with our fixes switched on. */
export const RADDIFF_DEFAULTS: DiffConfig = {
  preset: 'raddiff',
  proposer: 'raddiff',
  iterations: 2,
  rounds: 3,
  samplesPerSet: 20,
  findingsMin: 5,
  findingsMax: 10,
  topK: 5,
  rankerCap: 5000,
  seed: 0,
  temperature: 0.7,
  dedupThreshold: 0.9,
  visualSearch: true,
  heldOut: true,
  localizedRanking: true,
  threshold: 0.3,
  maxAttempts: 3,
  retryBackoffMs: 500,
  callTimeoutMs: 180_000,
  captionMaxTokens: 160,
  proposalMaxTokens: 1024,
  summarizeReportsOver: 0,
  keepFullGridsInRefinement: true,
  userFindings: [],
};

/** Preset → config. `custom` starts from the RadDiff defaults and is then edited field by field. */
export function presetConfig(preset: PresetName): DiffConfig {
  switch (preset) {
    case 'quick':
      // Concept bank + ranker only: no captioner, no LLM, one pass.
      return {
        ...RADDIFF_DEFAULTS,
        preset,
        proposer: 'concept-bank',
        iterations: 1,
        rounds: 1,
        visualSearch: false,
        localizedRanking: false,
      };
    case 'report-guided':
      return { ...RADDIFF_DEFAULTS, preset, proposer: 'report-guided' };
    case 'raddiff':
    case 'custom':
      return { ...RADDIFF_DEFAULTS, preset };
  }
}

/** Validates a (partial) user config on top of a preset; returns readable problems instead of throwing. */
export function parseDiffConfig(
  value: unknown,
): { ok: true; config: DiffConfig } | { ok: false; problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problems: ['config must be a JSON object'] };
  }
  const raw = value as Record<string, unknown>;
  const preset = (raw['preset'] ?? 'raddiff') as PresetName;
  if (!PRESETS.includes(preset)) {
    return {
      ok: false,
      problems: [`preset must be one of ${PRESETS.join(', ')}, got ${JSON.stringify(preset)}`],
    };
  }
  const merged = { ...presetConfig(preset), ...raw };
  const result = DIFF_CONFIG_SCHEMA.safeParse(merged);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`),
  };
}

/** Which ports a proposer needs; the UI and the headless runner check this before starting. */
export function requiredPorts(config: DiffConfig): { captioner: boolean; llm: boolean; vision: boolean } {
  switch (config.proposer) {
    case 'raddiff':
      return { captioner: true, llm: true, vision: true };
    case 'caption-only':
      return { captioner: true, llm: true, vision: false };
    case 'report-guided':
      return { captioner: false, llm: true, vision: true };
    case 'concept-bank':
    case 'report-mining':
    case 'user':
      return { captioner: false, llm: false, vision: false };
  }
}
