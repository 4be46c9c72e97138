// `npm run phantom -- --out DIR --n N --seed S [--size PX] [--finding NAME[:opt=v,...] [--prevalence P]]...`:
// writes a cohort of chest radiograph phantoms (src/lib/core/phantom) as DIR/phantom-00001.png…, DIR/labels.json
// and DIR/reports.csv; `--list` prints the known findings. Bad arguments: a message, the usage, exit code 2.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encode } from 'fast-png';
import {
  FINDINGS,
  DEFAULT_SIZE,
  describeFinding,
  generateCohort,
  optionHelp,
  parseFindingArg,
  type FindingSpec,
  type PhantomLabels,
} from '../src/lib/core/phantom/index.ts';

export const USAGE = `usage: npm run phantom -- --out DIR --n N --seed S [--size PX]
                        [--finding NAME[:option=value,...] [--prevalence P]]...
       npm run phantom -- --list

  --out DIR         output folder (created if missing)
  --n N             number of images
  --seed S          integer seed; the same arguments always give the same bytes
  --size PX         image side in pixels (default ${DEFAULT_SIZE})
  --finding SPEC    a finding, e.g. effusion:side=left,size=large or nodule:zone=upper,severity=0.4;
                    options left out are drawn per image (and recorded in labels.json)
  --prevalence P    fraction of images with the preceding finding (default 1): exactly round(P·N) images,
                    chosen by a seeded shuffle
  --list            print the known findings and their options`;

/** A usage error: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliArgs {
  out: string;
  n: number;
  seed: number;
  size: number;
  findings: { spec: FindingSpec; prevalence: number; arg: string }[];
}

function integer(flag: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag} needs an integer in [${min}, ${max}], got ${value === undefined ? 'nothing' : `"${value}"`}`,
    );
  }
  return n;
}

/** Parses the command line (without `node script`). Returns 'list' for --list, 'help' for --help. */
export function parseArgs(argv: string[]): CliArgs | 'list' | 'help' {
  const tokens: string[] = [];
  for (const a of argv) {
    // Accept --flag=value as well as --flag value (a finding spec itself contains '=' after a ':').
    const m = /^(--[a-z-]+)=(.*)$/.exec(a);
    if (m) tokens.push(m[1]!, m[2]!);
    else tokens.push(a);
  }
  let out: string | undefined;
  let n: number | undefined;
  let seed: number | undefined;
  let size = DEFAULT_SIZE;
  const findings: CliArgs['findings'] = [];
  let lastHadPrevalence = true;
  for (let k = 0; k < tokens.length; k++) {
    const flag = tokens[k]!;
    const value = () => {
      const v = tokens[k + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2))
        throw new UsageError(`${flag} needs a value`);
      k++;
      return v;
    };
    switch (flag) {
      case '--list':
        return 'list';
      case '--help':
      case '-h':
        return 'help';
      case '--out':
        out = value();
        break;
      case '--n':
        n = integer('--n', value(), 0, 10_000_000);
        break;
      case '--seed':
        seed = integer('--seed', value(), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        break;
      case '--size':
        size = integer('--size', value(), 32, 4096);
        break;
      case '--finding': {
        const arg = value();
        let spec: FindingSpec;
        try {
          spec = parseFindingArg(arg);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        findings.push({ spec, prevalence: 1, arg });
        lastHadPrevalence = false;
        break;
      }
      case '--prevalence': {
        const raw = value();
        const p = Number(raw);
        if (raw.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
          throw new UsageError(`--prevalence needs a number in [0, 1], got "${raw}"`);
        }
        const last = findings[findings.length - 1];
        if (!last || lastHadPrevalence) throw new UsageError('--prevalence must follow a --finding');
        last.prevalence = p;
        lastHadPrevalence = true;
        break;
      }
      default:
        throw new UsageError(`unknown argument "${flag}"`);
    }
  }
  if (out === undefined) throw new UsageError('--out is required');
  if (n === undefined) throw new UsageError('--n is required');
  if (seed === undefined) throw new UsageError('--seed is required');
  return { out, n, seed, size, findings };
}

/** The `--list` text: each finding with its label, options and description. */
export function listFindings(): string {
  const lines = ['Known findings (side = PATIENT side: patient right is on the image left):', ''];
  for (const f of FINDINGS) {
    lines.push(`  ${f.name.padEnd(17)} ${f.label}`);
    lines.push(`  ${''.padEnd(17)} ${optionHelp(f)}`);
    lines.push(`  ${''.padEnd(17)} ${f.description}`);
  }
  return lines.join('\n');
}

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes the cohort described by `args`; returns a one-paragraph summary. */
export function writeCohort(args: CliArgs): string {
  const started = performance.now();
  const dir = resolve(args.out);
  mkdirSync(dir, { recursive: true });
  const labels: Record<string, PhantomLabels | object> = {
    parameters: {
      n: args.n,
      seed: args.seed,
      size: args.size,
      findings: args.findings.map((f) => ({
        arg: f.arg,
        spec: f.spec,
        phrase: describeFinding(f.spec),
        prevalence: f.prevalence,
        count: Math.round(f.prevalence * args.n),
      })),
      command: `npm run phantom -- ${process.argv.slice(2).join(' ')}`.trim(),
    },
  };
  const csv = ['file,report'];
  const counts = new Map<string, number>();
  for (const { name, phantom } of generateCohort({
    n: args.n,
    seed: args.seed,
    size: args.size,
    findings: args.findings.map(({ spec, prevalence }) => ({ spec, prevalence })),
  })) {
    const png = encode({
      width: phantom.size,
      height: phantom.size,
      data: phantom.pixels,
      channels: 1,
      depth: 8,
    });
    writeFileSync(join(dir, name), png);
    labels[name] = phantom.labels;
    csv.push(`${csvField(name)},${csvField(phantom.report)}`);
    for (const f of phantom.labels.findings) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
  }
  writeFileSync(join(dir, 'labels.json'), `${JSON.stringify(labels, null, 1)}\n`);
  writeFileSync(join(dir, 'reports.csv'), `${csv.join('\n')}\n`);
  const seconds = (performance.now() - started) / 1000;
  const perFinding = [...counts].map(([name, k]) => `${name} ${k}`).join(', ') || 'none';
  return (
    `wrote ${args.n} phantoms (${args.size} px, seed ${args.seed}) to ${dir} in ${seconds.toFixed(1)} s ` +
    `(${(args.n / Math.max(seconds, 1e-9)).toFixed(1)}/s); images with each finding: ${perFinding}; ` +
    `labels.json, reports.csv`
  );
}

/** Runs the command line; returns the exit code. */
export function main(argv: string[]): number {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`phantom: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (args === 'list') {
    console.log(listFindings());
    return 0;
  }
  console.log(writeCohort(args));
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
