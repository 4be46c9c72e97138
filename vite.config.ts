// Vite config: every line has a reason.
import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { localModelsIndex } from './scripts/vite-local-models.ts';

const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  plugins: [
    svelte({
      // Vitest's `unit` project runs in Node, where Vite transforms modules for the server. Rune classes
      // (*.svelte.ts) are compiled for the client there, so their tests exercise the runtime the app runs (deep
      // $state proxies, $state.snapshot). The app has no SSR, so this only ever applies to unit tests.
      dynamicCompileOptions: ({ filename, environment }) =>
        environment.config.consumer === 'server' && /\.svelte\.[jt]s$/.test(filename)
          ? { generate: 'client' }
          : undefined,
    }),
    // Publishes /models/local-index.json listing model folders found under public/models/, so a static host
    // (which cannot list directories) still tells the app which models are self-hosted.
    localModelsIndex(),
  ],
  // The app version goes into every run record (provenance), read from package.json at build time.
  define: { __APP_VERSION__: JSON.stringify(packageJson.version) },
  // Module workers: they import ES modules (transformers.js, comlink) and share chunks with the app.
  worker: { format: 'es' },
  // Top-level await in transformers.js/ORT needs ES2022.
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
  // ORT ships its own wasm loader; pre-bundling it breaks the ?url asset imports of its wasm files.
  // Plot is imported lazily (charts.ts): pre-bundle it up front so the dev server never re-optimizes mid-session.
  optimizeDeps: {
    exclude: ['onnxruntime-web', '@huggingface/transformers'],
    include: ['@observablehq/plot'],
  },
});
