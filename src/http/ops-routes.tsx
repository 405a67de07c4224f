/**
 * @module http/ops-routes
 * {@link opsRoutes}, on the public listener: `GET /healthz` (200 `{"status":"ok"}` or 503
 * `{"status":"unavailable"}`, no detail) and `GET /` (name, version and the MCP URL to paste into
 * a client). {@link operatorRoutes}, on the operator listener only (`FJMCP_OPS_LISTEN`, loopback
 * by default): `GET /healthz` with the failing part named and every part's detail, and
 * `GET /metrics` (Prometheus text).
 */
import { Hono } from 'hono';
import type { Config } from '../config.js';
import type { Health } from '../ops/health.js';
import type { Metrics } from '../ops/metrics.js';
import type { PolicyService } from '../policy/policy-service.js';
import { NO_POLICY_STATEMENT } from '../policy/policy-service.js';
import { PACKAGE } from '../version.js';

export function opsRoutes(deps: { config: Config; health: Health; policy?: PolicyService }): Hono {
  const { config, health } = deps;
  const app = new Hono();

  // Public: whether the broker is healthy, and nothing else (the detail is on the operator listener).
  app.get('/healthz', async (c) => {
    const r = await health.check();
    c.header('Cache-Control', 'no-store');
    return c.json({ status: r.ok ? 'ok' : 'unavailable' }, r.ok ? 200 : 503);
  });

  app.get('/', (c) => {
    // Without a policy file the broker says so where people and operators look (issue 11).
    const policy = deps.policy?.current.active ? 'in force' : NO_POLICY_STATEMENT;
    const info = { name: PACKAGE.name, version: PACKAGE.version, mcp_url: config.mcpUrl, account_url: new URL('/account', config.issuer).href, forge: config.forge.url.origin, tool_policy: policy };
    if (!(c.req.header('Accept') ?? '').includes('text/html')) return c.json(info);
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    return c.html(
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{PACKAGE.name}</title>
          <style>{'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2328}code{background:#f3f4f6;padding:.2rem .4rem;border-radius:4px;word-break:break-all}'}</style>
        </head>
        <body>
          <h1>Forge MCP broker</h1>
          <p>Add this URL to your MCP client (Claude, Claude Code, ChatGPT, MCP Inspector):</p>
          <p><code>{config.mcpUrl}</code></p>
          <p>You will sign in with your account on <code>{config.forge.url.origin}</code>; the assistant then acts as you.</p>
          {deps.policy?.current.active ? (
            <p>The operator bounds what assistants may do here with a tool policy.</p>
          ) : (
            <p><strong>No tool policy is set:</strong> an assistant may call every tool, with your full forge access.</p>
          )}
          <p><a href="/account">Your account page</a>: see which assistants act as you, disconnect them, create personal access tokens.</p>
          <p><small>{PACKAGE.name} {PACKAGE.version}</small></p>
        </body>
      </html>,
    );
  });

  return app;
}

/**
 * The operator listener's routes. Its `/healthz` is 200 or 503 like the public one, with
 * `failing` (the parts not ok), each part's detail, and the tool policy's status (rules in force,
 * the last failed reload with its problems).
 */
export function operatorRoutes(deps: { health: Health; metrics: Metrics; policy?: PolicyService }): Hono {
  const { health, metrics } = deps;
  const app = new Hono();
  app.get('/healthz', async (c) => {
    const r = await health.check();
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        status: r.ok ? 'ok' : 'unavailable',
        ...(r.ok ? {} : { failing: [r.store.ok ? null : 'store', r.forge.ok ? null : 'forge', r.forgeCredentials.ok ? null : 'forgeCredentials', r.childSandbox && !r.childSandbox.ok ? 'childSandbox' : null].filter(Boolean) }),
        store: r.store,
        forge: r.forge,
        forgeCredentials: r.forgeCredentials,
        ...(r.childSandbox ? { childSandbox: r.childSandbox } : {}),
        ...(deps.policy ? { policy: deps.policy.status() } : {}),
        checkedAt: r.checkedAt,
      },
      r.ok ? 200 : 503,
    );
  });
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  app.notFound((c) => c.json({ error: 'not_found', error_description: `the operator listener serves GET /healthz and GET /metrics, not ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
