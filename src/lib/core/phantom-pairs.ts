// The phantom benchmark's pairs file (benchmarks/phantom-pairs.json; format in benchmarks/README.md): zod schema,
// parsing with readable errors (unknown finding names list the phantom generator's vocabulary, duplicate ids and
// seed offsets, prevalences outside [0, 1], pairs with nothing to find), and the cohort specs of a pair for a seed.
// Pure: imports only core.

import { z } from 'zod';
import { DIFFICULTY_LEVELS, type Difficulty } from './evaluator.ts';
import { FINDINGS, type FindingSpec } from './phantom/index.ts';

/** Images per set a pair may ask for. */
export const PAIR_N_RANGE = { min: 4, max: 2000 } as const;

const findingEntrySchema = z.strictObject({
  name: z.string().min(1),
  side: z.enum(['left', 'right']).optional(),
  size: z.enum(['small', 'large']).optional(),
  zone: z.enum(['upper', 'middle', 'lower']).optional(),
  severity: z.number().min(0).max(1).optional(),
  prevalence: z.number().min(0, 'prevalence must be in [0, 1]').max(1, 'prevalence must be in [0, 1]'),
});

const pairSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'id must be lower-case letters, digits and dashes'),
  difficulty: z.enum(DIFFICULTY_LEVELS),
  truthA: z.string().trim().min(1),
  truthB: z.string().trim().min(1),
  n: z.number().int().min(PAIR_N_RANGE.min).max(PAIR_N_RANGE.max),
  seedOffset: z.number().int().min(0).max(1e9),
  a: z.array(findingEntrySchema),
  b: z.array(findingEntrySchema),
  both: z.array(findingEntrySchema).optional(),
  notes: z.string().optional(),
});

const fileSchema = z.strictObject({
  schemaVersion: z.literal(1),
  description: z.string().optional(),
  pairs: z.array(pairSchema).min(1, 'the file needs at least one pair'),
});

/** One finding of a cohort and the fraction of its images that have it. */
export interface CohortFinding {
  spec: FindingSpec;
  prevalence: number;
}

/** A validated benchmark pair: the ground-truth phrases and the cohort recipes of sets A and B. */
export interface PhantomPair {
  id: string;
  difficulty: Difficulty;
  /** What set A has more of, in words (the judge's ground truth). */
  truthA: string;
  /** What set B is like instead. */
  truthB: string;
  /** Images per set. */
  n: number;
  /** Added to the run seed for this pair's cohorts; unique within a file. */
  seedOffset: number;
  /** Findings of set A, including the `both` confounders. */
  a: CohortFinding[];
  /** Findings of set B, including the `both` confounders. */
  b: CohortFinding[];
  notes?: string;
}

/** A parsed pairs file. */
export interface PhantomPairsFile {
  description?: string;
  pairs: PhantomPair[];
}

/** What `generateCohort` takes for one set of one pair. */
export interface CohortSpec {
  n: number;
  seed: number;
  size?: number;
  findings: CohortFinding[];
}

type FindingEntry = z.infer<typeof findingEntrySchema>;

function toCohortFinding(entry: FindingEntry): CohortFinding {
  const { prevalence, name, ...rest } = entry;
  return { spec: { name: name as FindingSpec['name'], ...rest }, prevalence };
}

/** Canonical key of a finding spec (same finding, same options) for comparing A with B. */
function specKey(spec: FindingSpec): string {
  return JSON.stringify([spec.name, spec.side ?? '', spec.size ?? '', spec.zone ?? '', spec.severity ?? '']);
}

function pathText(path: readonly PropertyKey[], pairs: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    if (typeof key === 'number') out += `[${key}]`;
    else out += (out === '' ? '' : '.') + String(key);
    if (i === 1 && path[0] === 'pairs' && typeof key === 'number') {
      const id = (pairs[key] as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string') out += ` (id "${id}")`;
    }
  }
  return out === '' ? '(root)' : out;
}

/**
 * Parses and validates a pairs file (JSON text). Throws one Error listing every problem, one per line, each with
 * its path (`pairs[3] (id "x").a[0].name: …`): invalid JSON, schema violations, unknown finding names (the message
 * lists the generator's findings), duplicate ids or seed offsets, a finding listed twice in one set, and pairs in
 * which no finding is more prevalent in A than in B.
 */
