/**
 * @module test/deploy/init
 * `fjmcp-broker init` against the real test-bed Gitea: it registers the confidential OAuth2
 * application with the broker's redirect URI, writes a 0600 env file that starts a working broker,
 * never prints or accepts secrets in argv, and explains every forge refusal.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { runInit } from '../../src/cli/init.js';
import { basicAuth, oauthApps, parseEnvFile, repoRoot, sharedTestbed, type Testbed } from '../support/testbed.js';
import { freePort } from '../support/ports.js';

interface Captured { code: number; stdout: string; stderr: string }

async function init(argv: string[], env: Record<string, string> = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runInit(argv, env, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

/** A personal access token of alice with the given scopes (`POST /api/v1/users/{name}/tokens`, Basic auth). */
async function aliceToken(tb: Testbed, scopes: string[]): Promise<string> {
  const res = await fetch(`${tb.giteaUrl}/api/v1/users/${tb.users.alice.login}/tokens`, {
    method: 'POST',
    headers: { authorization: basicAuth(tb), 'content-type': 'application/json' },
    body: JSON.stringify({ name: `init-${scopes.join('-')}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, scopes }),
  });
  if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { sha1: string }).sha1;
}

/** The applications registered for this file's public URL: only its own `init` runs make them. */
const initApps = async (tb: Testbed) => (await oauthApps(tb)).filter((a) => a.redirect_uris.includes('https://mcp.example.test/oauth/callback'));

describe('fjmcp-broker init (Gitea 1.26 test bed)', () => {
  let tb: Testbed;
  let dir: string;
  let token: string;
  let tokenFile: string;

  beforeAll(async () => {
    tb = sharedTestbed();
    dir = mkdtempSync(join(tmpdir(), 'fjmcp-init-'));
    token = await aliceToken(tb, ['write:user']);
    tokenFile = join(dir, 'forge-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('registers a confidential app with the /oauth/callback redirect URI and writes a 0600 env file without printing secrets', async () => {
    const out = join(dir, 'a.env');
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test/', '--token-file', tokenFile, '--out', out, '--name', 'init-test-a']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const env = parseEnvFile(out);
    expect(env.FJMCP_PUBLIC_URL).toBe('https://mcp.example.test');
    expect(env.FJMCP_FORGE_URL).toBe(tb.giteaUrl);
    expect(Buffer.from(env.FJMCP_ENCRYPTION_KEYS!, 'base64')).toHaveLength(32);
    const app = (await oauthApps(tb)).find((a) => a.client_id === env.FJMCP_FORGE_CLIENT_ID);
    expect(app).toMatchObject({ name: 'init-test-a', confidential_client: true, redirect_uris: ['https://mcp.example.test/oauth/callback'] });
    for (const secret of [env.FJMCP_FORGE_CLIENT_SECRET!, env.FJMCP_ENCRYPTION_KEYS!, token]) {
      expect(r.stdout).not.toContain(secret);
      expect(r.stderr).not.toContain(secret);
    }
    expect(r.stdout).toContain(env.FJMCP_FORGE_CLIENT_ID);
    expect(r.stdout).toContain('https://mcp.example.test/oauth/callback');
  });

  it('writes an env file that starts a working broker (node --env-file … serve): a person signs in through it and a forge tool call answers as them', async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const out = join(dir, 'b.env');
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', publicUrl, '--out', out], { FJMCP_INIT_FORGE_TOKEN: token });
    expect(r.code, r.stderr).toBe(0);
    const dataDir = mkdtempSync(join(dir, 'data-'));
    expect(tb.children.npmGiteaMcp, 'the test bed installs npm gitea-mcp').toBeTruthy();
    // What an operator runs without a container: the env file exactly as written. The process
    // environment adds what the container image would set (port, data dir, child command), which
    // node --env-file does not override.
    const broker = execa(process.execPath, [`--env-file=${out}`, '--import', 'tsx', join(repoRoot, 'src/main.ts'), 'serve'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        FJMCP_LISTEN_PORT: String(port),
        FJMCP_OPS_LISTEN: '127.0.0.1:0',
        FJMCP_DATA_DIR: dataDir,
        FJMCP_CHILD_COMMAND: process.execPath,
        FJMCP_CHILD_ARGS: JSON.stringify([tb.children.npmGiteaMcp]),
      },
      extendEnv: false,
      reject: false,
      all: true,
      forceKillAfterDelay: 5_000,
    });
    try {
      let health: Response | undefined;
      // Until it answers 200: right after start the first health check may still see the forge
      // or the sandbox probe as not ready (503).
      for (let i = 0; i < 150 && health?.status !== 200; i++) {
        if (broker.exitCode !== null) break;
        health = await fetch(`${publicUrl}/healthz`).catch(() => undefined);
        if (health?.status !== 200) await new Promise((res) => setTimeout(res, 100));
      }
      expect(health?.status, 'broker did not answer /healthz').toBe(200);
      // Full sign-in through the broker (DCR, consent, Gitea with the registered app, callback, token), then a tool call.
      const c = await execa(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'deploy-client.ts')], {
        cwd: repoRoot,
        env: { E2E_MODE: 'signin', E2E_PUBLIC_URL: publicUrl, E2E_TESTBED: JSON.stringify(tb), E2E_TOOL: 'user__get_my_userinfo' },
        reject: false,
        timeout: 60_000,
      });
      const ev = c.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.event === 'signed-in');
      expect(ev, `${c.stdout}\n${c.stderr}`).toBeDefined();
      expect(ev!.issuer).toBe(publicUrl);
      expect(String(ev!.toolText)).toContain(tb.users.alice.login);
    } finally {
      broker.kill('SIGTERM');
      const done = await broker;
      if (done.exitCode !== 0) console.error(done.all);
    }
    expect(broker.exitCode).toBe(0);
  }, 90_000);

  it('refuses to overwrite an existing file without --force and registers nothing then', async () => {
    const out = join(dir, 'c.env');
    writeFileSync(out, 'KEEP=1\n');
    // Counted for this file's public URL only: test files running alongside register apps of their own.
    const before = (await initApps(tb)).length;
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', '--token-file', tokenFile, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--force');
    expect(readFileSync(out, 'utf8')).toBe('KEEP=1\n');
    expect((await initApps(tb)).length).toBe(before);
  });

  it('replaces the file with --force and leaves it 0600 even if it was world-readable', async () => {
    const out = join(dir, 'd.env');
    writeFileSync(out, 'OLD=1\n');
    chmodSync(out, 0o644);
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', '--token-file', tokenFile, '--out', out, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(parseEnvFile(out).OLD).toBeUndefined();
  });

  it('never takes a token from argv and does not echo it', async () => {
    for (const argv of [['--token', 'argv-secret-123'], ['--token=argv-secret-123']]) {
      const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', ...argv, '--out', join(dir, 'e.env')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--token-file');
      expect(r.stderr + r.stdout).not.toContain('argv-secret-123');
    }
    expect(existsSync(join(dir, 'e.env'))).toBe(false);
  });

  it('explains a rejected token (401)', async () => {
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', '--out', join(dir, 'f.env')], { FJMCP_INIT_FORGE_TOKEN: '0123456789abcdef0123456789abcdef01234567' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rejected the token \(401\)/);
    expect(r.stderr).not.toContain('0123456789abcdef0123456789abcdef01234567');
    expect(existsSync(join(dir, 'f.env'))).toBe(false);
  });

  it('explains a token without the write:user scope (403)', async () => {
    const readOnly = await aliceToken(tb, ['read:user']);
    const r = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', '--out', join(dir, 'g.env')], { FJMCP_INIT_FORGE_TOKEN: readOnly });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(403\).*write:user/);
  });

  it('explains a forge URL that is not a Gitea/Forgejo base URL (404)', async () => {
    const r = await init(['--forge-url', `${tb.giteaUrl}/not-here`, '--public-url', 'https://mcp.example.test', '--out', join(dir, 'h.env')], { FJMCP_INIT_FORGE_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(404\).*--forge-url/);
  });

  it('explains an unreachable forge', async () => {
    const port = await freePort();
    const r = await init(['--forge-url', `http://127.0.0.1:${port}`, '--public-url', 'https://mcp.example.test', '--out', join(dir, 'i.env')], { FJMCP_INIT_FORGE_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the forge .*ECONNREFUSED/);
  });

  it('rejects a plain-http public URL outside loopback and missing arguments as usage errors', async () => {
    const a = await init(['--forge-url', tb.giteaUrl, '--public-url', 'http://mcp.example.test', '--out', join(dir, 'j.env')], { FJMCP_INIT_FORGE_TOKEN: token });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('https');
    const b = await init(['--public-url', 'https://mcp.example.test'], { FJMCP_INIT_FORGE_TOKEN: token });
    expect(b.code).toBe(2);
    const c = await init(['--forge-url', tb.giteaUrl, '--public-url', 'https://mcp.example.test', '--out', join(dir, 'k.env')]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('FJMCP_INIT_FORGE_TOKEN');
  });
});
