// Image intake benchmark (`npx tsx bench/intake.bench.ts`): serves bench/intake/ with a Vite dev server on 127.0.0.1,
// drives Debian's Chromium, and reports (1) intake throughput (decode + resize + normalize to 224 px pixel_values
// through the real preprocessStream) against raw createImageBitmap decoding with the same K workers, (2) the two
// resampling strategies, (3) hashing, and (4) peak memory over 500 vs 2,000 images, to show it is set-size bound.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type CDPSession, type Page } from 'playwright-core';
import { createServer } from 'vite';
import { chromiumLaunchOptions } from '../scripts/chromium.ts';
import { median, report } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const THROUGHPUT_N = Number(process.env.INTAKE_BENCH_N ?? 64);
const THROUGHPUT_SIZE = 2048;
const ROUNDS = Number(process.env.INTAKE_BENCH_ROUNDS ?? 3);
const MEMORY_SIZE = 512;
const MEMORY_DISTINCT = 50;
const MEMORY_COUNTS = [500, 2000];
const BATCH = 32;

const server = await createServer({
  configFile: `${ROOT}vite.config.ts`,
  root: ROOT,
  logLevel: 'warn',
  clearScreen: false,
  server: { host: '127.0.0.1', port: 5190, strictPort: false, hmr: false },
  // Pre-bundle what the bench page imports (the app's index.html is not involved).
  optimizeDeps: { entries: ['bench/intake/index.html'] },
});
await server.listen();
const origin = server.resolvedUrls?.local[0];
const browser = await chromium.launch(chromiumLaunchOptions());

try {
  if (!origin) throw new Error('the Vite dev server did not report a URL');
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error('page error:', error));
  await page.goto(new URL('bench/intake/index.html', origin).href);
  await page.waitForFunction(() => 'intakeBench' in window, undefined, { timeout: 60_000 });
  const K = await page.evaluate(() => window.intakeBench.K);

  const only = process.env.INTAKE_BENCH_ONLY;
  if (only !== 'memory') await throughput(page, K);
  if (only !== 'throughput') await memory(page, K);
} finally {
  await browser.close();
  await server.close();
}

async function throughput(page: Page, K: number): Promise<void> {
  const generated = await page.evaluate(([n, size]) => window.intakeBench.generate('big', n, size), [
    THROUGHPUT_N,
    THROUGHPUT_SIZE,
  ] as const);
  // Warm-up: start workers, compile, fill caches; not measured.
  await page.evaluate(() => window.intakeBench.rawDecode('big', 'decode'));
  await page.evaluate(() => window.intakeBench.intake('big', { thumbnail: true, jobsPerWorker: 1 }));
  await page.evaluate(() => window.intakeBench.intake('big', { thumbnail: true, jobsPerWorker: 2 }));

  const ms: Record<string, number[]> = {};
  const add = (key: string, value: number) => (ms[key] ??= []).push(value);
  let maxInFlight = 0;
  let maxDecodedPerWorker = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved so drift (thermal, other load) hits every variant alike.
    add('raw', (await page.evaluate(() => window.intakeBench.rawDecode('big', 'decode'))).ms);
    const intake = await page.evaluate(() =>
      window.intakeBench.intake('big', { thumbnail: true, jobsPerWorker: 1 }),
    );
    add('intake', intake.ms);
    maxInFlight = Math.max(maxInFlight, intake.maxInFlight);
    maxDecodedPerWorker = Math.max(maxDecodedPerWorker, ...intake.maxDecodedPerWorker);
    add(
      'intakeNoThumb',
      (await page.evaluate(() => window.intakeBench.intake('big', { thumbnail: false, jobsPerWorker: 1 })))
        .ms,
    );
    add(
      'intake2PerWorker',
      (await page.evaluate(() => window.intakeBench.intake('big', { thumbnail: true, jobsPerWorker: 2 }))).ms,
    );
    add('bitmapResize', (await page.evaluate(() => window.intakeBench.rawDecode('big', 'decodeResize'))).ms);
    add('canvasDraw', (await page.evaluate(() => window.intakeBench.rawDecode('big', 'decodeDraw'))).ms);
    add('hash', (await page.evaluate(() => window.intakeBench.hash('big'))).ms);
  }
  const rate = (key: string) => round1((THROUGHPUT_N / median(ms[key]!)) * 1000);
  const common = { n: THROUGHPUT_N, size_px: THROUGHPUT_SIZE, model_px: 224, K, rounds: ROUNDS };

  report({
    name: 'intake-throughput',
    images_per_s: rate('intake'),
    raw_decode_images_per_s: rate('raw'),
    ratio: round3(rate('intake') / rate('raw')),
    target_ratio: 0.8,
    median_ms: round1(median(ms.intake!)),
    ms_per_image: round1(median(ms.intake!) / THROUGHPUT_N),
    no_thumbnail_images_per_s: rate('intakeNoThumb'),
    two_jobs_per_worker_images_per_s: rate('intake2PerWorker'),
    max_in_flight: maxInFlight,
    max_decoded_per_worker: maxDecodedPerWorker,
    mean_file_kB: Math.round(generated.bytes / generated.count / 1024),
    note: 'JPEG q0.9 generated in Chromium (noise + gradients); intake = preprocessStream to CLIP 224 center-crop + 128 px JPEG thumbnail; raw = createImageBitmap + close in K workers',
    ...common,
  });
  report({
    name: 'intake-resample-strategy',
    canvas_draw_images_per_s: rate('canvasDraw'),
    bitmap_resize_images_per_s: rate('bitmapResize'),
    raw_decode_images_per_s: rate('raw'),
    median_ms: round1(median(ms.canvasDraw!)),
    note: "canvas_draw = full decode then drawImage (imageSmoothingQuality 'high'); bitmap_resize = createImageBitmap resizeWidth/Height (resizeQuality 'high'); both read back 224² RGBA",
    ...common,
  });
  report({
    name: 'intake-hash',
    images_per_s: rate('hash'),
    MB_per_s: round1(generated.bytes / 2 ** 20 / (median(ms.hash!) / 1000)),
    median_ms: round1(median(ms.hash!)),
    note: 'hashFiles: read + SHA-256 + header check in the workers, no decode (what a cached second run costs)',
    ...common,
  });
  await page.evaluate(() => window.intakeBench.forget('big'));
}

