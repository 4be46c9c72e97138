// First-load size of the built app's own JavaScript and CSS (`npx tsx bench/bundle-size.bench.ts`, after
// `npm run build`): the scripts, module preloads and stylesheets dist/index.html loads, gzipped (level 9), versus the
// lazily loaded chunks (model runtimes, workers, charts) that load only when needed. Target ≤ 400 KB gzip.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { report } from './report.ts';

const DIST = join(import.meta.dirname, '..', 'dist');
const html = readFileSync(join(DIST, 'index.html'), 'utf8');
const firstLoad = [...html.matchAll(/(?:src|href)="\/?(assets\/[^"]+\.(?:js|css))"/g)].map(
  (m) => m[1] as string,
);
const gz = (file: string) => gzipSync(readFileSync(join(DIST, file)), { level: 9 }).length;
const first = firstLoad.map((file) => ({ file, gzipBytes: gz(file) }));
const all = readdirSync(join(DIST, 'assets')).filter((f) => /\.(js|css)$/.test(f));
const lazy = all
  .filter((f) => !firstLoad.includes(`assets/${f}`))
  .map((file) => ({ file, gzipBytes: gz(`assets/${file}`) }))
  .sort((a, b) => b.gzipBytes - a.gzipBytes);
const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;
report({
  name: 'first-load-js-css-gzip',
  median_ms: 0,
  first_load_kb: kb(first.reduce((s, f) => s + f.gzipBytes, 0)),
  first_load: first.map((f) => ({ file: f.file, kb: kb(f.gzipBytes) })),
  lazy_kb: kb(lazy.reduce((s, f) => s + f.gzipBytes, 0)),
  largest_lazy: lazy.slice(0, 6).map((f) => ({ file: f.file, kb: kb(f.gzipBytes) })),
  target_kb: 400,
});
