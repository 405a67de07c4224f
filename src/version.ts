/**
 * @module version
 * The broker's name and version from package.json, found from both `src/` (tsx) and
 * `dist/src/` (compiled).
 */
import { readFileSync } from 'node:fs';

function readPackage(): { name: string; version: string } {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'forgejo-mcp-broker' && p.version) return { name: p.name, version: p.version };
    } catch {
      /* try the next location */
    }
  }
  return { name: 'forgejo-mcp-broker', version: '0.0.0' };
}

export const PACKAGE = readPackage();
