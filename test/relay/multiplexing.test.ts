/**
 * Several sessions of one person on one child: request ids and progress tokens that collide
 * between sessions are rewritten, list_changed reaches every session, and a server→client request
 * that no session can answer gets a JSON-RPC error instead of being dropped.
 */
import { randomBytes } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EVERYTHING, personHeaders, processesWithEnv, relayConfig, startRelay, until, type RunningRelay } from './relay-harness.js';
import { connectClient, textOf } from './sdk-clients.js';

const marker = `tok-${randomBytes(6).toString('hex')}`;
let r: RunningRelay;
beforeAll(async () => {
  r = await startRelay(relayConfig(EVERYTHING));
});
afterAll(async () => {
  await r.close();
  expect(await until(() => processesWithEnv(marker).length === 0)).toBe(true);
});

it('keeps colliding request ids and progress tokens of two sessions apart on one child', async () => {
  const who = personHeaders('mux', `${marker}-mux`);
  const [a, b] = await Promise.all([connectClient('v2', r.url, who), connectClient('v2', r.url, who)]);
  // Both SDK clients number requests alike and use the request id as progress token.
  const seenA: number[] = [];
  const seenB: number[] = [];
  const [ra, rb] = await Promise.all([
    a.callTool('trigger-long-running-operation', { duration: 0.3, steps: 3 }, (p) => seenA.push(p.progress)),
    b.callTool('trigger-long-running-operation', { duration: 0.6, steps: 3 }, (p) => seenB.push(p.progress)),
  ]);
  expect(seenA).toEqual([1, 2, 3]);
  expect(seenB).toEqual([1, 2, 3]);
  expect(textOf(ra)).toContain('Duration: 0.3');
  expect(textOf(rb)).toContain('Duration: 0.6');
  expect(processesWithEnv(`${marker}-mux`)).toHaveLength(1);
  await a.close();
  await b.close();
});

it('sends list_changed to every session of the person (here: after the child restarted)', async () => {
  const who = personHeaders('lc', `${marker}-lc`);
  const seen = [0, 0];
  const clients = await Promise.all([0, 1].map(async (i) => {
    const c = new Client({ name: `lc${i}`, version: '1' }, { capabilities: {} });
    c.setNotificationHandler('notifications/tools/list_changed', () => void seen[i]!++);
    await c.connect(new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } }));
    return c;
  }));
  await clients[0]!.callTool({ name: 'echo', arguments: { message: 'x' } });
  await new Promise((res) => setTimeout(res, 300)); // both GET streams open
  const before = r.relay.stats().children;
  process.kill(processesWithEnv(`${marker}-lc`)[0]!, 'SIGKILL');
  // Wait until the relay has seen the exit (the process leaves /proc slightly earlier).
  expect(await until(() => r.relay.stats().children === before - 1)).toBe(true);
  // The next call starts a new child; server-everything announces its tools on initialize.
  await clients[1]!.callTool({ name: 'echo', arguments: { message: 'y' } });
  expect(await until(() => seen[0]! > 0 && seen[1]! > 0, 5000)).toBe(true);
  await Promise.all(clients.map((c) => c.close()));
});

it('answers a server→client request with an error when no session in flight declared the capability', async () => {
  const who = personHeaders('nocap', `${marker}-nocap`);
  // A client without the sampling capability calls a tool that asks for sampling.
  const c = new Client({ name: 'nocap', version: '1' }, { capabilities: {} });
  await c.connect(new StreamableHTTPClientTransport(new URL(r.url), { requestInit: { headers: who } }));
  const started = Date.now();
  const outcome = await c.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } }).then(
    (res) => JSON.stringify(res),
    (err: Error) => err.message,
  );
  expect(outcome).toMatch(/no connected MCP client can answer sampling\/createMessage/);
  expect(Date.now() - started).toBeLessThan(5000); // answered, not left to time out
  await c.close();
});
