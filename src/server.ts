/**
 * @module server
 * Runs the broker: builds the context and the apps, listens (the public listener and the
 * operator listener of `FJMCP_OPS_LISTEN`), and on SIGTERM/SIGINT drains
 * (stops accepting, gives in-flight MCP calls a grace, stops every child) and exits.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createApp, createOperatorApp } from './app.js';
import { closeContext, createContext, type AppContext, type ContextOptions } from './context.js';
import { PACKAGE } from './version.js';

/** Grace given to in-flight MCP calls on shutdown, ms. */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * How long an idle keep-alive connection stays open, ms (Node's default is 5 s). A reverse proxy
 * must close its idle upstream connections before the broker does: a request it writes into a
 * connection the broker is closing at that moment gets no answer, and a proxy cannot retry a
 * POST, so the client gets a 502 (and the shipped Caddyfile.replicas counts the replica as failed).
 * Caddy keeps idle upstream connections 2 min by default, nginx 60 s, hence a little over 2 min.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 125_000;

export interface RunningBroker {
  ctx: AppContext;
  server: ServerType;
  /** Bound port (useful with port 0). */
  port: number;
  /** Bound port of the operator listener (`/metrics`, detailed `/healthz`). */
  opsPort: number;
  /** Drains and closes everything; idempotent. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the broker and resolves once it listens. */
export async function startServer(config: Config, opts: ContextOptions = {}): Promise<RunningBroker> {
  const ctx = await createContext(config, opts);
  const listen = (fetch: (req: Request) => Response | Promise<Response>, host: string, port: number) =>
    new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
      const s = serve({ fetch, hostname: host, port }, (info: AddressInfo) => resolve({ server: s, port: info.port }));
      (s as { keepAliveTimeout?: number }).keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      s.once('error', reject);
    });
  let ops: { server: ServerType; port: number };
  let pub: { server: ServerType; port: number };
  try {
    ops = await listen(createOperatorApp(ctx).fetch, config.opsListen.host, config.opsListen.port);
  } catch (err) {
    await closeContext(ctx, 0);
    throw new Error(`cannot listen on FJMCP_OPS_LISTEN=${config.opsListen.host}:${config.opsListen.port} (operator listener): ${(err as Error).message}`);
  }
  try {
    pub = await listen(createApp(ctx).fetch, config.listen.host, config.listen.port);
  } catch (err) {
    ops.server.close();
    await closeContext(ctx, 0);
    throw err;
  }
  const { server, port } = pub;
  const opsPort = ops.port;
  ctx.log.info({ version: PACKAGE.version, host: config.listen.host, port, opsHost: config.opsListen.host, opsPort, mcpUrl: config.mcpUrl, child: config.child.preset }, 'listening');
  let closing: Promise<void> | undefined;
  const close = (graceMs = SHUTDOWN_GRACE_MS) =>
    (closing ??= (async () => {
      ctx.log.info({ graceMs }, 'shutting down');
      const closed = new Promise<void>((r) => server.close(() => r()));
      const opsClosed = new Promise<void>((r) => ops.server.close(() => r()));
      await closeContext(ctx, graceMs);
      for (const s of [server, ops.server]) (s as { closeAllConnections?: () => void }).closeAllConnections?.();
      await Promise.all([closed, opsClosed]);
      ctx.log.info('stopped');
    })());
  return { ctx, server, port, opsPort, close };
}
