/**
 * @module test/support/node24
 * Where the Node 24 binary and the Node-24-only test tools are: `$FJMCP_NODE24` (set by .ci/run),
 * else the cache `make node24-tools` installs to. Missing pieces are a test failure with the
 * command that fixes it, never a skip.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const NODE24 = process.env.FJMCP_NODE24 ?? join(homedir(), '.cache/fjmcp-node24/node_modules/.bin/node');
export const NODE24_TOOLS = resolve(import.meta.dirname, '../node24-tools/node_modules');

/** Absolute path of a file inside an installed Node 24 tool; throws with the fix when absent. */
export function node24Tool(relative: string): string {
  if (!existsSync(NODE24)) throw new Error(`Node 24 not found at ${NODE24}: run \`make node24-tools\` (or set FJMCP_NODE24)`);
  const file = join(NODE24_TOOLS, relative);
  if (!existsSync(file)) throw new Error(`${relative} not installed: run \`make node24-tools\``);
  return file;
}
