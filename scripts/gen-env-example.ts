/**
 * @module scripts/gen-env-example
 * Writes deploy/podman/fjmcp-broker.env.example from the settings table in src/config.ts, so the
 * example documents every setting with the same help text as `fjmcp-broker --help`.
 *   npx tsx scripts/gen-env-example.ts           # rewrite the file
 *   npx tsx scripts/gen-env-example.ts --check   # exit 1 when the file is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderEnvFile } from '../src/cli/env-file.js';

export const ENV_EXAMPLE_PATH = resolve(import.meta.dirname, '../deploy/podman/fjmcp-broker.env.example');

const EXAMPLE_VALUES: Record<string, string> = {
  FJMCP_PUBLIC_URL: 'https://mcp.example.org',
  FJMCP_FORGE_URL: 'https://forge.example.org',
};

/** The example file's full text. */
export function renderEnvExample(): string {
  return renderEnvFile({
    header: [
      'fjmcp-broker settings for the Quadlet unit (deploy/podman/fjmcp-broker.container reads it',
      'with EnvironmentFile=, i.e. podman --env-file: NAME=value, no quotes, no $ expansion).',
      'Generated from src/config.ts by scripts/gen-env-example.ts; do not edit the example by hand.',
      '',
      'Easiest: `fjmcp-broker init` registers the OAuth2 application on the forge and writes this',
      'file with real values and mode 0600. By hand: copy it to ~/.config/fjmcp-broker/fjmcp-broker.env,',
      'chmod 0600, fill in the required settings. Commented lines show the defaults.',
      'Secrets may instead live in podman secrets, read through NAME_FILE (see docs/deploy-podman.md).',
    ],
    values: EXAMPLE_VALUES,
    placeholder: (s) => (s.name === 'FJMCP_ENCRYPTION_KEYS' ? '<output of: openssl rand -base64 32>' : ''),
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = renderEnvExample();
  if (process.argv.includes('--check')) {
    const current = readFileSync(ENV_EXAMPLE_PATH, 'utf8');
    if (current !== text) {
      process.stderr.write(`${ENV_EXAMPLE_PATH} is out of date: run npx tsx scripts/gen-env-example.ts\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(ENV_EXAMPLE_PATH, text);
    process.stdout.write(`wrote ${ENV_EXAMPLE_PATH}\n`);
  }
}
