// Two test realms: `unit` runs pure logic in Node; `browser` runs workers, WebGPU, ORT-web and transformers.js in
// Debian's headless Chromium (software WebGPU via --enable-unsafe-webgpu; no browser download, ever).
import { defineConfig, mergeConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import viteConfig from './vite.config.ts';
import { chromiumLaunchOptions } from './scripts/chromium.ts';

export default mergeConfig(
  viteConfig,
  defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' },
        },
        {
          extends: true,
          test: {
            name: 'browser',
            include: ['tests/browser/**/*.test.ts'],
            // Software WebGPU and single-threaded wasm are slow: model tests need minutes, not seconds.
            testTimeout: 180_000,
            hookTimeout: 180_000,
            browser: {
              enabled: true,
              headless: true,
              provider: playwright({ launchOptions: chromiumLaunchOptions() }),
              instances: [{ browser: 'chromium' }],
            },
          },
        },
      ],
    },
  }),
);
