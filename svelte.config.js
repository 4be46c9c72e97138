// Svelte: runes everywhere (Svelte 5), TypeScript via Vite's preprocessing.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
