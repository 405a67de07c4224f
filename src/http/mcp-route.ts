/**
 * @module http/mcp-route
 * POST/GET/DELETE `/mcp`: Host and Origin checks (DNS rebinding), then the bearer check, then the
 * relay. Hono adapter only; the relay works on web-standard Request/Response.
 * @see MCP 2025-11-25 basic/transports §security-warning (validate Origin; invalid → 403)
 */
import { Hono, type Context } from 'hono';
import type { Config } from '../config.js';
import { isLoopbackHost } from '../config.js';
import type { Principal } from '../lib/principal.js';
import type { Relay } from '../mcp/relay.js';
import type { ToolGate } from '../mcp/tool-gate.js';

export interface McpRouteDeps {
  relay: Relay;
  /**
   * The bearer check for the protected resource `resource` (the MCP URL of the server the path
   * belongs to): a Principal, or a Response to return as is (e.g. a 401 challenge).
   */
  authenticate: (req: Request, resource?: string) => Promise<Principal | Response>;
  /**
   * The MCP servers besides `/mcp`: their paths (`/mcp/<name>`) and resources (RFC 8707). Each
   * path accepts only tokens for its own resource; the relay routes by `Principal.server`.
   */
  servers?: readonly { path: string; resource: string }[];
  config: Config;
  /** Per-person rate limit of POSTs (429 before the relay sees them). */
  tools?: Pick<ToolGate, 'admit'>;
}

const forbidden = (message: string) =>
  new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }), {
    status: 403,
    headers: { 'content-type': 'application/json' },
  });

/** Hostname of a Host header value (`name:port`, `[v6]:port`), lower-cased. */
function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    return isLoopbackHost(new URL(origin).hostname);
  } catch {
    return false;
  }
}

export function mcpRoute(deps: McpRouteDeps): Hono {
  const { relay, authenticate, config } = deps;
  const publicHost = config.publicUrl.hostname.toLowerCase();
  const origins = new Set([config.publicUrl.origin, ...config.mcp.allowedOrigins.map((o) => o.replace(/\/+$/, ''))]);
  // A broker whose public URL is loopback (development) also accepts loopback origins, as the
  // SDK's localhost protection does; a rebinding page's origin is never loopback.
  const loopbackPublic = isLoopbackHost(publicHost);
  // Verdicts on Host header values, so the URL parser runs once per distinct value, not per
  // request. Bounded: a client sending ever new values only refills it.
  const hostVerdicts = new Map<string, boolean>();
  const hostAllowed = (host: string): boolean => {
    let ok = hostVerdicts.get(host);
    if (ok === undefined) {
      const hostname = hostnameOf(host);
      ok = hostname !== undefined && (hostname === publicHost || isLoopbackHost(hostname));
      if (hostVerdicts.size >= 256) hostVerdicts.clear();
      hostVerdicts.set(host, ok);
    }
    return ok;
  };
  const app = new Hono();

  type Handler = (req: Request, who: Principal) => Promise<Response>;
  const serve = (resource: string | undefined, handler: Handler = (req, who) => relay.handle(req, who)) => async (c: Context) => {
    const req = c.req.raw;
    // DNS rebinding: a browser tricked into calling us sends the attacker's Host.
    const host = req.headers.get('host');
    if (!host || !hostAllowed(host)) return forbidden(`Invalid Host header: ${host ?? '(none)'}`);
    // Non-browser clients send no Origin; a browser's must be ours or configured.
    const origin = req.headers.get('origin');
    if (origin !== null && !origins.has(origin) && !(loopbackPublic && isLoopbackOrigin(origin))) return forbidden(`Invalid Origin header: ${origin}`);
    const who = await authenticate(req, resource);
    if (who instanceof Response) return who;
    if (req.method === 'POST' && deps.tools) {
      const limited = await deps.tools.admit(req, who);
      if (limited) return limited;
    }
    return handler(req, who);
  };
  const notAllowed = () => new Response(null, { status: 405, headers: { allow: 'GET, POST, DELETE' } });
  app.on(['POST', 'GET', 'DELETE'], '/mcp', serve(undefined));
  app.all('/mcp', notAllowed);
  for (const s of deps.servers ?? []) {
    app.on(['POST', 'GET', 'DELETE'], s.path, serve(s.resource));
    app.all(s.path, notAllowed);
  }
  if (config.mcp.legacySse.enabled) {
    // The HTTP+SSE transport of MCP 2024-11-05 (mcp/legacy-sse.ts), through the same checks.
    // `/sse` is where clients of that era customarily look; `<MCP path>/sse` lies under the
    // protected resource, whose metadata OAuth clients accept only for URLs below it (the SDK's
    // checkResourceAllowed), and names each server's own.
    const legacy = (resource: string | undefined, messagesPath: string) => serve(resource, (req, who) => relay.legacy(req, who, messagesPath));
    const legacyRoutes = (prefix: string, resource: string | undefined) => {
      app.get(`${prefix}/sse`, legacy(resource, `${prefix}/messages`));
      app.post(`${prefix}/messages`, legacy(resource, `${prefix}/messages`));
      app.all(`${prefix}/sse`, () => new Response(null, { status: 405, headers: { allow: 'GET' } }));
      app.all(`${prefix}/messages`, () => new Response(null, { status: 405, headers: { allow: 'POST' } }));
    };
    legacyRoutes('', undefined);
    legacyRoutes('/mcp', undefined);
    for (const s of deps.servers ?? []) legacyRoutes(s.path, s.resource);
  }
  return app;
}
