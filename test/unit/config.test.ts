import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, settingsHelp, SETTINGS } from '../../src/config.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const base = {
  FJMCP_PUBLIC_URL: 'https://mcp.example.org/',
  FJMCP_FORGE_URL: 'https://forge.example.org',
  FJMCP_FORGE_CLIENT_ID: 'cid',
  FJMCP_FORGE_CLIENT_SECRET: 'gto_secret',
  FJMCP_ENCRYPTION_KEYS: KEY,
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration from the environment', () => {
  it('derives an issuer without trailing slash and the MCP URL from the public URL (RFC 8414 §2, RFC 9728 §2)', () => {
    const c = loadConfig(base);
    expect(c.issuer).toBe('https://mcp.example.org');
    expect(c.mcpUrl).toBe('https://mcp.example.org/mcp');
    expect(c.child.command).toBe('gitea-mcp');
    expect(c.child.tokenEnv).toBe('GITEA_ACCESS_TOKEN');
    expect(Object.isFrozen(c.tokens)).toBe(true);
  });

  it('serves the legacy HTTP+SSE transport only when FJMCP_LEGACY_SSE=true, and refuses any other value than true or false', () => {
    expect(loadConfig(base).mcp.legacySse).toEqual({ enabled: false, maxPerPerson: 8 });
    expect(loadConfig({ ...base, FJMCP_LEGACY_SSE: 'true', FJMCP_LEGACY_SSE_MAX_PER_PERSON: '2' }).mcp.legacySse).toEqual({ enabled: true, maxPerPerson: 2 });
    expect(problems({ ...base, FJMCP_LEGACY_SSE: 'yes' })).toEqual(['FJMCP_LEGACY_SSE must be true or false, got "yes"']);
  });

  it('reports every missing required setting at once, each naming its variable', () => {
    const p = problems({});
    for (const name of ['FJMCP_PUBLIC_URL', 'FJMCP_FORGE_URL', 'FJMCP_FORGE_CLIENT_ID', 'FJMCP_FORGE_CLIENT_SECRET', 'FJMCP_ENCRYPTION_KEYS']) {
      expect(p.some((x) => x.startsWith(name))).toBe(true);
    }
  });

  it('refuses a plain-http public URL outside loopback (OAuth 2.1 §1.5) and accepts it on loopback', () => {
    expect(problems({ ...base, FJMCP_PUBLIC_URL: 'http://mcp.example.org' })).toEqual([
      'FJMCP_PUBLIC_URL must be https unless its host is loopback (OAuth 2.1 §1.5)',
    ]);
    expect(problems({ ...base, FJMCP_PUBLIC_URL: 'http://127.0.0.1:8787' })).toEqual([]);
  });

  it('puts the operator listener on loopback port 9787 by default and parses FJMCP_OPS_LISTEN as host:port or [v6]:port', () => {
    expect(loadConfig(base).opsListen).toEqual({ host: '127.0.0.1', port: 9787 });
    expect(loadConfig({ ...base, FJMCP_OPS_LISTEN: '[::1]:0' }).opsListen).toEqual({ host: '::1', port: 0 });
    expect(loadConfig({ ...base, FJMCP_OPS_LISTEN: '0.0.0.0:9787' }).opsListen).toEqual({ host: '0.0.0.0', port: 9787 });
    for (const bad of ['9787', '127.0.0.1', '127.0.0.1:70000', 'a b:1']) {
      expect(problems({ ...base, FJMCP_OPS_LISTEN: bad }).join('\n')).toContain('FJMCP_OPS_LISTEN must be host:port');
    }
  });

  it('refuses URLs with credentials, query or fragment', () => {
    expect(problems({ ...base, FJMCP_FORGE_URL: 'https://user:pw@forge.example.org' })[0]).toMatch(/^FJMCP_FORGE_URL must be/);
    expect(problems({ ...base, FJMCP_PUBLIC_URL: 'https://mcp.example.org/#x' })[0]).toMatch(/^FJMCP_PUBLIC_URL must be/);
  });

  it('reads a secret from NAME_FILE and refuses both NAME and NAME_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const f = join(dir, 'secret');
    writeFileSync(f, 'from-file\n');
    const { FJMCP_FORGE_CLIENT_SECRET: _omit, ...rest } = base;
    expect(loadConfig({ ...rest, FJMCP_FORGE_CLIENT_SECRET_FILE: f }).forge.clientSecret).toBe('from-file');
    expect(problems({ ...base, FJMCP_FORGE_CLIENT_SECRET_FILE: f })).toEqual([
      'FJMCP_FORGE_CLIENT_SECRET and FJMCP_FORGE_CLIENT_SECRET_FILE are both set; set one',
    ]);
    expect(problems({ ...rest, FJMCP_FORGE_CLIENT_SECRET_FILE: join(dir, 'missing') })[0]).toMatch(/cannot read .*ENOENT/);
  });

  it('refuses encryption keys that are not 32 bytes, without echoing them', () => {
    const p = problems({ ...base, FJMCP_ENCRYPTION_KEYS: 'c2hvcnQ=' });
    expect(p).toHaveLength(1);
    expect(p[0]).not.toContain('c2hvcnQ=');
  });

  it('chooses SQLite without FJMCP_DATABASE_URL and PostgreSQL with a postgres:// URL; refuses any other URL without echoing it', () => {
    expect(loadConfig(base).databaseUrl).toBeUndefined();
    expect(loadConfig({ ...base, FJMCP_DATABASE_URL: 'postgres://u:pw@db:5432/fjmcp' }).databaseUrl).toBe('postgres://u:pw@db:5432/fjmcp');
    const p = problems({ ...base, FJMCP_DATABASE_URL: 'mysql://u:hunter2@db/x' });
    expect(p).toEqual([expect.stringContaining('FJMCP_DATABASE_URL must be a postgres://')]);
    expect(p[0]).not.toContain('hunter2');
  });

  it('keeps the old key for opening when a new one is put first (rotation)', () => {
    const c = loadConfig({ ...base, FJMCP_ENCRYPTION_KEYS: `${Buffer.alloc(32, 9).toString('base64')},${KEY}` });
    expect(c.encryptionKeys).toHaveLength(2);
  });

  it('needs a command and a token variable for a custom child and validates JSON settings', () => {
    const p = problems({ ...base, FJMCP_CHILD_PRESET: 'custom', FJMCP_CHILD_ARGS: '["--x", 1]' });
    expect(p).toContain('FJMCP_CHILD_COMMAND is required with FJMCP_CHILD_PRESET=custom');
    expect(p).toContain('FJMCP_CHILD_TOKEN_ENV is required with FJMCP_CHILD_PRESET=custom');
    expect(p).toContain('FJMCP_CHILD_ARGS is not valid JSON of the expected shape');
  });

  it('keeps forgejo-mcp file-path uploads off in its preset', () => {
    const c = loadConfig({ ...base, FJMCP_CHILD_PRESET: 'forgejo-mcp' });
    expect(c.child.extraEnv.FORGEJO_MCP_ALLOW_FILE_PATH_UPLOAD).toBe('false');
    expect(c.child.args).toEqual(['--transport', 'stdio']);
  });

  it('documents every setting in --help', () => {
    const help = settingsHelp();
    for (const s of SETTINGS) expect(help).toContain(s.name);
  });
});
