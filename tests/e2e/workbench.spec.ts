// The evidence workbench on the built app, offline: run the first demo, open the evidence panel of a finding (charts,
// top images, the large viewer), edit a finding (re-ranked from cached embeddings), export JSON, CSV and HTML,
// re-import the JSON in a fresh page (the view is restored, the images marked missing), and check the main screens
// with axe-core (no serious or critical violations). Screenshots of each main screen are saved as test artifacts.
// WASM project only: SwiftShader runs phantom-clip's convolutions for minutes.
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import type { Page, TestInfo } from '@playwright/test';
import { expect, test } from './fixtures.ts';

async function axeCheck(page: Page, testInfo: TestInfo, screen: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  await testInfo.attach(`axe-${screen}.json`, {
    body: JSON.stringify(results.violations, null, 1),
    contentType: 'application/json',
  });
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length} × e.g. ${v.nodes[0]?.target.join(' ')})`),
    `serious accessibility violations on ${screen}`,
  ).toEqual([]);
}

async function download(page: Page, testId: string, testInfo: TestInfo): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = testInfo.outputPath(file.suggestedFilename());
  await file.saveAs(path);
  return path;
}

test('demo → evidence panel → edit → export JSON/CSV/HTML → re-import; accessible screens', async ({
  page,
  network,
  pageErrors,
}, testInfo) => {
  test.skip(testInfo.project.name === 'webgpu', 'software WebGPU is too slow for the demo model');
  void network;
  void pageErrors;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/');
  await page.screenshot({ path: testInfo.outputPath('1-landing.png'), fullPage: true });
  // Usable on a 13-inch laptop: nothing widens the page beyond the window.
  const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);
  expect(await pageWidth()).toBeLessThanOrEqual(1280);
  await axeCheck(page, testInfo, 'landing');

  await page.getByTestId('demo-start').click();
  await expect(page.getByTestId('run-status')).toHaveText('done', { timeout: 180_000 });

  // The ranking opens in the workbench; the top finding is selected and its evidence drawn.
  const rows = page.getByTestId('workbench-row');
  await expect(rows.first()).toBeVisible({ timeout: 60_000 });
  const top = (await rows.first().getAttribute('data-finding')) as string;
  expect(top).toMatch(/effusion/);
  const panel = page.getByTestId('evidence-panel');
  await expect(panel).toContainText(top);
  await expect(panel.locator('svg').first()).toBeVisible({ timeout: 30_000 });
  await expect(panel.locator('img').first()).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('2-workbench.png'), fullPage: true });
  expect(await pageWidth()).toBeLessThanOrEqual(1280);

  // Another finding: its evidence replaces the first.
  const second = (await rows.nth(1).getAttribute('data-finding')) as string;
  await rows.nth(1).click();
  await expect(panel).toContainText(second);

  // The large view with window/level opens from a thumbnail and closes with Escape.
  await panel.locator('img').first().click();
  await expect(page.getByTestId('image-viewer')).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('3-viewer.png') });
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('image-viewer')).toBeHidden();

  // Edit a finding: re-ranked at once from cached embeddings, the new text in the table.
  const edited = 'huge left pleural effusion';
  const row = page.locator(`[data-testid="workbench-row"][data-finding="${second}"]`);
  await row.getByTestId('finding-edit').click();
  const input = page.getByTestId('finding-edit-input');
  await input.fill(edited);
  await input.press('Enter');
  await expect(page.locator(`[data-testid="workbench-row"][data-finding="${edited}"]`)).toBeVisible();

  await axeCheck(page, testInfo, 'workbench');

  // Exports: a re-importable record, a CSV table, a self-contained HTML report.
  const jsonPath = await download(page, 'export-json', testInfo);
  const record = JSON.parse(readFileSync(jsonPath, 'utf8'));
  expect(record.schemaVersion).toBe(1);
  expect(record.ranking.map((f: { finding: string }) => f.finding)).toContain(edited);
  expect(record.edits[0]).toMatchObject({ action: 'edit', from: second, to: edited });
  const csv = readFileSync(await download(page, 'export-csv', testInfo), 'utf8');
  expect(csv.split('\n')[0]).toMatch(/^rank,finding,auroc/);
  expect(csv).toContain(edited);
  const html = readFileSync(await download(page, 'export-html', testInfo), 'utf8');
  expect(html).toContain('<svg');
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toContain('<script');

  // A fresh page (no images loaded): importing the record restores the table, images marked missing.
  await page.goto('/');
  await page.getByTestId('import-run').setInputFiles(jsonPath);
  await expect(page.locator(`[data-testid="workbench-row"][data-finding="${edited}"]`)).toBeVisible();
  await expect(page.getByTestId('workbench-row')).toHaveCount(record.ranking.length);
  await expect(page.getByTestId('evidence-panel')).toContainText(/not loaded/i);
  await page.screenshot({ path: testInfo.outputPath('4-imported.png'), fullPage: true });

  // The run history lists the run.
  await page.getByText('Run history and storage').click();
  await expect(page.getByTestId('history-row').first()).toBeVisible();
  await axeCheck(page, testInfo, 'history');

  // A foreign JSON file is refused with a clear message; the open record stays.
  await page.getByTestId('import-run').setInputFiles({
    name: 'other.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"hello": "world"}'),
  });
  await expect(page.getByText(/not a raddiff-web/i)).toBeVisible();
  await expect(page.locator(`[data-testid="workbench-row"][data-finding="${edited}"]`)).toBeVisible();
});