export function parsePhantomPairs(jsonText: string): PhantomPairsFile {
  let json: unknown;
  try {
    json = JSON.parse(jsonText);
  } catch (error) {
    throw new Error(`pairs file is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const rawPairs = (json as { pairs?: unknown } | null)?.pairs;
  const pairsForPaths = Array.isArray(rawPairs) ? rawPairs : [];
  const result = fileSchema.safeParse(json);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${pathText(i.path, pairsForPaths)}: ${i.message}`);
    throw new Error(`pairs file is invalid:\n${lines.join('\n')}`);
  }
  const known = FINDINGS.map((f) => f.name as string);
  const problems: string[] = [];
  const ids = new Map<string, number>();
  const offsets = new Map<number, string>();
  const pairs: PhantomPair[] = result.data.pairs.map((raw, p) => {
    const where = `pairs[${p}] (id "${raw.id}")`;
    const firstId = ids.get(raw.id);
    if (firstId !== undefined) problems.push(`${where}.id: duplicate id (also pairs[${firstId}])`);
    else ids.set(raw.id, p);
    const sameOffset = offsets.get(raw.seedOffset);
    if (sameOffset !== undefined) {
      problems.push(`${where}.seedOffset: ${raw.seedOffset} is already used by "${sameOffset}"`);
    } else offsets.set(raw.seedOffset, raw.id);
    for (const set of ['a', 'b', 'both'] as const) {
      (raw[set] ?? []).forEach((entry, i) => {
        const info = FINDINGS.find((f) => f.name === entry.name);
        if (info === undefined) {
          problems.push(
            `${where}.${set}[${i}].name: unknown finding "${entry.name}" (known: ${known.join(', ')})`,
          );
          return;
        }
        for (const option of ['side', 'size', 'zone'] as const) {
          const value = entry[option];
          if (value === undefined) continue;
          const allowed = info.options[option] as readonly string[] | undefined;
          if (allowed === undefined || !allowed.includes(value)) {
            const accepted = Object.keys(info.options);
            problems.push(
              `${where}.${set}[${i}].${option}: ${entry.name} takes no ${option}${allowed ? ` "${value}"` : ''} (its options: ${[...accepted, 'severity'].join(', ')})`,
            );
          }
        }
      });
    }
    const both = (raw.both ?? []).map(toCohortFinding);
    const a = [...raw.a.map(toCohortFinding), ...both];
    const b = [...raw.b.map(toCohortFinding), ...both];
    for (const [set, findings] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const seen = new Set<string>();
      for (const f of findings) {
        const key = specKey(f.spec);
        if (seen.has(key)) {
          problems.push(`${where}.${set}: finding ${key} is listed twice (with "both" included)`);
        }
        seen.add(key);
      }
    }
    const prevalenceB = new Map(b.map((f) => [specKey(f.spec), f.prevalence]));
    if (!a.some((f) => f.prevalence > (prevalenceB.get(specKey(f.spec)) ?? 0))) {
      problems.push(
        `${where}: no finding is more prevalent in A than in B, so there is no difference to find`,
      );
    }
    const pair: PhantomPair = {
      id: raw.id,
      difficulty: raw.difficulty,
      truthA: raw.truthA.trim(),
      truthB: raw.truthB.trim(),
      n: raw.n,
      seedOffset: raw.seedOffset,
      a,
      b,
    };
    if (raw.notes !== undefined) pair.notes = raw.notes;
    return pair;
  });
  if (problems.length > 0) throw new Error(`pairs file is invalid:\n${problems.join('\n')}`);
  const file: PhantomPairsFile = { pairs };
  if (result.data.description !== undefined) file.description = result.data.description;
  return file;
}

/**
 * The cohort specs of a pair for a run seed: set A uses seed 2·(seed + seedOffset), set B that plus 1, so the two
 * sets never share a random stream and seed offsets spaced ≥ the largest run seed keep pairs apart.
 */
export function pairCohorts(
  pair: PhantomPair,
  seed: number,
  options: { size?: number; n?: number } = {},
): { a: CohortSpec; b: CohortSpec } {
  const base = 2 * (seed + pair.seedOffset);
  if (!Number.isSafeInteger(base + 1)) throw new Error(`seed ${seed} + seedOffset is too large`);
  const n = options.n ?? pair.n;
  const size = options.size === undefined ? {} : { size: options.size };
  return {
    a: { n, seed: base, ...size, findings: pair.a },
    b: { n, seed: base + 1, ...size, findings: pair.b },
  };
}
