/**
 * @module app
 * The HTTP applications. {@link createApp}, on the public listener: `/`, the public `/healthz`,
 * the authorization server's routes and `/mcp`, behind one error boundary. {@link createOperatorApp},
 * on the operator listener: `/metrics` and the detailed `/healthz`. Anything that is not an
 * expected error is logged and answered 500 without detail.
 */
import { Hono } from 'hono';
import type { AppContext } from './context.js';
import { oauthRoutes } from './http/oauth-routes.js';
import { accountRoutes } from './http/account-routes.js';
import { mcpRoute } from './http/mcp-route.js';
import { operatorRoutes, opsRoutes } from './http/ops-routes.js';

export function createApp(ctx: AppContext): Hono {
  const { config, log } = ctx;
  const app = new Hono();
  app.route('/', opsRoutes({ config, health: ctx.health, policy: ctx.policy }));
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

/**
 * The operator listener's application (`FJMCP_OPS_LISTEN`): `/metrics` and the detailed
 * `/healthz`, kept off the public listener so neither reaches the internet through the proxy.
 */
export function createOperatorApp(ctx: AppContext): Hono {
  const app = operatorRoutes({ health: ctx.health, metrics: ctx.metrics, policy: ctx.policy });
  app.onError((err, c) => {
    ctx.log.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error on the operator listener');
    return c.json({ error: 'server_error', error_description: 'internal error; see the broker log' }, 500);
  });
  return app;
}
