/**
 * @module mcp/relay
 * The MCP relay: streamable HTTP sessions (2025-03-26, 2025-06-18, 2025-11-25) in front, one stdio
 * child per person behind, all of that person's sessions multiplexed onto it with the broker as
 * the child's one MCP client. Web-standard Request/Response only (no Hono). Design: docs/relay.md.
 */
import type { Config } from '../config.js';
import { ChildPool } from '../child/child-pool.js';
import type { Principal } from '../lib/principal.js';
import type { Audit } from '../ops/audit.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { LegacySse } from './legacy-sse.js';
import { Listen } from './listen.js';
import { classify, discoverResult, isRemovedMethod, rpcErrorResponse, stripEnvelope, type ModernRequest } from './modern.js';
import { ModernCall } from './modern-call.js';
import { Person, type PersonEnv } from './person.js';
import { RPC, httpRpcError, readRpcBody, unsupportedVersion } from './protocol.js';
import { Session, type SessionHooks } from './session.js';
import { createSessionIdMinter } from './session-id.js';
import type { ToolGate } from './tool-gate.js';

export interface RelayDeps {
  config: Config;
  log: Logger;
  audit: Audit;
  metrics: Metrics;
  /** The children; by default a pool built from these deps (`forgeUrl` defaults to `config.forge.url`). */
  pool?: ChildPool;
  forgeUrl?: string;
  /** Tool policy and tool-call audit (src/mcp/tool-gate.ts). */
  tools?: ToolGate;
  /**
   * The key that binds `Mcp-Session-Id` values to people (mcp/session-id.ts): stable across
   * encryption key rotations (kept sealed in the store, see ops/control.ts). Default: derived
   * from the first encryption key, as before.
   */
  sessionIdKey?: Buffer;
}

/** An open MCP session as operators and people see it. */
export interface LiveSession {
  id: string;
  personId: string;
  login: string;
  /** The OAuth client and grant of the request that opened (or re-attached) the session. */
  clientId: string;
  grantId: string;
  openedAt: number;
  lastActivity: number;
  openStreams: number;
  /** The MCP server (`/mcp/<name>`) the session belongs to; absent for `/mcp` (mcp/server-relays.ts). */
  server?: string;
  /** `legacy-sse` for a session of the 2024-11-05 HTTP+SSE transport (mcp/legacy-sse.ts); absent for streamable HTTP. */
  transport?: 'legacy-sse';
}

export interface Relay {
  /** Serves POST/GET/DELETE of the MCP endpoint for an authenticated person. Never throws. */
  handle(req: Request, principal: Principal): Promise<Response>;
  /**
   * Serves the legacy HTTP+SSE transport (MCP 2024-11-05, mcp/legacy-sse.ts) for an authenticated
   * person: GET opens a session whose `endpoint` event names `messagesPath`, POST sends it a
   * message. 404 unless `FJMCP_LEGACY_SSE` is on. Never throws.
   */
  legacy(req: Request, principal: Principal, messagesPath: string): Promise<Response>;
  /**
   * Refuses new requests (503), gives in-flight calls up to `graceMs` (ms), answers those still
   * running with JSON-RPC error -32002 ({@link SHUTDOWN_MESSAGE}) on their streams, then closes
   * every session and stream and stops every child group.
   */
  shutdown(graceMs: number): Promise<void>;
  /** Child processes running (draining ones included), sessions known, requests awaiting a child. */
  stats(): { children: number; sessions: number; inFlight: number };
  /** The open sessions of this process. */
  sessions(): LiveSession[];
  /** Person ids whose child runs in this process. */
  childrenOf(): string[];
  /**
   * Closes at once the open sessions (their SSE streams end, in-flight calls are cancelled) of
   * the person, or of the grants named; with `stopChild` the person's child stops too.
   * Used when a grant, client or person is revoked or blocked. @returns sessions closed.
   */
  cut(match: { personId?: string; grantIds?: readonly string[] }, reason: string, stopChild?: boolean): Promise<number>;
}

/** The error a call still running at the end of the shutdown grace gets (code -32002). */
export const SHUTDOWN_MESSAGE = 'the broker is restarting; retry the request';

/** How many ids of client-terminated sessions are remembered. */
const TERMINATED_MAX = 10_000;

function remember(set: Set<string>, id: string): void {
  set.add(id);
  if (set.size > TERMINATED_MAX) set.delete(set.values().next().value!);
}

/** How often idle sessions and children are looked for, at most, in ms. */
const SWEEP_MAX_MS = 30_000;

