// The built-in demo, offline: one click generates two phantom cohorts, embeds them with the phantom CLIP on WASM
// or WebGPU, proposes from the concept bank and ranks. Asserts the known finding is ranked first and measures the
// time from click to ranked findings (target ≤ 60 s on this machine; reported, not asserted as a timing test).
import { expect, test } from './fixtures.ts';

test('one click runs the first demo offline and ranks the known difference first', async ({
  page,
  network,
  pageErrors,
}, testInfo) => {
  // The demo target is Chromium on WASM; SwiftShader's software WebGPU runs phantom-clip's convolutions ~50× slower
  // (minutes), which proves nothing the WebGPU ranker e2e does not already prove.
  test.skip(testInfo.project.name === 'webgpu', 'software WebGPU is too slow for the demo model');
  void network;
  void pageErrors;
  await page.goto('/');
  const started = Date.now();
  await page.getByTestId('demo-start').click();
  await expect(page.getByTestId('run-status')).toHaveText('done', { timeout: 180_000 });
  const seconds = (Date.now() - started) / 1000;
  testInfo.annotations.push({ type: 'demo-seconds', description: seconds.toFixed(1) });
  console.log(`demo (${testInfo.project.name}): ${seconds.toFixed(1)} s from click to ranked findings`);

  await expect(page.getByTestId('model-select')).toHaveValue('phantom-clip');
  await expect(page.getByTestId('demo-found')).toHaveAttribute('data-rank', '1');
  const first = page.getByTestId('findings-row').first();
  await expect(first).toHaveAttribute('data-verdict', '2');
  expect(Number(await first.getAttribute('data-auroc'))).toBeGreaterThan(0.8);
  await expect(page.getByTestId('set-a-count')).toHaveText('40 images');
  await page.screenshot({ path: testInfo.outputPath('demo.png'), fullPage: true });
});
