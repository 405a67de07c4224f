/**
 * The commands as a newcomer and an operator run them: `fjmcp-broker --help` and `serve` with bad
 * settings, and `make demo` (scripts/demo.ts) followed by a sign-in from another process and a
 * Ctrl-C that leaves nothing running.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.js';
import { repoRoot, type Testbed } from '../support/testbed.js';
import { freePort } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText } from '../support/mcp-sign-in.js';
import { findForgeProcesses } from '../support/processes.js';

const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(tsx, [join(repoRoot, 'src/main.ts'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, ...env }, timeout: 30_000 });

describe('fjmcp-broker command line', () => {
  it('--help documents every setting', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    for (const s of SETTINGS) expect(r.stdout).toContain(s.name);
  });

  it('serve with missing or bad settings exits 2 naming each variable, and never echoes a secret', () => {
    const r = cli(['serve'], { FJMCP_PUBLIC_URL: 'http://example.org', FJMCP_FORGE_CLIENT_SECRET: 'gto_topsecretvalue', FJMCP_ENCRYPTION_KEYS: 'bm90LTMyLWJ5dGVz' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('FJMCP_PUBLIC_URL must be https unless its host is loopback');
    expect(r.stderr).toContain('FJMCP_FORGE_URL is required');
    expect(r.stderr).toContain('FJMCP_ENCRYPTION_KEYS: every key must be 32 bytes');
    expect(r.stderr + r.stdout).not.toContain('gto_topsecretvalue');
    expect(r.stderr + r.stdout).not.toContain('bm90LTMyLWJ5dGVz');
  });

  it('an unknown command is a usage error', () => {
    expect(cli(['frobnicate']).status).toBe(2);
  });
});

describe('make demo', () => {
  let demo: ChildProcess | undefined;
  afterAll(() => {
    if (demo && demo.exitCode === null) demo.kill('SIGKILL');
  });

  it('prints the MCP URL and a user; alice signs in from another process and calls tools; Ctrl-C leaves nothing running', async () => {
    const port = await freePort();
    // As the Makefile runs it: node with tsx's loader, not the tsx CLI. The CLI relays SIGINT to its
    // child and SIGKILLs the child unless it acknowledges within 30 ms (tsx's relaySignals), which
    // on a loaded machine killed the demo before its clean-up and left Gitea running.
    demo = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/demo.ts')], { cwd: repoRoot, env: { ...process.env, DEMO_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    while (!/Press Ctrl-C/.test(out)) {
      if (demo.exitCode !== null || Date.now() - t0 > 180_000) throw new Error(`demo did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const mcpUrl = /^MCP URL: (\S+)$/m.exec(out)?.[1];
    expect(mcpUrl).toBe(`http://127.0.0.1:${port}/mcp`);
    const giteaUrl = /in front of Gitea \S+ at (\S+)\./.exec(out)![1]!;
    const password = /alice \/ (\S+)/.exec(out)![1]!;
    const tb = { giteaUrl, users: { alice: { login: 'alice', password } } } as unknown as Testbed;

    const alice = await signedInClient(mcpUrl!, 'alice', headlessDriver(tb, new URL(mcpUrl!).origin));
    const me = await alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
    expect(JSON.parse(toolText(me))).toMatchObject({ login: 'alice' });
    const repos = await alice.client.callTool({ name: 'repo__list_my', arguments: {} });
    expect(toolText(repos)).toContain('alice/alice-private');
    await alice.close();

    demo.kill('SIGINT');
    const code = await new Promise<number | null>((r) => demo!.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(out).toContain('nothing left running');
    expect(findForgeProcesses([giteaUrl])).toEqual([]);
  }, 240_000); // the demo starts a whole Gitea (test bed) and seeds it: minutes on two loaded cores
});
