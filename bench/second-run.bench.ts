// Second-run benchmark (`npx tsx bench/second-run.bench.ts`, after `npm run build`): drives the BUILT app in
// Debian's Chromium on WASM, ranks three findings on 48 + 48 generated images, reloads the page (a fresh ranker
// session: only IndexedDB survives) and ranks again. Reports image forward passes and wall time of both runs; the
// target is 0 forward passes on the second run.
import { spawn } from 'node:child_process';
import { chromium, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../scripts/chromium.ts';
import { makeSet, type FixtureFile } from '../tests/fixtures/make-images.ts';
import { report } from './report.ts';

const PORT = 4391;
const N = 48;
const origin = `http://127.0.0.1:${PORT}`;

const server = spawn(
  'npx',
  ['vite', 'preview', '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'],
  {
    detached: true,
    stdio: 'ignore',
  },
);
const stopServer = () => {
  // Kill the whole process group: killing npx alone leaves vite running.
  if (server.pid) process.kill(-server.pid, 'SIGTERM');
};

const files = (list: FixtureFile[]) =>
  list.map((f) => ({ name: f.name, mimeType: 'image/png', buffer: Buffer.from(f.bytes) }));
const setA = files(makeSet({ n: N, seed: 7, brightRegion: 'image-left-lower', prefix: 'a' }));
const setB = files(makeSet({ n: N, seed: 8, prefix: 'b' }));

async function waitForServer(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(origin)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('vite preview did not start (run `npm run build` first)');
}

async function rankOnce(page: Page): Promise<{ computed: number; cached: number; ms: number }> {
  await page.getByTestId('set-a-input').setInputFiles(setA);
  await page.getByTestId('set-b-input').setInputFiles(setB);
  await page
    .getByTestId('set-a-count')
    .filter({ hasText: `${N} images` })
    .waitFor();
  await page
    .getByTestId('set-b-count')
    .filter({ hasText: `${N} images` })
    .waitFor();
  await page.getByTestId('findings-input').fill('right lower opacity\nleft upper opacity\ndark');
  const started = performance.now();
  await page.getByTestId('rank-button').click();
  await page
    .getByTestId('run-status')
    .filter({ hasText: /^done$/ })
    .waitFor({ timeout: 300_000 });
  const ms = performance.now() - started;
  const stats = page.getByTestId('embed-stats');
  return {
    computed: Number(await stats.getAttribute('data-computed')),
    cached: Number(await stats.getAttribute('data-cached')),
    ms,
  };
}

try {
  await waitForServer();
  const browser = await chromium.launch(chromiumLaunchOptions([], { webgpu: false }));
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/?ranker=test-clip`);
    const first = await rankOnce(page);
    await page.reload();
    const second = await rankOnce(page);
    report({
      name: 'second-run-forward-passes',
      images: 2 * N,
      device: 'wasm',
      first_run_forward_passes: first.computed,
      second_run_forward_passes: second.computed,
      second_run_cache_hits: second.cached,
      first_run_ms: Math.round(first.ms),
      second_run_ms: Math.round(second.ms),
      median_ms: Math.round(second.ms),
    });
  } finally {
    await browser.close();
  }
} finally {
  stopServer();
}