async function memory(page: Page, K: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  for (const count of MEMORY_COUNTS) {
    const name = `memory-${count}`;
    await page.evaluate(
      ([name, count, size, distinct]) => window.intakeBench.generate(name, count, size, distinct),
      [name, count, MEMORY_SIZE, MEMORY_DISTINCT] as const,
    );
    await cdp.send('HeapProfiler.collectGarbage');
    const baseline = { heap: await jsHeapUsed(cdp), pss: chromiumPss() };
    const peak = { ...baseline };
    const series: [number, number][] = [];
    const sampler = setInterval(() => {
      void jsHeapUsed(cdp).then((heap) => (peak.heap = Math.max(peak.heap, heap)));
      const pss = chromiumPss();
      peak.pss = Math.max(peak.pss, pss);
      void page.evaluate(() => window.intakeBench.progress).then((done) => series.push([done, pss]));
    }, 100);
    const run = await page.evaluate(([name, batch]) => window.intakeBench.memoryRun(name, batch), [
      name,
      BATCH,
    ] as const);
    clearInterval(sampler);
    if (process.env.INTAKE_BENCH_SERIES) {
      console.error(series.filter((_, i) => i % 10 === 0).map(([d, p]) => `${d}:${Math.round((p - baseline.pss) / 2 ** 20)}`).join(' '));
    }
    report({
      name: 'intake-memory',
      n: count,
      size_px: MEMORY_SIZE,
      model_px: 224,
      K,
      batch: BATCH,
      images_per_s: round1((count / run.ms) * 1000),
      median_ms: round1(run.ms),
      max_in_flight: run.maxInFlight,
      max_decoded_per_worker: Math.max(...run.maxDecodedPerWorker),
      page_js_heap_peak_over_baseline_MB: round1((peak.heap - baseline.heap) / 2 ** 20),
      chromium_pss_peak_over_baseline_MB: round1((peak.pss - baseline.pss) / 2 ** 20),
      chromium_pss_baseline_MB: round1(baseline.pss / 2 ** 20),
      how:
        `page JS heap: CDP Performance.getMetrics JSHeapUsedSize sampled every 100 ms (after a forced GC for the ` +
        `baseline); chromium PSS: sum of /proc/<pid>/smaps_rollup Pss over every Chromium process (renderer with its ` +
        `workers, GPU, browser), same sampling; input = ${MEMORY_DISTINCT} distinct ${MEMORY_SIZE} px JPEGs ` +
        `referenced ${count} times so the input's own memory is the same for every n; consumer takes batches of ${BATCH}`,
    });
    await page.evaluate((name) => window.intakeBench.forget(name), name);
  }
  await cdp.detach();
}

async function jsHeapUsed(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
}

/** Proportional set size of the Chromium processes descended from this one (the browser we launched), in bytes. */
function chromiumPss(): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we listed it.
    }
  }
  const mine = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid);
        grew = true;
      }
    }
  }
  mine.delete(process.pid);
  let total = 0;
  for (const pid of mine) {
    try {
      // Only Chromium's processes: Vite's esbuild service is a descendant too.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chrom')) continue;
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const kB = /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
      total += Number(kB ?? 0) * 1024;
    } catch {
      // Gone, or not ours to read.
    }
  }
  return total;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
