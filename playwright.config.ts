// Playwright e2e on the BUILT app (vite preview): dev and build differ for worker and wasm URLs, and only the build
// proves there is no CDN fetch. Every non-127.0.0.1 request is blocked and fails the test (tests/e2e/fixtures.ts).
import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './scripts/chromium.ts';

const PORT = 4319;

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results/e2e',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    screenshot: 'only-on-failure',
    trace: 'off',
  },
  projects: [
    // Chromium's software WebGPU adapter (SwiftShader): proves the WebGPU path, fp32 only.
    { name: 'webgpu', use: { launchOptions: chromiumLaunchOptions() } },
    // No --enable-unsafe-webgpu and no GPU: requestAdapter() finds nothing, so "Auto" must fall back to WASM.
    {
      name: 'wasm-fallback',
      use: { launchOptions: chromiumLaunchOptions([], { webgpu: false }) },
    },
  ],
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
