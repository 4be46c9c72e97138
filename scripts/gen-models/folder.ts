// Writes a generated model folder: stable JSON, only files whose bytes changed (so Vite does not reload and a
// re-run is a no-op), each through a temporary file + rename (a reader never sees half a file), and stale files
// from an older layout are removed.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

export type FolderFiles = Record<string, Uint8Array | string>;

export interface WriteReport {
  dir: string;
  written: string[];
  unchanged: string[];
  removed: string[];
  bytes: number;
}

export const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const child = join(dir, name);
    if (statSync(child).isDirectory()) out.push(...listFiles(child, base));
    else out.push(relative(base, child).split(sep).join('/'));
  }
  return out;
}

export function writeFolder(dir: string, files: FolderFiles): WriteReport {
  const report: WriteReport = { dir, written: [], unchanged: [], removed: [], bytes: 0 };
  for (const [name, content] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    report.bytes += bytes.byteLength;
    const path = join(dir, name);
    if (existsSync(path) && Buffer.compare(readFileSync(path), bytes) === 0) {
      report.unchanged.push(name);
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    report.written.push(name);
  }
  for (const name of listFiles(dir)) {
    if (!(name in files)) {
      rmSync(join(dir, name));
      report.removed.push(name);
    }
  }
  return report;
}
