/**
 * @module http/well-known
 * Discovery routes: RFC 9728 protected-resource metadata at the root and path-suffixed URLs
 * (§3.1), RFC 8414 authorization server metadata and its OpenID configuration alias. CORS is
 * open on them (browser-based clients such as MCP Inspector fetch them cross-origin).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AuthorizationServer } from '../oauth/authorization-server.js';

const PREFLIGHT = cors({
  origin: '*',
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'MCP-Protocol-Version'],
  maxAge: 86400,
});

/**
 * Open CORS on the discovery and OAuth endpoints. Preflights (OPTIONS) are answered by hono's cors
 * middleware. On other requests the one header it would add (`Access-Control-Allow-Origin: *`) is
 * set on the route's own response once it exists: hono's cors sets it on `c.res` before the route
 * runs, which makes Hono copy the route's response into a new one, and @hono/node-server then
 * build a full web Response for it, on every `/token` request.
 */
export const OAUTH_CORS: MiddlewareHandler = async (c, next) => {
  if (c.req.method === 'OPTIONS') return PREFLIGHT(c, next);
  await next();
  c.res.headers.set('Access-Control-Allow-Origin', '*');
};

export function wellKnownRoutes(as: AuthorizationServer): Hono {
  const app = new Hono();
  const mcpPath = new URL(as.config.mcpUrl).pathname;
  const json = (body: Record<string, unknown>) =>
    new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' } });
  for (const path of ['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${mcpPath}`]) {
    app.use(path, OAUTH_CORS);
    app.get(path, () => json(as.protectedResourceMetadata()));
  }
  // Every other MCP server is its own protected resource, with its own path-suffixed metadata.
  for (const r of as.resources.filter((x) => x.url !== as.config.mcpUrl)) {
    const path = `/.well-known/oauth-protected-resource${new URL(r.url).pathname}`;
    app.use(path, OAUTH_CORS);
    app.get(path, () => json(as.protectedResourceMetadata(r.url)));
  }
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    app.use(path, OAUTH_CORS);
    app.get(path, () => json(as.authorizationServerMetadata()));
  }
  return app;
}
