/**
 * @module test/unit/servers — the policy file's `servers` section (docs/policy.md §Servers):
 * validation with each problem at its place, resolution into child settings (preset first, then
 * the entry's keys, then the broker-wide ones), the gitea-robot preset, per-server rules, and the
 * RFC 8707 resource checks over several protected resources.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildChildEnv } from '../../src/child/child-env.js';
import { resolveServers } from '../../src/child/servers.js';
import { loadConfig } from '../../src/config.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { audienceOf, checkResources, type ProtectedResource } from '../../src/oauth/resource.js';
import { silentLogger } from '../../src/ops/log.js';
import { parsePolicy, PolicyFileError } from '../../src/policy/policy-file.js';
import { PolicyService } from '../../src/policy/policy-service.js';
import type { PersonPolicy } from '../../src/policy/policy.js';

const config = loadConfig({
  FJMCP_PUBLIC_URL: 'https://mcp.example.org/',
  FJMCP_FORGE_URL: 'https://forge.example.org',
  FJMCP_FORGE_CLIENT_ID: 'cid',
  FJMCP_FORGE_CLIENT_SECRET: 'gto_secret',
  FJMCP_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
  FJMCP_CHILD_PRESET: 'gitea-mcp-npm',
  FJMCP_CHILD_IDLE_S: '300',
});

const problemsOf = (text: string): string[] => {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (err) {
    if (err instanceof PolicyFileError) return err.problems;
    throw err;
  }
  throw new Error('the file was accepted');
};

describe('servers section of the policy file', () => {
  it('resolves a gitea-robot preset to its command and GITEA_URL/GITEA_TOKEN, at /mcp/<name>', () => {
    const file = parsePolicy('servers:\n  robot: { preset: gitea-robot, max_children: 20 }\nrules: []\n', 'policy.yaml');
    const [first, robot] = resolveServers(config, file.servers);
    expect(first).toMatchObject({ name: 'default', path: '/mcp', resource: 'https://mcp.example.org/mcp', child: config.child });
    expect(robot).toMatchObject({ name: 'robot', path: '/mcp/robot', resource: 'https://mcp.example.org/mcp/robot', title: 'robot' });
    expect(robot!.child).toMatchObject({ preset: 'gitea-robot', command: 'gitea-robot', args: ['mcp-server'], tokenEnv: 'GITEA_TOKEN', urlEnv: 'GITEA_URL', maxChildren: 20, idleS: 300 });
    const env = buildChildEnv(robot!.child, '/home/x', 'https://forge.example.org/', 'tok-alice', {});
    expect(env).toMatchObject({ GITEA_URL: 'https://forge.example.org', GITEA_TOKEN: 'tok-alice', HOME: '/home/x' });
    expect(env.GITEA_ACCESS_TOKEN).toBeUndefined();
  });

  it('a custom server takes command, args, token_env, url_env, env and idle_s; the rest is broker-wide', () => {
    const file = parsePolicy(
      'servers:\n  everything:\n    command: /usr/bin/node\n    args: [/opt/e/index.js, stdio]\n    token_env: E_TOKEN\n    env: { MODE: demo }\n    idle_s: 30\nrules: []\n',
      'policy.yaml',
    );
    const e = resolveServers(config, file.servers)[1]!;
    expect(e.child).toMatchObject({ preset: 'custom', command: '/usr/bin/node', args: ['/opt/e/index.js', 'stdio'], tokenEnv: 'E_TOKEN', urlEnv: undefined, extraEnv: { MODE: 'demo' }, idleS: 30 });
    expect(e.child.sandbox).toEqual(config.child.sandbox);
    expect(e.child.maxChildren).toBe(config.child.maxChildren);
  });

  it('reports every problem at its place: a bad name, "default", no command, an unknown preset', () => {
    expect(problemsOf('servers:\n  Robot!: { preset: gitea-robot }\n  default: { preset: gitea-robot }\n  lone: { command: x }\n  p: { preset: nope }\nrules: []\n')).toEqual([
      expect.stringMatching(/^policy\.yaml:2:\d+: servers\.Robot!: .*server name/),
      expect.stringMatching(/^policy\.yaml:3:\d+: servers\.default: "default" is the server at \/mcp/),
      expect.stringMatching(/^policy\.yaml:4:\d+: servers\.lone: give a preset, or command and token_env/),
      expect.stringMatching(/^policy\.yaml:5:\d+: servers\.p\.preset: one of .*gitea-robot/),
    ]);
  });

  it('reserves the names sse and messages (the legacy SSE endpoints /mcp/sse and /mcp/messages)', () => {
    expect(problemsOf('servers:\n  sse: { preset: gitea-robot }\n  messages: { preset: gitea-robot }\nrules: []\n')).toEqual([
      expect.stringMatching(/^policy\.yaml:2:\d+: servers\.sse: sse and messages are reserved/),
      expect.stringMatching(/^policy\.yaml:3:\d+: servers\.messages: sse and messages are reserved/),
    ]);
  });

  it('refuses a rule naming a server the file does not define', () => {
    expect(problemsOf('servers:\n  robot: { preset: gitea-robot }\nrules:\n  - servers: [robt]\n    people: { everyone: true }\n    read_only: true\n')).toEqual([
      expect.stringMatching(/^policy\.yaml:4:\d+: rules\[0\]\.servers\[0\]: no server named "robt" \(known: default, robot\)/),
    ]);
  });

  it('a rule with servers applies only there; one without applies everywhere; a reload keeps the servers of the start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fjmcp-servers-unit-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'servers:\n  robot: { preset: gitea-robot }\nrules:\n  - servers: [robot]\n    people: { logins: [alice] }\n    read_only: true\n  - people: { logins: [alice] }\n    tools: { deny: [graph] }\n');
    try {
      const svc = new PolicyService({ file, preset: 'gitea-mcp-npm', log: silentLogger, memberships: async () => ({ orgs: [], teams: [] }) });
      const alice = { personId: '1', login: 'alice', forgeAccessToken: 't' };
      const atRobot = svc.forPerson(alice, 'robot') as PersonPolicy;
      const atDefault = svc.forPerson(alice) as PersonPolicy;
      // gitea-robot's catalog: add_dep writes, ready reads.
      expect(atRobot.check('add_dep', {}, { owner: 'a', repo: 'b' })).toMatchObject({ allowed: false, reason: 'read-only' });
      expect(atRobot.check('ready', {}, { owner: 'a', repo: 'b' })).toMatchObject({ allowed: true });
      expect(atRobot.check('graph', {}, { owner: 'a', repo: 'b' })).toMatchObject({ allowed: false, reason: 'tool-denied' });
      expect(atDefault.check('issue__create', {}, { owner: 'a', repo: 'b' })).toMatchObject({ allowed: true });
      expect(atDefault.check('graph', {}, {})).toMatchObject({ allowed: false, reason: 'tool-denied' });

      writeFileSync(file, 'servers:\n  other: { preset: gitea-robot }\nrules:\n  - servers: [other]\n    people: { logins: [alice] }\n    read_only: true\n');
      expect(svc.reload()).toBe(true);
      expect(Object.keys(svc.servers ?? {})).toEqual(['robot']);
      expect((svc.forPerson(alice, 'robot') as PersonPolicy).check('add_dep', {}, { owner: 'a', repo: 'b' })).toMatchObject({ allowed: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('several protected resources (RFC 8707)', () => {
  const resources: ProtectedResource[] = [
    { url: 'https://mcp.example.org/mcp', server: 'default', title: 'Forge' },
    { url: 'https://mcp.example.org/mcp/robot', server: 'robot', title: 'Robot' },
  ];
  const target = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof OAuthError ? err.error : err;
    }
    return 'accepted';
  };

  it('an authorization names one or several of the broker\'s resources, each once; none means /mcp', () => {
    expect(checkResources(undefined, resources)).toEqual(['https://mcp.example.org/mcp']);
    expect(checkResources('https://MCP.example.org/mcp/robot/ https://mcp.example.org/mcp https://mcp.example.org/mcp/robot', resources)).toEqual(['https://mcp.example.org/mcp/robot', 'https://mcp.example.org/mcp']);
    expect(target(() => checkResources('https://mcp.example.org/mcp https://mcp.example.org/mcp/other', resources))).toBe('invalid_target');
  });

  it('a token is for the resource the token request names, among those authorized, else the first', () => {
    const both = 'https://mcp.example.org/mcp/robot https://mcp.example.org/mcp';
    expect(audienceOf(undefined, both, resources)).toBe('https://mcp.example.org/mcp/robot');
    expect(audienceOf('https://mcp.example.org/mcp', both, resources)).toBe('https://mcp.example.org/mcp');
    expect(target(() => audienceOf('https://mcp.example.org/mcp/robot', 'https://mcp.example.org/mcp', resources))).toBe('invalid_target');
  });
});
