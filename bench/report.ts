// Benchmark reporting: every benchmark prints one JSON object per line with `name`, `median_ms`, its sizes and the
// machine it ran on, so results can be compared across machines and commits.
import os from 'node:os';

export function machine() {
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function report(fields: Record<string, unknown> & { name: string }): void {
  console.log(JSON.stringify({ ...fields, machine: machine() }));
}
