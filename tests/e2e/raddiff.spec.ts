// The RadDiff preset end to end on the built app, with the captioner and the LLM on a local mock OpenAI-compatible
// server (tests/fakes/mock-openai-server.ts) that the test starts — configured through the app's own endpoint
// settings, no test-only code path. Two phantom sets (A: large left pleural effusion), phantom-clip as the ranker.
// Asserts the events as the UI shows them (timeline, live view: samples, captions, grids, crops, prompts and
// replies), the final ranking, a malformed reply that is retried, cancel, and a warm rerun with no model request.
// WASM project only: SwiftShader runs phantom-clip's convolutions for minutes.
import { encode } from 'fast-png';
import type { Page } from '@playwright/test';
import { generateCohort } from '../../src/lib/core/phantom/index.ts';
import { startMockOpenAi, type MockOpenAi } from '../fakes/mock-openai-server.ts';
import { expect, test } from './fixtures.ts';

const N = 24;

function cohort(prefix: string, seed: number, effusion: boolean) {
  const findings = [
    ...(effusion
      ? [
          {
            spec: { name: 'effusion' as const, side: 'left' as const, size: 'large' as const },
            prevalence: 0.9,
          },
        ]
      : []),
    { spec: { name: 'cvc' as const, side: 'right' as const }, prevalence: 0.2 },
  ];
  return [...generateCohort({ n: N, seed, size: 256, findings })].map(({ name, phantom }) => ({
    name: `${prefix}-${name}`,
    mimeType: 'image/png',
    buffer: Buffer.from(
      encode({ width: phantom.size, height: phantom.size, data: phantom.pixels, channels: 1, depth: 8 }),
    ),
  }));
}

const setA = cohort('a', 11, true);
const setB = cohort('b', 12, false);

let mock: MockOpenAi;
test.beforeEach(async () => {
  mock = await startMockOpenAi();
});
test.afterEach(async () => {
  await mock.close();
});

const SKIP_WEBGPU = 'phantom-clip on SwiftShader is too slow';

async function setUp(page: Page) {
  await page.goto('/?ranker=phantom-clip');
  await page.getByTestId('set-a-input').setInputFiles(setA);
  await page.getByTestId('set-b-input').setInputFiles(setB);
  await expect(page.getByTestId('set-a-count')).toHaveText(`${N} images`);
  await expect(page.getByTestId('set-b-count')).toHaveText(`${N} images`);
  await page.getByTestId('preset-raddiff').click();
  await page.getByTestId('provider-captioner-endpoint').check();
  await page.getByTestId('provider-llm-endpoint').check();
  await page.getByTestId('endpoint-url').fill(mock.url);
  await page.getByTestId('endpoint-model').fill('mock-radiologist');
  await page.getByTestId('endpoint-vision').check();
  // The UI says plainly what leaves the machine and where.
  await expect(page.getByTestId('endpoint-traffic')).toContainText('127.0.0.1');
}

test('RadDiff preset on phantoms with a mock endpoint: live view, ranking, retry, warm rerun', async ({
  page,
  network,
  pageErrors,
}, testInfo) => {
  test.skip(testInfo.project.name === 'webgpu', SKIP_WEBGPU);
  void network;
  void pageErrors;
  // The first proposal reply is truncated JSON: the round retries it and goes on.
  let malformedSent = false;
  mock.setScript((request) => {
    if (malformedSent || !JSON.stringify(request.json).includes('"differences"')) return undefined;
    malformedSent = true;
    return { type: 'malformed' };
  });
  await setUp(page);
  await expect(page.getByTestId('diff-start')).toBeEnabled();
  await page.getByTestId('diff-start').click();
  await expect(page.getByTestId('diff-status')).toHaveAttribute('data-status', 'done', { timeout: 200_000 });

  // The ranking: the known difference first.
  const rows = page.getByTestId('pool-row');
  await expect(rows.first()).toHaveAttribute('data-finding', /pleural effusion/);
  expect(Number(await rows.first().getAttribute('data-auroc'))).toBeGreaterThan(0.85);
  await expect(page.getByTestId('pool-localized').first()).toBeVisible();

  // The live view: samples, captions, every kind of composition, prompts and raw replies with the retry.
  const live = page.getByTestId('live-view');
  await expect(live.getByTestId('live-caption').first()).toBeAttached();
  for (const purpose of ['grid-a', 'grid-b', 'combined', 'crops']) {
    await expect(
      live.locator(`[data-testid="live-composition"][data-purpose="${purpose}"]`).first(),
    ).toBeAttached();
  }
  await expect(live.locator('[data-testid="live-call"][data-attempts="malformed,ok"]')).toHaveCount(1);
  await expect(live.locator('[data-testid="live-call"][data-outcome="ok"]').first()).toBeAttached();
  await expect(page.locator('[data-testid="diff-timeline"] [data-state="failed"]')).toHaveCount(0);

  // What the server received: captions with one image each, proposals with two grids, boxes, refinements.
  const chats = mock.requests.filter((r) => r.path.endsWith('/chat/completions'));
  const bodies = chats.map((r) => JSON.stringify(r.json));
  expect(bodies.filter((b) => b.includes('"differences"')).length).toBeGreaterThanOrEqual(6);
  expect(bodies.filter((b) => b.includes('"boxes"')).length).toBe(3);
  expect(bodies.some((b) => b.includes('data:image/png;base64,'))).toBe(true);
  await page.screenshot({ path: testInfo.outputPath('raddiff-done.png'), fullPage: true });

  // A rerun of the same config replays every model reply from IndexedDB: no request reaches the server.
  const before = mock.requests.length;
  await page.getByTestId('diff-start').click();
  await expect(page.getByTestId('diff-status')).toHaveAttribute('data-status', 'done', { timeout: 200_000 });
  expect(mock.requests.length - before).toBe(0);
  await expect(rows.first()).toHaveAttribute('data-finding', /pleural effusion/);
});

test('cancel keeps what was computed and says so', async ({ page, network, pageErrors }, testInfo) => {
  test.skip(testInfo.project.name === 'webgpu', SKIP_WEBGPU);
  void network;
  void pageErrors;
  // Proposals hang until cancelled; captions answer at once.
  mock.setScript((request) =>
    JSON.stringify(request.json).includes('"differences"') ? { type: 'hang' } : undefined,
  );
  await setUp(page);
  await page.getByTestId('diff-start').click();
  await expect(page.getByTestId('live-caption').first()).toBeAttached({ timeout: 120_000 });
  await expect
    .poll(() => mock.requests.filter((r) => JSON.stringify(r.json).includes('"differences"')).length, {
      timeout: 120_000,
    })
    .toBeGreaterThan(0);
  await page.getByTestId('diff-cancel').click();
  await expect(page.getByTestId('diff-status')).toHaveAttribute('data-status', 'cancelled', {
    timeout: 30_000,
  });
  await expect(page.getByTestId('diff-status')).toContainText('Cancelled');
  // The captions computed before the cancel are still shown.
  expect(await page.getByTestId('live-caption').count()).toBeGreaterThan(0);
});
