/**
 * @module test/testbed/forge-mcp-children — the real forge MCP children, spawned in stdio
 * mode with alice's Gitea OAuth access token (and nothing else secret) in a clean
 * environment, answer as alice through the MCP SDK client (MCP 2025-06-18 tools/list,
 * tools/call). npm gitea-mcp 0.0.10 always; the Go gitea-mcp / forgejo-mcp when
 * `scripts/testbed build` could fetch them, else the recorded refusal is asserted.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInWithGitea } from '../support/gitea-oauth.js';
import { findForgeProcesses } from '../support/processes.js';
import { readChildrenEnv, sharedTestbed, type Testbed } from '../support/testbed.js';

interface ChildSpec {
  label: string;
  params: (tb: Testbed, token: string) => StdioServerParameters;
  /** Tool answering "who am I", and tool listing the user's repositories. */
  whoAmI: RegExp;
  myRepos: RegExp;
}

const children = readChildrenEnv();

const specs: Record<'npm' | 'go' | 'forgejo', ChildSpec> = {
  npm: {
    label: 'npm gitea-mcp 0.0.10 (Node)',
    params: (tb, token) => ({
      command: process.execPath,
      args: [children.NPM_GITEA_MCP_BIN ?? ''],
      env: { GITEA_HOST: tb.giteaUrl, GITEA_ACCESS_TOKEN: token },
      stderr: 'pipe',
    }),
    whoAmI: /^user__get_my_userinfo$/,
    myRepos: /^repo__list_my$/,
  },
  go: {
    label: `Go gitea-mcp (${children.GITEA_MCP_MODULE})`,
    params: (tb, token) => ({
      command: children.GITEA_MCP_BIN ?? '',
      args: ['-t', 'stdio'],
      env: { GITEA_HOST: tb.giteaUrl, GITEA_ACCESS_TOKEN: token },
      stderr: 'pipe',
    }),
    whoAmI: /^(get_my_user_info|get_me)$/,
    myRepos: /^(list_my_repos|list_my_repositories)$/,
  },
  forgejo: {
    label: `Go forgejo-mcp (${children.FORGEJO_MCP_MODULE})`,
    params: (tb, token) => ({
      command: children.FORGEJO_MCP_BIN ?? '',
      args: ['--transport', 'stdio', '--url', tb.giteaUrl],
      env: { FORGEJO_URL: tb.giteaUrl, FORGEJO_ACCESS_TOKEN: token },
      stderr: 'pipe',
    }),
    whoAmI: /^(get_my_user_info|get_my_userinfo|get_me)$/,
    myRepos: /^(list_my_repos|list_my_repositories|search_repos)$/,
  },
};

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  const content = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return content.map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join('\n');
}

function describeChild(spec: ChildSpec): void {
  describe(spec.label, () => {
    let tb: Testbed;
    let client: Client;
    let stderr = '';
    let childToken = '';

    beforeAll(async () => {
      tb = sharedTestbed();
      const { tokens } = await signInWithGitea(tb, 'alice');
      childToken = tokens.access_token;
      const transport = new StdioClientTransport(spec.params(tb, tokens.access_token));
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      client = new Client({ name: 'fjmcp-testbed', version: '0.0.0' });
      await client.connect(transport);
    });

    afterAll(async () => {
      await client?.close();
    });

    it('runs as one child process whose environment holds the forge URL and token and no other secret', () => {
      // By this test's own token: other test files run gitea-mcp children against the same test bed at the same time.
      const procs = findForgeProcesses([tb.giteaUrl]).filter((p) => !p.cmdline.includes(' web --config ') && p.environ.includes(childToken));
      expect(procs).toHaveLength(1);
      const keys = procs[0]!.environ.split('\n').map((l) => l.slice(0, l.indexOf('='))).sort();
      const allowed = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', ...Object.keys(spec.params(tb, 'x').env ?? {})];
      expect(keys.filter((k) => !allowed.includes(k))).toEqual([]);
    });

    it('lists its tools over stdio, including who-am-I and list-my-repositories', async () => {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names.some((n) => spec.whoAmI.test(n)), `tools: ${names.join(', ')}\nstderr: ${stderr}`).toBe(true);
      expect(names.some((n) => spec.myRepos.test(n)), `tools: ${names.join(', ')}`).toBe(true);
    });

    it('answers "who am I" with the login of the person whose OAuth token it was given', async () => {
      const name = (await client.listTools()).tools.map((t) => t.name).find((n) => spec.whoAmI.test(n))!;
      const result = await client.callTool({ name, arguments: {} });
      expect(result.isError ?? false, textOf(result)).toBe(false);
      expect(JSON.parse(textOf(result))).toMatchObject({ login: 'alice' });
    });

    it('lists alice-private among "my repositories" and never bob-private', async () => {
      const name = (await client.listTools()).tools.map((t) => t.name).find((n) => spec.myRepos.test(n))!;
      const text = textOf(await client.callTool({ name, arguments: {} }));
      expect(text).toContain('alice/alice-private');
      expect(text).not.toContain('bob-private');
      expect(text).not.toContain('carol-private');
    });

    it('exits when the client closes stdin, leaving no process behind', async () => {
      await client.close();
      let left = findForgeProcesses([tb.giteaUrl]).filter((p) => !p.cmdline.includes(' web --config '));
      for (let i = 0; left.length > 0 && i < 30; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = findForgeProcesses([tb.giteaUrl]).filter((p) => !p.cmdline.includes(' web --config '));
      }
      expect(left.map((p) => p.cmdline)).toEqual([]);
    });
  });
}

describeChild(specs.npm);

describe('Go MCP children (scripts/testbed build children.env)', () => {
  it('has npm gitea-mcp installed and recorded', () => {
    expect(children.NPM_GITEA_MCP_BIN).toMatch(/gitea-mcp\/dist\/stdio\.js$/);
  });
  for (const [key, bin, reason] of [
    ['go', 'GITEA_MCP_BIN', 'GITEA_MCP_UNAVAILABLE_REASON'],
    ['forgejo', 'FORGEJO_MCP_BIN', 'FORGEJO_MCP_UNAVAILABLE_REASON'],
  ] as const) {
    if (!children[bin]) {
      it(`records that the Go module proxy serving this machine refused ${specs[key].label}`, () => {
        expect(children[reason]).toMatch(/403|not available|not permitted/);
      });
    }
  }
});

if (children.GITEA_MCP_BIN) describeChild(specs.go);
if (children.FORGEJO_MCP_BIN) describeChild(specs.forgejo);
