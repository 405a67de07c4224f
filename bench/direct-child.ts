/**
 * @module bench/direct-child
 * The benches' baseline: a server-everything child spoken to directly over stdio through the
 * broker's own `ChildProcess` (its framing and stdin backpressure), with nothing in between.
 * What a relay adds is measured against this, call by call in the same run.
 */
import { createRequire } from 'node:module';
import { ChildProcess } from '../src/child/child-process.js';
import { silentLogger } from '../src/ops/log.js';

/** server-everything's stdio entry (a bench and test fixture, not a product dependency). */
export const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

/** An `echo` tool call of server-everything. */
export const echo = (id: number | string, message = 'bench') => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });

/** The `initialize` request the benches send (2025-11-25). */
export const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };

export interface DirectChild {
  /** One `echo` call with id `i` (and `message`, default "bench"); resolves on its response. */
  call(i: number, message?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the child and performs its handshake.
 * @param maxMessageBytes the child's message cap in bytes (the large-result run needs 64 MiB).
 * @param guard wraps each call's promise (e.g. a deadline that names the call); none by default.
 */
export async function directChild(maxMessageBytes = 32 << 20, guard: (p: Promise<void>, what: string) => Promise<void> = (p) => p): Promise<DirectChild> {
  const child = await ChildProcess.spawn({
    command: process.execPath, args: [EVERYTHING, 'stdio'], env: (home) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }),
    maxMessageBytes, stopGraceMs: 1000, log: silentLogger, secrets: [],
  });
  const waiting = new Map<number | string, () => void>();
  child.onMessage = (m) => waiting.get((m as { id: number }).id)?.();
  const call = (msg: { id: number | string }) => guard(new Promise<void>((res) => {
    waiting.set(msg.id, () => { waiting.delete(msg.id); res(); });
    child.send(msg);
  }), `direct stdio call ${msg.id}`);
  await call(INIT);
  child.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { call: (i, message) => call(echo(i, message)), close: () => child.stop('bench').then(() => {}) };
}