/**
 * Builds the relay: the registry of sessions and people, and the way in for each request. Uses
 * `config.mcp` (session cap, body cap) and `config.child.idleS`. Starts an unref'd sweep timer
 * that {@link Relay.shutdown} clears. Errors reach clients as JSON-RPC errors, never as throws.
 */
export function createRelay(deps: RelayDeps): Relay {
  const { config, log, audit, metrics } = deps;
  const pool = deps.pool ?? new ChildPool(deps);
  const idleMs = config.child.idleS * 1000;
  const persons = new Map<string, Person>();
  const sessions = new Map<string, Session>();
  const ids = deps.sessionIdKey ? createSessionIdMinter(deps.sessionIdKey, true) : createSessionIdMinter(config.encryptionKeys[0]);
  /** Who opened each session (session id → client, grant, when). */
  const owners = new Map<string, { clientId: string; grantId: string; openedAt: number }>();
  let closing = false;
  /**
   * Ids of sessions the client ended with DELETE: 404 afterwards (MCP 2025-11-25
   * basic/transports §session-management), never re-attached. Bounded, oldest forgotten first;
   * a restart forgets them, and such an id then re-attaches like any other of its person.
   */
  const terminated = new Set<string>();

  const gSessions = metrics.gauge('fjmcp_relay_sessions', 'MCP sessions known to this process');
  const gStreams = metrics.gauge('fjmcp_relay_open_streams', 'SSE streams (POST replies and GET streams) open to clients');
  const personEnv: PersonEnv = { log, pool, ...(deps.tools ? { tools: deps.tools } : {}) };
  const legacySse = config.mcp.legacySse.enabled
    ? new LegacySse({
        config, log, audit, metrics,
        personFor: (p) => personFor(p),
        mintId: (personId) => ids.mint(personId),
        closing: () => closing,
        streamOpened: (person) => {
          gStreams.inc();
          person.openStreams++;
          person.lastActivity = Date.now();
        },
        streamClosed: (person) => {
          gStreams.dec();
          person.openStreams--;
          person.lastActivity = Date.now();
        },
      })
    : undefined;
  // A new policy may show or hide tools: every session is told to list them again (MCP server/tools §list-changed).
  deps.tools?.onPolicyChange(() => {
    for (const s of sessions.values()) s.deliver({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    for (const p of persons.values()) for (const s of p.legacy) s.deliver({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  });

  const hooks = (person: Person): SessionHooks => ({
    onClosed: (s) => {
      if (s.terminatedByClient) remember(terminated, s.id);
      sessions.delete(s.id);
      owners.delete(s.id);
      person.sessions.delete(s);
      gSessions.set(sessions.size);
      person.release(s);
    },
    streamOpened: () => {
      gStreams.inc();
      person.openStreams++;
      person.lastActivity = Date.now();
    },
    streamClosed: () => {
      gStreams.dec();
      person.openStreams--;
      person.lastActivity = Date.now();
    },
  });

  function personFor(p: Principal): Person {
    let person = persons.get(p.personId);
    if (!person) persons.set(p.personId, (person = new Person(p.personId, p.login, personEnv)));
    person.login = p.login;
    person.lastActivity = Date.now();
    person.useToken(p.forgeAccessToken, p.forgeTokenExpiresAt);
    return person;
  }

  function newSession(person: Person, id: string, p: Principal): Session | Response {
    if (person.sessions.size >= config.mcp.maxSessionsPerPerson) {
      // The oldest idle session goes first; with none idle the new one is refused.
      const victim = [...person.sessions].filter((s) => person.inFlightOf(s) === 0 && s.openStreams === 0).sort((a, b) => a.lastActivity - b.lastActivity)[0];
      if (!victim) return httpRpcError(429, RPC.SERVER_UNAVAILABLE, `too many open MCP sessions (${config.mcp.maxSessionsPerPerson}, FJMCP_MAX_SESSIONS_PER_PERSON); close one first`);
      void victim.close();
    }
    const s = new Session(id, person, hooks(person), log, config.mcp.sseReplayBytes);
    sessions.set(id, s);
    owners.set(id, { clientId: p.clientId, grantId: p.grantId, openedAt: Date.now() });
    person.sessions.add(s);
    gSessions.set(sessions.size);
    return s;
  }

  /** The session for `id`: known and the person's; or re-attached if minted for this person; else 404. */
  async function sessionFor(req: Request, person: Person, id: string, p: Principal): Promise<Session | Response> {
    const known = sessions.get(id);
    if (known && known.personId !== person.personId) {
      audit('request.refused', { personId: person.personId, login: person.login, reason: 'mcp-session-of-another-person' });
      return notFound();
    }
    if (known) return known;
    if (terminated.has(id) || !ids.belongsTo(id, person.personId)) return notFound();
    // Checked before re-attaching too (Session checks every request): a refused re-attach would
    // otherwise leave a session of that id behind.
    const header = req.headers.get('mcp-protocol-version');
    const refused = unsupportedVersion(header);
    if (refused) return refused;
    const s = newSession(person, id, p);
    if (s instanceof Response) return s;
    s.reattach(header, ids.capabilities(id));
    log.info({ person: person.personId, session: id }, 'unknown session id of this person re-attached');
    return s;
  }

  const notFound = () => httpRpcError(404, RPC.SESSION_NOT_FOUND, 'Session not found');

  async function handle(req: Request, principal: Principal): Promise<Response> {
    try {
      return await route(req, principal);
    } catch (err) {
      log.error({ err: (err as Error).message, person: principal.personId }, 'mcp relay failed a request');
      return httpRpcError(500, RPC.INTERNAL_ERROR, 'internal error in the MCP relay');
    }
  }

  async function route(req: Request, principal: Principal): Promise<Response> {
    if (closing) return httpRpcError(503, RPC.SERVER_UNAVAILABLE, 'the broker is shutting down', { 'retry-after': '5' });
    const person = personFor(principal);
    const sid = req.headers.get('mcp-session-id');
    let parsed: unknown;
    if (req.method === 'POST') {
      const body = await readRpcBody(req, config.mcp.maxBodyBytes);
      if (body instanceof Response) return body;
      parsed = body.parsed;
      const inbound = classify(req, parsed);
      if (inbound.kind === 'reject') return inbound.response;
      if (inbound.kind === 'notification') return new Response(null, { status: 202 });
      if (inbound.kind === 'modern') return serveModern(req, person, inbound, principal.clientId);
      const msgs = Array.isArray(parsed) ? parsed : [parsed];
      // A stale session id on initialize (Claude Code keeps old ids) starts a new session.
      const init = msgs.find((m) => m && typeof m === 'object' && (m as { method?: unknown }).method === 'initialize') as { params?: { capabilities?: unknown } } | undefined;
      if (init) {
        const caps = init.params?.capabilities;
        const s = newSession(person, ids.mint(person.personId, caps && typeof caps === 'object' ? caps as Record<string, unknown> : {}), principal);
        if (s instanceof Response) return s;
        s.oauthClientId = principal.clientId;
        const res = await s.handle(req, parsed);
        if (res.status >= 400) void s.close(); // a refused initialize leaves no session behind
        return res;
      }
    } else if (req.method !== 'GET' && req.method !== 'DELETE') {
      return httpRpcError(405, RPC.INVALID_REQUEST, 'Method not allowed', { allow: 'GET, POST, DELETE' });
    }
    if (!sid) return httpRpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    const s = await sessionFor(req, person, sid, principal);
    if (!(s instanceof Response)) s.oauthClientId = principal.clientId;
    return s instanceof Response ? s : s.handle(req, parsed);
  }

  /**
   * One 2026-07-28 request: no session (an `Mcp-Session-Id` is ignored, none is minted).
   * `server/discover` is answered from the child's cached InitializeResult, `subscriptions/listen`
   * opens a listen stream, removed methods get 404 -32601; everything else takes the person's
   * one path to the child.
   */
  async function serveModern(req: Request, person: Person, r: ModernRequest, clientId: string): Promise<Response> {
    const { msg } = r;
    const streams = {
      opened: () => {
        gStreams.inc();
        person.openStreams++;
      },
      closed: () => {
        gStreams.dec();
        person.openStreams--;
        person.lastActivity = Date.now();
      },
    };
    if (msg.method === 'server/discover') {
      try {
        const link = await person.child();
        return new Response(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: discoverResult(link.initResult ?? {}) }), { headers: { 'content-type': 'application/json' } });
      } catch (err) {
        return rpcErrorResponse(200, msg.id, RPC.SERVER_UNAVAILABLE, (err as Error).message);
      }
    }
    if (isRemovedMethod(msg.method)) return rpcErrorResponse(404, msg.id, RPC.METHOD_NOT_FOUND, `Method not found: ${msg.method} is not part of MCP ${r.version}`);
    if (msg.method === 'subscriptions/listen') {
      const l = new Listen(msg.id, msg.params?.notifications, req.signal, {
        opened: streams.opened,
        closed: (listen) => {
          streams.closed();
          person.unlisten(listen);
        },
      });
      person.listen(l);
      return l.response;
    }
    stripEnvelope(msg);
    const call = new ModernCall(r, req.signal, {
      gone: (c) => person.release(c, 'the client closed the request stream'),
      streamOpened: streams.opened,
      streamClosed: streams.closed,
    });
    call.oauthClientId = clientId;
    person.receive(call, msg);
    return call.response;
  }

  const sweeper = setInterval(sweep, Math.min(SWEEP_MAX_MS, Math.max(250, idleMs / 4)));
  sweeper.unref();
  function sweep(): void {
    const now = Date.now();
    for (const person of persons.values()) {
      for (const s of person.sessions) {
        if (person.inFlightOf(s) === 0 && s.openStreams === 0 && now - s.lastActivity > idleMs) void s.close();
      }
      if (person.idle && now - person.lastActivity > idleMs) {
        if (person.link || person.draining.size) void person.stopChildren('idle');
        if (person.sessions.size === 0) persons.delete(person.personId);
      }
    }
  }

  async function shutdown(graceMs: number): Promise<void> {
    closing = true;
    clearInterval(sweeper);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && stats().inFlight > 0) await new Promise((r) => setTimeout(r, 50));
    // Calls still running get a JSON-RPC error on their own stream, so clients retry at once
    // instead of waiting for their timeout after an empty stream end.
    for (const p of persons.values()) p.failCalls(SHUTDOWN_MESSAGE);
    await new Promise((r) => setImmediate(r)); // let the transports write it before they close
    await Promise.all([...sessions.values()].map((s) => s.close()));
    legacySse?.closeAll();
    for (const p of persons.values()) for (const l of [...p.listens]) l.end();
    await Promise.all([...persons.values()].map((p) => p.stopChildren('shutdown', config.child.stopGraceMs)));
    persons.clear();
  }

  function stats() {
    let inFlight = 0;
    for (const p of persons.values()) inFlight += p.inFlight;
    return { children: pool.running, sessions: sessions.size + (legacySse?.size ?? 0), inFlight };
  }

  function liveSessions(): LiveSession[] {
    return [...sessions.values()].map((s) => {
      const o = owners.get(s.id);
      const person = persons.get(s.personId);
      return { id: s.id, personId: s.personId, login: person?.login ?? '', clientId: o?.clientId ?? '', grantId: o?.grantId ?? '', openedAt: o?.openedAt ?? s.lastActivity, lastActivity: s.lastActivity, openStreams: s.openStreams };
    }).concat(legacySse?.live() ?? []);
  }

  async function cut(match: { personId?: string; grantIds?: readonly string[] }, reason: string, stopChild = false): Promise<number> {
    const grants = new Set(match.grantIds ?? []);
    const victims = [...sessions.values()].filter((s) => s.personId === match.personId || grants.has(owners.get(s.id)?.grantId ?? ''));
    await Promise.all(victims.map((s) => s.close()));
    const legacyCut = legacySse?.cut(match) ?? 0;
    if (victims.length + legacyCut) log.info({ sessions: victims.length + legacyCut, reason }, 'MCP sessions closed');
    const person = match.personId ? persons.get(match.personId) : undefined;
    if (stopChild && person) {
      await person.stopChildren(reason);
      if (person.sessions.size === 0) persons.delete(person.personId);
    }
    return victims.length + legacyCut;
  }

  const legacyOff = () => new Response(JSON.stringify({ error: 'not_found', error_description: 'the legacy HTTP+SSE transport is off on this broker (FJMCP_LEGACY_SSE)' }), { status: 404, headers: { 'content-type': 'application/json' } });
  async function legacy(req: Request, principal: Principal, messagesPath: string): Promise<Response> {
    if (!legacySse) return legacyOff();
    try {
      return await legacySse.handle(req, principal, messagesPath);
    } catch (err) {
      log.error({ err: (err as Error).message, person: principal.personId }, 'legacy SSE transport failed a request');
      return httpRpcError(500, RPC.INTERNAL_ERROR, 'internal error in the MCP relay');
    }
  }

  return {
    handle,
    legacy,
    shutdown,
    stats,
    sessions: liveSessions,
    childrenOf: () => [...persons.values()].filter((p) => p.link || p.draining.size).map((p) => p.personId),
    cut,
  };
}
