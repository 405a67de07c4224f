/**
 * Real third-party MCP clients sign in and call a tool as the signed-in person, against the full
 * broker in front of the test-bed Gitea with the real npm gitea-mcp child (sandboxed):
 * - the SDK v1 client (`@modelcontextprotocol/sdk` 1.x) with its own OAuth flow;
 * - `mcp-remote` (npm, devDependency), the stdio⇄HTTP bridge desktop clients run, with its OAuth
 *   flow (dynamic registration, PKCE, loopback callback) and its browser a STAND-IN `xdg-open`
 *   (test/support/standin-browser.ts) driven by the headless sign-in driver;
 * - the MCP Inspector CLI 2.x (test/node24-tools, Node 24), with its own OAuth flow, the same way.
 * Each answers `user__get_my_userinfo` with the signing-in person's login.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInThroughBroker } from '../support/broker-consent.js';
import { freePort, startBroker, type TestBroker } from '../support/broker.js';
import { headlessDriver, signedInClient, toolText } from '../support/mcp-sign-in.js';
import { NODE24, node24Tool } from '../support/node24.js';
import { startStandinBrowser, type StandinBrowser } from '../support/standin-browser.js';
import { startTestbed, type Testbed, type TestbedUser } from '../support/testbed.js';

let tb: Testbed & { stop(): Promise<void> };
let broker: TestBroker;
let browser: StandinBrowser;
const homes: string[] = [];

beforeAll(async () => {
  tb = await startTestbed();
  broker = await startBroker({ testbed: tb });
  browser = await startStandinBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await broker?.stop();
  await tb?.stop();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** A fresh HOME, so the client's stored registrations and tokens are this test's alone. */
function freshHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'fjmcp-client-home-'));
  homes.push(h);
  return h;
}

/**
 * Plays the person at the stand-in browser: waits for the URL the client opens, signs `user` in
 * through the broker (consent, Gitea login and approval), and delivers the redirect with the
 * code to the client's loopback callback. Returns the callback URL it delivered.
 */
async function personSignsIn(user: TestbedUser): Promise<URL> {
  const url = await browser.nextUrl(60_000);
  const { location } = await signInThroughBroker(tb, broker.url, url, user);
  expect(location.searchParams.get('code'), location.href).toBeTruthy();
  const res = await fetch(location);
  await res.body?.cancel();
  expect(res.status, `the client's callback answered ${res.status}`).toBeLessThan(400);
  return location;
}

function loginOf(result: object): string {
  const text = toolText(result);
  return (JSON.parse(text) as { login: string }).login;
}

describe('real MCP clients answer a tool call as the signed-in person', () => {
  it('the SDK v1 client: OAuth from the first 401, then tools/call as alice', async () => {
    const alice = await signedInClient(broker.mcpUrl, 'alice', headlessDriver(tb, broker.url));
    try {
      const r = await alice.client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
      expect(r.isError ?? false, toolText(r)).toBe(false);
      expect(loginOf(r)).toBe('alice');
    } finally {
      await alice.close();
    }
  });

  it('mcp-remote: its browser sign-in (stand-in xdg-open, headless driver) ends in tools/call as bob', async () => {
    const proxy = resolve(import.meta.dirname, '../../node_modules/mcp-remote/dist/proxy.js');
    const callbackPort = await freePort();
    const stderr: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [proxy, broker.mcpUrl, String(callbackPort), '--host', '127.0.0.1', '--transport', 'http-only'],
      env: { ...browser.env, HOME: freshHome(), MCP_REMOTE_CONFIG_DIR: join(freshHome(), '.mcp-auth') },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
    const client = new Client({ name: 'desktop-app-behind-mcp-remote', version: '0.0.0' });
    try {
      const connected = client.connect(transport);
      const callback = await personSignsIn('bob');
      expect(callback.origin).toBe(`http://127.0.0.1:${callbackPort}`);
      await connected;
      const r = await client.callTool({ name: 'user__get_my_userinfo', arguments: {} });
      expect(r.isError ?? false, toolText(r)).toBe(false);
      expect(loginOf(r)).toBe('bob');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nmcp-remote stderr:\n${stderr.join('').slice(-4000)}`);
    } finally {
      await client.close().catch(() => {});
    }
  }, 120_000);

  it('MCP Inspector CLI 2.x under Node 24: its OAuth sign-in (stand-in browser) ends in tools/call as carol', async () => {
    const cli = node24Tool('@modelcontextprotocol/inspector/clients/launcher/build/index.js');
    const callbackPort = await freePort();
    const home = freshHome();
    const child = spawn(NODE24, [
      cli, '--cli', broker.mcpUrl,
      '--transport', 'http',
      '--method', 'tools/call', '--tool-name', 'user__get_my_userinfo',
      '--callback-url', `http://127.0.0.1:${callbackPort}/oauth/callback`,
      '--format', 'json',
    ], {
      // VITEST in the environment turns the Inspector's browser opening off; this test wants it.
      env: { ...browser.env, HOME: home, MCP_AUTO_OPEN_ENABLED: 'true', NO_COLOR: '1', VITEST: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const signIn = personSignsIn('carol');
      const first = await Promise.race([signIn, exited.then((code) => { throw new Error(`inspector exited ${code} before opening a browser`); })]);
      expect(first.origin).toBe(`http://127.0.0.1:${callbackPort}`);
      expect(await exited, `inspector failed:\n${err.slice(-4000)}\n${out.slice(-2000)}`).toBe(0);
      // `--format json`: one JSON object on stdout, the tools/call result under `result`.
      const { result } = JSON.parse(out) as { result: object };
      expect(loginOf(result)).toBe('carol');
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
  }, 120_000);
});
