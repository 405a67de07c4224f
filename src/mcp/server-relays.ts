/**
 * @module mcp/server-relays
 * Several MCP servers behind one broker (docs/design.md §Several MCP servers): one relay per
 * server, each with its own children (one per person per server), child settings, caps
 * (`max_children`, `idle_s`), session ids, tool policy and audit, and one {@link Relay} in front
 * that routes each request by the server its token is for (`Principal.server`, set by the
 * bearer check from the token's RFC 8707 audience). With only the server at `/mcp` this is that
 * server's relay, exactly as before.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Gauge } from 'prom-client';
import { ChildPool } from '../child/child-pool.js';
import type { ChildSandbox } from '../child/sandbox.js';
import { DEFAULT_SERVER, type McpServer } from '../child/servers.js';
import type { Config } from '../config.js';
import type { Principal } from '../lib/principal.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { RPC, httpRpcError } from './protocol.js';
import { createRelay, type LiveSession, type Relay } from './relay.js';
import { sessionIdKeyFrom } from './session-id.js';
import type { ToolGate } from './tool-gate.js';

export interface ServerRelaysDeps {
  config: Config;
  log: Logger;
  audit: Audit;
  metrics: Metrics;
  /** Every server, the one at `/mcp` ({@link DEFAULT_SERVER}) first. */
  servers: readonly McpServer[];
  sandbox: ChildSandbox;
  /** The forge URL given to every child. */
  forgeUrl: string;
  /** The tool gate (policy, audit) of each server. */
  toolsFor(server: string): ToolGate | undefined;
  /** The session-id key of the server at `/mcp` (ops/control.ts); the others' are derived from it. */
  sessionIdKey?: Buffer;
}

/** The relay of every server, and the one in front that routes by `Principal.server`. */
export interface ServerRelays extends Relay {
  /** The relay of the server `name`, if there is one. */
  of(name: string): Relay | undefined;
}

/**
 * The session-id key of a server other than `/mcp`: its own, derived from the broker's, so a
 * session id minted at one server never re-attaches at another (mcp/session-id.ts binds ids to a
 * person, not to a server).
 */
function sessionKeyOf(key: Buffer, server: string): Buffer {
  return createHmac('sha256', key).update(`fjmcp mcp-session-id server ${server}`).digest();
}

/**
 * Gauges shared by several relays in one registry: each relay `set`s its own value, so a view
 * turns its `set(v)` into `inc(v - previous)` and the gauge shows the sum over the servers.
 */
function summingGauges(metrics: Metrics): Metrics {
  const own = new Map<string, number>();
  return {
    ...metrics,
    gauge(name, help, labelNames) {
      const g = metrics.gauge(name, help, labelNames);
      return new Proxy(g, {
        get(target, prop, receiver) {
          if (prop === 'set') {
            return (a: number | Record<string, string | number>, b?: number) => {
              if (typeof a !== 'number') return target.set(a, b!);
              target.inc(a - (own.get(name) ?? 0));
              own.set(name, a);
            };
          }
          const v: unknown = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
        },
      }) as Gauge<string>;
    },
  };
}

export function createServerRelays(deps: ServerRelaysDeps): ServerRelays {
  const { config, log, audit, servers } = deps;
  const several = servers.length > 1;
  const relays = new Map<string, Relay>();
  for (const s of servers) {
    const isDefault = s.name === DEFAULT_SERVER;
    const cfg: Config = isDefault ? config : { ...config, child: s.child };
    const baseKey = deps.sessionIdKey ?? sessionIdKeyFrom(config.encryptionKeys[0] ?? randomBytes(32));
    const sessionIdKey = isDefault ? deps.sessionIdKey : sessionKeyOf(baseKey, s.name);
    const sLog = isDefault ? log : log.child({ server: s.name });
    const sAudit: Audit = isDefault ? audit : (event, fields) => audit(event, { ...fields, server: s.name });
    const metrics = several ? summingGauges(deps.metrics) : deps.metrics;
    const pool = new ChildPool({ config: cfg, log: sLog, audit: sAudit, metrics, forgeUrl: deps.forgeUrl, sandbox: deps.sandbox });
    const tools = deps.toolsFor(s.name);
    relays.set(s.name, createRelay({ config: cfg, log: sLog, audit: sAudit, metrics, pool, ...(tools ? { tools } : {}), ...(sessionIdKey ? { sessionIdKey } : {}) }));
  }
  const all = [...relays.values()];
  return {
    of: (name) => relays.get(name),
    async handle(req: Request, principal: Principal) {
      const relay = relays.get(principal.server ?? DEFAULT_SERVER);
      // The bearer check only yields servers of this broker; anything else is our own mistake.
      if (!relay) return httpRpcError(404, RPC.INVALID_REQUEST, 'no such MCP server on this broker');
      return relay.handle(req, principal);
    },
    async legacy(req: Request, principal: Principal, messagesPath: string) {
      const relay = relays.get(principal.server ?? DEFAULT_SERVER);
      if (!relay) return httpRpcError(404, RPC.INVALID_REQUEST, 'no such MCP server on this broker');
      return relay.legacy(req, principal, messagesPath);
    },
    async shutdown(graceMs) {
      await Promise.all(all.map((r) => r.shutdown(graceMs)));
    },
    sessions() {
      const out: LiveSession[] = [];
      for (const [name, r] of relays) for (const s of r.sessions()) out.push(name === DEFAULT_SERVER ? s : { ...s, server: name });
      return out;
    },
    childrenOf() {
      return [...new Set(all.flatMap((r) => r.childrenOf()))];
    },
    async cut(match, reason, stopChild) {
      // A person revoked or blocked loses every server's sessions and children at once.
      const n = await Promise.all(all.map((r) => r.cut(match, reason, stopChild)));
      return n.reduce((a, b) => a + b, 0);
    },
    stats() {
      const out = { children: 0, sessions: 0, inFlight: 0 };
      for (const r of all) {
        const s = r.stats();
        out.children += s.children;
        out.sessions += s.sessions;
        out.inFlight += s.inFlight;
      }
      return out;
    },
  };
}
