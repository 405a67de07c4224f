/**
 * @module server
 * Runs the broker: builds the context and the app, listens, and on SIGTERM/SIGINT drains
 * (stops accepting, gives in-flight MCP calls a grace, stops every child) and exits.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createApp } from './app.js';
import { closeContext, createContext, type AppContext, type ContextOptions } from './context.js';
import { PACKAGE } from './version.js';

/** Grace given to in-flight MCP calls on shutdown, ms. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningBroker {
  ctx: AppContext;
  server: ServerType;
  /** Bound port (useful with port 0). */
  port: number;
  /** Drains and closes everything; idempotent. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the broker and resolves once it listens. */
export async function startServer(config: Config, opts: ContextOptions = {}): Promise<RunningBroker> {
  const ctx = await createContext(config, opts);
  const app = createApp(ctx);
  const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.listen.host, port: config.listen.port }, (info: AddressInfo) =>
      resolve({ server: s, port: info.port }),
    );
    s.once('error', reject);
  });
  ctx.log.info({ version: PACKAGE.version, host: config.listen.host, port, mcpUrl: config.mcpUrl, child: config.child.preset }, 'listening');
  let closing: Promise<void> | undefined;
  const close = (graceMs = SHUTDOWN_GRACE_MS) =>
    (closing ??= (async () => {
      ctx.log.info({ graceMs }, 'shutting down');
      const closed = new Promise<void>((r) => server.close(() => r()));
      await closeContext(ctx, graceMs);
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      ctx.log.info('stopped');
    })());
  return { ctx, server, port, close };
}
