/**
 * @module app
 * The HTTP application: operator routes, the authorization server's routes and `/mcp`, behind
 * one error boundary. Anything that is not an expected error is logged and answered 500
 * without detail.
 */
import { Hono } from 'hono';
import type { AppContext } from './context.js';
import { oauthRoutes } from './http/oauth-routes.js';
import { accountRoutes } from './http/account-routes.js';
import { mcpRoute } from './http/mcp-route.js';
import { opsRoutes } from './http/ops-routes.js';

export function createApp(ctx: AppContext): Hono {
  const { config, log } = ctx;
  const app = new Hono();
  app.route('/', opsRoutes({ config, health: ctx.health, metrics: ctx.metrics, policy: ctx.policy }));
  // Before the authorization server: the forge's redirect of an account sign-in is the account page's.
  app.route('/', accountRoutes({ account: ctx.account, config, log: log.child({ component: 'account' }) }));
  app.route('/', oauthRoutes(ctx.as, config));
  app.route('/', mcpRoute({ relay: ctx.relay, authenticate: (req, resource) => ctx.as.authenticate(req, resource), config, tools: ctx.tools, servers: ctx.servers.slice(1) }));
  app.notFound((c) => c.json({ error: 'not_found', error_description: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return c.json({ error: 'server_error', error_description: 'internal error; see the broker log' }, 500);
  });
  return app;
}
