/**
 * @module test/deploy/env-example
 * The shipped env example documents every setting, is what scripts/gen-env-example.ts generates
 * from src/config.ts, and agrees with the Containerfile's ENV.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SETTINGS, loadConfig } from '../../src/config.js';
import { IMAGE_SETTINGS } from '../../src/cli/env-file.js';
import { ENV_EXAMPLE_PATH, renderEnvExample } from '../../scripts/gen-env-example.js';

const example = readFileSync(ENV_EXAMPLE_PATH, 'utf8');

/** Active `NAME=value` lines (what podman --env-file passes). */
function activeLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('deploy/podman/fjmcp-broker.env.example', () => {
  it('is in sync with the settings table (regenerate: npx tsx scripts/gen-env-example.ts)', () => {
    expect(example).toBe(renderEnvExample());
  });

  it('names every setting, with its help text', () => {
    for (const s of SETTINGS) {
      expect(example).toMatch(new RegExp(`^#?${s.name}=`, 'm'));
      expect(example.replace(/\n# /g, ' ')).toContain(s.help.split(' ').slice(0, 6).join(' '));
    }
  });

  it('leaves only the required settings active, and its defaults load once they are filled in', () => {
    const active = activeLines(example);
    expect(Object.keys(active).sort()).toEqual(SETTINGS.filter((s) => s.required).map((s) => s.name).sort());
    const config = loadConfig({
      ...active,
      FJMCP_FORGE_CLIENT_ID: 'client',
      FJMCP_FORGE_CLIENT_SECRET: 'secret',
      FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    });
    expect(config.issuer).toBe('https://mcp.example.org');
  });

  it('agrees with the ENV the Containerfile sets', () => {
    const containerfile = readFileSync(resolve(import.meta.dirname, '../../Containerfile'), 'utf8');
    for (const [name, value] of Object.entries(IMAGE_SETTINGS)) {
      expect(containerfile).toMatch(new RegExp(`\\b${name}=${value.replace(/\./g, '\\.')}\\b`));
    }
  });
});
