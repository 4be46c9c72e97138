// Entry point of `npm run gen:models`: writes the generated test models (public/models/test-clip and
// public/models/test-siglip). Deterministic and idempotent (unchanged files are not rewritten); also exported as
// generateTestModels() so tests can build the models from a clean clone.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { clipFolder } from './clip.ts';
import { siglipFolder } from './siglip.ts';
import { writeFolder, type WriteReport } from './folder.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MODELS_DIR = join(REPO_ROOT, 'public', 'models');
export const TEST_MODELS = { 'test-clip': clipFolder, 'test-siglip': siglipFolder } as const;
export type TestModelId = keyof typeof TEST_MODELS;

export function generateTestModels(
  modelsDir: string = MODELS_DIR,
  ids: TestModelId[] = Object.keys(TEST_MODELS) as TestModelId[],
): WriteReport[] {
  return ids.map((id) => writeFolder(join(modelsDir, id), TEST_MODELS[id]()));
}

function main(): void {
  const started = performance.now();
  for (const report of generateTestModels()) {
    const where = relative(process.cwd(), report.dir) || '.';
    console.log(
      `gen:models ${where}: ${report.written.length} written, ${report.unchanged.length} unchanged, ` +
        `${report.removed.length} removed (${(report.bytes / 1024).toFixed(0)} KiB)`,
    );
    for (const name of report.written) console.log(`  wrote   ${name}`);
    for (const name of report.removed) console.log(`  removed ${name}`);
  }
  console.log(`gen:models done in ${(performance.now() - started).toFixed(0)} ms`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
