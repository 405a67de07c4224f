/**
 * @module test/deploy/containerfile
 * The image runs what the tests ran (issue #13): the Containerfile pins the same MCP child
 * versions as the test bed (scripts/testbed), runs on a supported Node LTS base, ships bubblewrap
 * and requires the child sandbox. No container engine runs here, so this checks the file itself.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const containerfile = readFileSync(resolve(root, 'Containerfile'), 'utf8');
const testbed = readFileSync(resolve(root, 'scripts/testbed'), 'utf8');
const arg = (name: string) => new RegExp(`^ARG ${name}=(\\S+)`, 'm').exec(containerfile)?.[1];
const pin = (name: string) => new RegExp(`^${name}=(\\S+)`, 'm').exec(testbed)?.[1];

describe('Containerfile', () => {
  it('pins the MCP children at the test bed\'s versions', () => {
    expect(arg('FORGEJO_MCP_VERSION')).toBe(pin('FORGEJO_MCP_VERSION'));
    expect(arg('FORGEJO_MCP_MODULE')).toBe(pin('FORGEJO_MCP_MODULE'));
    expect(arg('GITEA_MCP_VERSION')).toBe(pin('GO_GITEA_MCP_VERSION'));
    expect(arg('GITEA_MCP_MODULE')).toBe(pin('GO_GITEA_MCP_MODULE'));
    expect(arg('NPM_GITEA_MCP_VERSION')).toBe(pin('NPM_GITEA_MCP_VERSION'));
  });

  it('builds and runs on Node 22 LTS (not 24: better-sqlite3 12 needs Node 24.18.1 headers there, WiseLibs/better-sqlite3#1515), ships bubblewrap and prlimit, and requires the child sandbox', () => {
    expect(arg('NODE_BUILD_IMAGE')).toMatch(/node:22-/);
    expect(arg('RUNTIME_IMAGE')).toMatch(/node:22-/);
    expect(containerfile).toMatch(/apt-get install[^\n]*\bbubblewrap\b[^\n]*\butil-linux\b/);
    expect(containerfile).toMatch(/^\s*FJMCP_CHILD_SANDBOX=required\b/m);
    expect(containerfile).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/node"/m);
  });
});
