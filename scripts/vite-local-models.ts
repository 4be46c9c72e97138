// Vite plugin: scans public/models/ for model folders (a folder holding config.json, at any depth up to
// owner/name) and serves/emits /models/local-index.json = { models: [{ id, files }] }. The app reads it to know
// which model ids are self-hosted, because a static host cannot list a directory and a dev server answers a missing
// file with index.html.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Plugin } from 'vite';

export interface LocalModelEntry {
  id: string;
  files: string[];
}

export function scanLocalModels(root: string): LocalModelEntry[] {
  if (!existsSync(root)) return [];
  const found: LocalModelEntry[] = [];
  const visit = (dir: string, depth: number) => {
    if (existsSync(join(dir, 'config.json')) && dir !== root) {
      found.push({ id: relative(root, dir).split(sep).join('/'), files: listFiles(dir, dir) });
      return;
    }
    if (depth >= 2) return;
    for (const name of readdirSync(dir).sort()) {
      const child = join(dir, name);
      if (statSync(child).isDirectory()) visit(child, depth + 1);
    }
  };
  visit(root, 0);
  return found;
}

function listFiles(base: string, dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const child = join(dir, name);
    if (statSync(child).isDirectory()) out.push(...listFiles(base, child));
    else out.push(relative(base, child).split(sep).join('/'));
  }
  return out;
}

export function localModelsIndex(modelsDir = 'public/models'): Plugin {
  const body = () => JSON.stringify({ models: scanLocalModels(modelsDir) }, null, 2);
  return {
    name: 'raddiff-local-models-index',
    configureServer(server) {
      server.middlewares.use('/models/local-index.json', (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(body());
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'models/local-index.json', source: body() });
    },
  };
}
