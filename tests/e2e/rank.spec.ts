// The foundation's end-to-end check on the built app, network blocked except 127.0.0.1: two generated image sets
// with a known difference (A brighter in the image-left lower zone = "right lower opacity" for test-clip), three
// findings, the right one first with AUROC > 0.9; then a reload and a second ranking that runs no image forward pass.
// Runs in two projects: WebGPU (Chromium's software adapter) and WebGPU disabled (WASM fallback).
import type { Page } from '@playwright/test';
import { makeE2eTree, type FixtureFile } from '../fixtures/make-images.ts';
import { expect, test } from './fixtures.ts';

const tree = makeE2eTree();
// The fixture's WebP is a valid image; the rest of `bad` must all be refused with a reason.
const badFiles = tree.bad.filter((f) => !f.name.endsWith('.webp'));
const FINDINGS = ['left upper opacity', 'right lower opacity', 'dark lungs'];

function payload(files: FixtureFile[]) {
  return files.map((f) => ({
    name: f.name,
    mimeType: f.name.endsWith('.png') ? 'image/png' : f.name.endsWith('.webp') ? 'image/webp' : 'image/jpeg',
    buffer: Buffer.from(f.bytes),
  }));
}

async function loadSets(page: Page, extraA: FixtureFile[] = []) {
  await page.getByTestId('set-a-input').setInputFiles(payload([...tree.A, ...extraA]));
  await page.getByTestId('set-b-input').setInputFiles(payload(tree.B));
  await expect(page.getByTestId('set-a-count')).toHaveText('12 images');
  await expect(page.getByTestId('set-b-count')).toHaveText('12 images');
}

async function rank(page: Page) {
  await page.getByTestId('findings-input').fill(FINDINGS.join('\n'));
  await page.getByTestId('rank-button').click();
  await expect(page.getByTestId('run-status')).toHaveText('done', { timeout: 180_000 });
  const rows = page.getByTestId('findings-row');
  await expect(rows).toHaveCount(3);
  return rows;
}

test('ranks the known difference first, and re-ranks after a reload with no image forward pass', async ({
  page,
  network,
  pageErrors,
}, testInfo) => {
  void network;
  void pageErrors;
  await page.goto('/?ranker=test-clip');
  await expect(page.getByTestId('model-select')).toHaveValue('test-clip');
  await loadSets(page, badFiles);

  // Every bad file is listed with a reason; the good ones proceed.
  const skipped = page.getByTestId('set-a-skipped');
  await expect(skipped).toContainText('empty.png');
  await expect(skipped).toContainText('not-an-image.png');
  await expect(skipped).toContainText('huge-12000x12000.png');
  await expect(skipped).toContainText('truncated.png');
  await expect(skipped).toContainText('truncated.jpg');

  const rows = await rank(page);
  await expect(rows.first()).toHaveAttribute('data-finding', 'right lower opacity');
  const auroc = Number(await rows.first().getAttribute('data-auroc'));
  expect(auroc).toBeGreaterThan(0.9);
  const stats = page.getByTestId('embed-stats');
  // Files whose structure is intact but whose data is corrupt fail at decode and are left out, never fatal.
  await expect(stats).toHaveAttribute('data-computed', '24');
  await expect(skipped).toContainText('corrupt.jpg');
  await expect(page.getByTestId('set-a-skipped').locator('li')).toHaveCount(badFiles.length);
  // The WebGPU project must really run on WebGPU; the other must have fallen back to WASM.
  await expect(page.getByTestId('model-backend')).toHaveAttribute(
    'data-device',
    testInfo.project.name === 'webgpu' ? 'webgpu' : 'wasm',
  );
  await page.screenshot({ path: testInfo.outputPath('ranked.png'), fullPage: true });

  await page.reload();
  await expect(page.getByTestId('model-select')).toHaveValue('test-clip');
  await loadSets(page);
  await rank(page);
  await expect(page.getByTestId('findings-row').first()).toHaveAttribute(
    'data-finding',
    'right lower opacity',
  );
  await expect(stats).toHaveAttribute('data-computed', '0');
  await expect(stats).toHaveAttribute('data-cached', '24');
});

test('re-ranking new findings on embedded sets is immediate and needs no forward pass', async ({
  page,
  network,
}) => {
  void network;
  await page.goto('/?ranker=test-clip');
  await loadSets(page);
  await rank(page);
  await page.getByTestId('findings-input').fill('right lower opacity\nleft lower opacity\nbright');
  await page.getByTestId('rank-button').click();
  await expect(page.getByTestId('run-status')).toHaveText('done');
  await expect(page.getByTestId('findings-row')).toHaveCount(3);
  await expect(page.getByTestId('embed-stats')).toHaveAttribute('data-computed', '0');
});
