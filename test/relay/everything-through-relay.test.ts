/**
 * The relay carries every MCP feature of server-everything (a stdio child) to real v1 and v2 SDK
 * clients over streamable HTTP: tools, resources, prompts, progress, sampling, elicitation, log
 * messages, resource subscriptions; and the child's environment holds only the allowlist and the
 * person's own token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD_ENV_ALLOWLIST } from '../../src/child/child-env.js';
import { EVERYTHING, personHeaders, processesWithEnv, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { connectClient, textOf, type SdkLine, type TestClient } from './sdk-clients.js';

const marker = `tok-${randomBytes(6).toString('hex')}`;
let r: RunningRelay;
beforeAll(async () => {
  r = await startRelay(relayConfig(EVERYTHING, { FJMCP_CHILD_ENV: JSON.stringify({ EVERYTHING_FIXTURE: '1' }) }));
});
afterAll(async () => {
  await r.close();
  expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
});

describe.each(['v1', 'v2'] as SdkLine[])('with the %s SDK client', (line) => {
  let c: TestClient;
  beforeAll(async () => {
    c = await connectClient(line, r.url, personHeaders(`p-${line}`, `${marker}-${line}`));
  });
  afterAll(async () => c.close());

  it('lists and calls tools (MCP server/tools)', async () => {
    const tools = await c.listTools();
    expect(tools).toEqual(expect.arrayContaining(['echo', 'get-env', 'trigger-sampling-request', 'trigger-elicitation-request']));
    expect(textOf(await c.callTool('echo', { message: `hello ${line}` }))).toBe(`Echo: hello ${line}`);
  });

  it('relays a large argument and result unchanged both ways (kept as the bytes the peers wrote: docs/relay.md §Large messages)', async () => {
    // Multi-byte characters (cut across pipe and socket chunks), quotes, backslashes, line breaks.
    const message = `${line} ${'é€𝄞 "q" \\ \n\t/'.repeat(20_000)} end`;
    expect(textOf(await c.callTool('echo', { message }))).toBe(`Echo: ${message}`);
  });

  it('lists and reads resources, lists and gets prompts (MCP server/resources, server/prompts)', async () => {
    const uris = await c.listResources();
    expect(uris.length).toBeGreaterThan(0);
    const contents = await c.readResource(uris[0]!);
    expect(contents).toHaveLength(1);
    const prompts = await c.listPrompts();
    expect(prompts).toContain('simple-prompt');
    expect(JSON.stringify(await c.getPrompt('simple-prompt'))).toContain('without arguments');
  });

  it('delivers progress notifications for the caller\'s progress token (MCP basic/utilities/progress)', async () => {
    const seen: number[] = [];
    const res = await c.callTool('trigger-long-running-operation', { duration: 0.3, steps: 3 }, (p) => seen.push(p.progress));
    expect(seen).toEqual([1, 2, 3]);
    expect(textOf(res)).toContain('completed');
  });

  it('routes the child\'s sampling request to the calling session and returns its answer (MCP client/sampling)', async () => {
    const res = await c.callTool('trigger-sampling-request', { prompt: 'say hi', maxTokens: 10 });
    expect(c.samplingRequests).toHaveLength(1);
    expect(textOf(res)).toContain('sampled by the test client');
  });

  it('routes the child\'s elicitation request to the calling session (MCP client/elicitation)', async () => {
    const res = await c.callTool('trigger-elicitation-request', {});
    expect(c.elicitations).toHaveLength(1);
    expect(textOf(res)).toContain('Ada');
  });

  it('delivers log messages after logging/setLevel (MCP server/utilities/logging)', async () => {
    await c.setLoggingLevel('debug');
    await c.callTool('toggle-simulated-logging', {});
    expect(await until(() => c.logs.length > 0, 7000)).toBe(true);
    await c.callTool('toggle-simulated-logging', {});
  });

  it('delivers resources/updated to the subscribed session (MCP server/resources §subscriptions)', async () => {
    const uri = 'demo://resource/dynamic/text/1';
    await c.subscribe(uri);
    await c.callTool('toggle-subscriber-updates', {});
    expect(await until(() => c.updates.includes(uri), 7000)).toBe(true);
    await c.callTool('toggle-subscriber-updates', {});
  });

  it('gives the child only the allowlisted environment and this person\'s own token (get-env)', async () => {
    const env = JSON.parse(textOf(await c.callTool('get-env', {}))) as Record<string, string>;
    // PWD is set by the sandbox (bwrap, after its chdir): the HOME path, nothing of the broker's.
    const allowed = new Set<string>([...CHILD_ENV_ALLOWLIST, 'HOME', 'PWD', 'FORGE_TOKEN', 'FORGE_URL', 'EVERYTHING_FIXTURE']);
    const extra = Object.keys(env).filter((k) => !allowed.has(k));
    expect(extra).toEqual([]);
    if (env.PWD !== undefined) expect(env.PWD).toBe(env.HOME);
    expect(env.FORGE_TOKEN).toBe(`${marker}-${line}`);
    expect(env.FORGE_URL).toBe('http://127.0.0.1:3000');
    expect(env.HOME).toMatch(/fjmcp-home-/);
    expect(JSON.stringify(env)).not.toContain('standin-secret');
  });
});

it('runs one child per person: the v1 and v2 sessions above were two people', () => {
  expect(r.relay.stats().children).toBe(2);
});
