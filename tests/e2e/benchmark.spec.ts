// Benchmark import and a small resumable batch on the built app: the shared RadDiffBench files import as 57 pairs
// (none resolvable without MIMIC-CXR images), a malformed line is named, and a two-pair RadDiffBench-format file
// over generated phantoms runs end to end — one pair done and judged, one skipped for missing images — and a second
// run resumes from the records saved in IndexedDB.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';
import { generateCohort } from '../../src/lib/core/phantom/index.ts';
import { expect, test } from './fixtures.ts';

const shared = (name: string) => fileURLToPath(new URL(`../../../shared/data/${name}`, import.meta.url));

test('imports RadDiffBench from the shared reference files and names a malformed line', async ({
  page,
  network,
}) => {
  void network;
  await page.goto('/');
  await page
    .getByTestId('benchmark-input')
    .setInputFiles([shared('RadDiffBench.jsonl'), shared('RadDiffBenchDifficulty.csv')]);
  await expect(page.getByTestId('benchmark-name')).toContainText('RadDiffBench (57 pairs)');
  await expect(page.getByTestId('benchmark-name')).toContainText('0 of 57 pairs ready');
  await expect(page.getByTestId('benchmark-pair')).toHaveCount(57);

  const broken =
    '{"set1": "a ", "set2": "b ", "set1_images": ["x.jpg"], "set2_images": ["y.jpg"]}\n{not json\n';
  await page
    .getByTestId('benchmark-input')
    .setInputFiles([{ name: 'broken.jsonl', mimeType: 'application/json', buffer: Buffer.from(broken) }]);
  await expect(page.getByTestId('benchmark-error')).toContainText('line 2');
});

test('runs a benchmark over a chosen image folder, skips a pair with missing images, and resumes', async ({
  page,
  network,
}, testInfo) => {
  test.skip(testInfo.project.name === 'webgpu', 'software WebGPU is too slow for phantom-clip');
  void network;
  const root = mkdtempSync(join(tmpdir(), 'raddiff-bench-'));
  const files = join(root, 'mimic', 'files');
  const write = (folder: string, spec: Parameters<typeof generateCohort>[0]) => {
    mkdirSync(join(files, folder), { recursive: true });
    const names: string[] = [];
    for (const { name, phantom } of generateCohort(spec)) {
      const png = encode({
        width: phantom.size,
        height: phantom.size,
        data: phantom.pixels,
        channels: 1,
        depth: 8,
      });
      writeFileSync(join(files, folder, name), png);
      names.push(`${folder}/${name}`);
    }
    return names;
  };
  const effusion = write('p10/a', {
    n: 16,
    seed: 1,
    size: 256,
    findings: [{ spec: { name: 'effusion', side: 'left', size: 'large' }, prevalence: 0.9 }],
  });
  const normal = write('p10/b', { n: 16, seed: 2, size: 256, findings: [] });
  const lines = [
    {
      set1: 'large left pleural effusion ',
      set2: 'no pleural effusion ',
      set1_images: effusion,
      set2_images: normal,
    },
    {
      set1: 'cardiomegaly ',
      set2: 'normal heart size ',
      set1_images: ['p99/missing-1.jpg'],
      set2_images: normal,
    },
  ];
  const jsonl = lines.map((l) => JSON.stringify(l)).join('\n');

  await page.goto('/?ranker=phantom-clip');
  await page
    .getByTestId('benchmark-input')
    .setInputFiles([{ name: 'mini.jsonl', mimeType: 'application/json', buffer: Buffer.from(jsonl) }]);
  await expect(page.getByTestId('benchmark-name')).toContainText('(2 pairs)');
  await page.getByTestId('benchmark-root-input').setInputFiles(join(root, 'mimic'));
  await expect(page.getByTestId('benchmark-name')).toContainText('1 of 2 pairs ready');
  await page.getByTestId('benchmark-run').click();
  await expect(page.getByTestId('benchmark-summary')).toBeVisible({ timeout: 120_000 });
  const pairs = page.getByTestId('benchmark-pair');
  await expect(pairs.nth(0)).toHaveAttribute('data-status', 'done');
  await expect(pairs.nth(0)).toContainText('acc@1 1');
  await expect(pairs.nth(1)).toHaveAttribute('data-status', 'skipped');
  await expect(pairs.nth(0)).toHaveAttribute('data-resumed', 'false');

  // Resume: a second run reuses the saved record instead of ranking again.
  await page.reload();
  await page
    .getByTestId('benchmark-input')
    .setInputFiles([{ name: 'mini.jsonl', mimeType: 'application/json', buffer: Buffer.from(jsonl) }]);
  await page.getByTestId('benchmark-root-input').setInputFiles(join(root, 'mimic'));
  await page.getByTestId('benchmark-run').click();
  await expect(page.getByTestId('benchmark-summary')).toBeVisible();
  await expect(page.getByTestId('benchmark-pair').nth(0)).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('benchmark-pair').nth(0)).toHaveAttribute('data-resumed', 'true');
});
